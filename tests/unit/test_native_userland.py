"""wheelfleet.native_userland: which accelerated jobs run the host's Python and apt, the
plan the build host gets, the settings hash and manifest mode, and the image lookup."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from tests.unit.test_accelerator import ZIG, settings_of
from tests.unit.test_jobs import IMAGES, PROJECT, config, image, plan
from wheelfleet import accelerator, jobs, native_userland

UV_ACCELERATOR = {"toolchain": ZIG, "installer": "uv", "installer_dir": "/opt/tc/installer"}
BOOKWORM_X86 = {"id": "sha256:x86"}


def userland(**overrides):
    arguments = {
        "arch": "aarch64",
        "python_tag": "cp311-cp311",
        "host_arch": "x86_64",
        "accelerator": UV_ACCELERATOR,
        "counterpart": "wheelfleet/bookworm:x86_64",
        "counterpart_facts": BOOKWORM_X86,
        "counterpart_pythons": ["cp311-cp311"],
    }
    arguments.update(overrides)
    return native_userland.for_job(**arguments)


def test_the_plan_names_the_target_sysconfig_and_the_counterpart():
    planned, why = userland()
    assert why is None
    assert planned["image"] == "wheelfleet/bookworm:x86_64"
    assert planned["image_id"] == "sha256:x86"
    assert planned["python"] == f"{native_userland.VENVS}/cp311-cp311/bin/python"
    assert planned["env"] == {
        "_PYTHON_HOST_PLATFORM": "linux-aarch64",
        "_PYTHON_SYSCONFIGDATA_NAME": "_sysconfigdata__linux_aarch64-linux-gnu",
        # The frontend's uv, through the wrapper that hides the target's sysconfig from it.
        "WHEELFLEET_UV": f"{native_userland.UV_DIR}/uv",
    }
    assert planned["stdlib"] == "/usr/lib/python3.11"
    assert planned["ext_suffix"] == ".cpython-311-aarch64-linux-gnu.so"
    assert planned["dpkg_arch"] == "arm64"
    # The build host gets everything it runs: it has no wheelfleet package.
    assert planned["setup"] == native_userland.setup_script(planned)
    assert planned["probe"] == native_userland.PROBE
    ppc, _ = userland(arch="ppc64le", python_tag="cp313-cp313", counterpart_pythons=["cp313-cp313"])
    assert ppc["ext_suffix"] == ".cpython-313-powerpc64le-linux-gnu.so"
    assert ppc["dpkg_arch"] == "ppc64el"


def test_each_missing_piece_is_a_reason_not_a_failure():
    assert userland(accelerator=None) == (None, None)
    cases = {
        "wheel_build_native_userland is false": {"setting": False},
        "no native userland of aarch64 for x86_64 jobs": {"host_arch": "aarch64", "arch": "x86_64"},
        "not installed by uv (pip: the frontend is pip)": {
            "accelerator": {"toolchain": ZIG, "installer": "pip: the frontend is pip"}
        },
        "cp313-cp313t is not a CPython of the standard build": {"python_tag": "cp313-cp313t"},
        "pp310-pypy310_pp73 is not a CPython": {"python_tag": "pp310-pypy310_pp73"},
        "wheelfleet/bookworm:x86_64 is not on the host": {"counterpart_facts": {}},
        "wheelfleet/bookworm:x86_64 has no cp311-cp311": {"counterpart_pythons": ["cp313-cp313"]},
    }
    for expected, overrides in cases.items():
        planned, why = userland(**overrides)
        assert planned is None
        assert expected in why, (expected, why)
    assert userland(setting="off")[0] is None
    assert userland(setting=None)[0] is not None


def test_setup_script_links_apt_and_venv():
    planned, _ = userland()
    script = planned["setup"]
    root = native_userland.ROOT
    assert f"ln -sfn {root}/usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu" in script
    assert (
        f"ln -sf {root}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2"
        in script
    )
    assert f"{root}/opt/python/cp311-cp311/lib/python3.11/site-packages" in script
    assert f"ln -sf {root}/usr/bin/python3.11 {native_userland.VENVS}/cp311-cp311/bin/python" in (
        script
    )
    for command in native_userland.APT_COMMANDS:
        assert f"{native_userland.APT_DIR}/{command}" in script
    assert f"{native_userland.UV_DIR}/uv" in script
    uv = native_userland.uv_wrapper("/opt/tc/installer/uv")
    assert "unset _PYTHON_HOST_PLATFORM _PYTHON_SYSCONFIGDATA_NAME\n" in uv
    assert uv.endswith('exec /opt/tc/installer/uv "$@"\n')
    wrapper = native_userland.apt_wrapper("arm64", "apt-get")
    assert wrapper.startswith("#!/bin/sh\n")
    assert (
        "set -- -o APT::Architecture=arm64 -o APT::Architectures::=arm64"
        f' -o Dir::Bin::Methods={root}/usr/lib/apt/methods "$@"\n' in wrapper
    )
    # gpgv natively where the root has it (bookworm); forky's apt verifies with sqv.
    assert (
        f"if [ -x {root}/usr/bin/gpgv ]; then"
        f' set -- -o APT::Key::gpgvcommand={root}/usr/bin/gpgv "$@"; fi\n' in wrapper
    )
    assert wrapper.endswith(f'exec {root}/usr/bin/apt-get "$@"\n')
    assert "echo 'wheelfleet: apt-get of the x86_64 image, run natively for arm64' >&2" in wrapper
    # The repair: the host image's auditwheel told the target's machine, its patchelf.
    repair = native_userland.repair_wrappers("aarch64")
    auditwheel = repair[f"{native_userland.REPAIR_DIR}/auditwheel"]
    assert (
        f"PATH={native_userland.REPAIR_DIR}:$PATH WHEELFLEET_TARGET_MACHINE=aarch64" in auditwheel
    )
    assert "from auditwheel.main import main" in auditwheel
    python = repair[f"{native_userland.REPAIR_DIR}/python"]
    assert f"exec {root}/usr/bin/python3 " in python
    assert f"{root}/opt/wheelfleet/tools/lib/python3*/site-packages" in python
    assert f"{native_userland.REPAIR_DIR}/patchelf" in script


def test_requested_mode_is_in_the_settings_hash():
    on = settings_of({}, "cp311-manylinux_aarch64")
    assert on["native_userland"] is True
    off = settings_of({}, "cp311-manylinux_aarch64", {"accelerate": True, "native_userland": False})
    assert off["native_userland"] is False
    assert on["settings_hash"] != off["settings_hash"]
    # Without the accelerator there is no native userland, whatever the role says.
    plain = settings_of({}, "cp311-manylinux_aarch64", {"accelerate": False})
    assert plain["native_userland"] is False
    # Native jobs keep their hash.
    x86_on = settings_of({}, "cp311-manylinux_x86_64")
    x86_off = settings_of({}, "cp311-manylinux_x86_64", {"native_userland": False})
    assert x86_on["settings_hash"] == x86_off["settings_hash"]


def test_plan_finds_the_host_architecture_image(tmp_path: Path):
    role = {"frontend": "build", "requirements_source": "wheelhouse", "accelerate": True}
    planned = plan(tmp_path, role=role, config=config(role), python_tags=["cp311-cp311"])
    by_arch = {job["arch"]: job for job in planned}
    assert by_arch["x86_64"]["accelerator"] is None
    found = by_arch["aarch64"]["accelerator"]["userland"]
    assert found["image"] == "wheelfleet/bookworm:x86_64"
    assert found["image_id"] == "sha256:img-x86_64"
    # Without the host's image the job stays accelerated, and says why.
    only_arm = [image("aarch64", "arm64", "manylinux_2_36_aarch64")]
    planned = plan(
        tmp_path, role=role, config=config(role), python_tags=["cp311-cp311"], images=only_arm
    )
    (arm,) = [job for job in planned if job["arch"] == "aarch64"]
    assert "userland" not in arm["accelerator"]
    assert "wheelfleet/bookworm:x86_64 is not on the host" in arm["accelerator"]["userland_skipped"]
    assert arm["accelerator"]["toolchain"] == ZIG


def test_image_names_include_the_host_counterparts():
    names = jobs.image_names([], ["aarch64"], "wheelfleet", "bookworm", "x86_64")
    assert names == ["wheelfleet/bookworm:aarch64", "wheelfleet/bookworm:x86_64"]
    matrix = [{"arch": "aarch64", "python": "cp313-cp313", "image": "forky"}]
    names = jobs.image_names(matrix, [], "wheelfleet", "bookworm", "amd64")
    assert "wheelfleet/forky:x86_64" in names
    assert jobs.image_names([], ["aarch64"], "wheelfleet", "bookworm") == [
        "wheelfleet/bookworm:aarch64"
    ]
    assert IMAGES  # the shared fixtures the plan test uses


def test_manifest_mode_and_report_name_the_host_userland():
    record = {
        "mode": "accelerated",
        "toolchain": ZIG,
        "installer": "uv",
        "test_installer": "uv",
        "userland": {"mode": "native", "host_arch": "x86_64"},
    }
    assert accelerator.accelerated_toolchain(record) == {
        "toolchain_mode": f"accelerated:{ZIG}+{native_userland.MODE}"
    }
    text = accelerator.describe(True, record)
    assert text == (
        f"emulated, accelerated by {ZIG} with the x86_64 image's Python and apt"
        " (build and test environments installed by uv)"
    )
    record["userland"] = {
        "mode": "fallback",
        "host_arch": "x86_64",
        "step": "build",
        "reason": "no matching distribution for cython\nmore",
    }
    assert accelerator.accelerated_toolchain(record) == {"toolchain_mode": f"accelerated:{ZIG}"}
    assert "the build with the x86_64 image's Python failed at build (no matching" in (
        accelerator.describe(True, record)
    )
    record["userland"] = {"mode": "emulated", "reason": "not on the host"}
    assert accelerator.describe(True, record).startswith(f"emulated, accelerated by {ZIG} (")


def test_sitecustomize_gives_build_scripts_the_target_machine(tmp_path: Path):
    """The native root's sitecustomize, run by this interpreter: platform.machine() is the
    target's where _PYTHON_HOST_PLATFORM names it, the host's where it does not."""
    (tmp_path / "sitecustomize.py").write_text(native_userland.SITECUSTOMIZE)
    probe = "import os, platform; print(platform.machine(), os.uname().machine)"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    for target, wanted in (("linux-aarch64", "aarch64"), ("", platform.machine())):
        env["_PYTHON_HOST_PLATFORM"] = target
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        assert done.stdout.split() == [wanted, wanted]


def test_the_reported_reason_is_the_line_that_names_the_error():
    tail = (
        '  File "<frozen importlib._bootstrap>", line 241, in _call_with_frames_removed\n'
        "ImportError: /work/src/build/x.so: cannot open shared object file\n\n"
        "TIP pass --env-dir to keep the build environment\n"
        "ERROR Backend subprocess exited when trying to invoke build_wheel\n"
        "=== wheelfleet step build: exit status 1 at 2026-12-07T22:38:19Z"
    )
    assert native_userland.error_line(tail) == (
        "ImportError: /work/src/build/x.so: cannot open shared object file"
    )
    assert native_userland.error_line("just one line\nand more") == "just one line"
    assert native_userland.error_line("") == ""


def test_a_job_with_the_host_userland_asks_for_the_hosts_build_requirements(tmp_path: Path):
    role = {"frontend": "build", "requirements_source": "wheelhouse", "accelerate": True}
    project = {**PROJECT, "build_requires": ["setuptools>=61", "cython"]}
    planned = plan(
        tmp_path,
        project=project,
        role=role,
        config=config(role, project),
        architectures_wanted=["arm64"],
        python_tags=["cp311-cp311"],
    )
    requests = {request["key"]: request for request in jobs.wheelhouse_requests(planned, project)}
    (arm,) = planned
    assert sorted(requests) == ["aarch64-cp311-cp311-glibc2.36", "x86_64-cp311-cp311-glibc2.36"]
    assert arm["accelerator"]["userland"]["requirements_key"] == "x86_64-cp311-cp311-glibc2.36"
    host = requests["x86_64-cp311-cp311-glibc2.36"]
    assert (host["arch"], host["python_tag"], host["glibc"]) == ("x86_64", "cp311-cp311", "2.36")
    # The build's requirements only: the tests run in the target's container.
    assert host["requirements"] == ["cython", "setuptools>=61"]
    assert host["jobs"] == [arm["id"]]
    target = requests["aarch64-cp311-cp311-glibc2.36"]
    assert target["arch"] == "aarch64"
    assert target["requirements"] == ["cython", "setuptools>=61"]


def test_the_report_names_the_host_userland():
    entry = {"mode": "accelerated", "emulated": True, "toolchain_mode": f"accelerated:{ZIG}"}
    assert accelerator.reported_mode(entry) == "emulated, accelerated"
    entry["toolchain_mode"] += f"+{native_userland.MODE}"
    assert accelerator.reported_mode(entry) == "emulated, accelerated, host's Python"
    assert accelerator.reported_mode({"mode": "native"}) == "native"
    assert accelerator.reported_mode({"emulated": True}) == "emulated"
