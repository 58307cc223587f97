"""The wheelhouse against hostile builds, a corrupt manifest and a full disk.

- A crafted project whose real build (an in-tree PEP 517 backend, in a real
  build container of the builder image) makes the repair report a wheel named
  ``SHA256SUMS`` or another project's wheel: the controller refuses the name
  before anything is fetched, the job fails naming the file and the expected
  form, and the wheelhouse keeps every byte (the failed job's log aside).
- A corrupt manifest.json stops a release before any host is touched, with an
  error naming the file and the way out.
- A full file system (a real tmpfs mounted as the wheelhouse) during publish:
  nothing lands, the manifest is unchanged, the staging area is gone, and the
  error says the disk is full.

Runtime on the development machine (2 cores): the hostile build about 40 s
(more while other builds share the cores), the corrupt-manifest release about
3 s, the full-disk test under a second.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import WHEELFLEET, ansible_env
from tests.integration.test_build import (  # the build tests' images and playbook runs
    IMAGES,
    RUN_PREFIX,
    builder_images,  # noqa: F401  (a fixture, made when the image is missing)
    run_build,
)
from wheelfleet import manifest

VICTIM_JOB = {
    "id": "victim-cp311-cp311-x86_64",
    "project": "victim",
    "version": "1.0",
    "arch": "x86_64",
    "python_tag": "cp311-cp311",
    "image": "wheelfleet/bookworm:x86_64",
    "image_id": "sha256:victim",
    "image_digests": [],
    "emulated": False,
    "source_hash": "victim-source",
    "settings_hash": "victim-settings",
    "run_id": "20260101T000000-victim",
    "tested": False,
}
VICTIM_WHEEL = "victim-1.0-py3-none-any.whl"


def pure_wheel(name: str, version: str) -> bytes:
    """A small, valid pure-Python wheel of ``name``."""
    buffer = io.BytesIO()
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{file},,\n" for file in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(buffer, "w") as archive:
        for file, text in files.items():
            archive.writestr(file, text)
        archive.writestr(f"{info}/RECORD", record)
    return buffer.getvalue()


def publish_victim(wheelhouse: Path) -> None:
    """An earlier release's state: another project's wheel, its manifest, sums and
    release.json."""
    content = pure_wheel("victim", "1.0")
    staging = wheelhouse / ".staging" / "earlier" / "localhost" / VICTIM_JOB["id"]
    staging.mkdir(parents=True)
    (staging / VICTIM_WHEEL).write_bytes(content)
    wheel = {
        "file": VICTIM_WHEEL,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "tags": {"version": "1.0"},
    }
    entry = manifest.entry(VICTIM_JOB, wheel, host="localhost", timings={})
    manifest.publish(
        wheelhouse, staging, [wheel], [entry], job=VICTIM_JOB, allow_pure=True, environ={}
    )
    manifest.write_atomic(wheelhouse / "release.json", '{"earlier": true}\n')


def snapshot(wheelhouse: Path) -> dict[str, bytes]:
    """Every file of the wheelhouse but the job logs, with its bytes."""
    return {
        str(path.relative_to(wheelhouse)): path.read_bytes()
        for path in sorted(wheelhouse.rglob("*"))
        if path.is_file() and path.parent.name != "logs"
    }


# --- a hostile build ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def x86_64_builder_image(request: pytest.FixtureRequest, docker_client) -> str:
    """The x86_64 builder image: these builds need no other (made by the build tests'
    fixture when it is missing)."""
    import docker

    try:
        docker_client.images.get(IMAGES["x86_64"])
    except docker.errors.ImageNotFound:
        request.getfixturevalue("builder_images")
    return IMAGES["x86_64"]


# The crafted project's build backend. It builds two honest pure wheels (the second with
# a build tag), and, as root in its build container, plants a .pth hook in the
# interpreter that runs the repair's helper, so that the repair reports each wheel under
# the name the project chose (HOSTILE_NAMES).
BACKEND = r'''
import base64, hashlib, os, shutil, subprocess, zipfile

NAME, VERSION = "crafted", "1.0"
HOOK = """
import json, os
_RENAMES = json.loads(%r)
_dump = json.dump
def _renaming_dump(obj, fp, *args, **kwargs):
    if isinstance(obj, dict) and str(obj.get("wheel", "")).endswith(".whl"):
        hostile = _RENAMES.get(os.path.basename(obj["wheel"]))
        if hostile:
            obj = dict(obj, wheel="/work/repaired/" + hostile)
    return _dump(obj, fp, *args, **kwargs)
json.dump = _renaming_dump
"""


def _plant_hook():
    with open("hostile-names.json") as handle:
        renames = handle.read()
    auditwheel = shutil.which("auditwheel") or "/usr/local/bin/auditwheel"
    with open(auditwheel) as handle:
        python = handle.readline()[2:].strip().split()[0]
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    with open(os.path.join(site, "zz_crafted_hook.py"), "w") as handle:
        handle.write(HOOK % renames)
    with open(os.path.join(site, "zz_crafted_hook.pth"), "w") as handle:
        handle.write("import zz_crafted_hook\n")


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}\n"


def _write_wheel(directory, filename):
    info = f"{NAME}-{VERSION}.dist-info"
    files = {
        f"{NAME}/__init__.py": b"VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(os.path.join(directory, filename), "w") as archive:
        record = ""
        for path, data in files.items():
            archive.writestr(path, data)
            record += _record_line(path, data)
        archive.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _plant_hook()
    # A second file in the output directory: the frontend returns one name, but the job
    # picks up every wheel there.
    _write_wheel(wheel_directory, f"{NAME}-{VERSION}-1-py3-none-any.whl")
    filename = f"{NAME}-{VERSION}-py3-none-any.whl"
    _write_wheel(wheel_directory, filename)
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []
'''

PYPROJECT = """
[build-system]
requires = []
build-backend = "crafted_backend"
backend-path = ["."]

[project]
name = "crafted"
version = "1.0"
"""

# What the repair reports for each wheel the crafted build made.
HOSTILE_NAMES = {
    "crafted-1.0-py3-none-any.whl": "SHA256SUMS",
    "crafted-1.0-1-py3-none-any.whl": VICTIM_WHEEL,
}


def crafted_project(root: Path) -> Path:
    project = root / "crafted"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "crafted_backend.py").write_text(BACKEND)
    (project / "hostile-names.json").write_text(json.dumps(HOSTILE_NAMES))
    (project / "crafted").mkdir()
    (project / "crafted" / "__init__.py").write_text("VALUE = 1\n")
    return project


@pytest.mark.engine
def test_a_build_that_returns_hostile_wheel_names_lands_nothing(
    x86_64_builder_image: str, docker_client, tmp_path: Path
) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    publish_victim(wheelhouse)
    before = snapshot(wheelhouse)
    run_id = f"{RUN_PREFIX}-hostile"
    started = time.monotonic()
    run = run_build(
        {
            "wheel_build_project": str(crafted_project(tmp_path)),
            "wheel_build_wheelhouse": str(wheelhouse),
            "wheel_build_architectures": ["x86_64"],
            "wheel_build_repair_pure": "copy",
            "wheel_build_run_id": run_id,
        }
    )
    print(f"\n[wall time] hostile build: {time.monotonic() - started:.1f} s")
    assert run.rc != 0, run.output[-4000:]
    job = "crafted-cp311-cp311-x86_64"
    # The build host's engine copies out only the files the repair reported, from the
    # repair's directory: a hostile name is not there, so the job fails at copy_out (were
    # it there, the controller would refuse the name at publish, before fetching it:
    # tests/unit/test_build_watch.py).
    pattern = rf"FAILED cp311-cp311 x86_64 \({job}\) at step (copy_out|publish)"
    failed = re.search(pattern, run.stdout)
    assert failed, run.output[-4000:]
    assert any(name in run.stdout for name in HOSTILE_NAMES.values()), run.output[-4000:]
    # Nothing was fetched, nothing was replaced: only the failed job's log is new.
    assert snapshot(wheelhouse) == before
    assert sorted(p.name for p in (wheelhouse / "logs").iterdir()) == [f"{job}.log"]
    log = (wheelhouse / "logs" / f"{job}.log").read_text()
    assert f"# FAILED at step {failed.group(1)}" in log
    assert not (wheelhouse / ".staging").exists()
    leftovers = [
        c.name
        for c in docker_client.containers.list(all=True, filters={"label": "org.wheelfleet.run"})
        if c.labels.get("org.wheelfleet.run", "").startswith(run_id)
    ]
    assert leftovers == []


# --- a corrupt manifest ------------------------------------------------------------------


def test_a_corrupt_manifest_stops_a_release_before_any_host(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    publish_victim(wheelhouse)
    text = (wheelhouse / "manifest.json").read_text()
    (wheelhouse / "manifest.json").write_text(text[: len(text) // 2])  # a torn write
    before = snapshot(wheelhouse)
    completed = subprocess.run(
        [
            str(WHEELFLEET),
            *("release", str(Path(__file__).parents[2] / "examples" / "yamlcount")),
            *("-w", str(wheelhouse), "--arch", "x86_64", "--skip-provision", "--skip-images"),
        ],
        cwd=tmp_path,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output[-4000:]
    assert f"the wheelhouse manifest {wheelhouse / 'manifest.json'} is not valid JSON" in output
    assert "move it away together with the wheels next to it" in output
    # Stopped in the input checks: no plan, no build container, nothing written.
    assert "Start the build container" not in output and "Plan the jobs" not in output
    assert snapshot(wheelhouse) == before


# --- a full disk -------------------------------------------------------------------------


@pytest.fixture
def small_wheelhouse(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted as the wheelhouse (needs root), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(wheelhouse)],
        check=True,
    )
    try:
        yield wheelhouse
    finally:
        subprocess.run(["umount", str(wheelhouse)], check=True)


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte; returns the filler file."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(descriptor)
    assert os.statvfs(directory).f_bavail == 0
    return filler


def test_a_full_disk_during_publish_lands_no_wheel_outside_the_manifest(
    small_wheelhouse: Path,
) -> None:
    wheelhouse = small_wheelhouse
    publish_victim(wheelhouse)
    job = dict(
        VICTIM_JOB, id="crafted-cp311-cp311-x86_64", project="crafted", run_id="20260102T0-x"
    )
    name = "crafted-1.0-py3-none-any.whl"
    content = pure_wheel("crafted", "1.0")
    staging = wheelhouse / ".staging" / "run" / "localhost" / job["id"]
    staging.mkdir(parents=True)
    (staging / name).write_bytes(content)
    wheel = {"file": name, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    filler = fill(wheelhouse)
    before = snapshot(wheelhouse)
    del before["filler"], before[f".staging/run/localhost/{job['id']}/{name}"]

    def publish() -> dict:
        entry = manifest.entry(job, wheel, host="localhost", timings={})
        staged = staging / name
        if not staged.exists():
            staging.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(content)
        return manifest.publish(
            wheelhouse,
            staging,
            [wheel],
            [entry],
            job=job,
            allow_pure=True,
            log_name=f"{job['id']}.log",
            log_text="the job's log\n",
            environ={},
        )

    with pytest.raises(manifest.PublishError) as raised:
        publish()
    message = str(raised.value)
    assert f"the file system of the wheelhouse {wheelhouse} is full" in message
    assert "No space left on device" in message
    assert "nothing of job crafted-cp311-cp311-x86_64 was published" in message
    after = snapshot(wheelhouse)
    del after["filler"]
    assert after == before  # no wheel, no manifest change, no temporary file
    assert not (wheelhouse / name).exists() and not (wheelhouse / ".staging").exists()
    assert not (wheelhouse / "logs" / f"{job['id']}.log").exists()

    # With space again the same publish lands the wheel and keeps the earlier one.
    filler.unlink()
    publish()
    assert sorted(manifest.load(wheelhouse)["wheels"]) == [name, VICTIM_WHEEL]
    assert (wheelhouse / name).read_bytes() == content
