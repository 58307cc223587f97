"""The release timeline: where a release spent its time and whether the fleet was busy.

One row per build slot (host, slot); each job a bar made of its steps, coloured by
kind of step; a time axis; and the figures printed beside it: the release's wall
time, the sum of its job times and the parallel efficiency (that sum over wall time
times slots).

This module does the arithmetic only (scales, rows, rectangles, label fitting, the
figures), in SVG user units. ``templates/timeline.svg.j2`` draws what it computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Step name (as the build engine records it) -> kind of step drawn on the timeline.
STEP_KINDS: Mapping[str, str] = {
    "container_start": "start",
    "copy_in": "start",
    "before_all": "before_all",
    "before_build": "build",
    "build": "build",
    "repair": "repair",
    "copy_out": "repair",
    "test_start": "test",
    "test": "test",
    "publish": "copy",
}
OTHER = "other"
"""The kind of a step name the engine may add later: drawn, in a neutral colour."""

KIND_LABELS: Mapping[str, str] = {
    "start": "start (container, copy-in)",
    "before_all": "before-all",
    "build": "build (before-build, build)",
    "repair": "repair (repair, copy-out)",
    "test": "test (test container, test)",
    "copy": "copy (publish)",
    OTHER: "other",
}

# Layout, in SVG user units (CSS pixels at scale 1).
WIDTH = 880.0
LABEL_WIDTH = 150.0
"""Left column: the row labels."""
RIGHT_MARGIN = 40.0
"""Room for the last tick's label."""
TOP_MARGIN = 6.0
ROW_HEIGHT = 24.0
BAR_HEIGHT = 16.0
AXIS_HEIGHT = 30.0
FONT_SIZE = 11.0
CHAR_WIDTH = 6.7
"""A generous average advance of an 11 px sans-serif character: a label that fits by this
estimate fits in the browser."""
LABEL_PADDING = 4.0
MIN_SEGMENT_WIDTH = 1.0
"""A zero-length step still shows as a hairline."""
MAX_TICKS = 8
TICK_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800)


@dataclass(frozen=True)
class Step:
    name: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def read_steps(raw: Any) -> tuple[Step, ...]:
    """Steps from a manifest entry's or a release job's ``steps`` (``[{step, start, end}]``,
    epoch seconds), in time order. Entries that are not such a record are skipped; an end
    before its start counts as a zero-length step."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        return ()
    steps = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        name, start, end = item.get("step"), item.get("start"), item.get("end")
        if not isinstance(name, str) or not _is_time(start) or not _is_time(end):
            continue
        steps.append(Step(name, float(start), max(float(start), float(end))))
    return tuple(sorted(steps, key=lambda s: (s.start, s.end)))


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class JobRun:
    """One job as it ran on one slot."""

    job: str
    """The job id (``yamlcount-cp311-cp311-x86_64``)."""
    identifier: str
    """The build identifier (``cp311-manylinux_x86_64``): the bar's label."""
    host: str
    slot: int
    steps: tuple[Step, ...]
    failed: bool = False
    failed_step: str | None = None

    @property
    def seconds(self) -> float:
        """The job's time: the sum of its steps."""
        return sum(step.seconds for step in self.steps)

    @property
    def start(self) -> float:
        return min(step.start for step in self.steps)

    @property
    def end(self) -> float:
        return max(step.end for step in self.steps)


@dataclass(frozen=True)
class Segment:
    """One kind of step of one job: a coloured rectangle."""

    kind: str
    x: float
    width: float
    seconds: float
    title: str


@dataclass(frozen=True)
class Bar:
    job: str
    identifier: str
    host: str
    slot: int
    x: float
    y: float
    width: float
    height: float
    failed: bool
    title: str
    segments: tuple[Segment, ...]
    label: str | None
    """The text drawn inside the bar, or None when no form of it fits (the title remains)."""
    label_x: float
    label_y: float


@dataclass(frozen=True)
class Row:
    host: str
    slot: int
    y: float
    height: float
    label: str
    """``fleet-a slot 0``, ``(idle)`` added when the slot ran nothing; cut to fit."""
    label_y: float
    title: str
    jobs: int
    busy: float

    @property
    def idle(self) -> bool:
        return self.jobs == 0


@dataclass(frozen=True)
class Tick:
    x: float
    label: str
    anchor: str
    """SVG text-anchor of the label: middle, or end at the right edge."""


@dataclass(frozen=True)
class HostFigures:
    host: str
    slots: int
    jobs: int
    busy: float
    """Sum of the host's job times."""
    share: float | None
    """busy / (wall time x the host's slots)."""


@dataclass(frozen=True)
class Figures:
    wall: float | None
    """The release's end minus its start (else the span of the steps)."""
    job_seconds: float
    """Sum of the drawn jobs' times."""
    slots: int
    efficiency: float | None
    """job_seconds / (wall x slots)."""
    hosts: tuple[HostFigures, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "wall": None if self.wall is None else round(self.wall, 1),
            "job_seconds": round(self.job_seconds, 1),
            "slots": self.slots,
            "efficiency": None if self.efficiency is None else round(self.efficiency, 3),
            "hosts": {
                h.host: {
                    "slots": h.slots,
                    "jobs": h.jobs,
                    "busy": round(h.busy, 1),
                    "share": None if h.share is None else round(h.share, 3),
                }
                for h in self.hosts
            },
        }


@dataclass(frozen=True)
class Timeline:
    width: float
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    rows: tuple[Row, ...]
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    kinds: tuple[tuple[str, str], ...]
    """The legend: (kind, label) of every kind, in pipeline order."""
    figures: Figures
    left_off: tuple[str, ...]
    """Jobs that ran but carry no step data (entries from before steps were recorded)."""

    @property
    def empty(self) -> bool:
        return not self.bars

    @property
    def plot_width(self) -> float:
        return self.plot_right - self.plot_left


def build(
    runs: Iterable[JobRun],
    *,
    fleet: Mapping[str, int] | None = None,
    started_at: float | None = None,
    finished_at: float | None = None,
    left_off: Iterable[str] = (),
) -> Timeline:
    """Lay out the timeline of ``runs``.

    ``fleet`` maps each host of the release to its slots, so that idle slots get their
    (empty) row and count in the efficiency; a (host, slot) seen in ``runs`` and not in
    ``fleet`` gets a row too. Slots are numbered from 0. ``started_at`` and
    ``finished_at`` are the release's start and end (epoch seconds): the wall time, and
    the time axis, which also covers every step.
    """
    drawn = [run for run in runs if run.steps]
    rows_keys = _row_keys(drawn, fleet or {})
    wall = _wall(drawn, started_at, finished_at)

    times = [t for t in (started_at, finished_at) if t is not None]
    times += [t for run in drawn for t in (run.start, run.end)]
    origin = min(times, default=0.0)
    span = max(max(times, default=0.0) - origin, 1.0)
    plot_left, plot_right = LABEL_WIDTH, WIDTH - RIGHT_MARGIN
    scale = (plot_right - plot_left) / span

    def x_of(t: float) -> float:
        return plot_left + (t - origin) * scale

    row_index = {key: i for i, key in enumerate(rows_keys)}
    bars = []
    for run in sorted(drawn, key=lambda r: (row_index[(r.host, r.slot)], r.start, r.job)):
        row_top = TOP_MARGIN + row_index[(run.host, run.slot)] * ROW_HEIGHT
        bars.append(_bar(run, x_of, row_top + (ROW_HEIGHT - BAR_HEIGHT) / 2, plot_right))
    rows = _rows(rows_keys, drawn)
    plot_bottom = TOP_MARGIN + max(len(rows), 1) * ROW_HEIGHT
    used = {seg.kind for bar in bars for seg in bar.segments}
    kinds = tuple((k, label) for k, label in KIND_LABELS.items() if k != OTHER or OTHER in used)
    return Timeline(
        width=WIDTH,
        height=plot_bottom + AXIS_HEIGHT,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=TOP_MARGIN,
        plot_bottom=plot_bottom,
        rows=rows,
        bars=tuple(bars),
        ticks=_ticks(span, plot_left, scale) if drawn else (),
        kinds=kinds,
        figures=_figures(rows_keys, drawn, wall),
        left_off=tuple(left_off),
    )


def _wall(
    drawn: Sequence[JobRun], started_at: float | None, finished_at: float | None
) -> float | None:
    """The release's end minus its start; without them, the span of its steps."""
    if started_at is not None and finished_at is not None and finished_at >= started_at:
        return finished_at - started_at
    if drawn:
        return max(r.end for r in drawn) - min(r.start for r in drawn)
    return None


def _rows(keys: Sequence[tuple[str, int]], drawn: Sequence[JobRun]) -> tuple[Row, ...]:
    rows = []
    for i, (host, slot) in enumerate(keys):
        mine = [r for r in drawn if (r.host, r.slot) == (host, slot)]
        busy = sum(r.seconds for r in mine)
        text = f"{host} slot {slot}"
        title = f"{text}: {len(mine)} job(s), busy {_short_time(busy)}" if mine else f"{text}: idle"
        # A long host name is cut, never the slot: each row stays told apart.
        suffix = f" slot {slot}" + ("" if mine else " (idle)")
        room = LABEL_WIDTH - 2 * LABEL_PADDING - len(suffix) * CHAR_WIDTH
        y = TOP_MARGIN + i * ROW_HEIGHT
        rows.append(
            Row(
                host=host,
                slot=slot,
                y=y,
                height=ROW_HEIGHT,
                label=_fit(host, room) + suffix,
                label_y=round(y + ROW_HEIGHT / 2 + FONT_SIZE * 0.35, 2),
                title=title,
                jobs=len(mine),
                busy=busy,
            )
        )
    return tuple(rows)


def _figures(
    keys: Sequence[tuple[str, int]], drawn: Sequence[JobRun], wall: float | None
) -> Figures:
    slots_of: dict[str, int] = {}
    for host, _ in keys:
        slots_of[host] = slots_of.get(host, 0) + 1
    hosts = []
    for host, slots in slots_of.items():
        mine = [r for r in drawn if r.host == host]
        busy = sum(r.seconds for r in mine)
        hosts.append(HostFigures(host, slots, len(mine), busy, _ratio(busy, wall, slots)))
    job_seconds = sum(r.seconds for r in drawn)
    return Figures(
        wall=wall,
        job_seconds=job_seconds,
        slots=len(keys),
        efficiency=_ratio(job_seconds, wall, len(keys)) if drawn else None,
        hosts=tuple(hosts),
    )


def _row_keys(runs: Sequence[JobRun], fleet: Mapping[str, int]) -> list[tuple[str, int]]:
    """(host, slot) rows: the fleet's slots in its order, then slots only the runs name."""
    keys = [(host, slot) for host, slots in fleet.items() for slot in range(max(0, int(slots)))]
    seen = set(keys)
    for run in sorted(runs, key=lambda r: (r.host, r.slot)):
        if (run.host, run.slot) not in seen:
            seen.add((run.host, run.slot))
            keys.append((run.host, run.slot))
    order = {host: i for i, host in enumerate(dict.fromkeys(h for h, _ in keys))}
    return sorted(keys, key=lambda k: (order[k[0]], k[1]))


def _ratio(busy: float, wall: float | None, slots: int) -> float | None:
    if not wall or wall <= 0 or slots <= 0:
        return None
    return busy / (wall * slots)


def _bar(run: JobRun, x_of: Callable[[float], float], y: float, limit: float) -> Bar:
    kinds: dict[str, list[Step]] = {}
    for step in run.steps:
        kinds.setdefault(STEP_KINDS.get(step.name, OTHER), []).append(step)
    segments = []
    for kind, steps in sorted(kinds.items(), key=lambda item: item[1][0].start):
        left = x_of(min(s.start for s in steps))
        right = x_of(max(s.end for s in steps))
        width = max(right - left, MIN_SEGMENT_WIDTH)
        left = min(left, limit - width)  # a hairline at the very end stays inside the plot
        seconds = sum(s.seconds for s in steps)
        parts = ", ".join(f"{s.name} {_short_time(s.seconds)}" for s in steps)
        segments.append(
            Segment(
                kind=kind,
                x=round(left, 2),
                width=round(width, 2),
                seconds=seconds,
                title=f"{run.identifier}: {KIND_LABELS[kind].split(' (')[0]}"
                f" {_short_time(seconds)} ({parts})",
            )
        )
    x = min(s.x for s in segments)
    width = max(s.x + s.width for s in segments) - x
    status = f"FAILED at {run.failed_step or 'an unknown step'}" if run.failed else "built"
    title = (
        f"{run.identifier} (job {run.job}) on {run.host} slot {run.slot}: {status},"
        f" {_short_time(run.seconds)} in steps"
    )
    label = next(
        (
            text
            for text in _label_forms(run.identifier)
            if len(text) * CHAR_WIDTH + 2 * LABEL_PADDING <= width
        ),
        None,
    )
    return Bar(
        job=run.job,
        identifier=run.identifier,
        host=run.host,
        slot=run.slot,
        x=round(x, 2),
        y=round(y, 2),
        width=round(width, 2),
        height=BAR_HEIGHT,
        failed=run.failed,
        title=title,
        segments=tuple(segments),
        label=label,
        label_x=round(x + LABEL_PADDING, 2),
        label_y=round(y + BAR_HEIGHT / 2 + FONT_SIZE * 0.35, 2),
    )


def _label_forms(identifier: str) -> list[str]:
    """The label, then shorter forms of it: ``cp311-manylinux_x86_64``, ``cp311 x86_64``,
    ``cp311``."""
    forms = [identifier]
    python, _, platform = identifier.partition("-")
    if platform:
        arch = platform.split("_", 1)[1] if "_" in platform else platform
        forms += [f"{python} {arch}", python]
    return forms


def _fit(text: str, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` by the character estimate."""
    room = int(width // CHAR_WIDTH)
    return text if len(text) <= room else text[: max(room - 1, 1)] + "\u2026"


def _ticks(span: float, left: float, scale: float) -> tuple[Tick, ...]:
    step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS), None)
    if step is None:
        step = math.ceil(span / MAX_TICKS / 3600) * 3600
    ticks = []
    for i in range(int(span // step) + 1):
        x = left + i * step * scale
        label = _short_time(i * step)
        anchor = "end" if x + len(label) * CHAR_WIDTH / 2 > WIDTH - 2 else "middle"
        ticks.append(Tick(round(x, 2), label, anchor))
    return tuple(ticks)


def _short_time(seconds: float) -> str:
    """``0 s``, ``4.2 s``, ``2 min``, ``1 min 30 s``, ``1 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds == int(seconds) else f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {secs:02d} s" if secs else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
