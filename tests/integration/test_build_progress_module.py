"""wheel_build_progress through Ansible: new complete records from an offset, and when the
engine counts as finished (its record, its async job's end, its process gone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_module

MODULE = "wheelfleet.fleet.wheel_build_progress"


def record(state: str, job: str | None = "j1") -> str:
    return json.dumps({"v": 1, "t": 1.0, "host": "h", "job": job, "state": state}) + "\n"


def engine_pid(workdir: Path, pid: int) -> None:
    (workdir / "engine.json").write_text(json.dumps({"pid": pid, "started": 0}))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_records_from_an_offset_complete_lines_only(tmp_path: Path) -> None:
    engine_pid(tmp_path, os.getpid())  # a live process: the engine still runs
    first = record("building")
    (tmp_path / "progress.jsonl").write_text(first + record("built")[:15])
    run = run_module(MODULE, {"workdir": str(tmp_path)}, check=True)
    assert run.rc == 0, run.result
    assert [r["state"] for r in run.result["records"]] == ["building"]
    assert run.result["offset"] == len(first) and run.result["finished"] is False
    assert run.result["changed"] is False
    with (tmp_path / "progress.jsonl").open("a") as handle:
        handle.write(record("built")[15:] + record("finished", None))
    more = run_module(MODULE, {"workdir": str(tmp_path), "offset": run.result["offset"]}).result
    assert [r["state"] for r in more["records"]] == ["built", "finished"]
    assert more["finished"] is True and "async_result" not in more
    assert more["status_written"] is False  # no async job to wait for
    assert more["offset"] == (tmp_path / "progress.jsonl").stat().st_size


def test_an_engine_that_died_or_ended_abnormally_is_finished(tmp_path: Path) -> None:
    (tmp_path / "progress.jsonl").write_text(record("building"))
    async_dir = tmp_path / "async"
    async_dir.mkdir()
    running = {"started": True, "finished": False, "ansible_job_id": "j.1"}
    (async_dir / "j.1").write_text(json.dumps(running))
    args = {"workdir": str(tmp_path), "jid": "j.1", "async_dir": str(async_dir)}

    engine_pid(tmp_path, os.getpid())
    assert run_module(MODULE, args).result["finished"] is False

    engine_pid(tmp_path, dead_pid())
    died = run_module(MODULE, args).result
    assert died["finished"] is True and died["async_result"]["died"] is True
    assert [r["state"] for r in died["records"]] == ["building"]

    # The async wrapper's own verdict: its time limit killed the engine.
    engine_pid(tmp_path, os.getpid())
    killed = {"msg": "Timeout exceeded", "failed": True, "child_pid": 1}
    (async_dir / "j.1").write_text(json.dumps(killed))
    ended = run_module(MODULE, args).result
    assert ended["finished"] is True and ended["async_result"] == killed


def test_the_finished_record_waits_for_the_async_wrappers_status(tmp_path: Path) -> None:
    # The engine's finished record lands before Ansible's async wrapper writes the job's final
    # status; the watch removes that file next, so the module waits for it to be written
    # (else the wrapper writes it after the removal and it stays on the host).
    engine_pid(tmp_path, os.getpid())
    (tmp_path / "progress.jsonl").write_text(record("built") + record("finished", None))
    async_dir = tmp_path / "async"
    async_dir.mkdir()
    status = async_dir / "j.2"
    status.write_text(json.dumps({"started": True, "finished": False, "ansible_job_id": "j.2"}))
    final = {"changed": True, "finished": True, "ansible_job_id": "j.2"}
    late_write = (
        "import pathlib, sys, time\n"
        "time.sleep(6)\n"
        "pathlib.Path(sys.argv[1]).write_text(sys.argv[2])\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", late_write, str(status), json.dumps(final)])
    try:
        args = {"workdir": str(tmp_path), "jid": "j.2", "async_dir": str(async_dir)}
        run = run_module(MODULE, args).result
        # Read before the writer is waited for: the module itself must have waited (6 s is
        # longer than a module run through Ansible takes here).
        written_when_returned = json.loads(status.read_text())
    finally:
        writer.wait()
    assert run["finished"] is True and run["status_written"] is True
    assert written_when_returned == final


def test_engine_without_the_docker_sdk_names_the_library(tmp_path: Path) -> None:
    # A bare virtualenv: the standard library only, no Docker SDK.
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    args = {"jobs": [], "workdir": str(tmp_path / "w"), "owner": "o", "host": "h"}
    run = run_module(
        "wheelfleet.fleet.wheel_build_engine",
        args,
        extra_args=["-e", f"ansible_python_interpreter={bare / 'bin' / 'python'}"],
    )
    assert run.rc != 0
    assert "Failed to import the required Python library (docker)" in run.result["msg"]
    assert run.result["failure_kind"] == "host"
    assert not (tmp_path / "w").exists()
