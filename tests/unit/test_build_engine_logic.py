"""The build engine's host-free logic: grouping jobs into containers, the state of each
step, test argv expansion, and progress records written by threads and read back."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from ansible_collections.wheelfleet.fleet.plugins.module_utils import build_progress
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_engine import (
    JobRun,
    expand_wheels,
    plan_groups,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.step_runner import (
    command_line,
    step_environment,
)

from wheelfleet import launchers


def job(name: str, group: str) -> dict:
    return {"id": name, "group": group}


def ids(groups: list) -> list:
    return [[item["id"] for item in group] for group in groups]


def test_jobs_group_by_group_key_in_order() -> None:
    jobs = [job("a1", "A"), job("b1", "B"), job("a2", "A"), job("a3", "A")]
    assert ids(plan_groups(jobs, 1)) == [["a1", "a2", "a3"], ["b1"]]
    assert ids(plan_groups(jobs, 2)) == [["a1", "a2", "a3"], ["b1"]]


def test_spare_slots_split_the_largest_group() -> None:
    jobs = [job("a1", "A"), job("a2", "A"), job("a3", "A"), job("b1", "B")]
    assert ids(plan_groups(jobs, 3)) == [["a1", "a2"], ["a3"], ["b1"]]
    assert ids(plan_groups(jobs, 4)) == [["a1"], ["a2"], ["a3"], ["b1"]]
    # More slots than jobs: one job per container, no empty group.
    assert ids(plan_groups(jobs, 9)) == [["a1"], ["a2"], ["a3"], ["b1"]]
    assert plan_groups([], 3) == []


def test_each_step_has_its_state() -> None:
    expected = {
        "container_start": "building",
        "copy_in": "building",
        "before_all": "building",
        "before_build": "building",
        "build": "building",
        "repair": "repairing",
        "copy_out": "repairing",
        "test_start": "testing",
        "test": "testing",
    }
    assert {step: build_progress.state_of_step(step) for step in expected} == expected


def test_wheels_token_becomes_one_argument_per_wheel() -> None:
    steps = [
        {"name": "install", "argv": ["python", "-m", "pip", "install", "{wheels}[test]", "pytest"]},
        {"name": "test", "argv": ["sh", "-c", "pytest"]},
    ]
    wheels = ["/work/wheels/a.whl", "/work/wheels/b.whl"]
    expanded = expand_wheels(steps, wheels)
    assert expanded[0]["argv"] == [
        "python",
        "-m",
        "pip",
        "install",
        "/work/wheels/a.whl[test]",
        "/work/wheels/b.whl[test]",
        "pytest",
    ]
    assert expanded[1] == steps[1]
    assert steps[0]["argv"][4] == "{wheels}[test]"  # the job's steps are not changed


def test_step_environment_layers_passed_env_step_env_and_wrapper_inputs() -> None:
    step = {
        "argv": ["python", "-c", launchers.TEST_INSTALL, "install", "{wheels}"],
        "env": {"A": "step", "N": 3},
        "shell_env": 'export X="$(pwd)"',
        "path_prepend": ["/opt/python/cp311-cp311/bin", "/x"],
    }
    env = step_environment(step, {"A": "passed", "TOKEN": "s3cret"})
    lines = len(launchers.TEST_INSTALL.strip().splitlines())
    assert env == {
        "A": "step",
        "N": "3",
        "TOKEN": "s3cret",
        "WHEELFLEET_SHELL_ENV": 'export X="$(pwd)"',
        "WHEELFLEET_PATH_PREPEND": "/opt/python/cp311-cp311/bin:/x",
        # The log shows a launcher by its first line, not in full.
        "WHEELFLEET_STEP_COMMAND": (
            "python -c <wheelfleet.launchers.TEST_INSTALL (uv, else pip, installs the"
            f" tests' requirements): {lines} lines> install {{wheels}}"
        ),
    }
    assert command_line(["sh", "-c", "make -C x"]) == "sh -c make -C x"
    assert command_line(["python", "-c", "import x\nx.y()"]) == "python -c <program: 2 lines>"


def test_job_steps_have_absolute_times_and_timings(tmp_path: Path) -> None:
    progress = build_progress.ProgressLog(str(tmp_path), "builder-1")
    run = JobRun({"id": "j1"}, 0, progress)
    with run.step("build"):
        pass
    with run.step("repair"):
        pass
    result = run.result()
    assert [s["step"] for s in result["steps"]] == ["build", "repair"]
    assert all(s["start"] <= s["end"] for s in result["steps"])
    assert result["steps"][0]["end"] <= result["steps"][1]["start"]
    assert set(result["timings"]) == {"build", "repair"}
    assert result["status"] == "unfinished" and result["slot"] == 0
    records, _ = build_progress.read_records(progress.path, 0)
    assert [(r["state"], r["step"], r["job"], r["host"]) for r in records] == [
        ("building", "build", "j1", "builder-1"),
        ("repairing", "repair", "j1", "builder-1"),
    ]


def test_records_from_many_threads_are_whole_lines(tmp_path: Path) -> None:
    progress = build_progress.ProgressLog(str(tmp_path), "h")
    message = "x" * 5000  # longer than a pipe buffer's atomic write would guarantee

    def write(slot: int) -> None:
        for n in range(50):
            progress.write(
                "failed", f"job-{slot}-{n}", slot, failure={"kind": "job", "message": message}
            )

    threads = [threading.Thread(target=write, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records, offset = build_progress.read_records(progress.path, 0)
    assert len(records) == progress.count == 400
    assert offset == Path(progress.path).stat().st_size
    for slot in range(8):
        mine = [r["job"] for r in records if r["slot"] == slot]
        assert mine == [f"job-{slot}-{n}" for n in range(50)]
    assert all(
        set(r) == {"v", "t", "host", "job", "slot", "state", "step", "elapsed", "failure"}
        for r in records
    )


def test_reader_takes_complete_lines_only_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / build_progress.PROGRESS_FILE
    first = json.dumps({"state": "building", "job": "a"}) + "\n"
    partial = json.dumps({"state": "built", "job": "a"})
    path.write_text(first + partial[:10])
    records, offset = build_progress.read_records(str(path), 0)
    assert records == [{"state": "building", "job": "a"}] and offset == len(first)
    with path.open("a") as handle:
        handle.write(partial[10:] + "\n")
    records, offset = build_progress.read_records(str(path), offset)
    assert records == [{"state": "built", "job": "a"}]
    assert offset == path.stat().st_size
    assert build_progress.read_records(str(tmp_path / "none.jsonl"), 7) == ([], 7)


def test_engine_liveness_from_its_pid_file(tmp_path: Path) -> None:
    assert build_progress.engine_alive(str(tmp_path)) is None
    build_progress.write_engine_file(str(tmp_path))
    assert build_progress.engine_alive(str(tmp_path)) is True
    (tmp_path / build_progress.ENGINE_FILE).write_text(json.dumps({"pid": 2**22 + 12345}))
    assert build_progress.engine_alive(str(tmp_path)) is False
