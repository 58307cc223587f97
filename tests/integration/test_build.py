"""playbooks/build.yml on this machine: real builder images, real emulation, real auditwheel.

The example project (examples/yamlcount) is built for x86_64 (native) and
aarch64 (emulated); the repaired wheels must land in the wheelhouse with their
manifest, carry libyaml in yamlcount.libs/, and work in a fresh container of
their architecture where libyaml is not installed. A second run rebuilds
nothing. Each bad input and each kind of failure gets its clear error, leaves
no wheel behind and spares the other jobs.

Wall times of the runs are printed (pytest -s shows them) and written to
.cache/build-timings.json.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BIN, REPO, PlaybookRun, ansible_env, parse_recap

pytestmark = [pytest.mark.engine, pytest.mark.emulation]

PLAYBOOK = "playbooks/build.yml"
EXAMPLE = REPO / "examples" / "yamlcount"
IMAGES = {"x86_64": "wheelfleet/bookworm:x86_64", "aarch64": "wheelfleet/bookworm:aarch64"}
PLATFORMS = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}
LIBYAML = "apt-get update -qq && apt-get install -y -qq --no-install-recommends libyaml-dev"
TIMINGS = REPO / ".cache" / "build-timings.json"
RUN_PREFIX = f"pytest-{uuid.uuid4().hex[:6]}"


def run_build(extra_vars: dict[str, Any], *, check: bool = False, **env: str) -> PlaybookRun:
    command = [str(BIN / "ansible-playbook"), "-i", "inventory/localhost.yml", PLAYBOOK]
    command += ["-e", json.dumps(extra_vars)]
    if check:
        command.append("--check")
    completed = subprocess.run(
        command,
        cwd=REPO,
        env=ansible_env(**env),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return PlaybookRun(
        completed.returncode, completed.stdout, completed.stderr, parse_recap(completed.stdout)
    )


def record_timing(name: str, seconds: float) -> None:
    print(f"\n[wall time] {name}: {seconds:.1f} s")
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    try:
        timings = json.loads(TIMINGS.read_text())
    except (OSError, ValueError):
        timings = {}
    timings[name] = round(seconds, 1)
    TIMINGS.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")


def wheels_in(wheelhouse: Path) -> list[str]:
    return sorted(p.name for p in wheelhouse.glob("*.whl")) if wheelhouse.exists() else []


def assert_nothing_half_built(wheelhouse: Path) -> None:
    """No staging leftovers, no unrepaired wheel, no scratch file anywhere in the wheelhouse
    (the kept sources of published wheels, ``.sources/<hash>.tar.gz``, belong there)."""
    if not wheelhouse.exists():
        return
    kept = wheelhouse / ".sources"
    leftovers = [
        str(p.relative_to(wheelhouse))
        for p in wheelhouse.rglob("*")
        if (p.name.startswith(".") and p != kept) or "linux_" in p.name.replace("manylinux_", "")
    ]
    assert leftovers == []


@pytest.fixture(scope="module")
def builder_images(docker_client) -> dict[str, str]:
    """The builder images of playbooks/images.yml, built when missing (cached by labels)."""
    import docker

    def missing() -> list[str]:
        absent = []
        for name in IMAGES.values():
            try:
                docker_client.images.get(name)
            except docker.errors.ImageNotFound:
                absent.append(name)
        return absent

    if missing():
        completed = subprocess.run(
            [
                str(BIN / "ansible-playbook"),
                "-i",
                "inventory/localhost.yml",
                "playbooks/images.yml",
            ],
            cwd=REPO,
            env=ansible_env(),
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        if missing():
            pytest.fail(
                f"builder images {', '.join(missing())} are missing and playbooks/images.yml did "
                f"not make them (rc={completed.returncode}):\n{completed.stdout[-3000:]}"
            )
    return IMAGES


@pytest.fixture(scope="module")
def built(builder_images, tmp_path_factory) -> dict[str, Any]:
    """The first build of the example for both architectures, into a fresh wheelhouse,
    as if run under sudo by user 12345 (the files must belong to that user)."""
    wheelhouse = tmp_path_factory.mktemp("build") / "wheelhouse"
    extra = {
        "wheel_build_project": str(EXAMPLE),
        "wheel_build_wheelhouse": str(wheelhouse),
        "wheel_build_architectures": ["x86_64", "aarch64"],
        "wheel_build_run_id": f"{RUN_PREFIX}-first",
    }
    started = time.monotonic()
    run = run_build(extra, SUDO_UID="12345", SUDO_GID="12345")
    seconds = time.monotonic() - started
    assert run.rc == 0, run.output[-6000:]
    record_timing("first build, x86_64 + aarch64 (concurrent)", seconds)
    manifest = json.loads((wheelhouse / "manifest.json").read_text())
    for entry in manifest["wheels"].values():
        record_timing(
            f"job {entry['job']} ({'emulated' if entry['emulated'] else 'native'}) steps sum",
            sum(entry["timings"].values()),
        )
        record_timing(f"job {entry['job']} build step", entry["timings"]["build"])
    return {"run": run, "wheelhouse": wheelhouse, "extra": extra, "manifest": manifest}


def test_both_repaired_wheels_land_with_their_manifest(built) -> None:
    wheelhouse, manifest = built["wheelhouse"], built["manifest"]
    names = wheels_in(wheelhouse)
    assert len(names) == 2, names
    assert sorted(manifest["wheels"]) == names
    by_arch = {entry["architecture"]: entry for entry in manifest["wheels"].values()}
    assert set(by_arch) == {"x86_64", "aarch64"}
    assert by_arch["aarch64"]["emulated"] is True and by_arch["x86_64"]["emulated"] is False
    sums = (wheelhouse / "SHA256SUMS").read_text().splitlines()
    for arch, entry in by_arch.items():
        assert all(tag.startswith("manylinux") for tag in entry["tags"]["platform"]), entry
        assert all(tag.endswith(arch) for tag in entry["tags"]["platform"])
        assert entry["python_tag"] == "cp311-cp311" and entry["host"] == "localhost"
        assert entry["image"] == IMAGES[arch] and entry["image_id"].startswith("sha256:")
        assert len(entry["source_hash"]) == 64 and len(entry["settings_hash"]) == 64
        assert entry["tested"] is True
        for step in ("container_start", "copy_in", "build", "repair", "copy_out", "test"):
            assert entry["timings"][step] >= 0, step
        assert f"{entry['sha256']}  {entry['file']}" in sums
        log = (wheelhouse / entry["log"]).read_text()
        assert "# result: success" in log and "3 passed" in log
    assert_nothing_half_built(wheelhouse)
    assert "2 built, 0 up to date (skipped), 0 failed" in built["run"].stdout


def test_files_belong_to_the_invoking_user(built) -> None:
    wheelhouse = built["wheelhouse"]
    paths = [wheelhouse, wheelhouse / "manifest.json", wheelhouse / "SHA256SUMS"]
    paths += [*wheelhouse.glob("*.whl"), wheelhouse / "logs", *wheelhouse.glob("logs/*")]
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in paths}
    assert owners == {(12345, 12345)}


def test_grafted_libyaml_sits_in_the_wheels_libs_directory(built) -> None:
    for name in wheels_in(built["wheelhouse"]):
        with zipfile.ZipFile(built["wheelhouse"] / name) as wheel:
            names = wheel.namelist()
        grafted = [n for n in names if n.startswith("yamlcount.libs/") and not n.endswith("/")]
        assert len(grafted) == 1 and Path(grafted[0]).name.startswith("libyaml-0-"), names
        entry = built["manifest"]["wheels"][name]
        assert entry["grafted"] == [Path(grafted[0]).name]


SMOKE = r"""
import yamlcount
assert yamlcount.count_events("a: [1, 2]\n") == 11, yamlcount.count_events("a: [1, 2]\n")
maps = [line.split()[-1] for line in open("/proc/self/maps") if "libyaml" in line]
assert maps and all("/yamlcount.libs/" in path for path in maps), maps
import platform
print("ok", platform.machine(), yamlcount.libyaml_version())
"""


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_each_wheel_installs_and_works_in_a_fresh_container(built, docker_client, arch) -> None:
    (name,) = [n for n in wheels_in(built["wheelhouse"]) if n.endswith(f"_{arch}.whl")]
    container = docker_client.containers.run(
        IMAGES[arch],
        ["sleep", "infinity"],
        detach=True,
        platform=PLATFORMS[arch],
        labels={"org.wheelfleet.test": "test_build"},
        name=f"{RUN_PREFIX}-smoke-{arch}",
    )
    try:
        payload = io.BytesIO()
        with tarfile.open(fileobj=payload, mode="w") as archive:
            archive.add(built["wheelhouse"] / name, arcname=name)
        container.put_archive("/tmp", payload.getvalue())
        # libyaml is not installed in the image: the wheel must bring its own.
        assert container.exec_run(["dpkg", "-s", "libyaml-0-2"]).exit_code != 0
        python = "/opt/python/cp311-cp311/bin/python"
        install = container.exec_run([python, "-m", "pip", "install", "--no-index", f"/tmp/{name}"])
        assert install.exit_code == 0, install.output.decode()
        smoke = container.exec_run([python, "-c", SMOKE], workdir="/")
        assert smoke.exit_code == 0, smoke.output.decode()
        assert smoke.output.decode().startswith(f"ok {arch} 0.")
    finally:
        container.remove(force=True)


def test_a_second_run_rebuilds_nothing(built) -> None:
    before = (built["wheelhouse"] / "manifest.json").read_text()
    started = time.monotonic()
    run = run_build(dict(built["extra"], wheel_build_run_id=f"{RUN_PREFIX}-second"))
    record_timing("second run, nothing changed", time.monotonic() - started)
    assert run.rc == 0, run.output[-3000:]
    assert run.recap["localhost"]["changed"] == 0, run.changed_tasks()
    assert "0 built, 2 up to date (skipped), 0 failed" in run.stdout
    assert "not rebuilt" in run.stdout
    assert (built["wheelhouse"] / "manifest.json").read_text() == before


def test_a_dry_run_changes_nothing(built) -> None:
    before = sorted(p.name for p in built["wheelhouse"].rglob("*"))
    run = run_build(dict(built["extra"], wheel_build_run_id=f"{RUN_PREFIX}-check"), check=True)
    assert run.rc == 0, run.output[-3000:]
    assert run.recap["localhost"]["changed"] == 0, run.changed_tasks()
    assert sorted(p.name for p in built["wheelhouse"].rglob("*")) == before


def test_no_job_container_is_left(built, docker_client) -> None:
    leftovers = [
        c.name
        for c in docker_client.containers.list(all=True, filters={"label": "org.wheelfleet.run"})
        if c.labels.get("org.wheelfleet.run", "").startswith(RUN_PREFIX)
    ]
    assert leftovers == []


def test_the_build_host_keeps_no_work_directory_nor_async_status(built) -> None:
    # The engine's work directory (made by its action under wheel_build_host_tmpdir) and the
    # async job's status file are removed once every job is fetched.
    work = f"wheelfleet-{RUN_PREFIX}-first-"
    assert not list(Path("/var/tmp").glob(f"{work}*"))
    # An async status file holds the engine's result, which names its work directory.
    async_dir = Path("~/.ansible_async").expanduser()
    statuses = list(async_dir.iterdir()) if async_dir.is_dir() else []
    assert not [p.name for p in statuses if p.is_file() and work in p.read_text(errors="replace")]


# --- bad input and failures ---------------------------------------------------------------


def test_a_missing_project_fails_before_any_host_is_touched(tmp_path: Path) -> None:
    run = run_build(
        {
            "wheel_build_project": str(tmp_path / "nowhere"),
            "wheel_build_wheelhouse": str(tmp_path / "wh"),
        }
    )
    assert run.rc != 0
    assert f"project path '{tmp_path / 'nowhere'}' does not exist" in run.stdout
    assert "Check the project before any build host is touched" in run.stdout
    assert "Start the build container" not in run.stdout
    assert not (tmp_path / "wh").exists()


def test_a_directory_that_is_not_a_python_project_is_refused(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_text("not a project\n")
    run = run_build(
        {
            "wheel_build_project": str(tmp_path / "docs"),
            "wheel_build_wheelhouse": str(tmp_path / "wh"),
        }
    )
    assert run.rc != 0
    assert "is not a Python project: it has neither pyproject.toml nor setup.py" in run.stdout
    assert "Start the build container" not in run.stdout
    assert not (tmp_path / "wh").exists()


def test_a_python_tag_the_image_lacks_names_the_tags_it_has(builder_images, tmp_path: Path) -> None:
    run = run_build(
        {
            "wheel_build_project": str(EXAMPLE),
            "wheel_build_wheelhouse": str(tmp_path / "wh"),
            "wheel_build_architectures": ["x86_64"],
            "wheel_build_python_tags": ["cp39-cp39"],
            "wheel_build_run_id": f"{RUN_PREFIX}-tag",
        }
    )
    assert run.rc != 0
    assert (
        "Python tag cp39-cp39 is not in image wheelfleet/bookworm:x86_64 on localhost; "
        "the image has: cp311-cp311"
    ) in run.stdout
    assert "0 built, 0 up to date (skipped), 1 failed" in run.stdout
    assert wheels_in(tmp_path / "wh") == []
    assert not (tmp_path / "wh" / "manifest.json").exists()
    assert_nothing_half_built(tmp_path / "wh")


def broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    project = tmp_path / name
    shutil.copytree(EXAMPLE, project)
    source = project / "src" / "yamlcount" / "_yamlcount.c"
    text = source.read_text()
    assert old in text
    source.write_text(text.replace(old, new, 1))
    return project


def test_a_build_failure_carries_the_log_tail_and_spares_the_other_job(
    builder_images, tmp_path: Path
) -> None:
    # A C syntax error on aarch64 only: the x86_64 job must still land its wheel.
    project = broken_copy(
        tmp_path,
        "broken",
        "static PyObject *\ncount_events",
        "#if defined(__aarch64__)\nint broken = ;\n#endif\n\nstatic PyObject *\ncount_events",
    )
    wheelhouse = tmp_path / "wh"
    run = run_build(
        {
            "wheel_build_project": str(project),
            "wheel_build_wheelhouse": str(wheelhouse),
            "wheel_build_architectures": ["x86_64", "aarch64"],
            "wheel_build_use_project_config": False,
            "wheel_build_before_all": LIBYAML,
            "wheel_build_run_id": f"{RUN_PREFIX}-broken",
        }
    )
    assert run.rc != 0
    assert "1 built, 0 up to date (skipped), 1 failed" in run.stdout
    assert "FAILED cp311-cp311 aarch64 (yamlcount-cp311-cp311-aarch64) at step build" in run.stdout
    assert "--- last lines of the log ---" in run.stdout
    assert "int broken = ;" in run.stdout and "error:" in run.stdout
    names = wheels_in(wheelhouse)
    assert len(names) == 1 and names[0].endswith("_x86_64.whl"), names
    manifest = json.loads((wheelhouse / "manifest.json").read_text())
    assert list(manifest["wheels"]) == names
    assert (
        "# FAILED at step build"
        in (wheelhouse / "logs" / "yamlcount-cp311-cp311-aarch64.log").read_text()
    )
    assert_nothing_half_built(wheelhouse)


def test_a_wheel_auditwheel_cannot_repair_to_the_policy_carries_its_reason(
    builder_images, tmp_path: Path
) -> None:
    # arc4random is new in glibc 2.36 (bookworm): no manylinux2014 (glibc 2.17) wheel possible.
    project = broken_copy(
        tmp_path,
        "modern",
        "    return PyUnicode_FromString(yaml_get_version_string());",
        "    (void)arc4random();\n    return PyUnicode_FromString(yaml_get_version_string());",
    )
    wheelhouse = tmp_path / "wh"
    run = run_build(
        {
            "wheel_build_project": str(project),
            "wheel_build_wheelhouse": str(wheelhouse),
            "wheel_build_architectures": ["x86_64"],
            "wheel_build_plat": "manylinux2014",
            "wheel_build_use_project_config": False,
            "wheel_build_before_all": LIBYAML,
            "wheel_build_run_id": f"{RUN_PREFIX}-policy",
        }
    )
    assert run.rc != 0
    assert "at step repair" in run.stdout
    assert "cannot repair to manylinux2014_x86_64" in run.stdout
    assert "GLIBC_2.36" in run.stdout and "too-recent" in run.stdout
    assert wheels_in(wheelhouse) == []
    assert not (wheelhouse / "manifest.json").exists()
    assert_nothing_half_built(wheelhouse)


def test_failed_runs_leave_no_container(docker_client) -> None:
    leftovers = [
        c.name
        for c in docker_client.containers.list(all=True, filters={"label": "org.wheelfleet.run"})
        if c.labels.get("org.wheelfleet.run", "").startswith(RUN_PREFIX)
    ]
    assert leftovers == []
