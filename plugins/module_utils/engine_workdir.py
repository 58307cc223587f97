# Copyright: wheelfleet developers
# Apache License 2.0
"""The names of the build engine's inputs in its work directory on a build host: the
controller's launch (plugins/action/wheel_build_engine.py) puts them there and the engine
(build_engine.py) reads them, so both take the names from here."""

from __future__ import annotations

SOURCE_ARCHIVE = "source.tar.gz"


def requirements_archive(key: str) -> str:
    """The tar of the wheels one requirements key (architecture, Python, glibc) needs."""
    return f"requirements-{key}.tar"


def toolchain_archive(key: str) -> str:
    """The accelerator's toolchain (a .tar.gz) of one key (toolchain and host architecture)."""
    return f"toolchain-{key}.tar.gz"
