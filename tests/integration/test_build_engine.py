"""The build engine (wheelfleet.fleet.wheel_build_engine) on the real engine and images.

Resolved jobs of examples/yamlcount (a C extension linking libyaml, whose
before_all installs libyaml-dev from Debian's mirror) are built through Ansible:

- x86_64 cp311 on wheelfleet/bookworm, launched in the background (async, poll 0)
  and followed with wheel_build_progress, as the role does: a repaired wheel with
  libyaml grafted, tested in a fresh container, result.json and logs, records in order;
- one group of three Pythons on wheelfleet/forky (cp313, cp315, cp314) in one
  container: before_all runs once; cp315's before_build fails (a job failure) and
  the other two still build;
- the group's container removed from outside mid-build: a host failure, the jobs
  unfinished, the engine ends, nothing left behind;
- check mode runs nothing.

Step timings of the cp311 job are printed (pytest -s) and written to
.cache/engine-timings.json.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, REPO, ansible_env
from tests.integration import engine_jobs

pytestmark = [pytest.mark.engine]

EXAMPLE = REPO / "examples" / "yamlcount"
BOOKWORM = "wheelfleet/bookworm"
FORKY = "wheelfleet/forky"
TIMINGS = REPO / ".cache" / "engine-timings.json"
OWNER = f"pytest-engine-{uuid.uuid4().hex[:6]}"
RECORD_KEYS = {"v", "t", "host", "job", "slot", "state", "step", "elapsed", "failure"}
# The order a job's states may follow (a state may repeat, one per step).
STATE_ORDER = ["building", "repairing", "testing", "built"]


@pytest.fixture(scope="module")
def builder_images(docker_client) -> Callable[..., dict[str, dict[str, Any]]]:
    """Inspection of a repository's builder image, waiting while it is being built."""
    import docker

    def wait(repository: str, arch: str = "x86_64") -> dict[str, dict[str, Any]]:
        name = f"{repository}:{arch}"
        deadline = time.monotonic() + float(os.environ.get("WHEELFLEET_IMAGE_WAIT", "1800"))
        while True:
            try:
                return {name: docker_client.images.get(name).attrs}
            except docker.errors.ImageNotFound:
                if time.monotonic() > deadline:
                    pytest.fail(f"builder image {name} is missing; see playbooks/images.yml")
                time.sleep(10)

    return wait


@pytest.fixture(autouse=True)
def no_containers_left(docker_client):
    yield
    left = docker_client.containers.list(
        all=True, filters={"label": f"org.wheelfleet.owner={OWNER}"}
    )
    names = [container.name for container in left]
    for container in left:
        container.remove(force=True)
    assert names == [], f"the engine left containers behind: {names}"


def plan(
    workdir: Path,
    images: Callable,
    repository: str,
    tags: list[str],
    arch: str = "x86_64",
    **role: Any,
) -> list[dict[str, Any]]:
    run_id = f"pytest-{uuid.uuid4().hex[:6]}"
    return engine_jobs.plan(
        EXAMPLE,
        workdir,
        image_repository=repository,
        python_tags=tags,
        image_attrs=list(images(repository, arch).values()),
        arch=arch,
        run_id=run_id,
        role=role,
    )


def engine_args(jobs: list, workdir: Path, **extra: Any) -> dict[str, Any]:
    args = {
        "jobs": jobs,
        "workdir": str(workdir),
        "slots": 1,
        "timeout": 900,
        "owner": OWNER,
        "host": "localhost",
        "passed_env": {"WHEELFLEET_TEST_SECRET": "never-logged-7d1f"},
    }
    args.update(extra)
    return args


def run_ansible(command: list[str], timeout: float = 1200) -> tuple[int, dict, str]:
    completed = subprocess.run(
        command,
        cwd=REPO,
        env=ansible_env(
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"
        ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except ValueError as exc:
        raise AssertionError(
            f"no JSON from {command[:3]} (rc={completed.returncode}):\n"
            f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
        ) from exc
    return completed.returncode, report, completed.stderr


def run_engine(args: dict[str, Any], *, check: bool = False) -> dict[str, Any]:
    """The module run ad hoc on localhost; its result."""
    command = [str(BIN / "ansible"), "localhost", "-m", "wheelfleet.fleet.wheel_build_engine"]
    command += ["-a", json.dumps(args)] + (["--check"] if check else [])
    rc, report, stderr = run_ansible(command)
    result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert rc == 0 and not result.get("failed"), f"{result}\n{stderr[-3000:]}"
    return result


def records_of(workdir: Path) -> list[dict[str, Any]]:
    lines = (workdir / "progress.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def check_records(records: list[dict[str, Any]], jobs: list[str]) -> None:
    """Well-formed, in time order, each job's states in pipeline order, finished once, last."""
    assert records, "no progress records"
    for record in records:
        assert set(record) == RECORD_KEYS, record
        assert record["v"] == 1 and record["host"] == "localhost"
    times = [record["t"] for record in records]
    assert times == sorted(times)
    assert [r["state"] for r in records].count("finished") == 1
    assert records[-1]["state"] == "finished" and records[-1]["job"] is None
    for job in jobs:
        states = [r["state"] for r in records if r["job"] == job]
        ends = [s for s in states if s in ("built", "failed")]
        assert len(ends) <= 1, states
        ranks = [STATE_ORDER.index(s) for s in states if s in STATE_ORDER]
        assert ranks == sorted(ranks), states
        if ends:
            assert states[-1] == ends[0], states
        elapsed = [r["elapsed"] for r in records if r["job"] == job and r["elapsed"] is not None]
        assert elapsed == sorted(elapsed), elapsed


def step_names(result: dict[str, Any]) -> list[str]:
    return [step["step"] for step in result["steps"]]


def check_steps_in_time(result: dict[str, Any]) -> None:
    previous = 0.0
    for step in result["steps"]:
        assert previous <= step["start"] <= step["end"], result["steps"]
        previous = step["end"]


def record_timings(name: str, values: dict[str, Any]) -> None:
    print(f"\n[engine timings] {name}: {json.dumps(values)}")
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    try:
        timings = json.loads(TIMINGS.read_text())
    except (OSError, ValueError):
        timings = {}
    timings[name] = values
    TIMINGS.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")


PLAYBOOK = """
- name: Build with the engine in the background and follow its records
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Start the engine
      wheelfleet.fleet.wheel_build_engine: "{{ engine_args }}"
      async: 1200
      poll: 0
      register: engine

    - name: Follow the records
      wheelfleet.fleet.wheel_build_progress:
        workdir: "{{ engine_args.workdir }}"
        offset: 0
        jid: "{{ engine.ansible_job_id }}"
      register: progress
      until: progress.finished
      retries: 1200
      delay: 1

    - name: Read the engine's result
      ansible.builtin.async_status:
        jid: "{{ engine.ansible_job_id }}"
      register: outcome
      until: outcome.finished
      retries: 60
      delay: 1
"""


def test_example_builds_repairs_and_tests_in_the_background(builder_images, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    (job,) = plan(workdir, builder_images, BOOKWORM, ["cp311"])
    playbook = tmp_path / "engine.yml"
    playbook.write_text(PLAYBOOK)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"engine_args": engine_args([job], workdir)}))
    command = [str(BIN / "ansible-playbook"), "-i", "inventory/localhost.yml", str(playbook)]
    started = time.time()
    rc, report, stderr = run_ansible([*command, "-e", f"@{args_file}"])
    wall = time.time() - started
    tasks = report["plays"][0]["tasks"]
    assert rc == 0, f"{json.dumps(tasks)[-4000:]}\n{stderr[-3000:]}"
    progress = tasks[1]["hosts"]["localhost"]
    outcome = tasks[2]["hosts"]["localhost"]

    # The module's result and result.json agree; the job was built and tested.
    result = outcome["jobs"][job["id"]]
    assert outcome["host_failure"] is None
    assert result["status"] == "built", result["failure"]
    out = workdir / "out" / job["id"]
    assert json.loads((out / "result.json").read_text()) == result
    assert step_names(result) == [
        "container_start",
        "copy_in",
        "before_all",
        "build",
        "repair",
        "copy_out",
        "test_start",
        "test",
    ]
    check_steps_in_time(result)
    (wheel,) = result["wheels"]
    assert wheel["file"].startswith("yamlcount-1.0.0-cp311-cp311-manylinux")
    assert wheel["tags"]["platform"][-1] == "manylinux_2_36_x86_64"
    assert wheel["input"] == "yamlcount-1.0.0-cp311-cp311-linux_x86_64.whl"
    assert any(name.startswith("libyaml") for name in wheel["grafted"])
    local = out / wheel["file"]
    assert local.stat().st_size == wheel["size"]
    with zipfile.ZipFile(local) as archive:
        assert any(n.startswith("yamlcount.libs/libyaml") for n in archive.namelist())

    # Logs: before_all then the build in build.log; the test's pytest run in test.log.
    assert result["logs"] == ["build.log", "test.log"]
    build_log = (out / "build.log").read_text()
    assert build_log.index("step before_all: started") < build_log.index("step build: started")
    assert "exit status 0" in build_log
    test_log = (out / "test.log").read_text()
    assert "passed" in test_log and "step test: exit status 0" in test_log
    assert "never-logged-7d1f" not in build_log + test_log

    # The records the watch reads: all of them, complete lines, ending with finished.
    records = records_of(workdir)
    assert progress["records"] == records and progress["finished"] is True
    assert progress["offset"] == (workdir / "progress.jsonl").stat().st_size
    assert "async_result" not in progress
    check_records(records, [job["id"]])
    mine = [r for r in records if r["job"] == job["id"]]
    assert [r["step"] for r in mine if r["step"]] == step_names(result)
    assert [r["state"] for r in mine][-1] == "built"
    assert outcome["records"] == len(records)

    timings = dict(result["timings"], total_steps=round(sum(result["timings"].values()), 2))
    timings["engine_span"] = round(result["steps"][-1]["end"] - result["steps"][0]["start"], 2)
    timings["playbook_wall"] = round(wall, 2)
    record_timings("x86_64 cp311 yamlcount", timings)


def test_one_container_per_group_before_all_once_and_a_failing_job_spares_the_others(
    builder_images, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    jobs = plan(workdir, builder_images, FORKY, ["cp313", "cp315", "cp314"])
    assert [j["python_tag"] for j in jobs] == ["cp313-cp313", "cp315-cp315", "cp314-cp314"]
    assert len({j["group"] for j in jobs}) == 1
    broken = jobs[1]
    broken["steps"] = [
        {
            "name": "before_build",
            "argv": ["sh", "-c", "echo broken on purpose; exit 3"],
            "env": {},
            "workdir": "/work/src",
            "path_prepend": [],
            "shell_env": "",
        },
        *broken["steps"],
    ]
    outcome = run_engine(engine_args(jobs, workdir, slots=1))
    results = outcome["jobs"]
    assert outcome["host_failure"] is None
    first, failed, last = (results[j["id"]] for j in jobs)
    assert (first["status"], failed["status"], last["status"]) == ("built", "failed", "built")

    # One container: its start, copy-in and before_all are the first job's, once.
    assert step_names(first)[:3] == ["container_start", "copy_in", "before_all"]
    assert step_names(last)[0] == "build" and step_names(failed)[0] == "before_build"
    every = [step for r in results.values() for step in step_names(r)]
    assert every.count("before_all") == 1 and every.count("container_start") == 1
    # ... and the jobs ran one after the other in it.
    assert first["steps"][-1]["end"] <= failed["steps"][0]["start"]
    assert failed["steps"][-1]["end"] <= last["steps"][0]["start"]

    assert failed["failure"]["kind"] == "job"
    assert "before_build failed with exit status 3" in failed["failure"]["message"]
    assert "broken on purpose" in failed["failure"]["message"]
    assert failed["wheels"] == []
    failed_out = workdir / "out" / failed["id"]
    assert json.loads((failed_out / "result.json").read_text()) == failed
    assert "broken on purpose" in (failed_out / "build.log").read_text()

    for result, tag in ((first, "cp313"), (last, "cp314")):
        (wheel,) = result["wheels"]
        assert wheel["file"].startswith(f"yamlcount-1.0.0-{tag}-{tag}-manylinux")
        assert any(name.startswith("libyaml") for name in wheel["grafted"])
        assert (workdir / "out" / result["id"] / wheel["file"]).is_file()
        check_steps_in_time(result)

    records = records_of(workdir)
    check_records(records, [j["id"] for j in jobs])
    assert [r["step"] for r in records].count("before_all") == 1
    ends = [(r["job"], r["state"]) for r in records if r["state"] in ("built", "failed")]
    assert ends == [(first["id"], "built"), (failed["id"], "failed"), (last["id"], "built")]
    (failure_record,) = [r for r in records if r["state"] == "failed"]
    assert failure_record["failure"]["kind"] == "job"


def test_container_removed_mid_build_is_a_host_failure(
    builder_images, docker_client, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    # No before_all (no apt): the first job waits in before_build, the moment to strike.
    jobs = plan(
        workdir,
        builder_images,
        FORKY,
        ["cp313", "cp314"],
        before_all="true",
        before_build="sleep 60",
    )
    for job in jobs:
        job["before_all"] = None
        job["network"]["before_all_online"] = False
        job["network"]["build_network_mode"] = "none"
    container = jobs[0]["container"]
    progress = workdir / "progress.jsonl"
    removed = threading.Event()

    def strike() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if progress.exists() and '"step": "before_build"' in progress.read_text():
                time.sleep(1)
                docker_client.containers.get(container).remove(force=True)
                removed.set()
                return
            time.sleep(0.2)

    striker = threading.Thread(target=strike, daemon=True)
    striker.start()
    started = time.monotonic()
    outcome = run_engine(engine_args(jobs, workdir, slots=1))
    assert removed.is_set()
    assert time.monotonic() - started < 60, "the engine waited for the step instead of stopping"
    assert outcome["failure_kind"] == "host"
    assert container in outcome["host_failure"] and "vanished" in outcome["host_failure"]
    for job in jobs:
        result = outcome["jobs"][job["id"]]
        assert result["status"] == "unfinished"
        assert result["failure"]["kind"] == "host"
        assert not (workdir / "out" / job["id"] / "result.json").exists()

    records = records_of(workdir)
    check_records(records, [j["id"] for j in jobs])
    (host_failed,) = [r for r in records if r["state"] == "host_failed"]
    assert host_failed["job"] == jobs[0]["id"] and host_failed["failure"]["kind"] == "host"
    assert not [r for r in records if r["state"] in ("built", "failed")]
    assert not [r for r in records if r["job"] == jobs[1]["id"]]


def test_sigterm_stops_the_engine_cleanly(builder_images, docker_client, tmp_path: Path) -> None:
    """A stopped engine removes its containers and still ends its records with finished."""
    workdir = tmp_path / "work"
    (job,) = plan(
        workdir, builder_images, FORKY, ["cp313"], before_all="true", before_build="sleep 60"
    )
    job["before_all"] = None
    job["network"]["before_all_online"] = False
    command = [str(BIN / "ansible"), "localhost", "-m", "wheelfleet.fleet.wheel_build_engine"]
    command += ["-a", json.dumps(engine_args([job], workdir))]
    env = ansible_env(
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"
    )
    started = time.monotonic()
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True) as ansible:
        progress = workdir / "progress.jsonl"
        while not (progress.exists() and '"step": "before_build"' in progress.read_text()):
            assert time.monotonic() - started < 300 and ansible.poll() is None
            time.sleep(0.2)
        engine = json.loads((workdir / "engine.json").read_text())["pid"]
        os.kill(engine, signal.SIGTERM)
        stdout, _ = ansible.communicate(timeout=120)
    assert time.monotonic() - started < 60
    result = json.loads(stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert "was stopped (signal 15)" in result["host_failure"], result
    assert result["jobs"][job["id"]]["status"] == "unfinished"
    records = records_of(workdir)
    check_records(records, [job["id"]])
    assert [r["state"] for r in records][-2:] == ["host_failed", "finished"]


def test_two_slots_split_the_group_and_build_at_once(builder_images, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    jobs = plan(
        workdir,
        builder_images,
        FORKY,
        ["cp313", "cp314"],
        before_build="sleep 4",
    )
    for job in jobs:
        job["test_steps"] = []
    outcome = run_engine(engine_args(jobs, workdir, slots=2))
    results = [outcome["jobs"][job["id"]] for job in jobs]
    assert [r["status"] for r in results] == ["built", "built"], results
    assert sorted(r["slot"] for r in results) == [0, 1]
    # Each part of the split group has its own container, started by its own job.
    assert all(step_names(r)[:3] == ["container_start", "copy_in", "before_all"] for r in results)
    spans = [
        next((s["start"], s["end"]) for s in r["steps"] if s["step"] == "before_build")
        for r in results
    ]
    assert max(start for start, _ in spans) < min(end for _, end in spans), spans
    check_records(records_of(workdir), [job["id"] for job in jobs])


@pytest.mark.emulation
def test_emulated_aarch64_job(builder_images, tmp_path: Path) -> None:
    """The image's platform reaches the containers: an aarch64 wheel, repaired and tested
    under emulation."""
    workdir = tmp_path / "work"
    (job,) = plan(workdir, builder_images, BOOKWORM, ["cp311"], arch="aarch64")
    assert job["platform"] == "linux/arm64"
    result = run_engine(engine_args([job], workdir))["jobs"][job["id"]]
    assert result["status"] == "built", result["failure"]
    (wheel,) = result["wheels"]
    assert wheel["tags"]["platform"][-1] == "manylinux_2_36_aarch64"
    assert any(name.startswith("libyaml") for name in wheel["grafted"])
    assert "passed" in (workdir / "out" / job["id"] / "test.log").read_text()
    record_timings("aarch64 cp311 yamlcount (emulated)", result["timings"])


def test_check_mode_reports_the_containers_and_runs_nothing(builder_images, tmp_path) -> None:
    workdir = tmp_path / "work"
    jobs = plan(workdir, builder_images, FORKY, ["cp313", "cp314"])
    result = run_engine(engine_args(jobs, workdir, slots=2), check=True)
    assert result["changed"] is True
    assert result["groups"] == [[jobs[0]["id"]], [jobs[1]["id"]]] and result["slots"] == 2
    assert not (workdir / "progress.jsonl").exists() and not (workdir / "out").exists()
