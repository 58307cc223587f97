"""Progress of a playbook run, built from ansible-runner events.

:class:`Progress` folds each event dict (as ``event_handler`` receives it) into
plain state: per host the task it is on and since when, running counts, and the
failures seen. :meth:`Progress.apply` also returns the :class:`Notice` objects a
display prints (a play starting, a task result, a warning). Nothing here needs
a host or a terminal, so it is tested with recorded events.

A release's jobs come from structured data only: the plan and each round from
``wheelfleet.fleet.release_round``'s result, each job's live state (building,
repairing, testing, done or failed, with its host, step and time) from the
progress records (:mod:`wheelfleet.progress_records`) through
:meth:`Progress.apply_record`. No task's name decides anything here: a task's
name is only shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from wheelfleet import failures as failure_kinds
from wheelfleet.progress_records import Record

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    """Drop terminal colour codes and carriage returns from ansible's output."""
    return _ANSI.sub("", text).replace("\r", "")


class Outcome(StrEnum):
    """The result of one task on one host."""

    OK = "ok"
    CHANGED = "changed"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"
    IGNORED = "ignored"
    """Failed, but the task has ``ignore_errors``."""


@dataclass(frozen=True)
class PlayStarted:
    name: str


@dataclass(frozen=True)
class TaskResult:
    host: str
    task: str
    role: str | None
    outcome: Outcome
    duration: float | None
    msg: str | None = None
    """For failed, unreachable and ignored results: what the module said."""
    output: str = ""
    """Ansible's own rendering of the result (shown with ``-v``)."""
    diff: str = ""
    """With ``--diff``: the changes the task made (or would make), as ansible renders them."""


@dataclass(frozen=True)
class Message:
    """A warning or error ansible printed outside any task result."""

    level: str
    """``warning``, ``error``, or ``output`` for other text (shown with ``-v``, not kept)."""
    text: str


class JobPhase(StrEnum):
    """Where one job of a release is (``wheelfleet release``)."""

    QUEUED = "queued"
    BUILDING = "building"
    REPAIRING = "repairing"
    TESTING = "testing"
    PUBLISHING = "publishing"
    DONE = "done"
    UP_TO_DATE = "up to date"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobPhase.DONE, JobPhase.UP_TO_DATE, JobPhase.FAILED)


_PHASE_ORDER = list(JobPhase)


@dataclass
class JobProgress:
    """One job of a release: a wheel (a Python tag on an architecture) and its host."""

    job: str
    """The wheel_build job id (``yamlcount-cp311-cp311-x86_64``)."""
    identifier: str
    """The build identifier (``cp311-manylinux_x86_64``)."""
    host: str
    phase: JobPhase = JobPhase.QUEUED
    started: datetime | None = None
    finished: datetime | None = None
    reason: str | None = None
    moved_from: str | None = None
    round: int = 1
    step: str | None = None
    """The engine's step the job is on (build, repair, test, ...), from its records."""
    slot: int | None = None

    def elapsed(self, now: datetime) -> float | None:
        if self.started is None:
            return None
        return max(0.0, ((self.finished or now) - self.started).total_seconds())


@dataclass(frozen=True)
class JobChanged:
    """A job moved to another phase (or another host)."""

    identifier: str
    host: str
    phase: JobPhase
    elapsed: float | None = None
    reason: str | None = None
    moved_from: str | None = None
    step: str | None = None
    """For a failed job, the step it failed at, when the records say."""


@dataclass(frozen=True)
class Announcement:
    """Text a run shows as it goes, such as a release's plan before it builds."""

    text: str


Notice = PlayStarted | TaskResult | Message | JobChanged | Announcement


@dataclass(frozen=True)
class Failure:
    host: str
    task: str
    role: str | None
    msg: str
    unreachable: bool = False
    kind: str | None = None
    """The failure's kind (wheelfleet.failures): the result's ``failure_kind``; ``host`` for
    an unreachable host; None when the result declares none."""


@dataclass
class HostProgress:
    """What one host is doing, and how its tasks went so far."""

    name: str
    task: str | None = None
    role: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    outcome: Outcome | None = None
    """The outcome of ``task`` once it finished; None while it runs."""
    detail: str | None = None
    """The loop item being processed, or a retry count."""
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    diffs: list[str] = field(default_factory=list)
    """Diffs of the running task, reported before its result."""

    @property
    def running(self) -> bool:
        return self.task is not None and self.finished is None

    def elapsed(self, now: datetime) -> float | None:
        """Seconds spent on the current (or last) task."""
        if self.started is None:
            return None
        return max(0.0, ((self.finished or now) - self.started).total_seconds())


_RESULT_EVENTS: dict[str, Outcome] = {
    "runner_on_ok": Outcome.OK,
    "runner_on_failed": Outcome.FAILED,
    "runner_on_unreachable": Outcome.UNREACHABLE,
    "runner_on_skipped": Outcome.SKIPPED,
    "runner_on_async_ok": Outcome.OK,
    "runner_on_async_failed": Outcome.FAILED,
}

_ITEM_EVENTS = frozenset({"runner_item_on_ok", "runner_item_on_failed", "runner_item_on_skipped"})

_MESSAGE = re.compile(r"^\[(WARNING|ERROR|DEPRECATION WARNING)\]:\s*(.*)$", re.DOTALL)

_TAIL_LINES = 15


def _timestamp(event: Mapping[str, Any]) -> datetime | None:
    created = event.get("created")
    if not isinstance(created, str):
        return None
    try:
        value = datetime.fromisoformat(created)
    except ValueError:
        return None
    # ansible-runner writes UTC with its offset; a time without one is UTC too.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    kept = text.strip().splitlines()
    if len(kept) > lines:
        return "\n".join(["...", *kept[-lines:]])
    return "\n".join(kept)


def failure_message(res: Mapping[str, Any]) -> str:
    """What a failed or unreachable result says, as the module put it.

    Takes ``msg``; for a loop, the messages of the items that failed; for a
    command that exited non-zero, the tail of its stderr (or stdout); for a
    module that crashed, the tail of its ``module_stderr``.
    """
    parts: list[str] = []
    msg = res.get("msg")
    if isinstance(msg, str) and msg.strip():
        parts.append(msg.strip())
    elif msg:
        parts.append(str(msg))
    results = res.get("results")
    if isinstance(results, list):
        for item in results:
            if isinstance(item, Mapping) and item.get("failed"):
                label = item.get("_ansible_item_label", item.get("item"))
                item_msg = failure_message({k: v for k, v in item.items() if k != "results"})
                parts.append(f"item {label}: {item_msg}")
    for key in ("stderr", "module_stderr", "stdout", "module_stdout"):
        text = res.get(key)
        if isinstance(text, str) and text.strip():
            parts.append(f"{key}:\n{_tail(text)}")
            break
    if not parts:
        reason = res.get("reason") or res.get("exception")
        parts.append(str(reason) if reason else "failed without a message")
    return "\n".join(parts)


def _messages(stdout: str, default_level: str) -> list[Message]:
    """Split ansible's warning/error text into one message per ``[LEVEL]:`` block."""
    found: list[Message] = []
    for raw in strip_ansi(stdout).splitlines():
        line = raw.rstrip()
        match = _MESSAGE.match(line.strip())
        if match:
            level = "error" if match.group(1) == "ERROR" else "warning"
            found.append(Message(level, match.group(2)))
        elif found and line.strip():
            last = found[-1]
            found[-1] = Message(last.level, f"{last.text}\n{line}")
    if not found and stdout.strip():
        found.append(Message(default_level, strip_ansi(stdout).strip()))
    return found


# --------------------------------------------------------------- release jobs

# Progress record states -> job phases. ``built``: the wheels are out of the host and on
# their way into the wheelhouse.
_RECORD_PHASES: dict[str, JobPhase] = {
    "queued": JobPhase.QUEUED,
    "building": JobPhase.BUILDING,
    "repairing": JobPhase.REPAIRING,
    "testing": JobPhase.TESTING,
    "built": JobPhase.PUBLISHING,
    "done": JobPhase.DONE,
    "failed": JobPhase.FAILED,
}


def _is_wheel_build(data: Mapping[str, Any]) -> bool:
    role = str(data.get("role") or data.get("resolved_role") or "")
    return role.endswith("wheel_build")


def _action(data: Mapping[str, Any]) -> str:
    return str(data.get("resolved_action") or data.get("task_action") or "")


@dataclass
class Progress:
    """The state of a run, updated one ansible-runner event at a time."""

    play: str | None = None
    patterns: list[str] = field(default_factory=list)
    """The host patterns of the plays started so far (``build_hosts``)."""
    hosts: dict[str, HostProgress] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    stats: dict[str, dict[str, int]] | None = None
    """The ``playbook_on_stats`` data, once the playbook ended."""
    artifacts: dict[str, Any] = field(default_factory=dict)
    """What the playbook published with ``ansible.builtin.set_stats`` (``per_host: false``)."""
    pid: int | None = None
    """ansible-playbook's process id, as the events report it."""
    jobs: dict[str, JobProgress] = field(default_factory=dict)
    """The jobs of a release (playbooks/release.yml), by wheel_build job id."""

    def no_host_message(self) -> Message | None:
        """An error for a run that ended without any host running a task."""
        if self.hosts or not self.patterns:
            return None
        groups = ", ".join(self.patterns)
        return Message("error", f"no host matched {groups}: check the inventory and --limit")

    def host(self, name: str) -> HostProgress:
        if name not in self.hosts:
            self.hosts[name] = HostProgress(name)
        return self.hosts[name]

    def apply(self, event: Mapping[str, Any]) -> list[Notice]:
        """Fold one event into the state; return what a display should print."""
        kind = event.get("event", "")
        data: Mapping[str, Any] = event.get("event_data") or {}
        if isinstance(event.get("pid"), int):
            self.pid = event["pid"]
        if kind == "playbook_on_play_start":
            self.play = data.get("name") or data.get("play") or ""
            pattern = data.get("pattern") or data.get("play_pattern")
            if pattern and pattern not in self.patterns:
                self.patterns.append(pattern)
            return [PlayStarted(self.play)]
        if kind == "runner_on_start":
            return [*self._start(event, data), *self._job_events(event, data, kind)]
        if kind in _RESULT_EVENTS:
            notices: list[Notice] = list(self._job_events(event, data, kind))
            # ansible-core 2.19 gives a task's warnings with its result, not as events.
            res = data.get("res")
            warned = res.get("warnings") if isinstance(res, Mapping) else None
            if isinstance(warned, list):
                known = {m.text for m in self.messages}
                fresh = [Message("warning", str(w)) for w in warned if str(w) not in known]
                notices.extend(self._record(fresh))
            return [*self._result(event, data, _RESULT_EVENTS[kind]), *notices]
        if kind in _ITEM_EVENTS:
            self._item(data)
            return list(self._job_events(event, data, kind))
        if kind == "runner_retry":
            self._retry(data)
            return []
        if kind == "runner_on_file_diff":
            text = strip_ansi(event.get("stdout", "")).strip("\n")
            if text and data.get("host"):
                self.host(data["host"]).diffs.append(text)
            return []
        if kind == "playbook_on_stats":
            self.stats = {
                key: dict(value)
                for key, value in data.items()
                if isinstance(value, Mapping) and key != "artifact_data"
            }
            artifacts = data.get("artifact_data")
            if isinstance(artifacts, Mapping):
                self.artifacts = dict(artifacts)
            return []
        if kind in ("warning", "error", "deprecated"):
            return self._record(_messages(event.get("stdout", ""), "warning"))
        if kind == "verbose":
            # Output outside the callback's events: inventory warnings, the error
            # when ansible-playbook refuses to start, and what -v adds.
            found = _messages(event.get("stdout", ""), "output")
            self._record([m for m in found if m.level != "output"])
            return list(found)
        return []

    def _record(self, messages: list[Message]) -> list[Notice]:
        self.messages.extend(messages)
        return list(messages)

    def _start(self, event: Mapping[str, Any], data: Mapping[str, Any]) -> list[Notice]:
        host = self.host(data.get("host", ""))
        host.task = data.get("task") or data.get("name") or ""
        host.role = data.get("role")
        host.started = _timestamp(event)
        host.finished = None
        host.outcome = None
        host.detail = None
        return []

    def _result(
        self, event: Mapping[str, Any], data: Mapping[str, Any], outcome: Outcome
    ) -> list[Notice]:
        name = data.get("host", "")
        host = self.host(name)
        task = data.get("task") or host.task or ""
        role = data.get("role")
        res: Mapping[str, Any] = data.get("res") or {}
        if outcome is Outcome.OK and res.get("changed"):
            outcome = Outcome.CHANGED
        if outcome is Outcome.FAILED and data.get("ignore_errors"):
            outcome = Outcome.IGNORED
        msg = None
        if outcome in (Outcome.FAILED, Outcome.UNREACHABLE, Outcome.IGNORED):
            msg = failure_message(res)
        if outcome in (Outcome.FAILED, Outcome.UNREACHABLE):
            unreachable = outcome is Outcome.UNREACHABLE
            kind = failure_kinds.HOST if unreachable else failure_kinds.kind_of(res)
            self.failures.append(
                Failure(name, task, role, msg or "", unreachable=unreachable, kind=kind)
            )
        host.task, host.role = task, role
        host.finished = _timestamp(event)
        if host.started is None:
            host.started = host.finished
        host.outcome = outcome
        host.detail = None
        host.counts[outcome] += 1
        diff = "\n".join(host.diffs)
        host.diffs.clear()
        duration = data.get("duration")
        return [
            TaskResult(
                host=name,
                task=task,
                role=role,
                outcome=outcome,
                duration=float(duration) if isinstance(duration, int | float) else None,
                msg=msg,
                output=strip_ansi(event.get("stdout", "")).strip("\n"),
                diff=diff,
            )
        ]

    def _item(self, data: Mapping[str, Any]) -> None:
        res: Mapping[str, Any] = data.get("res") or {}
        label = res.get("_ansible_item_label", res.get("item"))
        if label is not None and data.get("host"):
            self.host(data["host"]).detail = f"item {label}"

    def _retry(self, data: Mapping[str, Any]) -> None:
        res: Mapping[str, Any] = data.get("res") or {}
        if data.get("host"):
            attempts, retries = res.get("attempts"), res.get("retries")
            self.host(data["host"]).detail = f"retry {attempts}/{retries}"

    def _jobs_from(
        self, event: Mapping[str, Any], data: Mapping[str, Any], kind: str
    ) -> Iterator[Notice]:
        """Notices about release jobs from one event (see Progress._job_events)."""
        res: Mapping[str, Any] = data.get("res") or {}
        when = _timestamp(event)
        action = _action(data)
        if kind == "runner_on_ok" and action.endswith("release_round"):
            yield from self._round(res, when)
            return
        if kind == "runner_on_ok" and action.endswith("image_source") and res.get("msg"):
            # Which builder images the release uses, and why (official or offline).
            yield Announcement(str(res["msg"]))
            return
        if not self.jobs or not _is_wheel_build(data):
            return
        host = str(data.get("host") or "")
        if kind == "runner_on_ok" and action.endswith("wheel_build_plan"):
            # The role's plan: which jobs are up to date (not rebuilt) or cannot run.
            reasons = {
                str(job.get("id")): job.get("reason")
                for job in res.get("jobs") or []
                if isinstance(job, Mapping)
            }
            for name in res.get("up_to_date") or []:
                yield from self._move(str(name), host, JobPhase.UP_TO_DATE, when)
            for name in res.get("failed_jobs") or []:
                yield from self._move(
                    str(name), host, JobPhase.FAILED, when, reasons.get(str(name))
                )

    def apply_record(self, record: Record) -> list[Notice]:
        """Fold one progress record (wheelfleet.progress_records) into the jobs; return what a
        display should print. A record of a job the release has not announced adds it (a
        build outside a release); a record from a host the job has left is stale."""
        when = datetime.fromtimestamp(record.t, UTC) if record.t is not None else None
        if record.state == "host_failed":
            reason = record.failure_message or "no reason given"
            return [
                Announcement(
                    f"host {record.host} failed ({reason}): its unfinished jobs are planned again"
                )
            ]
        phase = _RECORD_PHASES.get(record.state)
        if phase is None or record.job is None:
            return []
        job = self.jobs.get(record.job)
        if job is None:
            job = self.jobs[record.job] = JobProgress(record.job, record.job, record.host)
        if job.host != record.host or job.phase.finished:
            return []
        if record.step:
            job.step = record.step
        if record.slot is not None:
            job.slot = record.slot
        if phase is not JobPhase.QUEUED and job.started is None:
            job.started = when
        reason = None
        if phase is JobPhase.FAILED:
            reason = record.failure_message or "failed"
            if record.step:
                reason = f"at step {record.step}: {reason}"
        return list(self._move(record.job, record.host, phase, when, reason))

    def _move(
        self,
        name: str,
        host: str,
        phase: JobPhase,
        when: datetime | None,
        reason: str | None = None,
    ) -> Iterator[Notice]:
        job = self.jobs.get(name)
        if job is None or job.host != host or job.phase.finished:
            return
        if not phase.finished and _PHASE_ORDER.index(phase) <= _PHASE_ORDER.index(job.phase):
            return
        job.phase = phase
        if job.started is None and phase is not JobPhase.UP_TO_DATE:
            job.started = when
        if phase.finished:
            job.finished = when
            job.reason = reason
        yield JobChanged(
            job.identifier,
            host,
            phase,
            job.elapsed(when or datetime.now(UTC)),
            reason,
            step=job.step if phase is JobPhase.FAILED else None,
        )

    def _round(self, res: Mapping[str, Any], when: datetime | None) -> Iterator[Notice]:
        """A release_round result: the state after a round, and the next round's jobs."""
        state = res.get("state") or {}
        number = int(res.get("round") or 0)
        table = res.get("table")
        if isinstance(table, str) and table:
            if not self.jobs and not res.get("complete"):
                yield Announcement(f"The release plan:\n{table}")
            elif res.get("moves"):
                moved = ", ".join(
                    f"{move.get('job')} from {move.get('from')} to {move.get('to')}"
                    for move in res["moves"]
                    if isinstance(move, Mapping)
                )
                yield Announcement(f"Replanned after host failures ({moved}):\n{table}")
        statuses = {
            "done": JobPhase.DONE,
            "up-to-date": JobPhase.UP_TO_DATE,
            "failed": JobPhase.FAILED,
        }
        for job in (state.get("jobs") or {}).values():
            if not isinstance(job, Mapping) or job.get("status") not in statuses:
                continue
            name = str(job.get("job"))
            current = self.jobs.get(name)
            if current is None:
                current = self.jobs[name] = JobProgress(
                    name, str(job.get("identifier")), str(job.get("host") or "-")
                )
            phase = statuses[str(job["status"])]
            if current.phase is not phase:
                reason = job.get("reason") if phase is JobPhase.FAILED else None
                current.host = str(job.get("host") or current.host)
                yield from self._move(name, current.host, phase, when, reason)
        for job in res.get("round_jobs") or []:
            if not isinstance(job, Mapping):
                continue
            name = str(job.get("job"))
            host = str(job.get("host"))
            current = self.jobs.get(name)
            if current is not None and current.host == host and current.round == number:
                continue
            moved_from = current.host if current is not None and current.host != host else None
            self.jobs[name] = JobProgress(
                name, str(job.get("identifier")), host, moved_from=moved_from, round=number
            )
            yield JobChanged(
                str(job.get("identifier")), host, JobPhase.QUEUED, moved_from=moved_from
            )

    def _job_events(
        self, event: Mapping[str, Any], data: Mapping[str, Any], kind: str
    ) -> list[Notice]:
        """Release jobs: queued from the release's rounds (wheelfleet.fleet.release_round) and
        settled by them; up to date from the role's plan. Live phases come from the progress
        records (apply_record), never from task names."""
        try:
            return list(self._jobs_from(event, data, kind))
        except (TypeError, ValueError, AttributeError):  # a malformed event must not stop a run
            return []
