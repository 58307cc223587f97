"""src/wheelfleet/manifest.py: atomic publication, merging and up-to-date decisions."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from wheelfleet import manifest

JOB = {
    "id": "demo-cp311-cp311-x86_64",
    "project": "demo",
    "version": "1.0",
    "arch": "x86_64",
    "python_tag": "cp311-cp311",
    "image": "wheelfleet/bookworm:x86_64",
    "image_id": "sha256:aaa",
    "image_digests": [],
    "emulated": False,
    "source_hash": "src1",
    "settings_hash": "set1",
    "run_id": "20250101T000000-aaaaaa",
    "tested": True,
}
WHEEL = "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def stage(tmp_path: Path, name: str = WHEEL, content: bytes = b"wheel") -> tuple[Path, dict]:
    staging = tmp_path / "wh" / ".staging" / "run" / "host" / "job"
    staging.mkdir(parents=True)
    (staging / name).write_bytes(content)
    (staging / "build.log").write_text("log")
    wheel = {
        "file": name,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "tags": {"version": "1.0"},
        "grafted": ["libyaml-0-abc.so.2.0.9"],
        "plat": "manylinux_2_36_x86_64",
    }
    return staging, wheel


def publish(tmp_path: Path, job=JOB, name: str = WHEEL, content: bytes = b"wheel") -> dict:
    staging, wheel = stage(tmp_path, name, content)
    entry = manifest.entry(job, wheel, host="localhost", timings={"build": 4.25, "repair": 0.5})
    return manifest.publish(
        tmp_path / "wh",
        staging,
        [wheel],
        [entry],
        job=job,
        log_name=f"{job['id']}.log",
        log_text="hi\n",
        environ={},
    )


def test_publish_moves_the_wheel_writes_manifest_sums_and_log(tmp_path: Path) -> None:
    result = publish(tmp_path)
    home = tmp_path / "wh"
    assert sorted(p.name for p in home.iterdir()) == sorted(
        [WHEEL, "manifest.json", "SHA256SUMS", "logs"]
    )
    document = json.loads((home / "manifest.json").read_text())
    entry = document["wheels"][WHEEL]
    assert entry["architecture"] == "x86_64" and entry["python_tag"] == "cp311-cp311"
    assert entry["grafted"] == ["libyaml-0-abc.so.2.0.9"]
    assert entry["build_seconds"] == 4.25 and entry["host"] == "localhost"
    assert entry["source_hash"] == "src1" and entry["settings_hash"] == "set1"
    assert entry["python"] == "cp311" and entry["identifier"] == "cp311-manylinux_x86_64"
    # No registry digest for a local image: its ID stands for it.
    assert entry["mode"] == "native" and entry["image_digest"] == "sha256:aaa"
    assert (home / "SHA256SUMS").read_text() == f"{entry['sha256']}  {WHEEL}\n"
    assert (home / "logs" / f"{JOB['id']}.log").read_text() == "hi\n"
    assert result["published"] == [str(home / WHEEL)]
    assert not (home / ".staging").exists()


def test_a_corrupt_fetch_publishes_nothing_and_cleans_up(tmp_path: Path) -> None:
    staging, wheel = stage(tmp_path)
    wheel["sha256"] = "0" * 64
    with pytest.raises(manifest.PublishError, match="not publishing a corrupt wheel"):
        manifest.publish(tmp_path / "wh", staging, [wheel], [], job=JOB, environ={})
    assert [p.name for p in (tmp_path / "wh").iterdir()] == []


def test_up_to_date_needs_same_inputs_and_an_intact_file(tmp_path: Path) -> None:
    publish(tmp_path)
    home = tmp_path / "wh"
    document = manifest.load(home)
    inputs = {
        "project": "demo",
        "architecture": "x86_64",
        "python_tag": "cp311-cp311",
        "source_hash": "src1",
        "image_id": "sha256:aaa",
        "settings_hash": "set1",
    }
    assert [e["file"] for e in manifest.up_to_date(document, home, inputs)] == [WHEEL]
    for key, other in [("source_hash", "src2"), ("image_id", "sha256:bbb"), ("settings_hash", "x")]:
        assert manifest.up_to_date(document, home, dict(inputs, **{key: other})) == []
    assert manifest.up_to_date(document, home, dict(inputs, image_id=None)) == []
    (home / WHEEL).write_bytes(b"tampered")
    assert manifest.up_to_date(document, home, inputs) == []
    (home / WHEEL).unlink()
    assert manifest.up_to_date(document, home, inputs) == []


def test_rebuild_replaces_the_entry_and_the_superseded_file(tmp_path: Path) -> None:
    publish(tmp_path)
    other = WHEEL.replace("manylinux_2_17_x86_64.manylinux2014_x86_64", "manylinux_2_36_x86_64")
    publish(tmp_path, job=dict(JOB, run_id="20250102T000000-bbbbbb"), name=other, content=b"new")
    home = tmp_path / "wh"
    assert list(manifest.load(home)["wheels"]) == [other]
    assert not (home / WHEEL).exists()
    # Another architecture is another job: both stay.
    arm = dict(JOB, arch="aarch64", id="demo-cp311-cp311-aarch64")
    publish(tmp_path, job=arm, name=other.replace("x86_64", "aarch64"), content=b"arm")
    assert len(manifest.load(home)["wheels"]) == 2


def test_merge_drops_entries_whose_file_is_gone() -> None:
    document = {
        "version": 1,
        "wheels": {
            "a.whl": {"file": "a.whl", "project": "a"},
            "b.whl": {"file": "b.whl", "project": "b"},
        },
    }
    merged = manifest.merge(
        document, [{"file": "c.whl", "project": "c"}], present=["a.whl", "c.whl"]
    )
    assert list(merged["wheels"]) == ["a.whl", "c.whl"]


def test_owner_is_the_sudo_caller() -> None:
    assert manifest.owner({"SUDO_UID": "1000", "SUDO_GID": "1001"}) == (1000, 1001)
    import os

    assert manifest.owner({}) == (os.getuid(), os.getgid())


def test_a_missing_manifest_is_an_empty_wheelhouse(tmp_path: Path) -> None:
    assert manifest.load(tmp_path) == manifest.empty()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ("", "is not valid JSON"),
        ("[]", "holds a JSON list, not an object"),
        ('{"version": 1}', 'has no "wheels" object'),
        ('{"version": 7, "wheels": {}}', "has format version 7, expected 1"),
        ('{"version": 1, "wheels": {"a.whl": 3}}', 'has a malformed entry for "a.whl"'),
    ],
)
def test_a_corrupt_manifest_is_an_error_naming_the_file_and_the_way_out(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(manifest.ManifestError) as raised:
        manifest.load(tmp_path)
    message = str(raised.value)
    assert f"the wheelhouse manifest {tmp_path / 'manifest.json'} {problem}" in message
    assert "Restore it" in message and "move it away" in message


def test_publish_over_a_corrupt_manifest_changes_nothing(tmp_path: Path) -> None:
    publish(tmp_path)
    home = tmp_path / "wh"
    (home / "manifest.json").write_text('{"version": 1, "wheels": ')
    before = {p.name: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    other = WHEEL.replace("cp311-cp311", "cp312-cp312")
    job = dict(JOB, python_tag="cp312-cp312", id="demo-cp312-cp312-x86_64")
    with pytest.raises(manifest.ManifestError, match="is not valid JSON"):
        publish(tmp_path, job=job, name=other, content=b"other")
    assert {p.name: p.read_bytes() for p in home.rglob("*") if p.is_file()} == before
    assert not (home / ".staging").exists()


def test_the_manifest_records_the_controllers_hash_and_size(tmp_path: Path) -> None:
    staging, wheel = stage(tmp_path, content=b"the fetched bytes")
    # The build host's figures travel in the entry; the controller's replace them.
    reported = manifest.entry(JOB, dict(wheel, size=1, sha256="f" * 64), host="h", timings={})
    manifest.publish(tmp_path / "wh", staging, [wheel], [reported], job=JOB, environ={})
    recorded = manifest.load(tmp_path / "wh")["wheels"][WHEEL]
    assert recorded["sha256"] == hashlib.sha256(b"the fetched bytes").hexdigest()
    assert recorded["size"] == len(b"the fetched bytes")


@pytest.mark.parametrize(
    "name", ["SHA256SUMS", "../x.whl", "x/../../y.whl", "other-1.0-cp311-cp311-linux_x86_64.whl"]
)
def test_publish_refuses_a_name_the_job_may_not_publish(tmp_path: Path, name: str) -> None:
    home = tmp_path / "wh"
    publish(tmp_path)
    before = {p.name: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    staging, wheel = stage(tmp_path)
    wheel["file"] = name
    entry = manifest.entry(JOB, wheel, host="h", timings={})
    with pytest.raises(manifest.PublishError, match="may not publish"):
        manifest.publish(home, staging, [wheel], [entry], job=JOB, environ={})
    assert {p.name: p.read_bytes() for p in home.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "x.whl").exists() and not (home / ".staging").exists()


def test_a_staged_symlink_is_not_published(tmp_path: Path) -> None:
    staging, wheel = stage(tmp_path)
    (tmp_path / "secret").write_bytes(b"wheel")
    (staging / WHEEL).unlink()
    (staging / WHEEL).symlink_to(tmp_path / "secret")
    with pytest.raises(manifest.PublishError, match="is not a regular file"):
        manifest.publish(tmp_path / "wh", staging, [wheel], [], job=JOB, environ={})


def test_job_logs_are_not_readable_by_others(tmp_path: Path) -> None:
    publish(tmp_path)
    logs = tmp_path / "wh" / "logs"
    assert stat.S_IMODE((logs / f"{JOB['id']}.log").stat().st_mode) == 0o640
    assert stat.S_IMODE(logs.stat().st_mode) == 0o750
    path = manifest.write_log(tmp_path / "wh", "failed-job.log", "boom\n")
    assert stat.S_IMODE(Path(path).stat().st_mode) == 0o640


def test_an_existing_logs_directory_loses_the_permissions_of_others(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir(mode=0o755)
    (tmp_path / "logs").chmod(0o755)
    manifest.make_dirs(tmp_path, manifest.owner())
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o750


def test_a_log_name_is_a_plain_file_name(tmp_path: Path) -> None:
    with pytest.raises(manifest.PublishError, match="not a plain log file name"):
        manifest.write_log(tmp_path, "../manifest.json", "x")
    assert not (tmp_path / "manifest.json").exists()


def test_atomic_writes_leave_no_temporary_file_and_use_unique_names(tmp_path: Path) -> None:
    first = manifest.write_temporary(tmp_path / "release.json", b"a")
    second = manifest.write_temporary(tmp_path / "release.json", b"b")
    assert first != second and first.read_bytes() == b"a" and second.read_bytes() == b"b"
    first.unlink()
    second.unlink()
    manifest.write_atomic(tmp_path / "release.json", "{}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["release.json"]
    assert stat.S_IMODE((tmp_path / "release.json").stat().st_mode) == 0o644


def test_an_entry_records_what_entered_its_bytes() -> None:
    job = dict(JOB, source_date_epoch=1_700_000_000, source_date_epoch_origin="directory")
    job["toolchain_mode"] = "emulated"
    tools = {"auditwheel": "6.8.2", "patchelf": "0.19.3", "zlib": "1.2.13"}
    wheel = {"file": WHEEL, "sha256": "a" * 64, "size": 5}
    wheel["reproducibility"] = {"source_date_epoch": 1_700_000_000, "normalized": True,
                                "tools": tools}  # fmt: skip
    entry = manifest.entry(job, wheel, host="h", timings={})
    assert entry["source_date_epoch"] == 1_700_000_000
    assert entry["source_date_epoch_origin"] == "directory"
    assert (entry["toolchain_mode"], entry["normalized"], entry["tools"]) == (
        "emulated", True, tools
    )  # fmt: skip
    assert "plain directory" in entry["reproducibility_notes"][0]
    bare = manifest.entry(JOB, {"file": WHEEL, "sha256": "a" * 64, "size": 5}, host="h", timings={})
    assert bare["source_date_epoch"] is None and bare["normalized"] is False
    assert bare["reproducibility_notes"] == [
        "the archive was not normalized (a build host without wheel_normalize)"
    ]


def test_a_manifest_of_an_older_release_still_loads(tmp_path: Path) -> None:
    """Entries written before reproducible builds have none of their fields."""
    old = {key: value for key, value in publish(tmp_path)["entries"][0].items()
           if key not in manifest.REPRODUCIBILITY_KEYS}  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "wheels": {WHEEL: old}}))
    assert manifest.load(tmp_path)["wheels"][WHEEL] == old


def test_publishing_keeps_the_packed_source_once_by_hash(tmp_path: Path) -> None:
    archive = tmp_path / "packed.tar.gz"
    archive.write_bytes(b"the packed source")
    publish(tmp_path)  # a job without its archive (an older plan) keeps nothing
    assert not (tmp_path / "wh" / ".sources").exists()
    job = dict(JOB, source_hash="ab" * 32, source_archive=str(archive))
    publish(tmp_path, job=job)
    kept = tmp_path / "wh" / ".sources" / f"{'ab' * 32}.tar.gz"
    assert kept.read_bytes() == b"the packed source"
    assert manifest.kept_source(tmp_path / "wh", "ab" * 32) == kept
    archive.write_bytes(b"changed")
    assert manifest.keep_source(tmp_path / "wh", archive, "ab" * 32).read_bytes() == (
        b"the packed source"
    )
    with pytest.raises(manifest.PublishError, match="not a source hash"):
        manifest.kept_source(tmp_path, "../../etc")
