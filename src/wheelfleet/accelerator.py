"""Accelerated emulated builds: a host-native compiler inside emulated build containers.

An aarch64 job on an x86_64 host runs its Python, pip and build backend under QEMU;
with the accelerator its compiler and linker run natively. The toolchain is PyPI's
``ziglang`` wheel for the host: a static x86_64 ``zig`` that embeds clang and lld.
The kernel runs that binary directly in the emulated container (binfmt_misc only
sends foreign ELF files to QEMU). Wrapper scripts call ``zig clang`` for the job's
target triple with the container's root as sysroot, so clang picks the container's
own GCC installation: its headers, glibc, crt files, libgcc and libstdc++ (the
image's glibc is the target and the policy auditwheel finds is unchanged). Only
``zig`` and clang's builtin headers are shipped, not zig's own libc.

The isolated build environment is the other large cost of an emulated build: pip,
run under QEMU, takes 7 s to install setuptools and Cython there (1.3 s natively).
The static x86_64 ``uv`` of PyPI's musllinux wheel installs it natively instead
(``build --installer uv``), when nothing in the project's settings asks for pip. It
installs the test container's wheel and test requirements too (launchers.TEST_INSTALL):
7.1 s under pip for the example and pytest, 0.2 s by uv.

This module decides which jobs are accelerated, what goes into their containers and
their build environment, and prepares the toolchain archive on the controller (the
containers reach no package index): ``<cache>/toolchains/<id>-<host arch>.tar.gz``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from wheelfleet import native_userland, role_defaults

TOOLCHAIN = "ziglang"
TOOLCHAIN_VERSION = "0.17.1"
INSTALLER = "uv"
INSTALLER_VERSION = "0.13.9"
TOOLCHAIN_ID = f"{TOOLCHAIN}-{TOOLCHAIN_VERSION}+{INSTALLER}-{INSTALLER_VERSION}"
"""What an accelerated job's settings hash and manifest entry name: the compiler and the
installer of its isolated build environment."""

TOOLCHAIN_WHEELS: dict[str, dict[str, tuple[str, str]]] = {
    "x86_64": {
        TOOLCHAIN: (
            "manylinux_2_12_x86_64",
            "ea6cc5d87b033cf0aedfbc8f9549a908cae6c50ac31f1698188fa48a74524b54",
        ),
        # The musl build: a static binary, which runs in any container of any glibc.
        INSTALLER: (
            "musllinux_1_1_x86_64",
            "2c45530751517d6c3bbc69a19473f6effe47cce047bede01ffd8af7ea7b36b25",
        ),
    },
}
"""Per host architecture and project: the platform tag pip downloads the wheel for, and its
sha256 (a tool put into every build is pinned, not taken on trust)."""

INSTALL_DIR = "/opt/wheelfleet-toolchain"
ARCHIVE_TOP = INSTALL_DIR.rsplit("/", 1)[1]
INSTALLER_DIR = f"{INSTALL_DIR}/installer"
"""uv alone in a directory, so that putting it on PATH puts no compiler there."""
"""The archive's single top directory; unpacked into ``/opt``."""

TARGETS: dict[str, str] = {
    "aarch64": "aarch64-linux-gnu",
    "ppc64le": "powerpc64le-linux-gnu",
    "s390x": "s390x-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
}
"""Emulated architectures the accelerator builds for: clang's target triple, which is
also the Debian multiarch name of the image's GCC installation (/usr/lib/gcc/<triple>).
clang's default CPU for each is no newer than Debian's baseline. aarch64 is the one
tested; armv7l is left out (clang's default ARM architecture for the triple is older
than armhf's v7, and the tests do not cover it)."""

MODES = ("accelerated", "fallback", "emulated", "native")
REPORTED_MODES = {
    "native": "native",
    "emulated": "emulated",
    "accelerated": "emulated, accelerated",
    "fallback": "emulated, accelerated build failed, rebuilt plain",
}
"""How the release report names each mode."""
"""A job's build mode as its manifest entry records it: ``fallback`` is an accelerated
build that failed and was rebuilt under plain emulation."""


def reported_mode(entry: Mapping[str, Any]) -> str:
    """How the release report names a manifest entry's mode: REPORTED_MODES, with
    ``host's Python`` when the host's userland built the wheel."""
    named = REPORTED_MODES.get(str(entry.get("mode")))
    if named is None:
        return "emulated" if entry.get("emulated") else "native"
    if str(entry.get("toolchain_mode") or "").endswith(f"+{native_userland.MODE}"):
        named += ", host's Python"
    return named


_CLANG_FLAGS = (
    "--sysroot=/",
    f"-resource-dir {INSTALL_DIR}/lib",
    "-fuse-ld=lld",
    f"--ld-path={INSTALL_DIR}/bin/ld.lld",
    # gcc ignores unused link flags at compile time; clang warns, which -Werror makes fatal.
    "-Qunused-arguments",
)


class ToolchainError(RuntimeError):
    """The toolchain cannot be prepared; the message says why."""


COMPILER_VARIABLES = ("CC", "CXX", "LDSHARED", "LDCXXSHARED")
"""The variables the accelerator sets; a project that sets one chose its own compiler."""


def requested(
    arch: str, project_setting: Any, role_setting: Any, project_variables: Iterable[str] = ()
) -> str | None:
    """The toolchain a job of ``arch`` asks for (``TOOLCHAIN_ID``), or None: the project's
    ``accelerate`` or the role's ``wheel_build_accelerate`` is false, the architecture is
    not a target, or the project's environment names its own compiler (one of
    ``COMPILER_VARIABLES`` among ``project_variables``): the accelerator would not compile
    that build, so the job is not called accelerated. Whether the job is emulated is the
    host's business (:func:`for_job`)."""
    if (
        arch not in TARGETS
        or project_setting is False
        or not role_defaults.switched_on(role_setting)
    ):
        return None
    if own_compiler(project_variables):
        return None
    return TOOLCHAIN_ID


def own_compiler(project_variables: Iterable[str]) -> list[str]:
    """The compiler variables a project's environment sets itself, in COMPILER_VARIABLES order."""
    names = set(project_variables)
    return [name for name in COMPILER_VARIABLES if name in names]


def for_job(
    arch: str,
    toolchain: str | None,
    emulated: bool,
    host_arch: str,
    settings: Mapping[str, Any] | None = None,
    wheelhouse: str | None = None,
) -> dict[str, Any] | None:
    """What the host's engine needs to accelerate a job, or None when it runs without:
    ``toolchain``, ``key`` (its archive's), ``target``, ``dir``, ``files`` (wrapper scripts
    by path under ``dir``), ``env`` (added to the build steps' environment),
    ``installer`` (``uv``, or why pip installs the build environment), ``test_installer``
    (the same for the test install) and ``installer_dir`` (where uv is in a container).
    ``wheelhouse`` is where the container holds the build requirements (none: pip
    installs them)."""
    if not toolchain or not emulated or arch not in TARGETS or host_arch not in TOOLCHAIN_WHEELS:
        return None
    target = TARGETS[arch]
    env = build_environment(toolchain)
    no_wheelhouse = "no wheelhouse in the container"
    why_pip = pip_needed(settings or {}) if wheelhouse else no_wheelhouse
    why_pip_in_test = test_pip_needed(settings or {}) if wheelhouse else no_wheelhouse
    if why_pip is None and wheelhouse:
        env.update(installer_environment(wheelhouse))
    return {
        "toolchain": toolchain,
        "key": archive_key(toolchain, host_arch),
        "target": target,
        "dir": INSTALL_DIR,
        "files": wrapper_files(target),
        "env": env,
        "installer": INSTALLER if why_pip is None else f"pip: {why_pip}",
        "installer_dir": INSTALLER_DIR,
        "test_installer": INSTALLER if why_pip_in_test is None else f"pip: {why_pip_in_test}",
    }


PIP_SETTINGS_PREFIXES = ("PIP_", "UV_")
"""Variables that configure an installer: a project that sets one gets pip, which it
configured (uv reads no PIP_ variable, and its own UV_ ones are wheelfleet's here)."""


def pip_needed(settings: Mapping[str, Any]) -> str | None:
    """Why a job's isolated build environment must be installed by pip, or None when uv
    can install it: the frontend is ``build`` without an ``--installer`` of its own, the
    build requirements come from the wheelhouse wheelfleet copied in (no index: nothing
    of pip's index configuration to translate), and the project's environment sets no
    installer variable."""
    if settings.get("frontend", "build") != "build":
        return f"the frontend is {settings.get('frontend')}"
    if any(str(arg).startswith("--installer") for arg in settings.get("frontend_args") or []):
        return "the frontend's arguments choose the installer"
    if settings.get("requirements_source", "wheelhouse") != "wheelhouse":
        return "the build requirements come from an index"
    return _configures_pip(settings, ("environment",))


def test_pip_needed(settings: Mapping[str, Any]) -> str | None:
    """Why a job's test requirements must be installed by pip, or None when uv can install
    them (launchers.TEST_INSTALL): they come from the wheelhouse, and neither the
    project's environment nor its test-environment sets an installer variable."""
    if settings.get("requirements_source", "wheelhouse") != "wheelhouse":
        return "the test requirements come from an index"
    return _configures_pip(settings, ("environment", "test_environment"))


def _configures_pip(settings: Mapping[str, Any], environments: Iterable[str]) -> str | None:
    names = [n for key in environments for n in environment_names(str(settings.get(key) or ""))]
    names += list(settings.get("environment_pass") or [])
    configured = sorted({n for n in names if n.upper().startswith(PIP_SETTINGS_PREFIXES)})
    if configured:
        return f"the project's environment sets {', '.join(configured)}"
    return None


_EXPORT_RE = re.compile(r"^export ([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)


def environment_names(shell_env: str) -> list[str]:
    """The names the job's ``export`` lines (environment.to_shell) assign."""
    return _EXPORT_RE.findall(shell_env)


def installer_environment(wheelhouse: str) -> dict[str, str]:
    """uv's settings for the isolated build environment: the wheelhouse in the container,
    never the network, no configuration file of the image's. ``WHEELFLEET_UV`` tells the
    frontend launcher (launchers.STABLE_NAMES) to pass ``--installer uv`` to build."""
    return {
        "WHEELFLEET_UV": f"{INSTALLER_DIR}/uv",
        "UV_NO_INDEX": "1",
        "UV_FIND_LINKS": wheelhouse,
        "UV_OFFLINE": "1",
        "UV_NO_CONFIG": "1",
        "UV_LINK_MODE": "copy",
        "UV_NO_PROGRESS": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }


def archive_key(toolchain: str, host_arch: str) -> str:
    return f"{toolchain}-{host_arch}"


def wrapper_files(target: str) -> dict[str, str]:
    """The compiler and linker commands, as shell scripts under ``INSTALL_DIR``."""
    flags = " ".join(_CLANG_FLAGS)
    zig = f"{INSTALL_DIR}/zig"

    def script(command: str) -> str:
        return f'#!/bin/sh\n# wheelfleet accelerator ({target})\nexec {command} "$@"\n'

    return {
        "bin/cc": script(f"{zig} clang --target={target} {flags}"),
        "bin/c++": script(f"{zig} clang --driver-mode=g++ --target={target} {flags}"),
        "bin/ld.lld": script(f"{zig} ld.lld"),
    }


def build_environment(toolchain: str) -> dict[str, str]:
    """The build's compilers: setuptools reads CC, CXX, LDSHARED and LDCXXSHARED; CMake
    and meson read CC and CXX. The project's own ``environment`` is applied after these."""
    return {
        "CC": f"{INSTALL_DIR}/bin/cc",
        "CXX": f"{INSTALL_DIR}/bin/c++",
        "LDSHARED": f"{INSTALL_DIR}/bin/cc -shared",
        "LDCXXSHARED": f"{INSTALL_DIR}/bin/c++ -shared",
        "WHEELFLEET_ACCELERATOR": toolchain,
    }


def wanted_archives(jobs: list[Mapping[str, Any]]) -> list[str]:
    """The toolchain archive keys the jobs to build need, in order, each once."""
    keys = [
        (job.get("accelerator") or {}).get("key")
        for job in jobs
        if job.get("status", "build") == "build"
    ]
    return list(dict.fromkeys(key for key in keys if key))


def build_mode(emulated: bool, accelerator: Mapping[str, Any] | None) -> str:
    """The manifest's ``mode`` of a job from its engine result's ``accelerator``."""
    if not emulated:
        return "native"
    mode = (accelerator or {}).get("mode")
    return mode if mode in ("accelerated", "fallback") else "emulated"


def accelerated_toolchain(record: Mapping[str, Any] | None) -> dict[str, str]:
    """The manifest's ``toolchain_mode`` of a job whose wheel the accelerator compiled
    (``accelerated:ziglang-0.17.1``, with ``+host-userland`` when the host's interpreter
    ran its build); nothing for other jobs (``native`` or ``emulated``,
    fallbacks included, stay as the plan says)."""
    if (record or {}).get("mode") != "accelerated":
        return {}
    mode = f"accelerated:{(record or {}).get('toolchain')}"
    if ((record or {}).get("userland") or {}).get("mode") == "native":
        mode += f"+{native_userland.MODE}"
    return {"toolchain_mode": mode}


def _installers(record: Mapping[str, Any]) -> str:
    """`` (build and test environments installed by uv)`` and the like, from the record."""
    build = str(record.get("installer") or "").split(":")[0]
    test = str(record.get("test_installer") or "").split(":")[0]
    if build and build == test:
        return f" (build and test environments installed by {build})"
    parts = [f"build environment installed by {build}"] if build else []
    parts += [f"test environment by {test}"] if test else []
    return f" ({', '.join(parts)})" if parts else ""


def describe(emulated: bool, record: Mapping[str, Any] | None) -> str:
    """How a built job ran, for the build summary: ``native``, ``emulated``, ``emulated,
    accelerated by ziglang-0.17.1``, or the fallback with the failed step and why."""
    mode = build_mode(emulated, record)
    if mode in ("native", "emulated"):
        return mode
    toolchain = (record or {}).get("toolchain")
    if mode == "accelerated":
        by = _installers(record or {})
        return f"emulated, accelerated by {toolchain}{native_userland.describe(record)}{by}"
    reason = str((record or {}).get("reason") or "").strip().splitlines()
    why = f": {reason[0][:200]}" if reason else ""
    return (
        f"emulated; the build accelerated by {toolchain} failed at"
        f" {(record or {}).get('step') or 'build'}{why}; rebuilt under plain emulation"
    )


# ------------------------------------------------------------------- the controller


def archive_path(cache_dir: str | os.PathLike[str], key: str) -> Path:
    return Path(cache_dir).expanduser() / "toolchains" / f"{key}.tar.gz"


def ensure(
    key: str,
    cache_dir: str | os.PathLike[str],
    *,
    python: str = sys.executable,
    pip_args: tuple[str, ...] | list[str] = (),
    download: bool = True,
    timeout: float = 1800,
) -> dict[str, Any]:
    """The toolchain archive of ``key`` (``<toolchain>-<host arch>``) in the cache, downloaded
    and packed once: ``{"key", "archive", "changed", "seconds"}``."""
    toolchain, _, host_arch = key.rpartition("-")
    if toolchain != TOOLCHAIN_ID or host_arch not in TOOLCHAIN_WHEELS:
        raise ToolchainError(
            f"no accelerator toolchain {key!r}: this wheelfleet ships {TOOLCHAIN_ID}"
        )
    started = time.monotonic()
    path = archive_path(cache_dir, key)
    result = {"key": key, "archive": str(path), "changed": False}
    if path.is_file() or not download:
        return {**result, "seconds": round(time.monotonic() - started, 3)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_suffix(".lock")):
        if not path.is_file():
            with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
                wheels = {
                    project: _download(
                        host_arch, project, Path(scratch), python, list(pip_args), timeout
                    )
                    for project in (TOOLCHAIN, INSTALLER)
                }
                partial = Path(scratch) / path.name
                pack(wheels, partial)
                partial.replace(path)
            result["changed"] = True
    return {**result, "seconds": round(time.monotonic() - started, 3)}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _download(
    host_arch: str, project: str, directory: Path, python: str, pip_args: list[str], timeout: float
) -> Path:
    version = {TOOLCHAIN: TOOLCHAIN_VERSION, INSTALLER: INSTALLER_VERSION}[project]
    platform, sha256 = TOOLCHAIN_WHEELS[host_arch][project]
    target = directory / project
    argv = [python, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps"]
    argv += ["--only-binary=:all:", "--platform", platform, "--python-version", "3.11"]
    argv += [*pip_args, "-d", str(target), f"{project}=={version}"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ToolchainError(
            f"pip download of {project} {version} did not finish in {timeout:.0f} s"
        ) from None
    wheels = sorted(target.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        raise ToolchainError(
            f"cannot download {project} {version} for {host_arch} with pip:\n{done.stderr[-2000:]}"
        )
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    if digest != sha256:
        raise ToolchainError(
            f"{wheels[0].name} has sha256 {digest}, not the pinned {sha256}: refused"
        )
    return wheels[0]


def _wanted(project: str, name: str) -> tuple[str, int] | None:
    """Where a wheel member goes under the archive's top directory, and its mode; None for
    members a build does not use. From ziglang: ``zig``, clang's builtin headers
    (``lib/include``) and the licence; from uv: the ``uv`` binary and its licences."""
    if project == TOOLCHAIN:
        inner = name.removeprefix("ziglang/")
        if inner == name:
            return None
        if inner == "zig":
            return inner, 0o755
        if inner == "LICENSE" or inner.startswith("lib/include/"):
            return inner, 0o644
        return None
    if name.endswith(".data/scripts/uv"):
        return "installer/uv", 0o755
    if ".dist-info/licenses/" in name:
        return f"installer/{name.rsplit('/', 1)[1]}", 0o644
    return None


def pack(wheels: Mapping[str, Path], dest: Path) -> None:
    """The parts of the toolchain's wheels a build uses (:func:`_wanted`), under
    ``wheelfleet-toolchain/``."""
    with tarfile.open(dest, "w:gz", compresslevel=1) as tar:
        for project, wheel in wheels.items():
            with zipfile.ZipFile(wheel) as archive:
                for info in archive.infolist():
                    place = None if info.is_dir() else _wanted(project, info.filename)
                    if place is None:
                        continue
                    member = tarfile.TarInfo(f"{ARCHIVE_TOP}/{place[0]}")
                    member.size, member.mode, member.mtime = info.file_size, place[1], 0
                    with archive.open(info) as source:
                        tar.addfile(member, source)
    if not dest.is_file():
        raise ToolchainError(
            f"packing {', '.join(w.name for w in wheels.values())} left no archive"
        )
