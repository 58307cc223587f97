# Copyright: wheelfleet developers
# Apache License 2.0
"""What made a wheel's bytes, besides its source and image: the tools' versions.

auditwheel's and patchelf's versions are read once per build container
(auditwheel's as the repair found it); the build backend and its resolved
requirements are the file names of the requirements wheelhouse the controller
prepared for the job (a tar on this host), with the backend's own wheel picked
out by its distribution name.
"""

from __future__ import annotations

import re
import tarfile
from typing import Any

_VERSION = re.compile(r"^(\S+)\s+(\d[^\s]*)")
_PATCHELF = "patchelf --version 2>&1 | head -n 1"
_SCRIPT = f"auditwheel --version 2>&1 | head -n 1; {_PATCHELF}"
AUDITWHEEL_VERSION_FACT = "auditwheel_version"
"""The container fact a repair leaves: the auditwheel version it ran (wheel_files.HELPER)."""


def parse_versions(text: str) -> dict:
    """``{"auditwheel": "6.8.0", "patchelf": "0.18.0"}`` from the tools' first lines."""
    found = {}
    for line in text.splitlines():
        match = _VERSION.match(line.strip())
        if match and match.group(1) in ("auditwheel", "patchelf"):
            found[match.group(1)] = match.group(2)
    return found


def container_tools(container: Any) -> dict:
    """The versions of auditwheel and patchelf in a build container (one exec, cached in
    the container's facts); a tool that does not answer is missing from the result.
    auditwheel's comes from the repair when it recorded one: ``auditwheel --version``
    starts Python and imports auditwheel, a second under emulation."""
    if "tool_versions" not in container.facts:
        known = container.facts.get(AUDITWHEEL_VERSION_FACT)
        _, out, _ = container.run(["sh", "-c", _PATCHELF if known else _SCRIPT])
        versions = parse_versions(out)
        if known:
            versions["auditwheel"] = str(known)
        container.facts["tool_versions"] = versions
    return dict(container.facts["tool_versions"])


def requirement_wheels(tar_path: str) -> list:
    """The wheel file names of a requirements wheelhouse tar, sorted."""
    try:
        with tarfile.open(tar_path) as archive:
            names = [name.rsplit("/", 1)[-1] for name in archive.getnames()]
    except (OSError, tarfile.TarError):
        return []
    return sorted(name for name in names if name.endswith(".whl"))


def _distribution(wheel: str) -> str:
    return re.sub(r"[-_.]+", "_", wheel.split("-", 1)[0]).lower()


def backend_wheel(backend: str | None, wheels: list) -> str | None:
    """The requirement wheel that provides a build backend (``setuptools.build_meta`` ->
    ``setuptools-80.9.0-py3-none-any.whl``), when its top-level module names it."""
    if not backend:
        return None
    module = re.sub(r"[-_.]+", "_", backend.split(":", 1)[0].split(".", 1)[0]).lower()
    found = [wheel for wheel in wheels if _distribution(wheel) == module]
    return found[0] if found else None
