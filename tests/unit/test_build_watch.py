"""src/wheelfleet/build_watch.py: the controller's side of a host's build, on real files.

The "host" is a directory laid out as the engine leaves ``<workdir>/out/<job>/``;
fetching copies from it, as the connection's fetch_file does.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from wheelfleet import build_watch, manifest

JOB = {
    "id": "py_yaml-cp311-cp311-x86_64",
    "project": "Py.YAML",
    "version": "6.0.3",
    "arch": "x86_64",
    "python_tag": "cp311-cp311",
    "run_id": "20260101T000000-abcdef",
    "source_hash": "src1",
    "image": "wheelfleet/bookworm:x86_64",
    "image_id": "sha256:img",
    "settings_hash": "f00d",
    "status": "build",
}
OTHER = dict(JOB, id="py_yaml-cp312-cp312-x86_64", python_tag="cp312-cp312")
WHEEL = "py_yaml-6.0.3-cp311-cp311-manylinux_2_17_x86_64.whl"


def engine_output(workdir: Path, job: dict, wheel: str | None, status: str = "built") -> dict:
    """What the engine leaves for a job: its wheel, logs and result.json."""
    out = workdir / "out" / job["id"]
    out.mkdir(parents=True)
    (out / "build.log").write_text("compiling\n")
    result = {
        "id": job["id"],
        "status": status,
        "failure": None if status == "built" else {"kind": "job", "message": "cc failed"},
        "slot": 1,
        "steps": [
            {"step": "container_start", "start": 100.0, "end": 100.5},
            {"step": "build", "start": 100.5, "end": 110.0},
        ],
        "timings": {"container_start": 0.5, "build": 9.5},
        "wheels": [],
        "logs": ["build.log", "test.log"],
    }
    if wheel:
        data = b"PK\x03\x04 not really a zip, but bytes with a hash"
        (out / wheel).write_bytes(data)
        result["wheels"] = [
            {
                "file": wheel,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "tags": {"version": "6.0.3"},
                "grafted": ["libyaml-0.so.2"],
                "plat": "manylinux_2_17_x86_64",
            }
        ]
    (out / "result.json").write_text(json.dumps(result))
    return result


def make_watch(tmp_path: Path, workdir: Path, *jobs: dict, progress: Path | None = None):
    fetched: list[str] = []
    shown: list[str] = []

    def fetch(job: str, name: str, local: Path) -> None:
        fetched.append(name)
        remote = workdir / "out" / job / name
        if not remote.is_file():
            raise build_watch.FetchError(f"no {remote}")
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(remote, local)

    wheelhouse = tmp_path / "wheelhouse"
    watch = build_watch.Watch(
        jobs or (JOB,),
        host="builder-1",
        wheelhouse=str(wheelhouse),
        staging=str(wheelhouse / ".staging" / "run" / "builder-1"),
        fetch=fetch,
        progress_path=str(progress) if progress else None,
        show=shown.append,
    )
    return watch, wheelhouse, fetched, shown


def record(state: str, job: str | None = JOB["id"], **extra) -> dict:
    return build_watch.make_record("builder-1", job, state, now=123.0, **extra)


def test_a_built_job_is_fetched_published_and_relayed(tmp_path: Path) -> None:
    workdir = tmp_path / "host"
    engine_output(workdir, JOB, WHEEL)
    progress = tmp_path / "progress.jsonl"
    watch, wheelhouse, fetched, shown = make_watch(tmp_path, workdir, progress=progress)
    watch.start()
    watch.handle(record("building", step="build", slot=1, elapsed=3.0))
    watch.handle(record("built", slot=1))
    watch.handle(record("finished", job=None))
    outcome = watch.outcome()
    assert outcome["built"] == [JOB["id"]] and outcome["host_failure"] is None
    assert outcome["jobs"][JOB["id"]]["published"] == [str(wheelhouse / WHEEL)]
    assert (wheelhouse / WHEEL).is_file()
    assert fetched[0] == "result.json" and WHEEL in fetched
    entry = manifest.load(wheelhouse)["wheels"][WHEEL]
    assert (entry["host"], entry["slot"]) == ("builder-1", 1)
    assert entry["steps"][1] == {"step": "build", "start": 100.5, "end": 110.0}
    assert entry["timings"]["build"] == 9.5 and "publish" in entry["timings"]
    log = (wheelhouse / "logs" / f"{JOB['id']}.log").read_text()
    assert "# result: success" in log and "compiling" in log
    # Every record reached the progress file, one JSON line each, and the display.
    states = [json.loads(line)["state"] for line in progress.read_text().splitlines()]
    assert states == ["queued", "building", "built", "done", "finished"]
    assert any("building build (3.0s)" in line for line in shown)
    # Nothing is left in staging.
    assert not (wheelhouse / ".staging" / "run").exists()


def test_a_failed_job_publishes_its_log_only(tmp_path: Path) -> None:
    workdir = tmp_path / "host"
    engine_output(workdir, JOB, None, status="failed")
    watch, wheelhouse, _, _ = make_watch(tmp_path, workdir)
    failure = {"kind": "job", "message": "cc failed"}
    watch.handle(record("failed", step="build", failure=failure))
    outcome = watch.outcome()
    assert outcome["failed_jobs"] == [JOB["id"]] and "failed" not in outcome
    assert outcome["jobs"][JOB["id"]]["failure"]["message"] == "cc failed"
    assert not list(wheelhouse.glob("*.whl"))
    log = (wheelhouse / "logs" / f"{JOB['id']}.log").read_text()
    assert "# FAILED at step build (job failure)" in log and "compiling" in log


@pytest.mark.parametrize(
    "name", ["../escape.whl", "SHA256SUMS", "other-1.0-cp311-cp311-linux_x86_64.whl"]
)
def test_a_wheel_name_from_the_host_is_checked_before_anything_is_fetched(
    tmp_path: Path, name: str
) -> None:
    workdir = tmp_path / "host"
    result = engine_output(workdir, JOB, WHEEL)
    result["wheels"][0]["file"] = name
    (workdir / "out" / JOB["id"] / "result.json").write_text(json.dumps(result))
    watch, wheelhouse, fetched, _ = make_watch(tmp_path, workdir)
    watch.handle(record("built"))
    job = watch.outcome()["jobs"][JOB["id"]]
    assert job["status"] == "failed" and job["failure"]["kind"] == "job"
    assert fetched == ["result.json"]
    assert not (tmp_path / "escape.whl").exists() and not list(wheelhouse.glob("*.whl"))


def test_a_host_failure_leaves_the_rest_unfinished(tmp_path: Path) -> None:
    workdir = tmp_path / "host"
    engine_output(workdir, JOB, WHEEL)
    watch, _, _, _ = make_watch(tmp_path, workdir, JOB, OTHER)
    watch.handle(record("built"))
    lost = {"kind": "host", "message": "the engine restarted"}
    watch.handle(record("host_failed", job=None, failure=lost))
    outcome = watch.outcome()
    assert outcome["built"] == [JOB["id"]]
    assert outcome["unfinished"] == [OTHER["id"]]
    assert outcome["host_failure"] == "the engine restarted"
    assert outcome["jobs"][OTHER["id"]]["failure"]["kind"] == "host"


def test_a_lost_connection_while_fetching_is_raised_for_the_host(tmp_path: Path) -> None:
    def fetch(job: str, name: str, local: Path) -> None:
        raise build_watch.FetchError("connection reset", lost=True)

    watch = build_watch.Watch(
        [JOB], host="h", wheelhouse=str(tmp_path / "wh"), staging=str(tmp_path / "wh/.s"),
        fetch=fetch,
    )  # fmt: skip
    with pytest.raises(build_watch.FetchError):
        watch.handle(record("built"))
    watch.host_lost("connection reset")
    assert watch.outcome()["unfinished"] == [JOB["id"]]


def test_records_are_whole_lines_appended(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    for state in ("queued", "building"):
        build_watch.append_record(path, record(state))
    lines = path.read_text().splitlines()
    assert [json.loads(line)["state"] for line in lines] == ["queued", "building"]
    assert json.loads(lines[0])["v"] == 1


def test_every_refused_name_is_named_and_a_name_only_once() -> None:
    good = {"file": WHEEL}
    found = build_watch.refusals(
        [good, {"file": "SHA256SUMS"}, good, {"file": "../x.whl"}], JOB, False
    )
    assert len(found) == 3
    assert "'SHA256SUMS'" in found[0] and "may not publish" in found[0]
    assert "twice" in found[1] and "not a file name" in found[2]
    assert build_watch.refusals([good], JOB, False) == []
    assert build_watch.refusals([], JOB, False) == [
        "the build host reported the job built without a wheel"
    ]
