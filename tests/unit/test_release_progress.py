"""Per-job progress of ``wheelfleet release``: rounds from release_round's results, live
phases from the progress records the wheel_build role appends to ``WHEELFLEET_PROGRESS``.

Round events are shaped like real ansible-runner events of playbooks/release.yml; the
records are the engine's (contract of issue 18, section 3). No task name moves a job.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from rich.console import Console

from wheelfleet.display import PlainDisplay, RichDisplay, job_line
from wheelfleet.progress import Announcement, JobChanged, JobPhase, Progress, TaskResult
from wheelfleet.progress_records import Record, parse_line

X86 = "yamlcount-cp311-cp311-x86_64"
ARM = "yamlcount-cp311-cp311-aarch64"
T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def at(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}.000000+00:00"


def event(kind, host, task, second, *, role="wheel_build", action="", res=None, **data):
    return {
        "event": kind,
        "created": at(second),
        "event_data": {
            "host": host,
            "task": task,
            "role": role,
            "task_action": action,
            "resolved_action": action,
            "res": res or {},
            **data,
        },
    }


def record(state, host, job, second, *, step=None, slot=0, failure=None) -> Record:
    """A record as the watch action appends it: one JSON line."""
    line = json.dumps(
        {
            "v": 1,
            "t": T0 + second,
            "host": host,
            "job": job,
            "slot": slot,
            "state": state,
            "step": step,
            "elapsed": None,
            "failure": failure,
        }
    )
    parsed = parse_line(line)
    assert parsed is not None
    return parsed


def round_event(second, round_number, jobs, statuses=None):
    state_jobs = {}
    for identifier, job, host, status in statuses or []:
        state_jobs[identifier] = {
            "identifier": identifier,
            "job": job,
            "host": host,
            "status": status,
            "reason": "at step build: exit 1" if status == "failed" else None,
        }
    round_jobs = [{"identifier": i, "job": j, "host": h} for i, j, h in jobs]
    return event(
        "runner_on_ok",
        "a",
        "Start the release from the plan",
        second,
        role=None,
        action="wheelfleet.fleet.release_round",
        res={"round": round_number, "round_jobs": round_jobs, "state": {"jobs": state_jobs}},
    )


def feed(progress, *items):
    notices = []
    for item in items:
        found = progress.apply_record(item) if isinstance(item, Record) else progress.apply(item)
        notices.extend(n for n in found if isinstance(n, JobChanged))
    return notices


def test_a_job_goes_from_queued_to_done_with_its_host_step_and_time():
    progress = Progress()
    notices = feed(
        progress,
        round_event(
            0, 1, [("cp311-manylinux_x86_64", X86, "a"), ("cp311-manylinux_aarch64", ARM, "b")]
        ),
        record("queued", "a", X86, 9),
        record("building", "a", X86, 10, step="container_start"),
        record("building", "a", X86, 11, step="build"),  # still building: no notice
        record("repairing", "a", X86, 30, step="repair"),
        record("testing", "a", X86, 35, step="test"),
        record("built", "a", X86, 40),
        record("done", "a", X86, 41, step="publish"),
    )
    assert [(n.identifier, n.host, n.phase) for n in notices] == [
        ("cp311-manylinux_x86_64", "a", JobPhase.QUEUED),
        ("cp311-manylinux_aarch64", "b", JobPhase.QUEUED),
        ("cp311-manylinux_x86_64", "a", JobPhase.BUILDING),
        ("cp311-manylinux_x86_64", "a", JobPhase.REPAIRING),
        ("cp311-manylinux_x86_64", "a", JobPhase.TESTING),
        ("cp311-manylinux_x86_64", "a", JobPhase.PUBLISHING),
        ("cp311-manylinux_x86_64", "a", JobPhase.DONE),
    ]
    assert notices[-1].elapsed == 31.0
    job = progress.jobs[X86]
    assert (job.phase, job.host, job.step, job.slot) == (JobPhase.DONE, "a", "publish", 0)
    assert progress.jobs[ARM].phase is JobPhase.QUEUED


def test_task_names_move_no_job():
    """The old role's task names, which used to drive the phases, now say nothing."""
    progress = Progress()
    feed(progress, round_event(0, 1, [("cp311-manylinux_x86_64", X86, "a")]))
    notices = feed(
        progress,
        event("runner_on_start", "a", f"Start the build container: {X86}", 1),
        event("runner_on_start", "a", f"Repair with auditwheel: {X86}", 2),
        event("runner_on_ok", "a", "Summarise the jobs", 3, action="ansible.builtin.set_fact"),
    )
    assert notices == [] and progress.jobs[X86].phase is JobPhase.QUEUED


def test_up_to_date_from_the_roles_plan_and_a_failure_from_the_records():
    progress = Progress()
    feed(
        progress,
        round_event(
            0, 1, [("cp311-manylinux_x86_64", X86, "a"), ("cp311-manylinux_aarch64", ARM, "a")]
        ),
    )
    notices = feed(
        progress,
        event(
            "runner_on_ok",
            "a",
            "any name",
            3,
            action="wheelfleet.fleet.wheel_build_plan",
            res={"up_to_date": [X86], "failed_jobs": [], "jobs": []},
        ),
        record("building", "a", ARM, 4, step="container_start"),
        record("failed", "a", ARM, 50, step="build", failure={"kind": "job", "message": "exit 1"}),
    )
    assert [(n.identifier, n.phase) for n in notices] == [
        ("cp311-manylinux_x86_64", JobPhase.UP_TO_DATE),
        ("cp311-manylinux_aarch64", JobPhase.BUILDING),
        ("cp311-manylinux_aarch64", JobPhase.FAILED),
    ]
    assert (notices[-1].reason, notices[-1].step) == ("at step build: exit 1", "build")
    assert notices[-1].elapsed == 46.0
    assert job_line(notices[-1]).endswith("failed at build  (46.0s)")


def test_a_job_of_a_failed_host_is_queued_again_elsewhere():
    progress = Progress()
    feed(progress, round_event(0, 1, [("cp311-manylinux_aarch64", ARM, "a")]))
    feed(progress, record("building", "a", ARM, 5, step="build"))
    failure = {"kind": "host", "message": "the Docker engine restarted"}
    [said] = progress.apply_record(record("host_failed", "a", None, 6, failure=failure))
    assert said == Announcement(
        "host a failed (the Docker engine restarted): its unfinished jobs are planned again"
    )
    notices = feed(progress, round_event(60, 2, [("cp311-manylinux_aarch64", ARM, "b")]))
    assert [(n.host, n.phase, n.moved_from) for n in notices] == [("b", JobPhase.QUEUED, "a")]
    job = progress.jobs[ARM]
    assert (job.host, job.round, job.started) == ("b", 2, None)
    # Late records of the lost host no longer move the job.
    assert feed(progress, record("repairing", "a", ARM, 61, step="repair")) == []
    [building] = feed(progress, record("building", "b", ARM, 70, step="container_start"))
    assert building.phase is JobPhase.BUILDING


def test_a_job_queued_again_on_the_host_that_answered_again():
    progress = Progress()
    feed(progress, round_event(0, 1, [("cp311-manylinux_x86_64", X86, "a")]))
    feed(progress, record("building", "a", X86, 5, step="build"))
    [queued] = feed(progress, round_event(60, 2, [("cp311-manylinux_x86_64", X86, "a")]))
    assert (queued.phase, queued.host, queued.moved_from) == (JobPhase.QUEUED, "a", None)
    [building] = feed(progress, record("building", "a", X86, 61, step="container_start"))
    assert building.phase is JobPhase.BUILDING and progress.jobs[X86].round == 2


def test_the_end_of_the_release_settles_every_job():
    progress = Progress()
    feed(progress, round_event(0, 1, [("cp311-manylinux_x86_64", X86, "a")]))
    notices = feed(
        progress,
        round_event(90, 1, [], [("cp311-manylinux_x86_64", X86, "a", "failed")]),
    )
    assert [(n.phase, n.reason) for n in notices] == [(JobPhase.FAILED, "at step build: exit 1")]
    # A settled job does not change again.
    assert (
        feed(progress, round_event(91, 1, [], [("cp311-manylinux_x86_64", X86, "a", "done")])) == []
    )
    assert feed(progress, record("done", "a", X86, 92)) == []


def test_plain_display_prints_one_line_per_change():
    stream = io.StringIO()
    with PlainDisplay(stream) as display:
        display.show(JobChanged("cp311-manylinux_aarch64", "b", JobPhase.QUEUED, moved_from="a"))
        display.show(JobChanged("cp311-manylinux_aarch64", "b", JobPhase.DONE, elapsed=83.5))
        display.show(
            JobChanged("cp311-manylinux_x86_64", "a", JobPhase.FAILED, 4.0, "exit 1\n" + "x\n" * 9)
        )
    lines = stream.getvalue().splitlines()
    assert (
        lines[0] == "job          cp311-manylinux_aarch64  b  queued (moved from a, which failed)"
    )
    assert lines[1] == "job          cp311-manylinux_aarch64  b  done  (1m23s)"
    assert lines[2] == "job          cp311-manylinux_x86_64  a  failed  (4.0s)"
    assert lines[3].strip() == "exit 1"
    assert "the report and the job's log have the rest" in lines[-1]
    assert job_line(JobChanged("j", "h", JobPhase.UP_TO_DATE, elapsed=0.0)).endswith("up to date")


def test_records_of_a_build_outside_a_release_add_their_jobs():
    progress = Progress()
    [notice] = feed(progress, record("building", "a", X86, 1, step="before_all"))
    assert (notice.identifier, notice.phase) == (X86, JobPhase.BUILDING)
    assert progress.jobs[X86].step == "before_all"
    # The finished record names no job: nothing to show.
    assert progress.apply_record(record("finished", "a", None, 2)) == []


def test_the_plan_is_shown_before_building_and_again_after_a_move():
    progress = Progress()
    first = round_event(0, 1, [("cp311-manylinux_aarch64", ARM, "a")])
    first["event_data"]["res"]["table"] = "host  arch ...\na     x86_64 ..."
    [announcement, queued] = [n for n in progress.apply(first) if not isinstance(n, TaskResult)]
    assert announcement == Announcement("The release plan:\nhost  arch ...\na     x86_64 ...")
    assert isinstance(queued, JobChanged)
    moved = round_event(60, 2, [("cp311-manylinux_aarch64", ARM, "b")])
    moved["event_data"]["res"].update(
        table="host ...\nb ...", moves=[{"job": "cp311-manylinux_aarch64", "from": "a", "to": "b"}]
    )
    notices = [n for n in progress.apply(moved) if not isinstance(n, TaskResult)]
    assert notices[0] == Announcement(
        "Replanned after host failures (cp311-manylinux_aarch64 from a to b):\nhost ...\nb ..."
    )
    stream = io.StringIO()
    with PlainDisplay(stream) as display:
        display.show(notices[0])
    assert stream.getvalue() == f"\n{notices[0].text}\n\n"


def test_the_live_view_lists_the_jobs_with_host_slot_and_step():
    progress = Progress()
    feed(
        progress,
        round_event(
            0, 1, [("cp311-manylinux_x86_64", X86, "a"), ("cp311-manylinux_aarch64", ARM, "b")]
        ),
        record("building", "a", X86, 1, step="before_all", slot=1),
    )
    console = Console(file=io.StringIO(), width=120, force_terminal=True, color_system=None)
    display = RichDisplay(console, progress)
    console.print(display._render())
    text = console.file.getvalue()
    assert "cp311-manylinux_x86_64" in text and "building" in text and "before_all" in text
    assert "a/1" in text
    assert "cp311-manylinux_aarch64" in text and "queued" in text
    assert progress.jobs[X86].elapsed(datetime(2026, 1, 1, 0, 0, 11, tzinfo=UTC)) == 10.0
