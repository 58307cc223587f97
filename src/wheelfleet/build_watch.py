"""The controller's side of one host's build: its progress records, fetching and publishing.

The host's build engine (``wheel_build_engine``) appends progress records to
``<workdir>/progress.jsonl``; the watch action reads them through
``wheel_build_progress`` and hands each to :class:`Watch`, which

- relays it to the CLI's progress file (``WHEELFLEET_PROGRESS``) and the display;
- on ``built``: fetches the job's ``result.json``, wheels and logs from
  ``<workdir>/out/<job>/`` into the wheelhouse's staging directory and publishes
  them (:func:`wheelfleet.manifest.publish`), then records ``done`` (or
  ``failed``, kind ``job``, when the controller refuses a wheel);
- on ``failed``: fetches and writes the job's logs only;
- on ``host_failed``: keeps the reason; the jobs not yet built or failed are
  ``unfinished`` (a later round replans them).

Fetching is the caller's (the action's connection); this module decides what to
fetch and where, and never trusts a name that comes from the build host.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from wheelfleet import manifest, wheel_names

RECORD_VERSION = 1
TERMINAL = ("built", "failed", "unfinished")
LOG_FILES = ("build.log", "test.log")
RESULT_FILE = "result.json"


class FetchError(RuntimeError):
    """A file could not be fetched from the build host; ``lost`` when the host is gone."""

    def __init__(self, message: str, lost: bool = False) -> None:
        super().__init__(message)
        self.lost = lost


Fetch = Callable[[str, str, Path], None]
"""fetch(job id, file name in <workdir>/out/<job>/, local path)."""


def make_record(
    host: str,
    job: str | None,
    state: str,
    *,
    slot: int | None = None,
    step: str | None = None,
    elapsed: float | None = None,
    failure: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """A progress record in the engine's format (contract version 1)."""
    return {
        "v": RECORD_VERSION,
        "t": round(time.time() if now is None else now, 3),
        "host": host,
        "job": job,
        "slot": slot,
        "state": state,
        "step": step,
        "elapsed": None if elapsed is None else round(float(elapsed), 3),
        "failure": dict(failure) if failure else None,
    }


def append_record(path: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
    """One JSON line appended with one write (O_APPEND: lines of several writers never
    interleave)."""
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


def display_line(record: Mapping[str, Any]) -> str:
    """A short line for the play's output: ``host job state step (12.3s)``."""
    parts = [str(record.get("host") or "?")]
    if record.get("job"):
        parts.append(str(record["job"]))
    parts.append(str(record.get("state")))
    if record.get("step"):
        parts.append(str(record["step"]))
    if record.get("elapsed") is not None:
        parts.append(f"({float(record['elapsed']):.1f}s)")
    failure = record.get("failure")
    if isinstance(failure, Mapping) and failure.get("message"):
        first = str(failure["message"]).strip().splitlines()[:1]
        parts.append(f"[{failure.get('kind')}] {first[0] if first else ''}")
    return " ".join(parts)


def log_header(job: Mapping[str, Any], result: Mapping[str, Any], host: str) -> str:
    """The top of a job's log in the wheelhouse: what ran where, how long, how it ended."""
    lines = [
        f"# wheelfleet job {job['id']} (run {job['run_id']})",
        f"# project {job['project']} {job.get('version') or ''}, source {job['source_hash']}",
        f"# {job['python_tag']} on {job['arch']} "
        f"({'emulated' if job.get('emulated') else 'native'}) on host {host}"
        + (f", slot {result['slot']}" if result.get("slot") is not None else ""),
        f"# image {job['image']} {job.get('image_id') or ''}",
        f"# settings {job['settings_hash']}",
    ]
    for wheel in result.get("wheels") or []:
        grafted = ", ".join(wheel.get("grafted") or []) or "nothing"
        lines.append(f"# repaired {wheel['file']} (sha256 {wheel['sha256']}; grafted {grafted})")
    timings = result.get("timings") or {}
    if timings:
        lines.append("# seconds: " + ", ".join(f"{k} {float(v):.1f}" for k, v in timings.items()))
    if result.get("status") == "built":
        lines.append("# result: success")
    else:
        failure = result.get("failure") or {}
        kind = failure.get("kind") or "job"
        lines.append(f"# FAILED at step {failure.get('step')} ({kind} failure):")
        lines.extend(f"#   {line}" for line in str(failure.get("message")).splitlines())
    return "\n".join(lines) + "\n"


def manifest_entries(
    job: Mapping[str, Any], result: Mapping[str, Any], host: str
) -> list[dict[str, Any]]:
    """The manifest entries of a built job's wheels, with where and when it ran:
    ``host``, ``slot`` and ``steps`` (absolute start and end of each step)."""
    timings = {str(k): float(v) for k, v in (result.get("timings") or {}).items()}
    steps = [
        {"step": str(s["step"]), "start": float(s["start"]), "end": float(s["end"])}
        for s in result.get("steps") or []
    ]
    entries = []
    for wheel in result.get("wheels") or []:
        entry = manifest.entry(
            job, wheel, host=host, timings=timings, accelerator=result.get("accelerator")
        )
        entry.update(slot=result.get("slot"), steps=steps)
        if result.get("qemu_cpu"):  # the CPU model QEMU emulated for the job's commands
            entry["qemu_cpu"] = result["qemu_cpu"]
        entries.append(entry)
    return entries


def ordered_timings(result: Mapping[str, Any]) -> dict[str, float]:
    """The job's seconds per step, in the order the steps ran."""
    timings = {str(k): float(v) for k, v in (result.get("timings") or {}).items()}
    order = [str(s.get("step")) for s in result.get("steps") or [] if isinstance(s, Mapping)]
    ranked = {name: timings[name] for name in dict.fromkeys(order) if name in timings}
    return {**ranked, **timings}


def _plain_name(name: Any) -> bool:
    return (
        isinstance(name, str)
        and bool(name)
        and "/" not in name
        and "\\" not in name
        and not name.startswith(".")
    )


def refusals(wheels: Iterable[Any], job: Mapping[str, Any], allow_pure: bool) -> list[str]:
    """Why the controller refuses the wheels a build host reports, one message per refused
    name ([] when it accepts them all). A name from the build host came from the build
    container, where the project's code ran, and would become a path on the controller:
    it must be a wheel of this job (:func:`wheelfleet.wheel_names.check`), once."""
    found: list[str] = []
    seen: set[str] = set()
    listed = list(wheels)
    for wheel in listed:
        file = wheel.get("file") if isinstance(wheel, Mapping) else None
        if not _plain_name(file):
            found.append(f"the build returned a wheel named {file!r}, which is not a file name")
            continue
        try:
            wheel_names.check(file, job, allow_pure=allow_pure)
        except wheel_names.WheelNameError as exc:
            found.append(str(exc))
            continue
        if file in seen:
            found.append(f"the build returned the wheel {file!r} twice")
        seen.add(str(file))
    if not listed:
        found.append("the build host reported the job built without a wheel")
    return found


class Watch:
    """One host's jobs as their records come in; see the module's docstring."""

    def __init__(
        self,
        jobs: Iterable[Mapping[str, Any]],
        *,
        host: str,
        wheelhouse: str,
        staging: str,
        fetch: Fetch,
        allow_pure: bool = False,
        progress_path: str | None = None,
        show: Callable[[str], None] | None = None,
    ) -> None:
        self.jobs = {str(job["id"]): dict(job) for job in jobs}
        self.host = host
        self.wheelhouse = Path(wheelhouse).absolute()
        self.staging = Path(staging).absolute()
        self.fetch = fetch
        self.allow_pure = allow_pure
        self.progress_path = progress_path
        self.show = show
        self.results: dict[str, dict[str, Any]] = {}
        self.host_failure: str | None = None
        self.changed = False

    # --- records -------------------------------------------------------------------------

    def emit(self, record: Mapping[str, Any]) -> None:
        """Relay a record to the CLI's progress file and the display."""
        if self.progress_path:
            append_record(self.progress_path, record)
        if self.show is not None:
            self.show(display_line(record))

    def start(self) -> None:
        """The plan-level records: every job queued on this host."""
        for name in self.jobs:
            self.emit(make_record(self.host, name, "queued"))

    def handle(self, record: Mapping[str, Any]) -> None:
        """One record of the engine, relayed, then acted upon."""
        if not isinstance(record, Mapping):
            return
        self.emit(record)
        state = record.get("state")
        name = record.get("job")
        if state == "host_failed":
            failure = record.get("failure") or {}
            self.host_failure = str(failure.get("message") or "the build host failed")
            return
        if name not in self.jobs or name in self.results:
            return
        if state == "built":
            self._built(str(name), record)
        elif state == "failed":
            self._failed(str(name), record)

    def host_lost(self, reason: str) -> None:
        """The host went away (connection lost, engine ended without its records)."""
        if self.host_failure is None:
            self.host_failure = reason
            self.emit(
                make_record(
                    self.host, None, "host_failed", failure={"kind": "host", "message": reason}
                )
            )

    # --- jobs ----------------------------------------------------------------------------

    def _stage(self, name: str) -> Path:
        return self.staging / name

    def _result(self, name: str, stage: Path) -> dict[str, Any]:
        """The job's result.json as the engine wrote it; {} when it has none."""
        target = stage / RESULT_FILE
        try:
            self.fetch(name, RESULT_FILE, target)
            document = json.loads(target.read_text(encoding="utf-8"))
        except FetchError as exc:
            if exc.lost:
                raise
            return {}
        except (OSError, ValueError):
            return {}
        return document if isinstance(document, dict) else {}

    def _logs(self, name: str, stage: Path, result: Mapping[str, Any]) -> str:
        text = ""
        for log in result.get("logs") or LOG_FILES:
            if log not in LOG_FILES:
                continue
            try:
                self.fetch(name, log, stage / log)
                text += (stage / log).read_text(encoding="utf-8", errors="replace")
            except FetchError as exc:
                if exc.lost:
                    raise
            except OSError:
                continue
        return text

    def _finish(self, name: str, result: dict[str, Any], record: Mapping[str, Any]) -> None:
        self.results[name] = result
        self.changed = True
        started = min((float(s["start"]) for s in result.get("steps") or []), default=None)
        elapsed = time.time() - started if started is not None else None
        state = "done" if result["status"] == "built" else "failed"
        self.emit(
            make_record(
                self.host,
                name,
                state,
                slot=result.get("slot", record.get("slot")),
                step="publish",
                elapsed=elapsed,
                failure=result.get("failure") if state == "failed" else None,
            )
        )

    def _built(self, name: str, record: Mapping[str, Any]) -> None:
        job = self.jobs[name]
        stage = self._stage(name)
        stage.mkdir(parents=True, exist_ok=True)
        started = time.time()
        result = self._result(name, stage)
        result = {**result, "id": name, "status": "built"}
        wheels = list(result.get("wheels") or [])
        try:
            refused = refusals(wheels, job, self.allow_pure)
            if refused:
                raise manifest.PublishError("\n".join(refused))
            for wheel in wheels:
                self.fetch(name, wheel["file"], stage / wheel["file"])
            log_text = self._logs(name, stage, result)
            timings = ordered_timings(result)
            timings["publish"] = round(time.time() - started, 3)
            result["timings"] = timings
            published = manifest.publish(
                self.wheelhouse,
                stage,
                wheels,
                manifest_entries(job, result, self.host),
                job=job,
                allow_pure=self.allow_pure,
                log_name=f"{name}.log",
                log_text=log_header(job, result, self.host) + log_text,
            )
            result["published"] = published["published"]
            result["log"] = published["log"]
            result["failure"] = None
        except manifest.PublishError as exc:
            manifest.remove_staging(self.wheelhouse, stage)
            failure = {"kind": "job", "step": "publish", "message": str(exc)}
            result.update(status="failed", failure=failure, published=[])
            self._write_log(name, job, result, "")
        except FetchError:
            manifest.remove_staging(self.wheelhouse, stage)
            raise
        self._finish(name, result, record)

    def _failed(self, name: str, record: Mapping[str, Any]) -> None:
        job = self.jobs[name]
        stage = self._stage(name)
        stage.mkdir(parents=True, exist_ok=True)
        try:
            result = self._result(name, stage)
            failure = dict(result.get("failure") or record.get("failure") or {})
            failure.setdefault("kind", "job")
            failure.setdefault("step", record.get("step"))
            failure.setdefault("message", "failed")
            result = {**result, "id": name, "status": "failed", "failure": failure}
            log_text = self._logs(name, stage, result)
        finally:
            manifest.remove_staging(self.wheelhouse, stage)
        result["published"] = []
        self._write_log(name, job, result, log_text)
        self._finish(name, result, record)

    def _write_log(self, name: str, job: Mapping[str, Any], result: dict, text: str) -> None:
        try:
            result["log"] = manifest.write_log(
                self.wheelhouse, f"{name}.log", log_header(job, result, self.host) + text
            )
        except manifest.PublishError as exc:
            result["log"] = None
            result["failure"]["message"] += f"\n(and its log could not be written: {exc})"

    # --- the end ---------------------------------------------------------------------------

    def outcome(self) -> dict[str, Any]:
        """The action's return: per job ``status``, ``failure``, ``published`` (and
        ``timings``, ``slot``, ``steps``), ``host_failure`` and the ids by status
        (``built``, ``failed_jobs``, ``unfinished``)."""
        jobs: dict[str, dict[str, Any]] = {}
        for name in self.jobs:
            result = self.results.get(name)
            if result is None:
                failure = (
                    {"kind": "host", "message": self.host_failure} if self.host_failure else None
                )
                jobs[name] = {"status": "unfinished", "failure": failure, "published": []}
                continue
            jobs[name] = {
                "status": result["status"],
                "failure": result.get("failure"),
                "published": list(result.get("published") or []),
                "timings": dict(result.get("timings") or {}),
                "slot": result.get("slot"),
                "steps": list(result.get("steps") or []),
                "log": result.get("log"),
            }
        return {
            "changed": self.changed,
            "jobs": jobs,
            "host_failure": self.host_failure,
            "built": [n for n, r in jobs.items() if r["status"] == "built"],
            # Not "failed": Ansible reads that key of a result as the task's own failure.
            "failed_jobs": [n for n, r in jobs.items() if r["status"] == "failed"],
            "unfinished": [n for n, r in jobs.items() if r["status"] == "unfinished"],
        }
