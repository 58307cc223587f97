"""The host-free half of wheelfleet's benchmarks (``bench/run``): figures, ratios, tables.

``bench/run`` (the ``wfbench`` package under ``bench/``) runs the measurements:
releases with ``wheelfleet``, hand-run ``docker run`` baselines, fleets of
container hosts, provisioning. Everything that needs no host lives here, so it
is unit-tested (``tests/unit/test_bench.py``):

* the per-job time split, from the step timings the ``wheel_build`` role
  records in the wheelhouse manifest (``timings``);
* ratios, and the ideal of a parallel run (sum of the job times over the
  parallel slots) with the bound a longest job sets;
* reading the plain progress lines of ``wheelfleet ... --json`` (stderr):
  plays, task durations and job phases, so a wall time can be split into
  where it went;
* the contention of a measurement window, from ``/proc`` counters;
* the text table ``bench/run`` prints, and the JSON and Markdown results it
  writes into ``bench/results/``.

Benchmarks report figures; nothing here judges them against a threshold.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = 1

SECTIONS: tuple[str, ...] = (
    "split",
    "overhead",
    "scaling",
    "cibuildwheel",
    "rerelease",
    "groups",
    "reprovision",
    "controller",
)
"""Every benchmark section, in the order bench/run runs them."""

# The per-job split, from the wheel_build role's step timings (manifest.json "timings").
SPLIT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("container_start", ("container_start",)),
    ("copy_in", ("copy_in",)),
    # The controller's download of the build requirements (0 when cached) and the
    # system packages before_all installs in the container (libyaml-dev).
    ("build_requirements", ("requirements", "before_all")),
    # The PEP 517 build; pip's isolated build environment installs the Python build
    # requirements offline from the copied-in wheelhouse inside this step.
    # With the accelerator: its set-up in the build container (toolchain, source copy).
    ("build", ("accelerator", "before_build", "build")),
    ("repair", ("repair",)),
    # A fresh test container, the offline install of the wheel, the test command.
    ("test", ("test_start", "install", "test")),
    ("copy_out", ("copy_out", "publish")),
)
SPLIT_NAMES: tuple[str, ...] = tuple(name for name, _ in SPLIT)
SPLIT_TITLES: dict[str, str] = {
    "container_start": "container start",
    "copy_in": "copy-in",
    "build_requirements": "build requirements",
    "build": "build",
    "repair": "repair",
    "test": "test",
    "copy_out": "copy-out",
    "other_steps": "other steps",
    "between_steps": "Ansible between steps",
}

CONTENDED_CORES = 0.2
"""A window is contended when other work used more than this many cores on average."""
STEAL_CORES = 0.1
"""...or when the hypervisor stole more than this many cores on average."""


# --------------------------------------------------------------------------- numbers


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def split_timings(timings: Mapping[str, Any]) -> dict[str, float]:
    """A job's step timings (manifest ``timings``) grouped into the benchmark's split.

    Steps the split does not know land in ``other_steps`` (0 when there are none).
    """
    known = {step for _, steps in SPLIT for step in steps}
    split = {
        name: round(sum(float(timings.get(step) or 0.0) for step in steps), 3)
        for name, steps in SPLIT
    }
    split["other_steps"] = round(
        sum(float(value or 0.0) for step, value in timings.items() if step not in known), 3
    )
    return split


def steps_total(timings: Mapping[str, Any]) -> float:
    return round(sum(float(value or 0.0) for value in timings.values()), 3)


def ideal_seconds(job_seconds: Sequence[float], slots: int) -> float:
    """The issue's ideal: the sum of the job times over the parallel slots."""
    if slots < 1:
        raise ValueError(f"slots must be 1 or more, got {slots}")
    return sum(job_seconds) / slots


def bound_seconds(job_seconds: Sequence[float], slots: int) -> float:
    """No schedule beats the ideal, nor the longest job: the larger of the two."""
    return max(ideal_seconds(job_seconds, slots), max(job_seconds, default=0.0))


@dataclass(frozen=True)
class Way:
    """One way of running the scaling matrix, as measured."""

    name: str
    hosts: int
    slots: int
    wall: float
    """The whole ``wheelfleet release``, process start to exit."""
    span: float | None
    """From the first job starting to build to the last job done."""
    jobs: Mapping[str, float]
    """Each job's own wall time (building to done), by build identifier."""
    parallel: int | None = None
    """The most jobs that were building at the same time."""


def scaling_table(ways: Sequence[Way], baseline: str | None = None) -> list[dict[str, Any]]:
    """Speedups of each way against the sequential one and against the ideal.

    The job times of the ideal are those of the ``baseline`` way (default: the
    first), where each job ran alone: ideal = sum / slots, bound = max(ideal,
    longest job). ``efficiency`` is ideal / span: 1.0 would be a perfect split of
    the work over the slots.
    """
    if not ways:
        return []
    base = next((way for way in ways if way.name == baseline), ways[0])
    job_times = list(base.jobs.values())
    rows = []
    for way in ways:
        ideal = ideal_seconds(job_times, way.slots) if job_times else None
        bound = bound_seconds(job_times, way.slots) if job_times else None
        rows.append(
            {
                "way": way.name,
                "hosts": way.hosts,
                "slots": way.slots,
                "wall": rounded(way.wall, 1),
                "span": rounded(way.span, 1),
                "jobs": {name: rounded(value, 1) for name, value in sorted(way.jobs.items())},
                "parallel": way.parallel,
                "speedup_wall": rounded(ratio(base.wall, way.wall)),
                "speedup_span": rounded(ratio(base.span, way.span)),
                "ideal_span": rounded(ideal, 1),
                "bound_span": rounded(bound, 1),
                "ideal_speedup": rounded(ratio(base.span, ideal)),
                "efficiency": rounded(ratio(ideal, way.span)),
                "of_bound": rounded(ratio(bound, way.span)),
            }
        )
    return rows


# ------------------------------------------------------------- wheelfleet's progress lines

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$")
_PLAY = re.compile(r"^PLAY \[(?P<name>.*)\]\s*$")
_TASK = re.compile(
    r"^(?P<outcome>ok|changed|failed|skipped|unreachable|ignored)\s+(?P<host>\S+)\s{2}"
    r"(?P<task>.*?)(?:\s{2}\((?P<duration>[0-9hms.]+)\))?\s*$"
)
_JOB = re.compile(
    r"^job\s+(?P<identifier>\S+)\s{2}(?P<host>\S+)\s{2}"
    r"(?P<phase>queued|building|repairing|testing|publishing|done|up to date|failed)\b"
    r"(?P<rest>.*)$"
)
_ELAPSED = re.compile(r"\((?P<elapsed>[0-9hms.]+)\)\s*$")


def parse_duration(text: str) -> float | None:
    """wheelfleet's ``4.2s``, ``1m05s`` or ``2h03m`` in seconds; None when it is none of those."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groupdict().values()):
        return None
    hours, minutes, seconds = (match[key] for key in ("h", "m", "s"))
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


@dataclass(frozen=True)
class Line:
    """One progress line of ``wheelfleet``, read at ``at`` seconds after the process started."""

    at: float
    kind: str
    """``play``, ``task``, ``job`` or ``text``."""
    name: str = ""
    """The play or task name, or the job's build identifier."""
    host: str = ""
    outcome: str = ""
    """A task's outcome, or a job's phase."""
    duration: float | None = None
    """A task's duration, or a finished job's elapsed time, as wheelfleet printed them."""


def parse_line(at: float, text: str) -> Line:
    """Classify one line wheelfleet printed (plain display, as with ``--json``)."""
    text = text.rstrip("\n")
    if match := _PLAY.match(text):
        return Line(at, "play", match["name"])
    if match := _JOB.match(text):
        elapsed = _ELAPSED.search(match["rest"])
        return Line(
            at,
            "job",
            match["identifier"],
            match["host"],
            match["phase"],
            parse_duration(elapsed["elapsed"]) if elapsed else None,
        )
    if match := _TASK.match(text):
        duration = parse_duration(match["duration"]) if match["duration"] else None
        return Line(at, "task", match["task"], match["host"], match["outcome"], duration)
    return Line(at, "text", text)


def job_walls(lines: Iterable[Line]) -> dict[str, dict[str, Any]]:
    """Each job's host, when it started building and finished, and its wall time.

    The wall time is wheelfleet's own (``done (35.6s)``) when it printed one,
    else the time between the lines.
    """
    jobs: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.kind != "job":
            continue
        job = jobs.setdefault(
            line.name, {"host": line.host, "start": None, "end": None, "phase": None}
        )
        job["host"] = line.host
        job["phase"] = line.outcome
        if line.outcome == "building" and job["start"] is None:
            job["start"] = line.at
        if line.outcome in ("done", "failed", "up to date"):
            job["end"] = line.at
            if line.duration is not None:
                job["wall"] = line.duration
            elif job["start"] is not None:
                job["wall"] = line.at - job["start"]
    return jobs


def jobs_span(jobs: Mapping[str, Mapping[str, Any]]) -> float | None:
    """First job starting to build to the last job finished."""
    starts = [job["start"] for job in jobs.values() if job.get("start") is not None]
    ends = [job["end"] for job in jobs.values() if job.get("end") is not None]
    if not starts or not ends:
        return None
    return max(ends) - min(starts)


def peak_parallel(jobs: Mapping[str, Mapping[str, Any]]) -> int:
    """The most jobs building at the same time (a job ending as another starts: not both)."""
    events: list[tuple[float, int]] = []
    for job in jobs.values():
        if job.get("start") is not None and job.get("end") is not None:
            events += [(float(job["start"]), 1), (float(job["end"]), -1)]
    running = peak = 0
    for _, change in sorted(events):
        running += change
        peak = max(peak, running)
    return peak


def release_phases(lines: Sequence[Line], wall: float) -> dict[str, float]:
    """Where a release's wall time went, from the times its job progress lines arrived
    (structured job records; no play or task name is read):

    * ``before_jobs``: starting wheelfleet and ansible-playbook, the input checks,
      validation, provisioning (when not skipped), the plan, the images and the
      round's setup (packing, copies to the host, the engine's launch), up to the
      first job starting to build;
    * ``jobs``: the first job building to the last job done;
    * ``after_jobs``: the round's end (host checks, folding the round), the later
      rounds, the report, and the exit.

    Without job lines (a release that built nothing) the whole wall is ``before_jobs``.
    """
    jobs = job_walls(lines)
    starts = [job["start"] for job in jobs.values() if job.get("start") is not None]
    ends = [job["end"] for job in jobs.values() if job.get("end") is not None]
    if not starts or not ends:
        return {"before_jobs": round(wall, 2), "jobs": 0.0, "after_jobs": 0.0}
    first = min(min(starts), wall)
    last = min(max(max(ends), first), wall)
    return {
        "before_jobs": round(first, 2),
        "jobs": round(last - first, 2),
        "after_jobs": round(wall - last, 2),
    }


def task_seconds(lines: Iterable[Line]) -> float:
    """The sum of the task durations wheelfleet printed."""
    return sum(line.duration or 0.0 for line in lines if line.kind == "task")


# ---------------------------------------------------------------------- the hand run


HAND_MARKS: tuple[str, ...] = ("started", "copy_in", "before_all", "build", "repair")
_MARK = re.compile(r"^@@bench (?P<name>[a-z_]+) (?P<at>\d+(?:\.\d+)?)\s*$")


def parse_marks(text: str) -> dict[str, float]:
    """The ``@@bench <step> <epoch seconds>`` marks the hand-run script prints on stderr."""
    marks: dict[str, float] = {}
    for line in text.splitlines():
        if match := _MARK.match(line.strip()):
            marks[match["name"]] = float(match["at"])
    return marks


def hand_split(marks: Mapping[str, float], launched: float, ended: float) -> dict[str, float]:
    """The hand run's wall time in the benchmark's split.

    ``launched`` and ``ended`` are the controller's clock (epoch seconds) around
    ``docker run``; the marks come from ``date`` inside the container (same kernel
    clock). Container start runs from launching ``docker run`` to the script's
    first mark; copy-out from the repair to ``docker run`` returning (the tar
    stream out, the container's exit and its removal).
    """
    missing = [name for name in HAND_MARKS if name not in marks]
    if missing:
        raise ValueError(f"the hand run printed no mark for: {', '.join(missing)}")
    points = [launched, *(marks[name] for name in HAND_MARKS), ended]
    names = ("container_start", "copy_in", "build_requirements", "build", "repair", "copy_out")
    return {
        name: round(max(0.0, b - a), 3)
        for name, a, b in zip(names, points, points[1:], strict=False)
    }


def overhead_rows(wheelfleet: Mapping[str, Any], hand: Mapping[str, float]) -> list[dict[str, Any]]:
    """Side by side: where wheelfleet's wall time for one job goes, and the hand run's.

    ``wheelfleet`` holds ``phases`` (from :func:`release_phases`), ``split`` (the
    job's steps, from :func:`split_timings`) and ``between_steps`` (the job's wall
    minus its steps). The job's steps replace the ``jobs`` phase.
    """
    phases = wheelfleet.get("phases") or {}
    split = wheelfleet.get("split") or {}
    rows: list[dict[str, Any]] = [
        {
            "part": "before the first job builds (checks, plan, round setup)",
            "wheelfleet": phases.get("before_jobs"),
        },
    ]
    for name in SPLIT_NAMES:
        if name == "test" and not split.get("test"):
            continue
        rows.append(
            {"part": SPLIT_TITLES[name], "wheelfleet": split.get(name), "hand": hand.get(name)}
        )
    if split.get("other_steps"):
        rows.append({"part": SPLIT_TITLES["other_steps"], "wheelfleet": split["other_steps"]})
    rows += [
        {"part": SPLIT_TITLES["between_steps"], "wheelfleet": wheelfleet.get("between_steps")},
        {
            "part": "after the last job (round end, report, exit)",
            "wheelfleet": phases.get("after_jobs"),
        },
    ]
    for row in rows:
        row.setdefault("hand", None)
        row["wheelfleet"] = rounded(row["wheelfleet"], 2)
        row["hand"] = rounded(row["hand"], 2)
        row["difference"] = rounded((row["wheelfleet"] or 0.0) - (row["hand"] or 0.0), 2)
    return rows


# -------------------------------------------------------------------------- /proc


@dataclass(frozen=True)
class CpuTimes:
    """The machine's CPU time, in clock ticks, from the first line of /proc/stat."""

    busy: int
    """user, nice, system, irq and softirq."""
    idle: int
    """idle and iowait."""
    steal: int

    @property
    def total(self) -> int:
        return self.busy + self.idle + self.steal


def parse_cpu_times(stat: str) -> CpuTimes:
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            values = [int(value) for value in fields[1:]] + [0] * 10
            user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
            return CpuTimes(user + nice + system + irq + softirq, idle + iowait, steal)
    raise ValueError("no 'cpu' line in /proc/stat")


@dataclass(frozen=True)
class ProcessStat:
    """The fields of /proc/<pid>/stat the benchmark uses."""

    pid: int
    comm: str
    state: str
    ppid: int
    cpu_ticks: int
    """utime + stime of the process itself (not of its children)."""
    start_ticks: int
    rss_pages: int


def parse_process_stat(text: str) -> ProcessStat:
    """/proc/<pid>/stat; the command name may hold spaces and parentheses."""
    head, _, tail = text.rpartition(")")
    pid_text, _, comm = head.partition(" (")
    fields = tail.split()
    # fields[0] is field 3 (state); utime/stime are fields 14/15, starttime 22, rss 24.
    return ProcessStat(
        pid=int(pid_text),
        comm=comm,
        state=fields[0],
        ppid=int(fields[1]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        start_ticks=int(fields[19]),
        rss_pages=int(fields[21]),
    )


def descendants(parents: Mapping[int, int], root: int) -> set[int]:
    """Every process below ``root`` (not ``root`` itself), from a pid -> ppid map."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(children.get(pid, []))
    return found


_DOCKER_CGROUP = re.compile(r"/docker[/-](?P<id>[0-9a-f]{64})")


def container_of(cgroup: str) -> str | None:
    """The Docker container ID in a /proc/<pid>/cgroup text, or None."""
    match = _DOCKER_CGROUP.search(cgroup)
    return match["id"] if match else None


def parse_loadavg(text: str) -> list[float]:
    return [float(value) for value in text.split()[:3]]


@dataclass(frozen=True)
class Window:
    """What used the machine's CPUs while one measurement ran, in cores on average."""

    wall: float
    busy: float
    """Every CPU's busy time (user, nice, system, irq, softirq)."""
    steal: float
    own: float
    """The measured command's process tree (ansible, wheelfleet and their children)."""
    own_containers: float
    """Containers the benchmark started, or its releases did."""
    engine: float
    """dockerd, containerd and their shims."""
    foreign: float
    """Other work: the busy time the benchmark's own parts above do not account for."""
    foreign_seen: float
    """The part of ``foreign`` seen in samples: other processes, other containers."""
    loadavg_start: float
    loadavg_end: float

    @property
    def contended(self) -> bool:
        return self.foreign > CONTENDED_CORES or self.steal > STEAL_CORES

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            key: round(float(getattr(self, key)), 3)
            for key in (
                "wall",
                "busy",
                "steal",
                "own",
                "own_containers",
                "engine",
                "foreign",
                "foreign_seen",
                "loadavg_start",
                "loadavg_end",
            )
        }
        document["contended"] = self.contended
        return document


def cores(seconds: float, wall: float) -> float:
    """CPU seconds over a wall time, in cores."""
    return seconds / wall if wall > 0 else 0.0


# ------------------------------------------------------------------------- rendering


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 120:
        minutes, seconds = divmod(round(value), 60)
        return f"{minutes} min {seconds:02d} s"
    return f"{value:.1f} s"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} MiB"


def fmt_cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain table with aligned, left-justified columns."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in body:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()

    return "\n".join(
        [line(list(headers)), "  ".join("-" * width for width in widths)]
        + [line(row) for row in body]
    )


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _get(document: Mapping[str, Any], *keys: str) -> Any:
    value: Any = document
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _goal_text(item: Mapping[str, Any] | None) -> str:
    from wheelfleet.bench_goals import fmt_goal  # bench_goals imports this module

    return fmt_goal(item)


def _accelerated_rows(
    label: str, accelerated: Mapping[str, Any] | None
) -> list[tuple[str, str, str]]:
    """The accelerated aarch64 job against the native one, and plain emulation beside it."""
    from wheelfleet.bench_goals import fmt_goal  # bench_goals imports this module

    if not accelerated:
        return []
    mode = accelerated.get("mode") or "?"
    return [
        (
            "1 split",
            f"{label} aarch64 ({mode}) / x86_64: build step",
            f"{fmt_goal(accelerated.get('build'))}; plain emulation"
            f" {fmt_ratio(accelerated.get('plain_build'))}, speed-up"
            f" {fmt_ratio(accelerated.get('speedup_build'))}",
        ),
        (
            "1 split",
            f"{label} aarch64 ({mode}) / x86_64: whole job",
            f"{fmt_goal(accelerated.get('wall'))}; plain emulation"
            f" {fmt_ratio(accelerated.get('plain_wall'))}, speed-up"
            f" {fmt_ratio(accelerated.get('speedup_wall'))}",
        ),
    ]


def summary_rows(results: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The headline figures: (section, figure, value), for the printed and Markdown tables."""
    rows: list[tuple[str, str, str]] = []
    for project in _get(results, "split", "projects") or []:
        label = project.get("label", project.get("name", "?"))
        jobs = project.get("jobs") or {}
        for arch in ("x86_64", "aarch64", "aarch64 plain"):
            job = jobs.get(arch)
            if job:
                rows.append(
                    (
                        "1 split",
                        f"{label} {arch} ({job.get('mode')}): job wall / steps",
                        f"{fmt_seconds(job.get('wall'))} / {fmt_seconds(job.get('steps'))}",
                    )
                )
        emulation = project.get("emulation") or {}
        if emulation:
            rows.append(
                (
                    "1 split",
                    f"{label} emulation ratio (aarch64 / x86_64): job wall, steps, build",
                    ", ".join(fmt_ratio(emulation.get(key)) for key in ("wall", "steps", "build")),
                )
            )
        rows.extend(_accelerated_rows(label, project.get("accelerated")))
        if emulation.get("hand") is not None:
            rows.append(
                (
                    "1 split",
                    f"{label} emulation ratio by hand (one docker run): wall, build",
                    ", ".join(fmt_ratio(emulation.get(key)) for key in ("hand", "hand_build")),
                )
            )
    overhead = results.get("overhead") or {}
    if overhead.get("ratio") is not None:
        rows.append(
            (
                "2 overhead",
                "one job: wheelfleet wall / hand docker run",
                f"{fmt_seconds(overhead.get('wheelfleet_wall'))} / "
                f"{fmt_seconds(overhead.get('hand_wall'))} = {fmt_ratio(overhead.get('ratio'))}",
            )
        )
        if overhead.get("steps_ratio") is not None:
            rows.append(
                (
                    "2 overhead",
                    "the job's own steps / hand docker run",
                    fmt_ratio(overhead.get("steps_ratio")),
                )
            )
    # The CPU-bound matrix: under "cpu" since issue 18's wait-bound fleet came beside it.
    cpu = _get(results, "scaling", "cpu") or results.get("scaling") or {}
    for row in cpu.get("table") or []:
        rows.append(
            (
                "3 scaling",
                f"{row['way']} ({row['slots']} slot(s), peak {row.get('parallel', '-')} at once):"
                " wall, jobs span",
                f"{fmt_seconds(row.get('wall'))}, {fmt_seconds(row.get('span'))}; speedup "
                f"{fmt_ratio(row.get('speedup_wall'))} wall, {fmt_ratio(row.get('speedup_span'))}"
                f" span; ideal span {fmt_seconds(row.get('ideal_span'))}"
                f" ({fmt_ratio(row.get('ideal_speedup'))}), efficiency"
                f" {fmt_ratio(row.get('efficiency'))}",
            )
        )
    from wheelfleet import bench_goals  # it builds on this module

    rows += bench_goals.summary_rows(results)
    reprovision = results.get("reprovision") or {}
    for key, title in (
        ("provision_check", "provision.yml --check, provisioned host"),
        ("provision", "provision.yml, provisioned host"),
        ("first_release", "first release, fresh wheelhouse (re-released below)"),
        ("rerelease_skip", "unchanged re-release (--skip-provision --skip-images)"),
        ("rerelease_full", "unchanged re-release (provision, images, build)"),
    ):
        item = reprovision.get(key)
        if not item:
            continue
        if item.get("skipped"):
            rows.append(("4 reprovision", title, f"skipped: {item['skipped']}"))
            continue
        detail = []
        if item.get("changed") is not None:
            detail.append(f"changed={item['changed']}")
        if item.get("built") is not None:
            detail.append(f"built={item['built']}, up to date={item.get('up_to_date')}")
        if item.get("ratio_to_first") is not None:
            detail.append(f"{fmt_ratio(item['ratio_to_first'])} the first release")
        rows.append(
            (
                "4 reprovision",
                title,
                fmt_seconds(item.get("wall")) + (f" ({', '.join(detail)})" if detail else ""),
            )
        )
    for item in _get(results, "controller", "releases") or []:
        rows.append(
            (
                "5 controller",
                f"{item['name']}: peak RSS (tree), CPU user+sys",
                f"{fmt_mib(item.get('peak_rss_mib'))}, {fmt_seconds(item.get('cpu_seconds'))}"
                f" ({fmt_cores(item.get('cpu_cores'))} cores over {fmt_seconds(item.get('wall'))})",
            )
        )
    return rows


def _contention_note(window: Mapping[str, Any] | None) -> str:
    if not window:
        return "-"
    mark = "yes" if window.get("contended") else "no"
    return f"{mark} (other work {window.get('foreign', 0):.2f} cores)"


def render_markdown(results: Mapping[str, Any]) -> str:
    """The Markdown summary written next to the JSON results."""
    machine = results.get("machine") or {}
    source = results.get("source") or {}
    from wheelfleet import bench_goals  # it builds on this module

    out: list[str] = [f"# wheelfleet benchmarks, {results.get('date', '?')}", ""]
    out.append(
        f"Mode `{results.get('mode')}`, sections {', '.join(results.get('sections') or [])};"
        f" {fmt_seconds(results.get('seconds'))} in all. Code measured: commit"
        f" `{str(source.get('commit', '?'))[:12]}` ({source.get('how', '?')})."
    )
    out.append("")
    out.append(
        f"Machine: {machine.get('cores')} cores ({machine.get('cpu_model', '?')}),"
        f" {machine.get('memory_gib')} GiB, {machine.get('os', '?')}, kernel"
        f" {machine.get('kernel')}, Docker Engine {machine.get('docker_version')}"
        f" (API {machine.get('docker_api')}), QEMU {machine.get('qemu', '?')},"
        f" Python {machine.get('python')}, ansible-core {machine.get('ansible_core')}."
    )
    load = results.get("load") or {}
    contended = [
        name for name, window in (results.get("windows") or {}).items() if window.get("contended")
    ]
    out.append("")
    out.append(
        f"Load: other work used {_get(load, 'before', 'foreign') or 0:.2f} cores before the run"
        f" and {_get(load, 'after', 'foreign') or 0:.2f} after it (idle probes of"
        f" {_get(load, 'before', 'wall') or 0:.0f} s; load average"
        f" {_get(load, 'before', 'loadavg_start') or 0:.2f} at the start)."
        + (
            f" Contended measurements (other work above {CONTENDED_CORES} cores):"
            f" {', '.join(contended)}."
            if contended
            else " No measurement was contended by other work."
        )
    )
    out += ["", "## Headline figures", ""]
    out.append(markdown_table(("Section", "Figure", "Value"), summary_rows(results)))

    split = results.get("split") or {}
    if split.get("projects"):
        out += ["", "## 1. Per-job time split", ""]
        out.append(split.get("method", ""))
        headers = ["Project", "Job", "Mode", *(SPLIT_TITLES[n] for n in SPLIT_NAMES)]
        headers += ["steps", "Ansible between steps", "job wall"]
        rows = []
        for project in split["projects"]:
            for arch, job in sorted((project.get("jobs") or {}).items()):
                rows.append(
                    [
                        project.get("label"),
                        arch,
                        job.get("mode"),
                        *(fmt_seconds(job["split"].get(n)) for n in SPLIT_NAMES),
                        fmt_seconds(job.get("steps")),
                        fmt_seconds(job.get("between_steps")),
                        fmt_seconds(job.get("wall")),
                    ]
                )
        out += ["", markdown_table(headers, rows), ""]
        hand_names = ("container_start", "copy_in", "build_requirements", "build", "repair")
        hand_rows = [
            [
                project.get("label"),
                arch,
                *(fmt_seconds(run["split"].get(n)) for n in (*hand_names, "copy_out")),
                fmt_seconds(run.get("wall")),
            ]
            for project in split["projects"]
            for arch, run in sorted((project.get("hand") or {}).items())
        ]
        if hand_rows:
            out.append(
                "The same builds by hand, one `docker run` each (pip wheel and auditwheel, no"
                " test; see section 2):"
            )
            out += [
                "",
                markdown_table(
                    ("Project", "Job", *(SPLIT_TITLES[n] for n in hand_names), "copy-out", "wall"),
                    hand_rows,
                ),
                "",
            ]
        rows = []
        for project in split["projects"]:
            emulation = project.get("emulation") or {}
            rows.append(
                [
                    project.get("label"),
                    *(
                        fmt_ratio(emulation.get(k))
                        for k in ("wall", "steps", "build", "hand", "hand_build")
                    ),
                    _contention_note(project.get("window")),
                ]
            )
        out.append(
            markdown_table(
                (
                    "Project",
                    "emulation ratio: job wall",
                    "steps",
                    "build step",
                    "by hand: wall",
                    "by hand: build",
                    "contended",
                ),
                rows,
            )
        )
        accelerated = [
            [
                project.get("label"),
                (project.get("accelerated") or {}).get("mode") or "-",
                *(
                    _goal_text((project.get("accelerated") or {}).get(key))
                    for key in ("build", "wall")
                ),
                *(
                    fmt_ratio((project.get("accelerated") or {}).get(key))
                    for key in ("plain_build", "plain_wall", "speedup_build", "speedup_wall")
                ),
            ]
            for project in split["projects"]
            if project.get("accelerated")
        ]
        if accelerated:
            out += ["", "Accelerated emulation (aarch64 job / x86_64 job of the same release):", ""]
            out.append(
                markdown_table(
                    (
                        "Project",
                        "aarch64 mode",
                        "build step (goal <= 1.5x)",
                        "whole job (goal <= 2.0x)",
                        "plain emulation: build step",
                        "plain: whole job",
                        "speed-up: build step",
                        "speed-up: whole job",
                    ),
                    accelerated,
                )
            )

    overhead = results.get("overhead") or {}
    if overhead.get("rows"):
        out += ["", "## 2. Orchestration overhead", ""]
        out.append(overhead.get("method", ""))
        out += [
            "",
            markdown_table(
                ("Part", "wheelfleet", "by hand", "difference"),
                [
                    [
                        row["part"],
                        fmt_seconds(row.get("wheelfleet")),
                        fmt_seconds(row.get("hand")),
                        fmt_seconds(row.get("difference")),
                    ]
                    for row in overhead["rows"]
                ]
                + [
                    [
                        "**total (wall)**",
                        fmt_seconds(overhead.get("wheelfleet_wall")),
                        fmt_seconds(overhead.get("hand_wall")),
                        fmt_seconds(
                            (overhead.get("wheelfleet_wall") or 0)
                            - (overhead.get("hand_wall") or 0)
                        ),
                    ]
                ],
            ),
            "",
            f"Overhead ratio (wheelfleet wall / hand wall): {fmt_ratio(overhead.get('ratio'))};"
            f" the job's own steps / hand wall: {fmt_ratio(overhead.get('steps_ratio'))}."
            f" Samples (wheelfleet, hand): {overhead.get('samples')}.",
        ]

    scaling = _get(results, "scaling", "cpu") or results.get("scaling") or {}
    if scaling.get("table"):
        out += ["", "## 3. Concurrency and fleet scaling", ""]
        out.append(scaling.get("method", ""))
        out += [
            "",
            markdown_table(
                (
                    "Way",
                    "hosts",
                    "slots",
                    "jobs at once (peak)",
                    "wall",
                    "jobs span",
                    "speedup (wall)",
                    "speedup (span)",
                    "ideal span",
                    "bound",
                    "efficiency",
                    "contended",
                ),
                [
                    [
                        row["way"],
                        row["hosts"],
                        row["slots"],
                        "-" if row.get("parallel") is None else row["parallel"],
                        fmt_seconds(row.get("wall")),
                        fmt_seconds(row.get("span")),
                        fmt_ratio(row.get("speedup_wall")),
                        fmt_ratio(row.get("speedup_span")),
                        fmt_seconds(row.get("ideal_span")),
                        fmt_seconds(row.get("bound_span")),
                        fmt_ratio(row.get("efficiency")),
                        _contention_note((scaling.get("windows") or {}).get(row["way"])),
                    ]
                    for row in scaling["table"]
                ],
            ),
        ]
        job_rows = [
            [row["way"], *(f"{name} {fmt_seconds(value)}" for name, value in row["jobs"].items())]
            for row in scaling["table"]
        ]
        out += ["", "Job wall times (building to done) in each way:", ""]
        width = max(len(row) for row in job_rows)
        out.append(
            markdown_table(
                ("Way", *(f"job {i}" for i in range(1, width))),
                [row + [""] * (width - len(row)) for row in job_rows],
            )
        )

    out += bench_goals.markdown(results)
    reprovision = results.get("reprovision") or {}
    if reprovision:
        out += ["", "## 4. Re-provisioning and unchanged re-release", ""]
        rows = []
        for key in (
            "provision_check",
            "provision",
            "first_release",
            "rerelease_skip",
            "rerelease_full",
        ):
            item = reprovision.get(key)
            if not item:
                continue
            rows.append(
                [
                    item.get("title", key),
                    "skipped: " + item["skipped"]
                    if item.get("skipped")
                    else fmt_seconds(item.get("wall")),
                    item.get("recap_text", "-"),
                    _contention_note(item.get("window")),
                ]
            )
        out.append(markdown_table(("Run", "wall", "recap / outcome", "contended"), rows))

    controller = results.get("controller") or {}
    if controller.get("releases"):
        out += ["", "## 5. Controller cost", ""]
        out.append(controller.get("method", ""))
        out += [
            "",
            markdown_table(
                (
                    "Run",
                    "wall",
                    "CPU user",
                    "CPU sys",
                    "cores",
                    "peak RSS (tree)",
                    "largest process",
                    "peak processes",
                ),
                [
                    [
                        item["name"],
                        fmt_seconds(item.get("wall")),
                        fmt_seconds(item.get("cpu_user")),
                        fmt_seconds(item.get("cpu_sys")),
                        fmt_cores(item.get("cpu_cores")),
                        fmt_mib(item.get("peak_rss_mib")),
                        fmt_mib(item.get("max_process_rss_mib")),
                        item.get("peak_processes", "-"),
                    ]
                    for item in controller["releases"]
                ],
            ),
        ]

    notes = results.get("notes") or []
    errors = results.get("errors") or []
    if notes:
        out += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    if errors:
        out += ["", "## Not measured", ""] + [f"- {error}" for error in errors]
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------- results


def sanitize(value: Any, replacements: Mapping[str, str]) -> Any:
    """``value`` with every string's machine paths replaced (longest first), recursively."""
    pairs = sorted(((k, v) for k, v in replacements.items() if k), key=lambda kv: -len(kv[0]))

    def fix(text: str) -> str:
        for old, new in pairs:
            text = text.replace(old, new)
        return text

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return fix(item)
        if isinstance(item, Mapping):
            return {fix(str(key)): walk(val) for key, val in item.items()}
        if isinstance(item, list | tuple):
            return [walk(val) for val in item]
        return item

    return walk(value)


def results_stem(date: str, mode: str, sections: Sequence[str]) -> str:
    """``2026-11-22`` for a full run of every section; otherwise a suffix says what ran."""
    suffix = []
    if mode != "full":
        suffix.append(mode)
    if list(sections) != list(SECTIONS):
        suffix.append("-".join(sections))
    return "-".join([date, *suffix])


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_json_and_markdown(
    directory: str | os.PathLike[str],
    stem: str,
    results: Mapping[str, Any],
    markdown: str,
    *,
    sort_keys: bool = True,
) -> tuple[Path, Path]:
    """Write ``results`` to ``<stem>.json`` and ``markdown`` to ``<stem>.md`` in ``directory``.

    The JSON is indented by 2 and ends with a newline; the Markdown is written as given.
    Each file is written to a temporary name and renamed into place, so an interrupted
    run or a reader never finds a half-written results file. Returns both paths.
    """
    home = Path(directory)
    home.mkdir(parents=True, exist_ok=True)
    json_path, md_path = home / f"{stem}.json", home / f"{stem}.md"
    _write_atomic(json_path, json.dumps(results, indent=2, sort_keys=sort_keys) + "\n")
    _write_atomic(md_path, markdown)
    return json_path, md_path


def write_results(
    directory: str | os.PathLike[str], stem: str, results: Mapping[str, Any]
) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` (atomically) and return their paths."""
    return write_json_and_markdown(directory, stem, results, render_markdown(results))


README_START = "<!-- bench:latest:start -->"
README_END = "<!-- bench:latest:end -->"


def replace_block(text: str, block: str) -> str:
    """``text`` with what lies between the README markers replaced by ``block``."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"no {README_START} ... {README_END} block")
    head = text[: start + len(README_START)]
    return f"{head}\n{block.strip()}\n{text[end:]}"
