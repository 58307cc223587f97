"""wheelfleet.launchers, each run by this machine's Python with stand-ins for the modules
and uv it hands over to: the build frontend's (uv for build's isolated environment) and
the test install's (uv installs the repaired wheel and the test requirements, pip when it
cannot). Also which jobs get uv for their tests (accelerator.test_pip_needed,
jobs.test_steps) and the engine's copy of uv alone (build_accelerator.installer_archive)."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import tarfile
from pathlib import Path

from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_accelerator import (
    installer_archive,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.engine_workdir import (
    toolchain_archive,
)

from tests.unit.test_jobs import config, plan
from wheelfleet import accelerator, jobs, launchers

ZIG = accelerator.TOOLCHAIN_ID


def stand_ins(tmp_path: Path, uv_exit: int = 0) -> Path:
    """A ``uv`` that records its arguments and exits ``uv_exit``, and a ``pip`` package on
    PYTHONPATH that prints its arguments: what the launcher hands each one."""
    uv = tmp_path / "installer" / "uv"
    uv.parent.mkdir(exist_ok=True)
    uv.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/uv-args"\nexit {uv_exit}\n')
    uv.chmod(0o755)
    pip = tmp_path / "path" / "pip"
    pip.mkdir(parents=True, exist_ok=True)
    (pip / "__init__.py").write_text("")
    (pip / "__main__.py").write_text("import sys\nprint('PIP', sys.argv[1:])\n")
    return uv


def run_launcher(tmp_path: Path, launcher: str, args: list[str], env: dict[str, str]) -> str:
    """The launcher's output, run with stand-ins on PYTHONPATH and ``tmp_path`` as HOME;
    without site-packages (``-S``), so that only the stand-ins' metadata is found."""
    environ = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(tmp_path / "path"),
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-S", "-c", launcher, *args],
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def launch(tmp_path: Path, *args: str, **env: str) -> str:
    mark = {"WHEELFLEET_INSTALLER_MARK": str(tmp_path / "mark")}
    return run_launcher(tmp_path, launchers.TEST_INSTALL, ["install", *args], {**mark, **env})


def test_the_frontend_launcher_passes_uv_to_build_only_when_asked(tmp_path: Path) -> None:
    # A stand-in "build" module that prints the arguments and PATH it was given.
    (tmp_path / "path").mkdir()
    (tmp_path / "path" / "build.py").write_text(
        "import os, sys\nprint('ARGV', sys.argv[1:])\nprint('PATH', os.environ['PATH'])\n"
    )
    uv = stand_ins(tmp_path)

    def build(*argv: str, **env: str) -> str:
        return run_launcher(tmp_path, launchers.STABLE_NAMES, ["build", *argv], env)

    quiet = {"WHEELFLEET_UV": str(uv), "PIP_CONFIG_FILE": "/dev/null"}
    out = build("--wheel", **quiet)
    # The stand-in has no distribution metadata: build's version is unknown, pip stays.
    assert "ARGV ['--wheel']" in out and "installed by pip: build < 1.2" in out
    (tmp_path / "path" / "build-1.2.0.dist-info").mkdir()
    (tmp_path / "path" / "build-1.2.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: build\nVersion: 1.2.0\n"
    )
    # PIP_CONFIG_FILE=os.devnull: pip reads no configuration file (this machine's own
    # /etc/xdg/pip would otherwise keep pip), so uv ignores none.
    out = build("--wheel", **quiet)
    assert "ARGV ['--installer', 'uv', '--wheel']" in out
    assert f"PATH {uv.parent}:/usr/bin:/bin" in out
    assert (tmp_path / "wheelfleet-installer").read_text() == "uv"
    assert "ARGV ['--wheel']" in build("--wheel")
    assert "'--installer=pip'" in build("--installer=pip", **quiet)
    (tmp_path / ".pip").mkdir()
    (tmp_path / ".pip" / "pip.conf").write_text("[global]\n")
    out = build("--wheel", WHEELFLEET_UV=str(uv))
    assert "ARGV ['--wheel']" in out and f"{tmp_path}/.pip/pip.conf" in out
    # A PIP_ variable of the image's (not one of wheelfleet's own) is pip's configuration.
    out = build("--wheel", **quiet, PIP_CONSTRAINT="/c.txt", PIP_NO_INDEX="1")
    assert "ARGV ['--wheel']" in out and "pip: PIP_CONSTRAINT would be ignored" in out
    uv.chmod(0o644)
    out = build("--wheel", **quiet)
    assert "ARGV ['--wheel']" in out and f"pip: {uv} cannot be run" in out


def test_the_frontend_launcher_sets_the_accelerated_link_commands(tmp_path: Path) -> None:
    # A stand-in "build" module that prints the link commands it was given, and the
    # sysconfig of Debian's aarch64 interpreter (its link flags, its cross compiler names).
    (tmp_path / "path").mkdir()
    (tmp_path / "path" / "build.py").write_text(
        "import os\nfor k in ('LDSHARED', 'LDCXXSHARED'):\n    print(k, os.environ.get(k))\n"
    )
    debian = {
        "CC": "aarch64-linux-gnu-gcc",
        "CXX": "aarch64-linux-gnu-g++",
        "LDSHARED": "aarch64-linux-gnu-gcc -shared -Wl,-O1 -Wl,-Bsymbolic-functions",
        "LDCXXSHARED": "aarch64-linux-gnu-g++ -shared -Wl,-O1",
    }
    (tmp_path / "path" / "sysconfig.py").write_text(
        f"def get_config_var(name):\n    return {debian!r}.get(name)\n"
    )
    env = accelerator.build_environment(ZIG)

    def build(**extra: str) -> str:
        return run_launcher(tmp_path, launchers.STABLE_NAMES, ["build"], {**env, **extra})

    out = build()
    assert f"LDSHARED {env['CC']} -shared -Wl,-O1 -Wl,-Bsymbolic-functions" in out
    assert f"LDCXXSHARED {env['CXX']} -shared -Wl,-O1" in out
    # Link commands that something else set stay, and a job without the accelerator keeps
    # the environment's.
    assert "LDSHARED ld -shared" in build(LDSHARED="ld -shared")
    assert f"LDSHARED {env['LDSHARED']}\n" in build(WHEELFLEET_ACCELERATOR="")


def test_uv_installs_into_the_launching_interpreter(tmp_path: Path) -> None:
    uv = stand_ins(tmp_path)
    # PIP_CONFIG_FILE=os.devnull: pip reads no configuration file (this machine's own
    # /etc/xdg/pip would otherwise keep pip), so neither does the launcher.
    quiet = {"WHEELFLEET_UV": str(uv), "PIP_CONFIG_FILE": "/dev/null"}
    out = launch(tmp_path, "/w/p.whl[test]", "pytest", **quiet)
    assert (tmp_path / "mark").read_text() == "uv" and "PIP" not in out
    argv = (tmp_path / "uv-args").read_text().split()
    assert argv == ["pip", "install", "--python", sys.executable, "/w/p.whl[test]", "pytest"]
    # A pip configuration file keeps pip: uv would not read it.
    (tmp_path / ".pip").mkdir()
    (tmp_path / ".pip" / "pip.conf").write_text("[global]\n")
    out = launch(tmp_path, "/w/p.whl", WHEELFLEET_UV=str(uv))
    assert "PIP ['install', '/w/p.whl']" in out
    mark = (tmp_path / "mark").read_text()
    assert mark.startswith("pip: ") and f"{tmp_path}/.pip/pip.conf" in mark
    launch(tmp_path, "/w/p.whl", WHEELFLEET_UV=str(uv), PIP_CONFIG_FILE="/etc/pip-x.conf")
    assert "/etc/pip-x.conf would be ignored" in (tmp_path / "mark").read_text()


def test_pip_installs_when_uv_fails_is_missing_or_pip_is_configured(tmp_path: Path) -> None:
    uv = stand_ins(tmp_path, uv_exit=3)
    out = launch(tmp_path, "/w/p.whl", WHEELFLEET_UV=str(uv), PIP_CONFIG_FILE="/dev/null")
    assert "PIP ['install', '/w/p.whl']" in out
    assert (tmp_path / "mark").read_text() == "pip: uv exited 3"
    out = launch(tmp_path, "/w/p.whl", WHEELFLEET_UV=str(uv), PIP_CONSTRAINT="/c.txt")
    assert "PIP ['install', '/w/p.whl']" in out
    assert "PIP_CONSTRAINT would be ignored" in (tmp_path / "mark").read_text()
    uv.chmod(0o644)
    launch(tmp_path, "/w/p.whl", WHEELFLEET_UV=str(uv))
    assert (tmp_path / "mark").read_text() == f"pip: {uv} cannot be run"
    # Without uv named (a test container of a job that is not accelerated): pip, silently.
    out = launch(tmp_path, "/w/p.whl")
    assert out.strip() == "PIP ['install', '/w/p.whl']"


def test_the_accelerated_jobs_test_install_goes_through_the_launcher(tmp_path: Path) -> None:
    options = {"test-command": "pytest {project}/t", "test-requires": ["pytest"]}
    by_arch = {job["arch"]: job for job in plan(tmp_path, config=config(**options))}
    native, emulated = by_arch["x86_64"], by_arch["aarch64"]
    (install,) = [s for s in native["test_steps"] if s["name"] == "install"]
    assert install["argv"][1:4] == ["-m", "pip", "install"]
    assert not any(name.startswith(("UV_", "WHEELFLEET_")) for name in install["env"])
    assert emulated["accelerator"]["test_installer"] == "uv"
    (install,) = [s for s in emulated["test_steps"] if s["name"] == "install"]
    assert install["argv"][1:4] == ["-c", launchers.TEST_INSTALL, "install"]
    assert install["argv"][-2:] == ["{wheels}", "pytest"]
    env = install["env"]
    assert env["WHEELFLEET_UV"] == f"{accelerator.INSTALLER_DIR}/uv"
    assert env["UV_FIND_LINKS"] == jobs.WHEELHOUSE and env["UV_OFFLINE"] == "1"
    assert env["WHEELFLEET_INSTALLER_MARK"] == jobs.TEST_INSTALLER_MARK
    # pip's own variables stay, for the launcher's fallback to pip.
    assert env["PIP_NO_INDEX"] == "1" and env["PIP_FIND_LINKS"] == jobs.WHEELHOUSE


def test_the_test_environment_or_an_index_keeps_pip(tmp_path: Path) -> None:
    def test_installer(**settings: object) -> str:
        job = accelerator.for_job("aarch64", ZIG, True, "x86_64", settings, jobs.WHEELHOUSE)
        assert job is not None
        return job["test_installer"]

    assert test_installer(frontend="pip", frontend_args=["--installer=pip"]) == "uv"
    chosen = test_installer(test_environment="export PIP_PRE=1\n")
    assert chosen == "pip: the project's environment sets PIP_PRE"
    chosen = test_installer(requirements_source="index")
    assert chosen == "pip: the test requirements come from an index"
    chosen = test_installer(environment_pass=["UV_INDEX_URL"], environment="export UV_X=1\n")
    assert chosen == "pip: the project's environment sets UV_INDEX_URL, UV_X"
    job = accelerator.for_job("aarch64", ZIG, True, "x86_64", {})
    assert job is not None and job["test_installer"].startswith("pip: no wheelhouse")


def test_wheelfleets_own_pip_variables_are_known_to_the_launchers() -> None:
    for source in ("wheelhouse", "index"):
        names = jobs.pip_environment({"requirements_source": source})
        assert set(names) <= set(launchers.OWN_PIP_VARIABLES), source


def test_the_installer_archive_holds_uv_alone_and_is_made_once(tmp_path: Path) -> None:
    key = f"{ZIG}-x86_64"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (
            ("wheelfleet-toolchain/zig", b"zig"),
            ("wheelfleet-toolchain/lib/include/stddef.h", b"h"),
            ("wheelfleet-toolchain/installer/uv", b"uv"),
            ("wheelfleet-toolchain/installer/LICENSE-MIT", b"mit"),
        ):
            member = tarfile.TarInfo(name)
            member.size, member.mode = len(data), 0o755
            tar.addfile(member, io.BytesIO(data))
    (tmp_path / toolchain_archive(key)).write_bytes(gzip.compress(buffer.getvalue()))
    job = accelerator.for_job("aarch64", ZIG, True, "x86_64", {}, jobs.WHEELHOUSE)
    assert job is not None
    small = installer_archive(str(tmp_path), job)
    with tarfile.open(small) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {
            "wheelfleet-toolchain/installer/uv",
            "wheelfleet-toolchain/installer/LICENSE-MIT",
        }
        assert members["wheelfleet-toolchain/installer/uv"].mode == 0o755
        uv = tar.extractfile(members["wheelfleet-toolchain/installer/uv"])
        assert uv is not None and uv.read() == b"uv"
    made = Path(small).stat().st_mtime_ns
    assert installer_archive(str(tmp_path), job) == small
    assert Path(small).stat().st_mtime_ns == made
    assert not list(tmp_path.glob("*.part"))
