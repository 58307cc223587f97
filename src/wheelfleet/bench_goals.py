"""Issue 18's performance figures, computed without a host (``bench/run``).

``bench/run`` measures; this module turns what it measured into the figures
the issue names and sets beside their goals:

* when each job ran, from the manifest's per-job ``steps`` (absolute start and
  end of each step), or, for an engine that records none, from wheelfleet's
  progress lines, or from ``timings`` and the publish time (``built_at``);
* the most jobs running at once, from those intervals;
* a fleet's ideal (N jobs over k slots, times one job's time) and the ratios to it;
* the slowest tasks of a release, from the durations wheelfleet printed.

A goal is reported as met or not; nothing here fails a run on a threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wheelfleet import bench

Interval = tuple[float, float]
"""(start, end), epoch seconds or seconds since a release started."""

# The goals, as (figure, bound): every figure below must be at most its bound.
GOALS: dict[str, float] = {
    "scaling_span": 1.1,
    "overhead_wall": 1.5,
    "overhead_steps": 1.15,
    "cibuildwheel_one": 1.0,
    "cibuildwheel_pair": 0.75,
    "cibuildwheel_pair_two_hosts": 0.6,
    "rerelease": 0.05,
    "groups": 1.0,
    "accelerated_build": 1.5,
    "accelerated_wall": 2.0,
}


def goal(name: str, value: float | None, *, strict: bool = False) -> dict[str, Any]:
    """``value`` beside the goal ``name``: ``met`` is None when there is no value.

    ``strict``: the value must be below the bound (the group must cost *less*).
    """
    bound = GOALS[name]
    met = None if value is None else (value < bound if strict else value <= bound)
    return {"value": bench.rounded(value, 3), "goal": bound, "strict": strict, "met": met}


def fmt_goal(item: Mapping[str, Any] | None) -> str:
    """``1.04x (goal <= 1.1x: met)``."""
    if not item or item.get("value") is None:
        return "-"
    sign = "<" if item.get("strict") else "<="
    verdict = "met" if item.get("met") else "not met"
    return f"{item['value']:.2f}x (goal {sign} {item['goal']}x: {verdict})"


# ------------------------------------------------------------------------ job intervals


def steps_interval(steps: Sequence[Mapping[str, Any]] | None) -> Interval | None:
    """The first step's start to the last step's end, or None without usable steps."""
    starts = [float(s["start"]) for s in steps or () if s.get("start") is not None]
    ends = [float(s["end"]) for s in steps or () if s.get("end") is not None]
    if not starts or not ends:
        return None
    return min(starts), max(ends)


def steps_seconds(steps: Sequence[Mapping[str, Any]] | None) -> float:
    """The sum of a job's step durations (end - start of each step)."""
    return round(
        sum(
            max(0.0, float(s["end"]) - float(s["start"]))
            for s in steps or ()
            if s.get("start") is not None and s.get("end") is not None
        ),
        3,
    )


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def timings_interval(entry: Mapping[str, Any]) -> Interval | None:
    """An engine without ``steps``: the publish time (``built_at``, to the second) as the
    end, and the sum of the step ``timings`` before it as the start."""
    end = _epoch(entry.get("built_at"))
    if end is None:
        return None
    return end - bench.steps_total(entry.get("timings") or {}), end


def progress_intervals(lines: Iterable[bench.Line], started: float) -> dict[str, Interval]:
    """Each job's building-to-done interval from wheelfleet's progress lines (the time a
    line arrived, ``started`` = the epoch at which the command started)."""
    found: dict[str, Interval] = {}
    for identifier, job in bench.job_walls(lines).items():
        if job.get("start") is not None and job.get("end") is not None:
            found[identifier] = (started + job["start"], started + job["end"])
    return found


def job_intervals(
    entries: Mapping[str, Mapping[str, Any]],
    lines: Sequence[bench.Line] = (),
    started: float = 0.0,
) -> tuple[dict[str, Interval], str]:
    """When each job ran, by build identifier, and where that came from.

    ``entries`` are the manifest entries of one release, by build identifier. The
    manifest's ``steps`` are preferred (``"steps"``), then the progress lines
    (``"progress"``), then ``timings`` and ``built_at`` (``"timings"``); a source is used
    only when it covers every entry.
    """
    by_steps = {key: steps_interval(entry.get("steps")) for key, entry in entries.items()}
    if entries and all(by_steps.values()):
        return {key: value for key, value in by_steps.items() if value}, "steps"
    by_lines = progress_intervals(lines, started)
    if entries and all(key in by_lines for key in entries):
        return {key: by_lines[key] for key in entries}, "progress"
    by_timings = {key: timings_interval(entry) for key, entry in entries.items()}
    return {key: value for key, value in by_timings.items() if value}, "timings"


def peak_running(intervals: Iterable[Interval]) -> int:
    """The most intervals open at one instant; one ending as another starts: not both."""
    events: list[tuple[float, int]] = []
    for start, end in intervals:
        events += [(float(start), 1), (float(end), -1)]
    running = peak = 0
    # At equal times -1 sorts before +1: a slot handed over is not two jobs at once.
    for _, change in sorted(events):
        running += change
        peak = max(peak, running)
    return peak


def span(intervals: Iterable[Interval]) -> float | None:
    """First start to last end."""
    items = list(intervals)
    if not items:
        return None
    return max(end for _, end in items) - min(start for start, _ in items)


# ---------------------------------------------------------------------------- scaling


@dataclass(frozen=True)
class FleetRun:
    """One release of the wait-bound matrix on ``hosts`` hosts of one slot each."""

    hosts: int
    wall: float
    """The whole ``wheelfleet release``, process start to exit."""
    intervals: Mapping[str, Interval]
    source: str
    """Where the intervals came from (see :func:`job_intervals`)."""


def one_job_seconds(run: FleetRun) -> float | None:
    """One job's time: the mean of the job intervals of a run where jobs ran one at a time."""
    lengths = [end - start for start, end in run.intervals.values()]
    return sum(lengths) / len(lengths) if lengths else None


def scaling_rows(runs: Sequence[FleetRun], jobs: int) -> list[dict[str, Any]]:
    """Each fleet against the ideal: N/k x one job's time (that of the one-host run).

    ``ideal`` is the issue's N/k; ``schedulable`` is ceil(N/k) job times, what whole
    jobs on k slots can reach when k does not divide N. ``span`` is the first job
    starting to the last job ending; ``wall`` adds what a release does around its jobs.
    """
    if not runs:
        return []
    base = next((run for run in runs if run.hosts == 1), runs[0])
    job = one_job_seconds(base)
    rows = []
    for run in runs:
        ideal = job * jobs / run.hosts if job is not None else None
        schedulable = job * math.ceil(jobs / run.hosts) if job is not None else None
        measured_span = span(run.intervals.values())
        peak = peak_running(run.intervals.values())
        rows.append(
            {
                "hosts": run.hosts,
                "jobs": jobs,
                "seen_jobs": len(run.intervals),
                "source": run.source,
                "wall": bench.rounded(run.wall, 1),
                "span": bench.rounded(measured_span, 1),
                "one_job": bench.rounded(job, 1),
                "ideal": bench.rounded(ideal, 1),
                "schedulable": bench.rounded(schedulable, 1),
                "wall_ratio": bench.rounded(bench.ratio(run.wall, ideal), 3),
                "span_ratio": bench.rounded(bench.ratio(measured_span, ideal), 3),
                "span_goal": goal("scaling_span", bench.ratio(measured_span, schedulable)),
                "peak": peak,
                "peak_goal_met": peak == min(run.hosts, jobs),
            }
        )
    return rows


# --------------------------------------------------------------------------- profiling


def top_tasks(lines: Iterable[bench.Line], count: int = 10) -> list[dict[str, Any]]:
    """The slowest task results of a release, as wheelfleet printed their durations."""
    tasks = [line for line in lines if line.kind == "task" and line.duration is not None]
    tasks.sort(key=lambda line: line.duration or 0.0, reverse=True)
    return [
        {
            "task": line.name,
            "host": line.host,
            "outcome": line.outcome,
            "seconds": bench.rounded(line.duration, 2),
            "at": bench.rounded(line.at, 1),
        }
        for line in tasks[:count]
    ]


def role_seconds(lines: Iterable[bench.Line]) -> list[dict[str, Any]]:
    """Task durations summed by role (``role : task``; tasks of no role under ``(play)``),
    largest first, with how many task results each sum holds."""
    sums: dict[str, list[float]] = {}
    for line in lines:
        if line.kind == "task" and line.duration is not None:
            role = line.name.split(" : ", 1)[0] if " : " in line.name else "(play)"
            sums.setdefault(role, []).append(line.duration)
    return sorted(
        (
            {"role": role, "seconds": bench.rounded(sum(values), 2), "tasks": len(values)}
            for role, values in sums.items()
        ),
        key=lambda item: -(item["seconds"] or 0.0),
    )


def play_seconds(lines: Sequence[bench.Line], wall: float) -> list[dict[str, Any]]:
    """Each play's share of a release's wall: from its start line to the next play's."""
    plays = [line for line in lines if line.kind == "play"]
    out = []
    for index, line in enumerate(plays):
        end = plays[index + 1].at if index + 1 < len(plays) else wall
        out.append({"play": line.name, "seconds": bench.rounded(max(0.0, end - line.at), 2)})
    return out


# ---------------------------------------------------------------------------- hand runs


def marks_split(
    marks: Mapping[str, float], names: Sequence[str], launched: float, ended: float
) -> dict[str, float]:
    """A hand run's wall time by its ``date`` marks (see ``bench.parse_marks``).

    ``container_start`` runs from launching ``docker run`` to the first mark; each later
    mark names the time since the mark before it; ``exit`` runs from the last mark to
    ``docker run`` returning. Raises ValueError naming the missing marks.
    """
    missing = [name for name in names if name not in marks]
    if missing:
        raise ValueError(f"the hand run printed no mark for: {', '.join(missing)}")
    points = [launched, *(marks[name] for name in names), ended]
    labels = ["container_start", *names[1:], "exit"]
    return {
        label: round(max(0.0, after - before), 3)
        for label, before, after in zip(labels, points[:-1], points[1:], strict=True)
    }


# ------------------------------------------------------------------------------ tables


def summary_rows(results: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Headline rows of issue 18's scenarios: (section, figure, value)."""
    rows: list[tuple[str, str, str]] = []
    wait = (results.get("scaling") or {}).get("wait") or {}
    for row in wait.get("rows") or []:
        rows.append(
            (
                "3 scaling",
                f"wait-bound, {row['jobs']} jobs on {row['hosts']} host(s) x 1 slot"
                f" (intervals from {row['source']})",
                f"span {bench.fmt_seconds(row.get('span'))}, wall"
                f" {bench.fmt_seconds(row.get('wall'))}; ideal"
                f" {bench.fmt_seconds(row.get('ideal'))} (schedulable"
                f" {bench.fmt_seconds(row.get('schedulable'))}); span / schedulable"
                f" {fmt_goal(row.get('span_goal'))}; wall / ideal"
                f" {bench.fmt_ratio(row.get('wall_ratio'))}; peak {row.get('peak')} at once"
                f" (goal {min(row['hosts'], row['jobs'])}:"
                f" {'met' if row.get('peak_goal_met') else 'not met'})",
            )
        )
    overhead = results.get("overhead") or {}
    for key, title in (
        ("goal_wall", "goal: one job end to end / hand run"),
        ("goal_steps", "goal: the job's own steps / hand run"),
    ):
        if overhead.get(key):
            rows.append(("2 overhead", title, fmt_goal(overhead[key])))
    cibw = results.get("cibuildwheel") or {}
    for key in ("one", "pair", "pair_two_hosts"):
        item = cibw.get(key)
        if item:
            rows.append(
                (
                    "cibuildwheel",
                    f"{item['title']}: wheelfleet / cibuildwheel",
                    f"{bench.fmt_seconds(item.get('wheelfleet'))} /"
                    f" {bench.fmt_seconds((item.get('cibuildwheel') or {}).get('wall'))} ="
                    f" {fmt_goal(item.get('goal'))}",
                )
            )
    rerelease = results.get("rerelease") or {}
    if rerelease.get("goal"):
        rows.append(
            (
                "rerelease",
                "unchanged re-release (provision, images) / cold release",
                f"{bench.fmt_seconds(_at(rerelease, 'unchanged', 'wall'))} /"
                f" {bench.fmt_seconds(_at(rerelease, 'cold', 'wall'))} ="
                f" {fmt_goal(rerelease['goal'])}",
            )
        )
        if _at(rerelease, "warm_cold", "wall") is not None:
            rows.append(
                (
                    "rerelease",
                    "unchanged re-release / a cold release whose builder image existed",
                    f"{bench.fmt_seconds(_at(rerelease, 'unchanged', 'wall'))} /"
                    f" {bench.fmt_seconds(_at(rerelease, 'warm_cold', 'wall'))} ="
                    f" {bench.fmt_ratio(rerelease.get('warm_ratio'))}",
                )
            )
        for task in (rerelease.get("top_tasks") or [])[:3]:
            rows.append(
                (
                    "rerelease",
                    f"slow task: {task['task']} ({task['host']})",
                    bench.fmt_seconds(task.get("seconds")),
                )
            )
    groups = results.get("groups") or {}
    if groups.get("goal"):
        rows.append(
            (
                "groups",
                "3-Python group / 3 separate releases (wall)",
                f"{bench.fmt_seconds(_at(groups, 'group', 'wall'))} /"
                f" {bench.fmt_seconds(_at(groups, 'separate', 'wall'))} ="
                f" {fmt_goal(groups['goal'])}; jobs' steps"
                f" {bench.fmt_ratio(groups.get('steps_ratio'))}; before-all ran"
                f" {_at(groups, 'group', 'before_all_runs')} time(s) in the group,"
                f" {_at(groups, 'separate', 'before_all_runs')} separately (goal: once in the"
                f" group: {'met' if groups.get('before_all_once') else 'not met'})",
            )
        )
    return rows


def _at(document: Mapping[str, Any], *keys: str) -> Any:
    value: Any = document
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def markdown(results: Mapping[str, Any]) -> list[str]:
    """The Markdown sections of issue 18's scenarios (methods, tables, the profile)."""
    out: list[str] = []
    wait = (results.get("scaling") or {}).get("wait") or {}
    if wait.get("rows"):
        out += ["", "## Wait-bound fleet (issue 18)", "", wait.get("method", ""), ""]
        out.append(
            bench.markdown_table(
                (
                    "hosts (k)",
                    "jobs (N)",
                    "intervals",
                    "one job",
                    "ideal (N/k)",
                    "schedulable",
                    "span",
                    "span / schedulable",
                    "wall",
                    "wall / ideal",
                    "peak at once",
                ),
                [
                    [
                        row["hosts"],
                        row["jobs"],
                        row["source"],
                        bench.fmt_seconds(row.get("one_job")),
                        bench.fmt_seconds(row.get("ideal")),
                        bench.fmt_seconds(row.get("schedulable")),
                        bench.fmt_seconds(row.get("span")),
                        fmt_goal(row.get("span_goal")),
                        bench.fmt_seconds(row.get("wall")),
                        bench.fmt_ratio(row.get("wall_ratio")),
                        row.get("peak"),
                    ]
                    for row in wait["rows"]
                ],
            )
        )
    cibw = results.get("cibuildwheel") or {}
    if cibw.get("method"):
        out += ["", "## Against cibuildwheel", "", cibw["method"], ""]
        out.append(
            bench.markdown_table(
                ("Run", "wheelfleet", "cibuildwheel", "wheelfleet / cibuildwheel"),
                [
                    [
                        cibw[key]["title"],
                        bench.fmt_seconds(cibw[key].get("wheelfleet")),
                        bench.fmt_seconds((cibw[key].get("cibuildwheel") or {}).get("wall")),
                        fmt_goal(cibw[key].get("goal")),
                    ]
                    for key in ("one", "pair", "pair_two_hosts")
                    if cibw.get(key)
                ],
            )
        )
    rerelease = results.get("rerelease") or {}
    if rerelease.get("method"):
        out += ["", "## Unchanged re-release with provisioning and image checks", ""]
        out += [rerelease["method"], ""]
        out.append(
            f"Cold release {bench.fmt_seconds(_at(rerelease, 'cold', 'wall'))}; unchanged"
            f" re-release {bench.fmt_seconds(_at(rerelease, 'unchanged', 'wall'))}:"
            f" {fmt_goal(rerelease.get('goal'))}."
        )
        if _at(rerelease, "warm_cold", "wall") is not None:
            out.append(
                f"A cold release whose builder image already existed took"
                f" {bench.fmt_seconds(_at(rerelease, 'warm_cold', 'wall'))}: the unchanged"
                f" re-release is {bench.fmt_ratio(rerelease.get('warm_ratio'))} of it."
            )
        out += ["", "Slowest tasks of the unchanged re-release:", ""]
        out.append(
            bench.markdown_table(
                ("Task", "host", "outcome", "seconds", "at"),
                [
                    [t["task"], t["host"], t["outcome"], t["seconds"], t["at"]]
                    for t in rerelease.get("top_tasks") or []
                ],
            )
        )
        out += ["", "Task time of the unchanged re-release by role:", ""]
        out.append(
            bench.markdown_table(
                ("Role", "seconds", "task results"),
                [[r["role"], r["seconds"], r["tasks"]] for r in rerelease.get("roles") or []],
            )
        )
        out += ["", "Plays of the unchanged re-release:", ""]
        out.append(
            bench.markdown_table(
                ("Play", "seconds"),
                [[p["play"], p["seconds"]] for p in rerelease.get("plays") or []],
            )
        )
    groups = results.get("groups") or {}
    if groups.get("method"):
        out += ["", "## A job group against separate jobs", "", groups["method"], ""]
        out.append(
            bench.markdown_table(
                ("Way", "wall", "jobs' steps", "before-all runs"),
                [
                    [
                        way,
                        bench.fmt_seconds(_at(groups, way, "wall")),
                        bench.fmt_seconds(_at(groups, way, "steps")),
                        _at(groups, way, "before_all_runs"),
                    ]
                    for way in ("group", "separate")
                ],
            )
        )
        out += [
            "",
            f"Group / separate: wall {fmt_goal(groups.get('goal'))}; jobs' steps"
            f" {bench.fmt_ratio(groups.get('steps_ratio'))}.",
        ]
    return out
