"""src/wheelfleet/timeline.py: the timeline's rows, bars, scale and figures."""

from __future__ import annotations

import pytest

from wheelfleet import timeline
from wheelfleet.timeline import JobRun, Step

T0 = 1_765_000_000.0


def steps(start: float, *durations: tuple[str, float]) -> tuple[Step, ...]:
    """Consecutive steps from ``start`` (seconds after T0)."""
    found, now = [], T0 + start
    for name, seconds in durations:
        found.append(Step(name, now, now + seconds))
        now += seconds
    return tuple(found)


FULL = (
    ("container_start", 1.0),
    ("copy_in", 1.0),
    ("before_all", 4.0),
    ("before_build", 1.0),
    ("build", 9.0),
    ("repair", 2.0),
    ("copy_out", 1.0),
    ("test_start", 1.0),
    ("test", 3.0),
    ("publish", 1.0),
)  # 24 s, six kinds of step


def run(identifier: str, host: str, slot: int, start: float, *durations, **extra) -> JobRun:
    return JobRun(
        f"proj-{identifier}", identifier, host, slot, steps(start, *(durations or FULL)), **extra
    )


def test_overlapping_jobs_on_two_slots() -> None:
    a = run("cp311-manylinux_x86_64", "fleet-a", 0, 0.0)
    b = run("cp312-manylinux_x86_64", "fleet-a", 1, 12.0)
    built = timeline.build([a, b], fleet={"fleet-a": 2}, started_at=T0, finished_at=T0 + 40)
    assert [(row.host, row.slot) for row in built.rows] == [("fleet-a", 0), ("fleet-a", 1)]
    first, second = built.bars
    # Each on its own row, and they overlap in time.
    assert first.y < second.y and first.y == pytest.approx(built.rows[0].y + 4)
    assert second.x < first.x + first.width
    # Scale: the release's 40 s span the plot; b starts at 12 s.
    assert first.x == built.plot_left
    assert second.x == pytest.approx(built.plot_left + built.plot_width * 12 / 40, abs=0.01)
    assert first.width == pytest.approx(built.plot_width * 24 / 40, abs=0.01)
    # One rectangle per kind of step, in pipeline order, coloured by kind.
    assert [s.kind for s in first.segments] == [
        "start",
        "before_all",
        "build",
        "repair",
        "test",
        "copy",
    ]
    assert [s.seconds for s in first.segments] == [2.0, 4.0, 10.0, 3.0, 4.0, 1.0]
    assert first.segments[2].title == (
        "cp311-manylinux_x86_64: build 10 s (before_build 1 s, build 9 s)"
    )
    figures = built.figures
    assert figures.wall == 40 and figures.job_seconds == 48 and figures.slots == 2
    assert figures.efficiency == pytest.approx(48 / (40 * 2))
    # The whole identifier fits in a 24-s bar of a 40-s release.
    assert first.label == "cp311-manylinux_x86_64"


def test_an_idle_host_has_its_rows_and_counts_in_the_efficiency() -> None:
    a = run("cp311-manylinux_x86_64", "fleet-a", 0, 0.0)
    built = timeline.build(
        [a], fleet={"fleet-a": 1, "fleet-b": 2}, started_at=T0, finished_at=T0 + 30
    )
    assert [(r.host, r.slot, r.idle) for r in built.rows] == [
        ("fleet-a", 0, False),
        ("fleet-b", 0, True),
        ("fleet-b", 1, True),
    ]
    assert built.rows[1].label == "fleet-b slot 0 (idle)"
    assert built.rows[1].title == "fleet-b slot 0: idle"
    hosts = {h.host: h for h in built.figures.hosts}
    assert hosts["fleet-b"].jobs == 0 and hosts["fleet-b"].busy == 0
    assert hosts["fleet-b"].share == 0
    assert hosts["fleet-a"].share == pytest.approx(24 / 30)
    assert built.figures.efficiency == pytest.approx(24 / (30 * 3))


def test_a_job_that_failed_mid_way() -> None:
    failed = run(
        "cp313-manylinux_aarch64",
        "fleet-a",
        0,
        2.0,
        ("container_start", 1.0),
        ("copy_in", 0.5),
        ("before_all", 3.0),
        ("before_build", 0.5),
        ("build", 4.0),
        failed=True,
        failed_step="build",
    )
    built = timeline.build([failed], fleet={"fleet-a": 1}, started_at=T0, finished_at=T0 + 12)
    [bar] = built.bars
    assert bar.failed
    assert [s.kind for s in bar.segments] == ["start", "before_all", "build"]
    assert "FAILED at build" in bar.title and "on fleet-a slot 0" in bar.title
    assert built.figures.job_seconds == 9.0
    # Its bar ends where the failed step ended.
    assert bar.x + bar.width == pytest.approx(built.plot_left + built.plot_width * 11 / 12, 0.01)


def test_zero_length_steps_are_hairlines_inside_the_plot() -> None:
    instant = run(
        "cp311-manylinux_x86_64",
        "fleet-a",
        0,
        0.0,
        ("container_start", 0.0),
        ("build", 10.0),
        ("test_start", 0.0),
        ("test", 0.0),
        ("publish", 0.0),
    )
    built = timeline.build([instant], fleet={"fleet-a": 1})
    start, build, test, copy = built.bars[0].segments
    assert start.width == timeline.MIN_SEGMENT_WIDTH and start.seconds == 0
    assert build.seconds == 10.0
    # Zero-length steps at the end of the release stay inside the plot.
    for segment in (test, copy):
        assert segment.width == timeline.MIN_SEGMENT_WIDTH
        assert segment.x + segment.width <= built.plot_right
    # Without the release's start and end, the wall time is the steps' span.
    assert built.figures.wall == 10.0 and built.figures.efficiency == 1.0


def test_a_release_without_step_data() -> None:
    built = timeline.build(
        [JobRun("proj-cp311", "cp311-manylinux_x86_64", "fleet-a", 0, ())],
        fleet={"fleet-a": 2},
        started_at=T0,
        finished_at=T0 + 50,
        left_off=["proj-cp312"],
    )
    assert built.empty and built.bars == () and built.ticks == ()
    assert built.left_off == ("proj-cp312",)
    assert built.figures.wall == 50 and built.figures.job_seconds == 0
    assert built.figures.efficiency is None
    assert [row.idle for row in built.rows] == [True, True]
    nothing = timeline.build([])
    assert nothing.empty and nothing.figures.wall is None and nothing.rows == ()


def test_slots_outside_the_fleet_get_rows_and_hosts_keep_the_fleet_order() -> None:
    runs = [
        run("cp311-manylinux_x86_64", "zeta", 0, 0.0),
        run("cp312-manylinux_x86_64", "alpha", 3, 0.0),
    ]
    built = timeline.build(runs, fleet={"zeta": 1, "alpha": 1})
    assert [(r.host, r.slot) for r in built.rows] == [("zeta", 0), ("alpha", 0), ("alpha", 3)]
    long = timeline.build([run("cp311-manylinux_x86_64", "a" * 60 + ".example", 1, 0.0)])
    assert long.rows[0].label == "a" * 13 + "\u2026 slot 1"
    assert len(long.rows[0].label) * timeline.CHAR_WIDTH <= timeline.LABEL_WIDTH
    assert built.figures.slots == 3
    assert {h.host: h.slots for h in built.figures.hosts} == {"zeta": 1, "alpha": 2}


def test_labels_shorten_then_give_way_to_the_tooltip() -> None:
    long_release = T0 + 2000
    runs = [
        run("cp311-manylinux_x86_64", "h", 0, 0.0, ("build", 600.0)),
        run("cp312-manylinux_x86_64", "h", 0, 600.0, ("build", 300.0)),
        run("cp313-manylinux_x86_64", "h", 0, 900.0, ("build", 20.0)),
    ]
    built = timeline.build(runs, started_at=T0, finished_at=long_release)
    assert [bar.label for bar in built.bars] == ["cp311-manylinux_x86_64", "cp312 x86_64", None]
    for bar in built.bars:
        assert bar.identifier in bar.title and bar.job in bar.title
        if bar.label:
            room = bar.width - 2 * timeline.LABEL_PADDING
            assert len(bar.label) * timeline.CHAR_WIDTH <= room


def test_ticks_cover_the_release_inside_the_plot() -> None:
    built = timeline.build(
        [run("cp311-manylinux_x86_64", "h", 0, 0.0)], started_at=T0, finished_at=T0 + 95
    )
    labels = [tick.label for tick in built.ticks]
    assert labels == ["0 s", "15 s", "30 s", "45 s", "1 min", "1 min 15 s", "1 min 30 s"]
    assert built.ticks[0].x == built.plot_left
    assert all(built.plot_left <= t.x <= built.plot_right for t in built.ticks)
    hours = timeline.build(
        [run("cp311-manylinux_x86_64", "h", 0, 0.0)], started_at=T0, finished_at=T0 + 3 * 3600
    )
    assert [t.label for t in hours.ticks][:3] == ["0 s", "30 min", "1 h 00 min"]


def test_steps_are_read_tolerantly_and_unknown_steps_still_drawn() -> None:
    raw = [
        {"step": "build", "start": T0 + 5, "end": T0 + 9},
        {"step": "container_start", "start": T0, "end": T0 + 1},
        {"step": "repair", "start": T0 + 9, "end": T0 + 8},  # end before start: zero length
        {"step": "sign", "start": T0 + 9, "end": T0 + 10},  # a step this version does not know
        {"step": "test", "start": "soon", "end": None},
        {"start": T0, "end": T0 + 1},
        "publish",
    ]
    read = timeline.read_steps(raw)
    assert [(s.name, s.seconds) for s in read] == [
        ("container_start", 1.0),
        ("build", 4.0),
        ("repair", 0.0),
        ("sign", 1.0),
    ]
    assert timeline.read_steps(None) == () and timeline.read_steps("build") == ()
    built = timeline.build([JobRun("j", "cp311-manylinux_x86_64", "h", 0, read)])
    assert [s.kind for s in built.bars[0].segments] == ["start", "build", "repair", "other"]
    assert ("other", "other") in built.kinds
    assert "other" not in dict(timeline.build([]).kinds)


def test_figures_as_json() -> None:
    a = run("cp311-manylinux_x86_64", "fleet-a", 0, 0.0)
    built = timeline.build([a], fleet={"fleet-a": 2}, started_at=T0, finished_at=T0 + 48)
    assert built.figures.to_json() == {
        "wall": 48.0,
        "job_seconds": 24.0,
        "slots": 2,
        "efficiency": 0.25,
        "hosts": {"fleet-a": {"slots": 2, "jobs": 1, "busy": 24.0, "share": 0.25}},
    }
