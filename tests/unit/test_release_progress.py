"""Per-job progress of ``wheelfleet release``, from ansible-runner events as release.yml emits them.

The events are shaped like real ones (recorded from runs of playbooks/release.yml):
the release_round action's result announces each round's jobs, and the wheel_build
role's task names and loop labels carry the job ids.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from wheelfleet.display import PlainDisplay, RichDisplay, job_line
from wheelfleet.progress import Announcement, JobChanged, JobPhase, Progress, TaskResult

X86 = "yamlcount-cp311-cp311-x86_64"
ARM = "yamlcount-cp311-cp311-aarch64"


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


def feed(progress, *events):
    notices = []
    for item in events:
        notices.extend(n for n in progress.apply(item) if isinstance(n, JobChanged))
    return notices


def test_a_job_goes_from_queued_to_done_with_its_host_and_time():
    progress = Progress()
    notices = feed(
        progress,
        round_event(
            0, 1, [("cp311-manylinux_x86_64", X86, "a"), ("cp311-manylinux_aarch64", ARM, "b")]
        ),
        event("runner_on_start", "a", f"Start the build container: {X86}", 10),
        event("runner_on_start", "a", f"Copy the source in: {X86}", 11),  # still building
        event(
            "runner_item_on_ok",
            "a",
            "Repair the wheels and copy them out",
            30,
            res={"_ansible_item_label": X86},
        ),
        event("runner_on_start", "a", f"Start a fresh test container: {X86}", 35),
        event("runner_on_start", "a", f"Take the time: {X86}", 36),  # says nothing
        event("runner_on_start", "a", f"Copy the job's logs out to the build host: {X86}", 40),
        event(
            "runner_on_ok",
            "a",
            f"Move the job's wheels into the wheelhouse: {X86}",
            41,
            res={"published": ["/wh/yamlcount.whl"]},
        ),
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
    assert job.phase is JobPhase.DONE and job.host == "a"
    assert progress.jobs[ARM].phase is JobPhase.QUEUED


def test_batch_tasks_name_their_jobs_in_loop_labels():
    progress = Progress()
    feed(progress, round_event(0, 1, [("cp311-manylinux_x86_64", X86, "a")]))
    [notice] = feed(
        progress,
        event(
            "runner_item_on_ok",
            "a",
            "Start before_all, before_build and the build, all at once in the background",
            5,
            res={"_ansible_item_label": X86},
        ),
    )
    assert notice.phase is JobPhase.BUILDING
    # The same job on another host is not this one.
    assert feed(progress, event("runner_on_start", "b", f"Repair with auditwheel: {X86}", 6)) == []


def test_up_to_date_and_failed_jobs_from_the_roles_plan_and_summary():
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
            "Plan the jobs against the wheelhouse manifest (controller)",
            3,
            action="wheelfleet.fleet.wheel_build_plan",
            res={"up_to_date": [X86], "failed_jobs": [], "jobs": []},
        ),
        event("runner_on_start", "a", f"Start the build container: {ARM}", 4),
        event(
            "runner_on_ok",
            "a",
            "Summarise the jobs",
            50,
            action="ansible.builtin.set_fact",
            res={
                "ansible_facts": {
                    "wheel_build_summary": {
                        "failed": [{"job": ARM, "step": "build", "reason": "exit status 1"}]
                    }
                }
            },
        ),
    )
    assert [(n.identifier, n.phase) for n in notices] == [
        ("cp311-manylinux_x86_64", JobPhase.UP_TO_DATE),
        ("cp311-manylinux_aarch64", JobPhase.BUILDING),
        ("cp311-manylinux_aarch64", JobPhase.FAILED),
    ]
    assert notices[-1].reason == "at step build: exit status 1"
    assert notices[-1].elapsed == 46.0


def test_a_job_of_a_failed_host_is_queued_again_elsewhere():
    progress = Progress()
    feed(progress, round_event(0, 1, [("cp311-manylinux_aarch64", ARM, "a")]))
    feed(progress, event("runner_on_start", "a", f"Start the build container: {ARM}", 5))
    notices = feed(progress, round_event(60, 2, [("cp311-manylinux_aarch64", ARM, "b")]))
    assert [(n.host, n.phase, n.moved_from) for n in notices] == [("b", JobPhase.QUEUED, "a")]
    job = progress.jobs[ARM]
    assert (job.host, job.round, job.started) == ("b", 2, None)
    # Late events of the lost host no longer move the job.
    assert feed(progress, event("runner_on_start", "a", f"Repair with auditwheel: {ARM}", 61)) == []
    [building] = feed(
        progress, event("runner_on_start", "b", f"Start the build container: {ARM}", 70)
    )
    assert building.phase is JobPhase.BUILDING


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


def test_events_of_other_runs_make_no_jobs():
    progress = Progress()
    assert (
        feed(progress, event("runner_on_start", "a", f"Start the build container: {X86}", 1)) == []
    )
    assert progress.jobs == {}


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


def test_the_live_view_lists_the_jobs():
    progress = Progress()
    feed(
        progress,
        round_event(
            0, 1, [("cp311-manylinux_x86_64", X86, "a"), ("cp311-manylinux_aarch64", ARM, "b")]
        ),
        event("runner_on_start", "a", f"Start the build container: {X86}", 1),
    )
    console = Console(file=io.StringIO(), width=120, force_terminal=True, color_system=None)
    display = RichDisplay(console, progress)
    console.print(display._render())
    text = console.file.getvalue()
    assert "cp311-manylinux_x86_64" in text and "building" in text
    assert "cp311-manylinux_aarch64" in text and "queued" in text
    assert progress.jobs[X86].elapsed(datetime(2026, 1, 1, 0, 0, 11, tzinfo=UTC)) is not None
