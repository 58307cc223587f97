"""The release report: the matrix, the wheels, what moved and what failed.

A report is built from the wheelhouse's ``manifest.json`` and, when there is
one, the last release's state (``release.json``, see :mod:`wheelfleet.release`).
Without a release state the matrix shows the wheels the manifest holds. The
same :class:`Report` renders as Markdown (``report.md``), as a static HTML page
(``report.html``: no script, every value escaped) and as a JSON document. The
Markdown and HTML come from the Jinja2 templates in ``wheelfleet/templates``
(:mod:`wheelfleet.report_templates`).

The matrix has one row per Python tag and one column per architecture; each
cell gives the job's status, its host, whether it ran natively or under
emulation, and its time (the sum of its steps). The timeline
(:mod:`wheelfleet.timeline`) shows each job's steps on its host's slot, with the
release's wall time, the sum of its job times and the parallel efficiency.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wheelfleet import accelerator, manylinux, report_templates
from wheelfleet import manifest as wheelhouse_manifest
from wheelfleet import release as release_state
from wheelfleet import timeline as timelines
from wheelfleet.architectures import ARCHITECTURES
from wheelfleet.identifiers import python_sort_key
from wheelfleet.report_templates import format_seconds, format_size, one_line

__all__ = [
    "HTML",
    "MARKDOWN",
    "STATUS_LABELS",
    "Cell",
    "Report",
    "Wheel",
    "format_seconds",
    "format_size",
    "render",
    "text_summary",
]

MARKDOWN = "report.md"
HTML = "report.html"

STATUS_LABELS = {
    release_state.DONE: "built",
    release_state.UP_TO_DATE: "up to date",
    release_state.FAILED: "FAILED",
    release_state.QUEUED: "not built",
}


@dataclass(frozen=True)
class Cell:
    """One job of the matrix."""

    identifier: str
    architecture: str
    python: str
    status: str
    """built, up to date, FAILED or not built."""
    host: str | None = None
    mode: str | None = None
    """native, emulated, or (wheelfleet.accelerator.REPORTED_MODES) emulated with the
    host-native compiler, or rebuilt plainly after its accelerated build failed."""
    seconds: float | None = None
    wheels: tuple[str, ...] = ()
    reason: str | None = None
    step: str | None = None

    def summary(self) -> str:
        """``built on fleet-a, native, 25.4 s``."""
        where = f" on {self.host}" if self.host else ""
        return ", ".join([self.status + where, *self._mode_and_time()])

    def detail(self) -> str:
        """``on fleet-a, native, 25.4 s``: the summary without the status."""
        where = [f"on {self.host}"] if self.host else []
        return ", ".join([*where, *self._mode_and_time()])

    def _mode_and_time(self) -> list[str]:
        parts = [self.mode] if self.mode else []
        if self.seconds is not None:
            parts.append(format_seconds(self.seconds))
        return parts


@dataclass(frozen=True)
class Wheel:
    file: str
    identifier: str
    architecture: str
    python: str
    size: int
    sha256: str
    host: str
    mode: str
    image: str
    image_digest: str
    grafted: tuple[str, ...]
    build_seconds: float
    seconds: float
    tags: Mapping[str, Any] = field(default_factory=dict)

    @property
    def policy(self) -> str:
        """The most portable manylinux policy of the wheel's tag (``manylinux_2_17``)."""
        return manylinux.policy_of_wheel(self.file) or "none"


@dataclass(frozen=True)
class Report:
    project: str
    version: str | None
    wheelhouse: str
    release_id: str | None
    complete: bool
    rounds: int
    elapsed: float | None
    cells: tuple[Cell, ...]
    wheels: tuple[Wheel, ...]
    moves: tuple[Mapping[str, Any], ...] = ()
    failed_hosts: Mapping[str, str] = field(default_factory=dict)
    left_out: Mapping[str, str] = field(default_factory=dict)
    """Hosts the release's first plan left out (unreachable, no engine...), with its reason."""
    generated_at: str = ""
    not_built: tuple[Mapping[str, Any], ...] = ()
    """Selected by the project's configuration, not buildable on the fleet: subject, reason."""
    runs: tuple[timelines.JobRun, ...] = ()
    """The jobs that ran in the release, with their steps: the timeline's bars."""
    without_steps: tuple[str, ...] = ()
    """Jobs that ran but whose records carry no steps (entries from before steps were recorded,
    a job stopped before its first step): left off the timeline, and listed."""
    fleet: Mapping[str, int] = field(default_factory=dict)
    """The release's hosts and their slots (the timeline's rows)."""
    started_at: float | None = None
    finished_at: float | None = None

    # -- building

    @classmethod
    def from_wheelhouse(cls, wheelhouse: str | os.PathLike[str]) -> Report:
        """The report of the wheelhouse's last release (or of its manifest alone)."""
        home = Path(wheelhouse)
        manifest = wheelhouse_manifest.load(home)
        state = release_state.load_state(home)
        return cls.build(manifest, state, str(home))

    @classmethod
    def build(
        cls,
        manifest: Mapping[str, Any],
        state: Mapping[str, Any] | None,
        wheelhouse: str = "",
    ) -> Report:
        entries = dict(manifest.get("wheels") or {})
        if state is None:
            return cls._from_manifest(entries, wheelhouse)
        return cls._from_state(entries, state, wheelhouse)

    @classmethod
    def _from_manifest(cls, entries: Mapping[str, Mapping[str, Any]], wheelhouse: str) -> Report:
        wheels = [_wheel(entry) for _, entry in sorted(entries.items())]
        cells = {}
        for wheel in wheels:
            previous = cells.get(wheel.identifier)
            files = (*previous.wheels, wheel.file) if previous else (wheel.file,)
            cells[wheel.identifier] = Cell(
                wheel.identifier,
                wheel.architecture,
                wheel.python,
                "built",
                wheel.host,
                wheel.mode,
                wheel.seconds,
                files,
            )
        projects = sorted({str(e.get("project")) for e in entries.values() if e.get("project")})
        versions = sorted({str(e.get("version")) for e in entries.values() if e.get("version")})
        runs, without_steps = _last_run(entries)
        return cls(
            project=", ".join(projects) or "(no wheels)",
            version=", ".join(versions) or None,
            wheelhouse=wheelhouse,
            release_id=None,
            complete=True,
            rounds=0,
            elapsed=None,
            cells=tuple(cells.values()),
            wheels=tuple(wheels),
            generated_at=_now(),
            runs=runs,
            without_steps=without_steps,
        )

    @classmethod
    def _from_state(
        cls,
        entries: Mapping[str, Mapping[str, Any]],
        state: Mapping[str, Any],
        wheelhouse: str,
    ) -> Report:
        by_job: dict[str, list[Mapping[str, Any]]] = {}
        for entry in entries.values():
            by_job.setdefault(str(entry.get("job")), []).append(entry)
        cells: list[Cell] = []
        wheels: list[Wheel] = []
        versions: set[str] = set()
        runs: list[timelines.JobRun] = []
        without_steps: list[str] = []
        for identifier, job in sorted(state.get("jobs", {}).items()):
            status = STATUS_LABELS.get(job.get("status"), str(job.get("status")))
            mine: list[Mapping[str, Any]] = []
            if job.get("status") == release_state.DONE:
                files = set(job.get("wheels") or [])
                mine = [e for e in by_job.get(job["job"], []) if e.get("file") in files]
            elif job.get("status") == release_state.UP_TO_DATE:
                found = by_job.get(job["job"], [])
                latest = max((str(e.get("run_id", "")) for e in found), default="")
                mine = [e for e in found if str(e.get("run_id", "")) == latest]
            job_wheels = [_wheel(entry) for entry in sorted(mine, key=lambda e: str(e["file"]))]
            if _ran(job):
                run = _job_run(identifier, job, mine)
                if run is None:
                    without_steps.append(str(job.get("job") or identifier))
                else:
                    runs.append(run)
            wheels.extend(job_wheels)
            versions.update(str(e["version"]) for e in mine if e.get("version"))
            if job_wheels:
                host, mode = job_wheels[0].host, job_wheels[0].mode
                seconds = job_wheels[0].seconds
            else:
                host = job.get("host")
                native = job.get("native")
                mode = None if native is None else ("native" if native else "emulated")
                seconds = job.get("seconds")
            cells.append(
                Cell(
                    identifier=identifier,
                    architecture=job["architecture"],
                    python=job["python"],
                    status=status,
                    host=host,
                    mode=mode,
                    seconds=seconds,
                    wheels=tuple(w.file for w in job_wheels),
                    reason=job.get("reason") if job.get("status") == release_state.FAILED else None,
                    step=job.get("step") if job.get("status") == release_state.FAILED else None,
                )
            )
        started, finished = state.get("started_at"), state.get("finished_at")
        elapsed = (
            float(finished) - float(started)
            if isinstance(started, int | float) and isinstance(finished, int | float)
            else None
        )
        return cls(
            project=str(state.get("project") or "?"),
            version=", ".join(sorted(versions)) or None,
            wheelhouse=wheelhouse,
            release_id=state.get("release_id"),
            # A state that is not complete is a dry run (check mode) or an interrupted run:
            # its jobs were not built, and did not fail either.
            complete=bool(state.get("complete")) and not any(c.status == "FAILED" for c in cells),
            rounds=int(state.get("round") or 0),
            elapsed=elapsed,
            cells=tuple(cells),
            wheels=tuple(wheels),
            moves=tuple(state.get("moves") or ()),
            failed_hosts=dict(state.get("failed_hosts") or {}),
            left_out=_left_out(state),
            generated_at=_now(),
            not_built=tuple(state.get("not_built") or ()),
            runs=tuple(runs),
            without_steps=tuple(without_steps),
            fleet=_fleet(state),
            started_at=started if isinstance(started, int | float) else None,
            finished_at=finished if isinstance(finished, int | float) else None,
        )

    # -- views

    @property
    def failures(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.status == "FAILED"]

    def counts(self) -> dict[str, int]:
        statuses = [cell.status for cell in self.cells]
        return {
            "jobs": len(statuses),
            "built": statuses.count("built"),
            "up_to_date": statuses.count("up to date"),
            "failed": len(self.failures),
            "wheels": len(self.wheels),
        }

    def architectures(self) -> list[str]:
        found = {cell.architecture for cell in self.cells}
        order = list(ARCHITECTURES)
        return sorted(found, key=lambda a: (order.index(a) if a in order else len(order), a))

    def pythons(self) -> list[str]:
        found = {cell.python for cell in self.cells}
        return sorted(found, key=_python_key)

    def cell(self, python: str, architecture: str) -> Cell | None:
        for cell in self.cells:
            if cell.python == python and cell.architecture == architecture:
                return cell
        return None

    def headline(self) -> str:
        numbers = self.counts()
        pending = sum(cell.status == "not built" for cell in self.cells)
        if self.complete:
            state = "complete"
        elif numbers["failed"]:
            state = f"INCOMPLETE: {numbers['failed']} job(s) failed"
        else:
            state = f"not finished (a dry run, or interrupted): {pending} job(s) not built"
        text = (
            f"{numbers['jobs']} job(s): {numbers['built']} built, {numbers['up_to_date']} up to"
            f" date (not rebuilt), {numbers['failed']} failed; {numbers['wheels']} wheel(s)"
            f" - {state}"
        )
        if numbers["jobs"] and numbers["up_to_date"] == numbers["jobs"]:
            text += "; nothing was built: every wheel was already up to date"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "version": self.version,
            "wheelhouse": self.wheelhouse,
            "release_id": self.release_id,
            "complete": self.complete,
            "rounds": self.rounds,
            "elapsed": None if self.elapsed is None else round(self.elapsed, 1),
            "counts": self.counts(),
            "headline": self.headline(),
            "matrix": {
                python: {
                    arch: (None if (cell := self.cell(python, arch)) is None else _cell_json(cell))
                    for arch in self.architectures()
                }
                for python in self.pythons()
            },
            "wheels": [_wheel_json(wheel) for wheel in self.wheels],
            "moves": [dict(move) for move in self.moves],
            "failed_hosts": dict(self.failed_hosts),
            "left_out": dict(self.left_out),
            "failures": [_cell_json(cell) for cell in self.failures],
            "not_built": [dict(item) for item in self.not_built],
            "timeline": {
                **self.timeline().figures.to_json(),
                "jobs_without_steps": list(self.without_steps),
            },
        }

    # -- timeline, Markdown, HTML

    @property
    def title(self) -> str:
        return self.project + (f" {self.version}" if self.version else "")

    def timeline(self) -> timelines.Timeline:
        """The jobs on their host slots, with the wall time, job times and efficiency."""
        return timelines.build(
            self.runs,
            fleet=self.fleet,
            started_at=self.started_at,
            finished_at=self.finished_at,
            left_off=self.without_steps,
        )

    def markdown(self) -> str:
        return report_templates.render_markdown(self)

    def html(self) -> str:
        return report_templates.render_html(self)

    def write(self, wheelhouse: str | os.PathLike[str] | None = None) -> dict[str, str]:
        """Write ``report.md`` and ``report.html`` into the wheelhouse (under its lock, each from
        a unique synced temporary file); return their paths."""
        home = Path(wheelhouse or self.wheelhouse)
        ids = wheelhouse_manifest.owner()
        wheelhouse_manifest.make_dirs(home, ids)
        paths = {}
        with wheelhouse_manifest.locked(home):
            for key, name, text in (
                ("markdown", MARKDOWN, self.markdown()),
                ("html", HTML, self.html()),
            ):
                path = home / name
                wheelhouse_manifest.write_atomic(path, text, ids=ids)
                paths[key] = str(path)
        return paths


def _ran(job: Mapping[str, Any]) -> bool:
    """Whether a release job ran on a host (built, or failed there; not failed by the plan)."""
    if job.get("status") == release_state.DONE:
        return True
    return (
        job.get("status") == release_state.FAILED
        and bool(job.get("host"))
        and int(job.get("round") or 0) >= 1
    )


def _slot(*values: Any) -> int:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return 0


def _job_run(
    identifier: str, job: Mapping[str, Any], entries: list[Mapping[str, Any]]
) -> timelines.JobRun | None:
    """The job as it ran: steps, host and slot from release.json's job, else from the
    manifest entries of its wheels (every wheel of a job carries the job's steps)."""
    entry = next((e for e in entries if timelines.read_steps(e.get("steps"))), {})
    steps = timelines.read_steps(job.get("steps")) or timelines.read_steps(entry.get("steps"))
    if not steps:
        return None
    failed = job.get("status") == release_state.FAILED
    return timelines.JobRun(
        job=str(job.get("job") or identifier),
        identifier=identifier,
        host=str(job.get("host") or entry.get("host") or "?"),
        slot=_slot(job.get("slot"), entry.get("slot")),
        steps=steps,
        failed=failed,
        failed_step=str(job.get("step")) if failed and job.get("step") else None,
    )


def _last_run(
    entries: Mapping[str, Mapping[str, Any]],
) -> tuple[tuple[timelines.JobRun, ...], tuple[str, ...]]:
    """Without a release state: the jobs of the manifest's last run (the run whose steps end
    last), and the jobs of that run without steps."""
    by_run: dict[str, dict[str, Mapping[str, Any]]] = {}
    for _, entry in sorted(entries.items()):
        job = str(entry.get("job") or entry.get("identifier") or entry.get("file"))
        by_run.setdefault(str(entry.get("run_id") or ""), {}).setdefault(job, entry)

    def last_end(jobs: Mapping[str, Mapping[str, Any]]) -> float:
        ends = [s.end for e in jobs.values() for s in timelines.read_steps(e.get("steps"))]
        return max(ends, default=float("-inf"))

    if not by_run:
        return (), ()
    run = max(by_run.values(), key=last_end)
    if last_end(run) == float("-inf"):
        return (), tuple(sorted({job for jobs in by_run.values() for job in jobs}))
    runs, without = [], []
    for job, entry in sorted(run.items()):
        steps = timelines.read_steps(entry.get("steps"))
        if not steps:
            without.append(job)
            continue
        runs.append(
            timelines.JobRun(
                job=job,
                identifier=str(entry.get("identifier") or job),
                host=str(entry.get("host") or "?"),
                slot=_slot(entry.get("slot")),
                steps=steps,
            )
        )
    return tuple(runs), tuple(without)


def _fleet(state: Mapping[str, Any]) -> dict[str, int]:
    """The release's healthy hosts (in its first plan, or planned later) and their slots."""
    fleet: dict[str, int] = {}
    for plan in (state.get("initial_plan"), state.get("plan")):
        hosts = plan.get("hosts") if isinstance(plan, Mapping) else None
        for name, host in (hosts or {}).items():
            if isinstance(host, Mapping) and host.get("healthy", True) and name not in fleet:
                capacity = host.get("capacity")
                if isinstance(capacity, int) and capacity > 0:
                    fleet[str(name)] = capacity
    return fleet


def _left_out(state: Mapping[str, Any]) -> dict[str, str]:
    """The hosts of the release's first plan that were not healthy, with the plan's note."""
    plan = state.get("initial_plan")
    hosts = plan.get("hosts") if isinstance(plan, Mapping) else None
    return {
        str(name): str(host.get("note") or "unavailable")
        for name, host in (hosts or {}).items()
        if isinstance(host, Mapping) and not host.get("healthy", True)
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _python_key(python: str) -> tuple[Any, ...]:
    try:
        return (0, *python_sort_key(python))
    except ValueError:
        return (1, python)


def _wheel(entry: Mapping[str, Any]) -> Wheel:
    python_tag = str(entry.get("python_tag") or "")
    arch = str(entry.get("architecture") or "?")
    python = str(entry.get("python") or wheelhouse_manifest.short_python(python_tag) or "?")
    identifier = str(entry.get("identifier") or f"{python}-manylinux_{arch}")
    digests = list(entry.get("image_digests") or [])
    digest = str(entry.get("image_digest") or (digests[0] if digests else entry.get("image_id")))
    timings = entry.get("timings") or {}
    return Wheel(
        file=str(entry.get("file")),
        identifier=identifier,
        architecture=arch,
        python=python,
        size=int(entry.get("size") or 0),
        sha256=str(entry.get("sha256") or ""),
        host=str(entry.get("host") or "?"),
        mode=accelerator.reported_mode(entry),
        image=str(entry.get("image") or "?"),
        image_digest=digest,
        grafted=tuple(entry.get("grafted") or ()),
        build_seconds=float(entry.get("build_seconds") or 0.0),
        seconds=round(sum(float(v) for v in timings.values()), 1),
        tags=dict(entry.get("tags") or {}),
    )


def _cell_json(cell: Cell) -> dict[str, Any]:
    return {
        "identifier": cell.identifier,
        "architecture": cell.architecture,
        "python": cell.python,
        "status": cell.status,
        "host": cell.host,
        "mode": cell.mode,
        "seconds": cell.seconds,
        "wheels": list(cell.wheels),
        "step": cell.step,
        "reason": cell.reason,
    }


def _wheel_json(wheel: Wheel) -> dict[str, Any]:
    return {
        "file": wheel.file,
        "policy": wheel.policy,
        "identifier": wheel.identifier,
        "architecture": wheel.architecture,
        "python": wheel.python,
        "size": wheel.size,
        "sha256": wheel.sha256,
        "host": wheel.host,
        "mode": wheel.mode,
        "image": wheel.image,
        "image_digest": wheel.image_digest,
        "grafted": list(wheel.grafted),
        "build_seconds": wheel.build_seconds,
        "seconds": wheel.seconds,
    }


def render(report: Report, fmt: str) -> str:
    """The report as ``markdown``, ``html`` or ``json``."""
    if fmt == "html":
        return report.html()
    if fmt == "json":
        return json.dumps(report.to_json(), indent=2)
    return report.markdown()


def text_summary(document: Mapping[str, Any], paths: Mapping[str, str] | None = None) -> str:
    """A few lines for a terminal, from :meth:`Report.to_json`: the headline, the matrix as
    an aligned table, the moves and failures, and where the wheelhouse and report are."""
    title = str(document.get("project") or "?")
    if document.get("version"):
        title += f" {document['version']}"
    lines = [f"{title}: {document.get('headline', '')}"]
    matrix: Mapping[str, Mapping[str, Any]] = document.get("matrix") or {}
    archs: list[str] = []
    for row in matrix.values():
        archs.extend(arch for arch in row if arch not in archs)
    if matrix and archs:
        rows = [["", *archs]]
        for python, row in matrix.items():
            cells = []
            for arch in archs:
                cell = row.get(arch)
                if not cell:
                    cells.append("-")
                    continue
                text = str(cell.get("status"))
                if cell.get("host"):
                    text += f" on {cell['host']}"
                if cell.get("mode"):
                    text += f", {cell['mode']}"
                if cell.get("seconds") is not None:
                    text += f", {format_seconds(float(cell['seconds']))}"
                cells.append(text)
            rows.append([python, *cells])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines.extend(
            "  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows
        )
    policies: dict[str, int] = {}
    for wheel in document.get("wheels") or []:
        policy = str(wheel.get("policy") or "none")
        policies[policy] = policies.get(policy, 0) + 1
    if policies:
        lines.append(
            "wheel policies: "
            + ", ".join(f"{policy} ({count})" for policy, count in sorted(policies.items()))
        )
    not_built = document.get("not_built") or []
    if not_built:
        held = sum(max(1, len(item.get("identifiers") or [])) for item in not_built)
        lines.append(f"selected but not built on this fleet: {held} (see the report)")
    for host, reason in sorted((document.get("left_out") or {}).items()):
        lines.append(f"host {host} left out of the plan: {one_line(str(reason))}")
    for host, reason in sorted((document.get("failed_hosts") or {}).items()):
        lines.append(f"host {host} failed: {one_line(str(reason))}")
    for move in document.get("moves") or []:
        lines.append(
            f"replanned {move.get('job')}: moved from {move.get('from')} to {move.get('to')}"
            f" in round {move.get('round')}"
        )
    for failure in document.get("failures") or []:
        where = f" on {failure['host']}" if failure.get("host") else ""
        lines.append(f"FAILED {failure.get('identifier')}{where} at step {failure.get('step')}:")
        reason = str(failure.get("reason") or "").strip().splitlines()
        lines.extend(f"    {line}" for line in reason[:12])
        if len(reason) > 12:
            lines.append("    ... (see the report)")
    if document.get("wheelhouse"):
        lines.append(f"wheelhouse: {document['wheelhouse']}")
    if paths:
        shown = [paths[key] for key in ("markdown", "html") if paths.get(key)]
        if shown:
            lines.append(f"report: {', '.join(shown)}")
    return "\n".join(lines)
