"""The release report: the matrix, the wheels, what moved and what failed.

A report is built from the wheelhouse's ``manifest.json`` and, when there is
one, the last release's state (``release.json``, see :mod:`wheelfleet.release`).
Without a release state the matrix shows the wheels the manifest holds. The
same :class:`Report` renders as Markdown (``report.md``), as a static HTML page
(``report.html``: no script, every value escaped) and as a JSON document.

The matrix has one row per Python tag and one column per architecture; each
cell gives the job's status, its host, whether it ran natively or under
emulation, and its time (the sum of its steps).
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wheelfleet import manifest as wheelhouse_manifest
from wheelfleet import manylinux
from wheelfleet import release as release_state
from wheelfleet.architectures import ARCHITECTURES
from wheelfleet.identifiers import python_sort_key

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
    """native or emulated."""
    seconds: float | None = None
    wheels: tuple[str, ...] = ()
    reason: str | None = None
    step: str | None = None

    def summary(self) -> str:
        """``built on fleet-a, native, 25.4 s``."""
        parts = [self.status + (f" on {self.host}" if self.host else "")]
        if self.mode:
            parts.append(self.mode)
        if self.seconds is not None:
            parts.append(format_seconds(self.seconds))
        return ", ".join(parts)


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
    generated_at: str = ""
    not_built: tuple[Mapping[str, Any], ...] = ()
    """Selected by the project's configuration, not buildable on the fleet: subject, reason."""

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
            generated_at=_now(),
            not_built=tuple(state.get("not_built") or ()),
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
            "failures": [_cell_json(cell) for cell in self.failures],
            "not_built": [dict(item) for item in self.not_built],
        }

    # -- Markdown

    def markdown(self) -> str:
        title = self.project + (f" {self.version}" if self.version else "")
        lines = [f"# Release report: {_md(title)}", ""]
        if self.release_id:
            lines.append(f"- Release: `{self.release_id}`, {self.rounds} round(s)")
        if self.elapsed is not None:
            lines.append(f"- Time: {format_seconds(self.elapsed)}")
        lines.append(f"- Wheelhouse: `{self.wheelhouse}`")
        lines.append(f"- Result: {_md(self.headline())}")
        lines += ["", "## Matrix", ""]
        archs = self.architectures()
        if archs:
            lines.append("| Python | " + " | ".join(archs) + " |")
            lines.append("|---|" + "---|" * len(archs))
            for python in self.pythons():
                row = [
                    _md(cell.summary()) if (cell := self.cell(python, arch)) else "-"
                    for arch in archs
                ]
                lines.append(f"| {python} | " + " | ".join(row) + " |")
        else:
            lines.append("No jobs.")
        lines += ["", "## Wheels", ""]
        if self.wheels:
            lines.append(
                "| Wheel | Policy | Size | sha256 | Host | Mode | Build | Grafted libraries"
                " | Image |"
            )
            lines.append("|---|---|---:|---|---|---|---:|---|---|")
            for wheel in self.wheels:
                grafted = ", ".join(wheel.grafted) or "none"
                lines.append(
                    f"| {_md(wheel.file)} | {_md(wheel.policy)} | {format_size(wheel.size)} |"
                    f" `{wheel.sha256[:16]}` |"
                    f" {_md(wheel.host)} | {wheel.mode} | {format_seconds(wheel.build_seconds)} |"
                    f" {_md(grafted)} | {_md(wheel.image)} `{_short_digest(wheel.image_digest)}` |"
                )
        else:
            lines.append("No wheels.")
        if self.not_built:
            lines += ["", "## Selected but not built on this fleet", ""]
            lines += [f"- {_md(item['subject'])}: {_md(item['reason'])}" for item in self.not_built]
        if self.moves or self.failed_hosts:
            lines += ["", "## Replanned", ""]
            for host, reason in sorted(self.failed_hosts.items()):
                lines.append(f"- Host {_md(host)} failed: {_md(_one_line(reason))}")
            for move in self.moves:
                lines.append(
                    f"- {_md(str(move['job']))} moved from {_md(str(move['from']))} to"
                    f" {_md(str(move['to']))} in round {move['round']}"
                    f" ({'native' if move.get('native') else 'emulated'})"
                )
        if self.failures:
            lines += ["", "## Failures", ""]
            for cell in self.failures:
                where = f" on {_md(cell.host)}" if cell.host else ""
                lines.append(f"### {cell.identifier}{where}, step {_md(cell.step or '?')}")
                lines += ["", "```", (cell.reason or "no reason recorded").replace("```", "'''")]
                lines += ["```", ""]
        lines += ["", f"Generated by wheelfleet at {self.generated_at}.", ""]
        return "\n".join(lines)

    # -- HTML

    def html(self) -> str:
        e = _escape
        title = self.project + (f" {self.version}" if self.version else "")
        out = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>Release report: {e(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            f"<h1>Release report: {e(title)}</h1>",
            "<ul>",
        ]
        if self.release_id:
            out.append(
                f"<li>Release <code>{e(self.release_id)}</code>, {self.rounds} round(s)</li>"
            )
        if self.elapsed is not None:
            out.append(f"<li>Time: {e(format_seconds(self.elapsed))}</li>")
        out.append(f"<li>Wheelhouse: <code>{e(self.wheelhouse)}</code></li>")
        status = "ok" if self.complete else "failed"
        out.append(f'<li class="{status}">Result: {e(self.headline())}</li>')
        out += ["</ul>", "<h2>Matrix</h2>"]
        archs = self.architectures()
        if archs:
            out.append('<table class="matrix"><thead><tr><th>Python</th>')
            out += [f"<th>{e(arch)}</th>" for arch in archs]
            out.append("</tr></thead><tbody>")
            for python in self.pythons():
                out.append(f"<tr><th>{e(python)}</th>")
                for arch in archs:
                    cell = self.cell(python, arch)
                    if cell is None:
                        out.append('<td class="none">-</td>')
                        continue
                    css = {"built": "ok", "up to date": "same"}.get(cell.status, "failed")
                    detail = []
                    if cell.host:
                        detail.append(f"on {cell.host}")
                    if cell.mode:
                        detail.append(cell.mode)
                    if cell.seconds is not None:
                        detail.append(format_seconds(cell.seconds))
                    out.append(
                        f'<td class="{css}"><strong>{e(cell.status)}</strong>'
                        f"<br><small>{e(', '.join(detail))}</small></td>"
                    )
                out.append("</tr>")
            out.append("</tbody></table>")
        else:
            out.append("<p>No jobs.</p>")
        out.append("<h2>Wheels</h2>")
        if self.wheels:
            out.append(
                "<table><thead><tr><th>Wheel</th><th>Policy</th><th>Size</th><th>sha256</th>"
                "<th>Host</th>"
                "<th>Mode</th><th>Build</th><th>Grafted libraries</th><th>Image</th>"
                "</tr></thead><tbody>"
            )
            for wheel in self.wheels:
                out.append(
                    f"<tr><td><code>{e(wheel.file)}</code></td><td>{e(wheel.policy)}</td>"
                    f'<td class="num">{e(format_size(wheel.size))}</td>'
                    f'<td><code title="{e(wheel.sha256)}">{e(wheel.sha256[:16])}</code></td>'
                    f"<td>{e(wheel.host)}</td><td>{e(wheel.mode)}</td>"
                    f'<td class="num">{e(format_seconds(wheel.build_seconds))}</td>'
                    f"<td>{e(', '.join(wheel.grafted) or 'none')}</td>"
                    f'<td>{e(wheel.image)} <code title="{e(wheel.image_digest)}">'
                    f"{e(_short_digest(wheel.image_digest))}</code></td></tr>"
                )
            out.append("</tbody></table>")
        else:
            out.append("<p>No wheels.</p>")
        if self.not_built:
            out += ["<h2>Selected but not built on this fleet</h2>", "<ul>"]
            out += [
                f"<li>{e(item['subject'])}: {e(item['reason'])}</li>" for item in self.not_built
            ]
            out.append("</ul>")
        if self.moves or self.failed_hosts:
            out += ["<h2>Replanned</h2>", "<ul>"]
            for host, reason in sorted(self.failed_hosts.items()):
                out.append(f"<li>Host {e(host)} failed: {e(_one_line(reason))}</li>")
            for move in self.moves:
                mode = "native" if move.get("native") else "emulated"
                out.append(
                    f"<li>{e(str(move['job']))} moved from {e(str(move['from']))} to"
                    f" {e(str(move['to']))} in round {e(str(move['round']))} ({mode})</li>"
                )
            out.append("</ul>")
        if self.failures:
            out.append("<h2>Failures</h2>")
            for cell in self.failures:
                where = f" on {cell.host}" if cell.host else ""
                out.append(
                    f"<h3>{e(cell.identifier + where)}, step {e(cell.step or '?')}</h3>"
                    f"<pre>{e(cell.reason or 'no reason recorded')}</pre>"
                )
        out += [
            f"<p><small>Generated by wheelfleet at {e(self.generated_at)}.</small></p>",
            "</body>",
            "</html>",
            "",
        ]
        return "\n".join(out)

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


_CSS = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top}"
    "td.num{text-align:right}"
    "td.ok{background:#e6f4e6}td.same{background:#eef2fa}td.failed{background:#fbe3e3}"
    "li.ok{color:#1a6d1a}li.failed{color:#a11;font-weight:bold}"
    "pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}"
)


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
        mode="emulated" if entry.get("emulated") else "native",
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


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]<>()#+!|"})


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or heading (no markup, no raw HTML)."""
    return _one_line(str(text)).translate(_MD_SPECIAL)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return " / ".join(lines) if len(lines) <= 3 else " / ".join([*lines[:3], "..."])


def _short_digest(digest: str) -> str:
    name = str(digest)
    if "@" in name:
        name = name.split("@", 1)[1]
    algorithm, _, value = name.partition(":")
    return f"{algorithm}:{value[:12]}" if value else name[:19]


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


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
    for host, reason in sorted((document.get("failed_hosts") or {}).items()):
        lines.append(f"host {host} failed: {_one_line(str(reason))}")
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
