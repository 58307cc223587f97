"""The host's own userland in an accelerated job's container: the build frontend, the
build backend and before-all's apt run natively instead of under QEMU.

The accelerator (wheelfleet.accelerator) makes the compiler native; the rest of an
emulated build is still Python under QEMU, which costs several times its native time.
The builder image of the same repository for the host's architecture has the same
interpreters and the same apt. Its root filesystem, exported once per image id on the
host, is mounted read-only at :data:`ROOT` in the emulated container. Two links put the
host's loader and libraries where host programs look for them (paths the target's
userland does not use), and the kernel runs those programs natively.

- **Build**: a venv of the host's interpreter (:data:`VENVS`) runs the frontend, with the
  target's sysconfig: ``_PYTHON_HOST_PLATFORM`` and ``_PYTHON_SYSCONFIGDATA_NAME`` name
  the target's platform and its ``_sysconfigdata`` module, which the host copies from the
  container into the exported root's standard library (uv queries interpreters without
  ``PYTHONPATH``). Extension suffix, headers (Debian's ``pyconfig.h`` picks the target's
  by the compiler's defines) and wheel tag are the target's; the compiler is the
  accelerator's. uv installs the isolated build environment for that interpreter.
- **before_all**: ``apt-get`` (and ``apt``, ``apt-cache``) on ``PATH`` run the host's apt
  for the target's Debian architecture on the container's own ``/etc/apt`` and dpkg
  database; dpkg and the maintainer scripts stay the container's.

This module plans it for a job and says what runs in the container; the build host's
engine (module_utils/native_userland) exports, mounts and checks it, and falls back to
the accelerated build when any of it fails.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from wheelfleet import role_defaults

ROOT = "/opt/wheelfleet-native"
"""Where the host-architecture image's root is mounted (read-only) in the container."""
VENVS = "/opt/wheelfleet-native-python"
"""Venvs of the host's interpreters, one per Python tag, made in the container."""
APT_DIR = "/opt/wheelfleet-native-apt"
"""The apt wrappers, put first on before_all's ``PATH``."""
APT_COMMANDS = ("apt-get", "apt", "apt-cache")
REPAIR_DIR = "/opt/wheelfleet-native-auditwheel"
"""The host image's auditwheel, its Python and patchelf, as commands for the repair."""
TOOLS_SITE = "/opt/wheelfleet/tools/lib/python3*/site-packages"
"""Where a wheelfleet builder image keeps auditwheel (its tools venv), in the root."""
UV_DIR = "/opt/wheelfleet-native-uv"
"""uv's wrapper, alone in its directory (the frontend launcher puts it first on PATH)."""
MARKER = ".wheelfleet-native-root"
"""A file at the top of an exported root; its text is the image id the root came from."""

HOSTS: dict[str, dict[str, str]] = {
    "x86_64": {"multiarch": "x86_64-linux-gnu", "loader": "/lib64/ld-linux-x86-64.so.2"},
}
"""Host architectures whose userland can run in a container of another architecture:
the Debian multiarch directory of its libraries and the loader path its programs name."""

TARGETS: dict[str, dict[str, str]] = {
    "aarch64": {"multiarch": "aarch64-linux-gnu", "dpkg": "arm64"},
    "ppc64le": {"multiarch": "powerpc64le-linux-gnu", "dpkg": "ppc64el"},
    "s390x": {"multiarch": "s390x-linux-gnu", "dpkg": "s390x"},
    "riscv64": {"multiarch": "riscv64-linux-gnu", "dpkg": "riscv64"},
}
"""The emulated architectures (as the accelerator's): their multiarch name and Debian
architecture."""

PROBE = (
    "import sys, sysconfig, build; "
    "print(sysconfig.get_config_var('EXT_SUFFIX')); print(sysconfig.get_platform())"
)
"""Run by the venv's interpreter with the target's sysconfig: the frontend imports, and
the extension suffix and platform are the target's."""


_CPYTHON = re.compile(r"^cp3(?P<minor>\d+)-cp3(?P=minor)(?P<flags>t?)$")
ENVIRONMENT_KEYS = ("_PYTHON_HOST_PLATFORM", "_PYTHON_SYSCONFIGDATA_NAME")


MODE = "host-userland"
"""How the settings hash and the manifest name an accelerated job with the host's
userland (``<toolchain>+host-userland``)."""


def requested(setting: Any) -> bool:
    """Whether the role's ``wheel_build_native_userland`` asks for it (None: yes)."""
    return role_defaults.switched_on(setting)


def for_job(
    *,
    arch: str,
    python_tag: str,
    host_arch: str,
    accelerator: Mapping[str, Any] | None,
    counterpart: str | None,
    counterpart_facts: Mapping[str, Any],
    counterpart_pythons: list[str],
    setting: Any = True,
) -> tuple[dict[str, Any] | None, str | None]:
    """The native userland of an accelerated job, or None and why it has none.

    ``counterpart`` is the builder image of the job's repository for the host's
    architecture (None: the job names its own image), ``counterpart_facts`` what the plan
    knows of it on the host (empty: the host lacks it), ``counterpart_pythons`` its
    interpreters. ``setting`` is the role's ``wheel_build_native_userland``."""
    if not accelerator:
        return None, None
    if not role_defaults.switched_on(setting):
        return None, "wheel_build_native_userland is false"
    if host_arch not in HOSTS or arch not in TARGETS:
        return None, f"no native userland of {host_arch} for {arch} jobs"
    if accelerator.get("installer") != "uv":
        installer = accelerator.get("installer")
        return None, f"its build environment is not installed by uv ({installer})"
    match = _CPYTHON.match(python_tag)
    if match is None or match["flags"]:
        return None, f"{python_tag} is not a CPython of the standard build"
    if counterpart is None:
        return None, "the job names its own image, which has no known host counterpart"
    if not counterpart_facts.get("id"):
        return None, f"{counterpart} is not on the host (playbooks/images.yml builds it)"
    if python_tag not in counterpart_pythons:
        return None, f"{counterpart} has no {python_tag}"
    version = f"3.{match['minor']}"
    target = TARGETS[arch]["multiarch"]
    plan: dict[str, Any] = {
        "image": counterpart,
        "image_id": counterpart_facts["id"],
        "host_arch": host_arch,
        "python": f"{VENVS}/{python_tag}/bin/python",
        "python_tag": python_tag,
        "python_version": version,
        "sysconfigdata": f"_sysconfigdata__linux_{target}",
        "stdlib": f"/usr/lib/python{version}",
        "ext_suffix": f".cpython-3{match['minor']}-{target}.so",
        "platform": f"linux-{arch}",
        "dpkg_arch": TARGETS[arch]["dpkg"],
        "env": {
            "_PYTHON_HOST_PLATFORM": f"linux-{arch}",
            "_PYTHON_SYSCONFIGDATA_NAME": f"_sysconfigdata__linux_{target}",
        },
        # What the build host's engine needs, all of it from here: it has no wheelfleet.
        "root": ROOT,
        "marker": MARKER,
        "apt_dir": APT_DIR,
        "probe": PROBE,
        "arch": arch,
        "repair": {"auditwheel": f"{REPAIR_DIR}/auditwheel", "python": f"{REPAIR_DIR}/python"},
        "uv": f"{UV_DIR}/uv",
        "installer_uv": f"{accelerator.get('installer_dir')}/uv",
        "sitecustomize": SITECUSTOMIZE,
    }
    plan["env"]["WHEELFLEET_UV"] = plan["uv"]
    plan["setup"] = setup_script(plan)
    return plan, None


def uv_wrapper(uv: str) -> str:
    """uv, run without the target's sysconfig: it queries the host's interpreter as it is
    and installs wheels for it (the target's sysconfig is the build backend's only)."""
    names = " ".join(ENVIRONMENT_KEYS)
    return (
        "#!/bin/sh\n"
        "# wheelfleet native userland: uv sees the host's interpreter as it is\n"
        f"unset {names}\n"
        f'exec {uv} "$@"\n'
    )


SITECUSTOMIZE = f"""\
# wheelfleet native userland: this interpreter builds for another architecture. Where
# _PYTHON_HOST_PLATFORM names it, os.uname() (and so platform.machine()) says the
# target's machine too, as sysconfig does: build scripts that choose flags or sources by
# the machine choose the target's.
import os

_target = os.environ.get("{ENVIRONMENT_KEYS[0]}", "")
if _target.startswith("linux-"):
    _host = os.uname()
    _machine = _target[len("linux-"):]

    def _target_uname(_host=_host, _machine=_machine):
        return os.uname_result((*_host[:4], _machine))

    os.uname = _target_uname
"""
"""The native root's ``sitecustomize`` (Debian's, an apport hook, is not needed there)."""


AUDITWHEEL_LAUNCHER = """\
import os, sys
# wheelfleet native userland: auditwheel takes the architecture of the wheels it repairs
# from the machine it runs on (platform.machine()), and has no option for it.
_host = os.uname()
os.uname = lambda: os.uname_result((*_host[:4], os.environ["WHEELFLEET_TARGET_MACHINE"]))
sys.argv[0] = "auditwheel"
from auditwheel.main import main
sys.exit(main())
"""


def repair_wrappers(arch: str) -> dict[str, str]:
    """The repair's commands under :data:`REPAIR_DIR`: ``python`` (the host image's
    interpreter with its auditwheel importable, for the repair's own file operations) and
    ``auditwheel`` (that auditwheel for ``arch`` wheels, with the host's patchelf first on
    ``PATH``)."""
    python = (
        "#!/bin/sh\n"
        "# wheelfleet native userland: the host image's Python, with its auditwheel\n"
        f"for site in {ROOT}{TOOLS_SITE}; do PYTHONPATH=$site; done\n"
        f'PYTHONPATH=$PYTHONPATH exec {ROOT}/usr/bin/python3 "$@"\n'
    )
    auditwheel = (
        "#!/bin/sh\n"
        f"# wheelfleet native userland: the host image's auditwheel, for {arch} wheels\n"
        f"PATH={REPAIR_DIR}:$PATH WHEELFLEET_TARGET_MACHINE={arch} \\\n"
        f'  exec {REPAIR_DIR}/python -c {shlex.quote(AUDITWHEEL_LAUNCHER)} "$@"\n'
    )
    return {f"{REPAIR_DIR}/python": python, f"{REPAIR_DIR}/auditwheel": auditwheel}


def apt_wrapper(dpkg_arch: str, command: str, host_arch: str = "x86_64") -> str:
    """A shell script that runs the host's ``command`` (apt-get, apt, apt-cache) for the
    container's Debian architecture, with the host's download methods; it says so on
    stderr (the job's log)."""
    options = [
        f"-o APT::Architecture={dpkg_arch}",
        f"-o APT::Architectures::={dpkg_arch}",
        f"-o Dir::Bin::Methods={ROOT}/usr/lib/apt/methods",
    ]
    gpgv = f"{ROOT}/usr/bin/gpgv"
    return (
        "#!/bin/sh\n"
        f"# wheelfleet native userland: the host's {command}, for {dpkg_arch}\n"
        f"echo 'wheelfleet: {command} of the {host_arch} image, run natively for {dpkg_arch}' >&2\n"
        # The signature check natively too, where the root has gpgv (forky's apt runs sqv,
        # the container's then).
        f'set --{"".join(f" {o}" for o in options)} "$@"\n'
        f'if [ -x {gpgv} ]; then set -- -o APT::Key::gpgvcommand={gpgv} "$@"; fi\n'
        f'exec {ROOT}/usr/bin/{command} "$@"\n'
    )


def setup_script(plan: Mapping[str, Any]) -> str:
    """The shell script that makes the mounted root usable in the container, run as root
    once per container and Python tag: the loader links (refused when the target's own
    userland has those paths), the apt wrappers, and the venv of the host's interpreter
    with the host image's site-packages (``build``) on a ``.pth``. It prints nothing and
    exits non-zero, with a message, when something is in the way."""
    host = HOSTS[plan["host_arch"]]
    libs = f"/usr/lib/{host['multiarch']}"
    loader = host["loader"]
    version = plan["python_version"]
    venv = plan["python"].rsplit("/bin/", 1)[0]
    site = f"{venv}/lib/python{version}/site-packages"
    native_site = f"{ROOT}/opt/python/{plan['python_tag']}/lib/python{version}/site-packages"
    q = shlex.quote
    lines = [
        "set -e",
        f"test -f {q(ROOT + '/' + MARKER)} || {{ echo 'no exported root at {ROOT}' >&2; exit 3; }}",
        # The host's paths must be free in the target's userland, or be our own links.
        f"if [ -e {q(libs)} ] && [ ! -L {q(libs)} ]; then"
        f" echo '{libs} is the image'\"'\"'s own' >&2; exit 3; fi",
        f"if [ -e {q(loader)} ] && [ ! -L {q(loader)} ]; then"
        f" echo '{loader} is the image'\"'\"'s own' >&2; exit 3; fi",
        f"mkdir -p {q(loader.rsplit('/', 1)[0])} {q(APT_DIR)} {q(venv + '/bin')} {q(site)}",
        f"ln -sfn {q(ROOT + libs)} {q(libs)}",
        f"ln -sf {q(ROOT + libs + '/' + loader.rsplit('/', 1)[1])} {q(loader)}",
        f"ln -sf {q(f'{ROOT}/usr/bin/python{version}')} {q(venv + '/bin/python')}",
        f"printf 'home = %s\\ninclude-system-site-packages = false\\nversion = %s\\n'"
        f" {q(ROOT + '/usr/bin')} {q(version)} > {q(venv + '/pyvenv.cfg')}",
        f"echo {q(native_site)} > {q(site + '/wheelfleet-native.pth')}",
    ]
    scripts = {
        f"{APT_DIR}/{command}": apt_wrapper(plan["dpkg_arch"], command, plan["host_arch"])
        for command in APT_COMMANDS
    }
    scripts[plan["uv"]] = uv_wrapper(plan["installer_uv"])
    scripts.update(repair_wrappers(plan["arch"]))
    lines.append(f"mkdir -p {q(UV_DIR)} {q(REPAIR_DIR)}")
    # The host image's patchelf (wheelfleet's images keep it in /usr/local/bin).
    patchelf = [f"{ROOT}/usr/local/bin/patchelf", f"{ROOT}/usr/bin/patchelf"]
    lines.append(
        f"for p in {' '.join(q(p) for p in patchelf)}; do"
        f' if [ -x "$p" ]; then ln -sf "$p" {q(REPAIR_DIR + "/patchelf")}; break; fi; done'
    )
    for path, text in scripts.items():
        lines.append(f"printf '%s' {q(text)} > {q(path)}")
        lines.append(f"chmod 755 {q(path)}")
    return "\n".join(lines) + "\n"


def describe(record: Mapping[str, Any] | None) -> str:
    """`` with the x86_64 image's Python and apt``, or after a native userland failure
    ``; the host's Python failed at build (...), the compiler alone was native``;
    nothing when the job had no native userland."""
    userland = (record or {}).get("userland") or {}
    if userland.get("mode") == "native":
        return f" with the {userland.get('host_arch')} image's Python and apt"
    if userland.get("mode") == "fallback":
        headline = error_line(str(userland.get("reason") or ""))
        why = f" ({headline[:200]})" if headline else ""
        return (
            f"; the build with the {userland.get('host_arch')} image's Python failed at"
            f" {userland.get('step') or 'build'}{why}, rebuilt with the compiler alone native"
        )
    return ""


def error_line(text: str) -> str:
    """The line of a failure's log tail that says what went wrong: the last that names an
    error (a traceback's last line, a compiler's ``error:``), else the first."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    named = [line for line in lines if "error" in line.lower() and not line.startswith("===")]
    found = [line for line in named if not line.startswith(("ERROR Backend", "TIP "))]
    return (found or named or lines or [""])[-1 if (found or named) else 0]
