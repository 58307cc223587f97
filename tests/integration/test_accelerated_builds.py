"""Accelerated emulated builds on the real engine, QEMU and auditwheel.

Eight aarch64 cp311 jobs on wheelfleet/bookworm, built by the build engine module on
this x86_64 host, two engine runs at a time (one module-scoped fixture, shared by the
tests). Jobs planned with both images of the repository on the host get the host's
userland too (wheelfleet.native_userland: the x86_64 image's Python runs the build,
its apt runs before_all); jobs planned with the aarch64 image alone get the compiler:

- examples/yamlcount (C, setuptools, libyaml from before_all's apt) with the host's
  userland, and the same job built plainly (``accelerate: false``);
- tests/fixtures/cxxwords (C++: std::string, a hash map, exceptions) with the host's
  userland, and the same project, compiler alone, with ``-fconserve-stack`` in CFLAGS
  and CXXFLAGS: a GCC flag that clang refuses, so the accelerated build fails and the job
  is rebuilt under plain emulation, which yields its wheel;
- the same C++ source built by scikit-build-core with CMake (tests/fixtures/cmakewords)
  and by meson-python (tests/fixtures/mesonwords) with the host's userland (CMake and
  ninja from x86_64 wheels);
- tests/fixtures/selfimport, whose build loads the extension it has just built: the
  host's interpreter cannot, so that build fails and the job is rebuilt with the
  compiler alone native (Python emulated), which yields its wheel;
- cxxwords again, with a before_all that fails when apt-get is not the image's own:
  it runs again in a fresh container with the image's apt, and the build goes on with
  the host's Python.

The C++ modules report the compiler that built them (``__clang__``): clang when
accelerated, gcc after the fallback.

Each wheel is repaired by auditwheel in its build container and installed and exercised
in a fresh emulated test container (the projects' test commands). ``auditwheel show``
gives each accelerated wheel the policy of the plain build of the same project. The
build step's seconds are printed (pytest -s).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils.native_userland import (
    root_dir as native_userland_root,
)

from tests.conftest import BIN, REPO, ansible_env
from tests.integration import engine_jobs
from wheelfleet import accelerator, native_userland, qemu_cpu

pytestmark = [pytest.mark.engine, pytest.mark.emulation]

BOOKWORM = "wheelfleet/bookworm"
YAMLCOUNT = REPO / "examples" / "yamlcount"
CXXWORDS = REPO / "tests" / "fixtures" / "cxxwords"
CMAKEWORDS = REPO / "tests" / "fixtures" / "cmakewords"
MESONWORDS = REPO / "tests" / "fixtures" / "mesonwords"
SELFIMPORT = REPO / "tests" / "fixtures" / "selfimport"
OWNER = f"pytest-accel-{uuid.uuid4().hex[:6]}"
OWN_APT_ONLY = 'test "$(command -v apt-get)" = /usr/bin/apt-get'
REJECTED_FLAG = "-fconserve-stack"
"""Accepted by GCC, refused by clang: the accelerated build of a project using it fails."""


def run_engine(jobs: list[dict[str, Any]], workdir: Path, toolchain_dir: Path) -> dict[str, Any]:
    """The engine module run ad hoc on localhost over ``jobs`` (its action copying the
    toolchain archives into ``toolchain_dir`` when missing); the jobs' results by id, and
    the action's ``toolchains`` (cached or copied, per key) under ``"toolchains"``."""
    archives = [
        {"key": key, "archive": accelerator.ensure(key, engine_jobs.CACHE)["archive"]}
        for key in accelerator.wanted_archives(jobs)
    ]
    args = {
        "jobs": jobs,
        "workdir": str(workdir),
        "slots": 1,
        "timeout": 900,
        "owner": OWNER,
        "host": "localhost",
        "toolchain_archives": archives,
        "toolchain_dir": str(toolchain_dir),
    }
    command = [str(BIN / "ansible"), "localhost", "-m", "wheelfleet.fleet.wheel_build_engine"]
    completed = subprocess.run(
        [*command, "-a", json.dumps(args)],
        cwd=REPO,
        env=ansible_env(
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"
        ),
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
    except ValueError as exc:
        raise AssertionError(f"no JSON from ansible:\n{completed.stderr[-3000:]}") from exc
    result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert completed.returncode == 0 and not result.get("failed"), result
    return {**result["jobs"], "toolchains": result.get("toolchains") or {}}


def plan(project: Path, workdir: Path, images: list[dict[str, Any]], **role: Any) -> dict[str, Any]:
    (job,) = engine_jobs.plan(
        project,
        workdir,
        image_repository=BOOKWORM,
        python_tags=["cp311"],
        image_attrs=images,
        arch="aarch64",
        run_id=f"pytest-{uuid.uuid4().hex[:6]}",
        role=role,
        toolchains_in_workdir=False,
    )
    return job


@pytest.fixture(scope="module")
def builds(docker_client, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """The eight jobs, planned and built; each ``{job, result, out}`` by name."""
    target = docker_client.images.get(f"{BOOKWORM}:aarch64").attrs
    both = [target, docker_client.images.get(f"{BOOKWORM}:x86_64").attrs]
    root = tmp_path_factory.mktemp("accelerated")
    wanted = {
        "yamlcount": (YAMLCOUNT, {}, both),
        "yamlcount-plain": (YAMLCOUNT, {"accelerate": False}, both),
        "cxxwords": (CXXWORDS, {}, both),
        "cxxwords-rejected": (
            CXXWORDS,
            {"environment": {"CFLAGS": REJECTED_FLAG, "CXXFLAGS": REJECTED_FLAG}},
            [target],
        ),
        "cmakewords": (CMAKEWORDS, {}, both),
        "mesonwords": (MESONWORDS, {}, both),
        "selfimport": (SELFIMPORT, {}, both),
        # A before_all that insists on the image's own apt: with the host's first on its
        # PATH it fails, and runs again in a fresh container with the image's.
        "cxxwords-own-apt": (CXXWORDS, {"before_all": OWN_APT_ONLY}, both),
    }
    planned = {
        name: plan(project, root / name, images, **role)
        for name, (project, role, images) in wanted.items()
    }
    toolchain_dir = root / "toolchains"  # the host's, kept between the six runs
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {
                name: pool.submit(run_engine, [job], root / name, toolchain_dir)
                for name, job in planned.items()
            }
            ran = {name: future.result() for name, future in futures.items()}
            results = {name: ran[name][planned[name]["id"]] for name in planned}
    finally:
        for container in docker_client.containers.list(
            all=True, filters={"label": f"org.wheelfleet.owner={OWNER}"}
        ):
            container.remove(force=True)
    builds = {}
    for name, job in planned.items():
        result = results[name]
        print(f"\n[accelerated] {name}: {json.dumps(result['timings'])}")
        builds[name] = {"job": job, "result": result, "out": root / name / "out" / job["id"]}
        builds[name]["toolchains"] = ran[name]["toolchains"]
        builds[name]["toolchain_dir"] = toolchain_dir
    return builds


def auditwheel_policy(wheel: Path) -> str:
    """The policy ``auditwheel show`` finds for a wheel (the controller's auditwheel reads
    any architecture's ELF files)."""
    auditwheel = Path(sys.executable).parent / "auditwheel"
    done = subprocess.run(
        [str(auditwheel), "show", str(wheel)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    match = re.search(r'consistent with the following platform tag: "?([a-z0-9_]+)', text)
    assert match, done.stdout
    return match.group(1)


def the_wheel(build: dict[str, Any]) -> Path:
    (wheel,) = build["result"]["wheels"]
    path = build["out"] / wheel["file"]
    assert path.is_file(), path
    return path


def test_the_plan_accelerates_emulated_jobs_unless_turned_off(builds) -> None:
    job = builds["yamlcount"]["job"]
    assert job["emulated"] and job["accelerator"]["toolchain"] == accelerator.TOOLCHAIN_ID
    assert job["accelerator"]["target"] == "aarch64-linux-gnu"
    plain = builds["yamlcount-plain"]["job"]
    assert plain["accelerator"] is None
    assert plain["settings_hash"] != job["settings_hash"]
    # With the x86_64 image on the host, the job runs its userland; without, it cannot.
    userland = job["accelerator"]["userland"]
    assert userland["image"] == f"{BOOKWORM}:x86_64"
    assert userland["requirements_key"] == "x86_64-cp311-cp311-glibc2.36"
    compiler_only = builds["cxxwords-rejected"]["job"]["accelerator"]
    assert "userland" not in compiler_only
    assert f"{BOOKWORM}:x86_64 is not on the host" in compiler_only["userland_skipped"]


@pytest.mark.parametrize("name", ["yamlcount", "cxxwords", "cmakewords", "mesonwords"])
def test_accelerated_build_is_repaired_tested_and_keeps_the_policy(builds, name) -> None:
    build = builds[name]
    result = build["result"]
    assert result["status"] == "built", result["failure"]
    assert result["accelerator"]["mode"] == "accelerated", result["accelerator"]
    assert result["accelerator"]["toolchain"] == accelerator.TOOLCHAIN_ID
    log = (build["out"] / "build.log").read_text()
    # The build ran the wrappers (the host-native clang), not the image's gcc.
    assert f"{accelerator.INSTALL_DIR}/bin/" in log
    if name == "yamlcount":  # setuptools links with Debian's interpreter's link flags
        link = f"{accelerator.INSTALL_DIR}/bin/cc -shared -Wl,-O1 -Wl,-Bsymbolic-functions"
        assert link in log, log[-3000:]
    # The x86_64 image's interpreter ran the build, with the target's sysconfig.
    assert result["accelerator"]["userland"]["mode"] == "native", result["accelerator"]
    # The toolchain came through the mount, not a copy into the container.
    assert f"{accelerator.INSTALL_DIR}/bin/" in log
    # ... and its auditwheel repaired the wheel (the policy is checked below).
    assert result["accelerator"]["userland"]["repair"] == "native", result["accelerator"]
    assert f"=== $ {native_userland.VENVS}/cp311-cp311/bin/python -c " in log
    assert "build/lib.linux-aarch64-cpython-311" in log or name != "yamlcount"
    if name == "yamlcount":  # before_all's apt was the x86_64 image's
        assert "wheelfleet: apt-get of the x86_64 image, run natively for arm64" in log
    # QEMU ran every command of the job on the planned CPU model.
    assert result["qemu_cpu"] == qemu_cpu.MODELS["aarch64"], result
    # The host-native uv installed the isolated build environment, not pip under QEMU.
    assert result["accelerator"]["installer"] == "uv", result["accelerator"]
    assert "Creating isolated environment: venv+uv" in log, log[-3000:]
    test_log = (build["out"] / "test.log").read_text()
    # uv, too, installed the repaired wheel and the test requirements in the test container.
    assert result["accelerator"]["test_installer"] == "uv", result["accelerator"]
    assert "the test environment is installed by uv" in test_log, test_log[-2000:]
    if name == "yamlcount":
        assert "passed" in test_log, test_log[-2000:]
    else:
        # The module says which compiler built it.
        assert f"{name} ok, built by clang " in test_log, test_log[-2000:]
    wheel = the_wheel(build)
    # The plain build of the same C++ source is the fallback's.
    plain = "yamlcount-plain" if name == "yamlcount" else "cxxwords-rejected"
    assert builds[plain]["result"]["status"] == "built", builds[plain]["result"]["failure"]
    assert auditwheel_policy(wheel) == auditwheel_policy(the_wheel(builds[plain]))
    assert (
        result["wheels"][0]["tags"]["platform"]
        == builds[plain]["result"]["wheels"][0]["tags"]["platform"]
    )
    if name == "yamlcount":
        with zipfile.ZipFile(wheel) as archive:
            assert any("libyaml" in member for member in archive.namelist())


def test_the_toolchain_goes_to_the_host_once_and_is_unpacked_there_once(builds) -> None:
    # Eight runs, two at a time, share the host's toolchain directory: the first runs
    # copy the archive there, the later ones find it; the engine decompressed it once and
    # took uv alone out of it once, for the test containers.
    key = builds["yamlcount"]["job"]["accelerator"]["key"]
    found = [build["toolchains"] for build in builds.values()]
    assert builds["yamlcount-plain"]["toolchains"] == {}
    accelerated = [item[key] for item in found if item]
    assert len(accelerated) == 7 and set(accelerated) <= {"copied", "cached"}, accelerated
    assert accelerated.count("copied") <= 2 and "cached" in accelerated, accelerated
    directory = builds["yamlcount"]["toolchain_dir"]
    image_id = builds["yamlcount"]["job"]["accelerator"]["userland"]["image_id"]
    # The x86_64 image's root, exported once for the six runs that mount it.
    root = Path(native_userland_root(str(directory), image_id)).name
    assert sorted(path.name for path in directory.iterdir()) == sorted(
        [
            ".mount-seen",
            root,
            f"{root}.lock",
            # Unpacked once on the host, mounted by the containers with the host's userland.
            f"toolchain-{key}.d",
            f"toolchain-{key}-installer.tar",
            f"toolchain-{key}.tar",
            f"toolchain-{key}.tar.gz",
        ]
    )
    assert (directory / f"toolchain-{key}.d" / accelerator.ARCHIVE_TOP / "zig").is_file()
    marker = (directory / root / native_userland.MARKER).read_text()
    assert marker.strip() == image_id
    assert directory.stat().st_mode & 0o777 == 0o700
    # No run's work directory got a copy.
    for build in builds.values():
        assert not list(build["out"].parent.parent.glob("toolchain-*")), build["out"]


def test_cxx_wheel_needs_the_images_libstdcxx(builds) -> None:
    """The C++ runtime is the image's libstdc++ (no libc++ from the toolchain)."""
    with zipfile.ZipFile(the_wheel(builds["cxxwords"])) as archive:
        names = archive.namelist()
        (module,) = [name for name in names if name.endswith(".so")]
        data = archive.read(module)
    assert b"libstdc++.so.6" in data
    assert b"libc++.so" not in data
    assert not any(".libs/" in name for name in names), names


def test_a_failed_accelerated_build_falls_back_to_plain_emulation(builds) -> None:
    build = builds["cxxwords-rejected"]
    result = build["result"]
    assert result["status"] == "built", result["failure"]
    record = result["accelerator"]
    assert record["mode"] == "fallback" and record["step"] == "build", record
    assert "build" in record["reason"]
    log = (build["out"] / "build.log").read_text()
    assert REJECTED_FLAG in log and "unknown argument" in log
    test_log = (build["out"] / "test.log").read_text()
    assert "cxxwords ok, built by gcc" in test_log, test_log[-2000:]
    # Two build steps: the accelerated attempt, then the plain one.
    assert [step["step"] for step in result["steps"]].count("build") == 2
    described = accelerator.describe(True, record)
    assert "rebuilt under plain emulation" in described


def test_plain_mode_runs_without_the_toolchain(builds) -> None:
    result = builds["yamlcount-plain"]["result"]
    assert result["status"] == "built", result["failure"]
    assert result["accelerator"] is None
    assert "accelerator" not in result["timings"]
    log = (builds["yamlcount-plain"]["out"] / "build.log").read_text()
    assert accelerator.INSTALL_DIR not in log


def test_a_build_the_hosts_interpreter_cannot_do_is_rebuilt_with_the_compiler_alone(
    builds,
) -> None:
    build = builds["selfimport"]
    result = build["result"]
    assert result["status"] == "built", result["failure"]
    record = result["accelerator"]
    # The wheel is the accelerated build's (zig compiled it), with Python emulated.
    assert record["mode"] == "accelerated", record
    userland = record["userland"]
    assert userland["mode"] == "fallback" and userland["step"] == "build", userland
    assert "cannot open shared object file" in userland["reason"], userland
    described = accelerator.describe(True, record)
    assert "failed at build (ImportError: " in described, described
    assert "rebuilt with the compiler alone native" in described
    log = (build["out"] / "build.log").read_text()
    # Two build steps: the host's interpreter, then the emulated one.
    assert [step["step"] for step in result["steps"]].count("build") == 2
    assert log.count("=== wheelfleet step build: started") == 2
    assert "=== $ /opt/python/cp311-cp311/bin/python -c " in log
    # The repaired wheel has what the build wrote from its own module (the test checks it).
    with zipfile.ZipFile(the_wheel(build)) as archive:
        assert archive.read("selfimport_data/answer.txt") == b"42"
    assert auditwheel_policy(the_wheel(build)).endswith("_aarch64")


def test_a_before_all_that_fails_with_the_hosts_apt_runs_again_with_the_images(builds) -> None:
    build = builds["cxxwords-own-apt"]
    result = build["result"]
    assert result["status"] == "built", result["failure"]
    userland = result["accelerator"]["userland"]
    assert userland["apt"].startswith("emulated: "), userland
    assert "step before_all failed with exit status 1" in userland["apt"], userland
    # before_all twice, each in its own container; the build still had the host's Python.
    steps = [step["step"] for step in result["steps"]]
    assert steps.count("before_all") == 2 and steps.count("container_start") == 2, steps
    assert userland["mode"] == "native" and userland["repair"] == "native", userland
    for name in ("yamlcount", "cxxwords"):
        assert builds[name]["result"]["accelerator"]["userland"].get("apt") in (None, "native")
    assert builds["yamlcount"]["result"]["accelerator"]["userland"]["apt"] == "native"
