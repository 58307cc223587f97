"""Which wheel file names a job may put into the wheelhouse.

A wheel's name comes back from its build container, where the project's own
code ran as root: it is untrusted. It becomes a path in the controller's
wheelhouse, so a name like ``SHA256SUMS``, ``../x.whl`` or another project's
wheel would let one build overwrite what others published. The controller
accepts only ``<project>-<version>[-<build>]-<python>-<abi>-<platform>.whl``
where the project is the job's (normalized), the Python and ABI tags are the
job's interpreter's (or the stable ABI of an older CPython), and every
platform tag is a Linux tag of the job's architecture.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

# PEP 427 file name components; none of them may hold "/", "\" or "..".
_COMPONENT = re.compile(r"^[A-Za-z0-9_.+!]+$")
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?$")
_BUILD = re.compile(r"^\d[A-Za-z0-9_]*$")
_PLATFORM = re.compile(
    r"^(?:linux|manylinux1|manylinux2010|manylinux2014|(?:many|musl)linux_\d+_\d+)_(?P<arch>.+)$"
)
_CPYTHON = re.compile(r"^cp(?P<major>\d)(?P<minor>\d+)(?P<flags>[a-z]*)$")


class WheelNameError(ValueError):
    """A wheel file name that the job may not publish; the message says what was expected."""


@dataclass(frozen=True)
class WheelName:
    """The parts of an accepted wheel file name."""

    file: str
    project: str
    version: str
    python: str
    abi: str
    platforms: tuple[str, ...]


def normalize(name: str) -> str:
    """A distribution name as a wheel file name spells it (PEP 503, with underscores)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def expected(job: Mapping[str, Any], allow_pure: bool = False) -> str:
    """The accepted form of a job's wheel file names, for error messages."""
    python, abi = _interpreter_tags(str(job["python_tag"]))
    version = job.get("version") or "<version>"
    shape = (
        f"{normalize(str(job['project']))}-{version}-{python}-{abi}-"
        f"<manylinux, musllinux or linux tags of {job['arch']}>.whl"
    )
    if allow_pure:
        shape += f" (or {normalize(str(job['project']))}-{version}-py3-none-any.whl)"
    return shape


def _interpreter_tags(python_tag: str) -> tuple[str, str]:
    """The wheel's Python and ABI tags of an ``/opt/python`` directory (``cp313-cp313t``)."""
    python, _, abi = python_tag.partition("-")
    return python, abi or python


def check(file: str, job: Mapping[str, Any], *, allow_pure: bool = False) -> WheelName:
    """``file`` parsed, when the job may publish it; WheelNameError otherwise.

    ``job`` is the planned job (``project``, ``version``, ``python_tag``, ``arch``).
    ``allow_pure`` accepts a pure-Python ``py3-none-any`` wheel of the project too
    (``wheel_build_repair_pure: copy``).
    """
    try:
        return _parse(file, job, allow_pure)
    except WheelNameError as exc:
        raise WheelNameError(
            f"the build returned a wheel named {file!r}, which the job "
            f"{job.get('id') or job['project']} may not publish: {exc}; expected "
            f"{expected(job, allow_pure)}. Nothing of this job was published."
        ) from None


def _parse(file: str, job: Mapping[str, Any], allow_pure: bool) -> WheelName:
    if not isinstance(file, str) or not file.endswith(".whl"):
        raise WheelNameError("it is not a .whl file")
    if "/" in file or "\\" in file or "\0" in file or file.startswith("."):
        raise WheelNameError("it is not a plain file name")
    parts = file[: -len(".whl")].split("-")
    if len(parts) not in (5, 6) or not all(_COMPONENT.match(part) for part in parts):
        raise WheelNameError(
            "it does not have the five or six dash-separated parts of a wheel name"
        )
    name, version = parts[0], parts[1]
    python, abi, platform = parts[-3:]
    if len(parts) == 6 and not _BUILD.match(parts[2]):
        raise WheelNameError(f"its build tag {parts[2]!r} does not start with a digit")
    project = normalize(str(job["project"]))
    if not _NAME.match(name) or normalize(name) != project:
        raise WheelNameError(f"it is a wheel of {name!r}, not of the project {project!r}")
    try:
        parsed_version = Version(version)
    except InvalidVersion:
        raise WheelNameError(f"its version {version!r} is not a PEP 440 version") from None
    if job.get("version"):
        try:
            wanted = Version(str(job["version"]))
        except InvalidVersion:
            wanted = None
        if wanted is not None and parsed_version != wanted:
            raise WheelNameError(f"its version is {version}, the project's is {job['version']}")
    platforms = tuple(platform.split("."))
    if allow_pure and (python, abi, platform) == ("py3", "none", "any"):
        return WheelName(file, name, version, python, abi, platforms)
    _check_python(python, abi, str(job["python_tag"]))
    arch = str(job["arch"])
    for tag in platforms:
        match = _PLATFORM.match(tag)
        if not match:
            raise WheelNameError(f"its platform tag {tag!r} is not a Linux platform tag")
        if match["arch"] != arch:
            raise WheelNameError(f"its platform tag {tag!r} is not for the job's {arch}")
    return WheelName(file, name, version, python, abi, platforms)


def _check_python(python: str, abi: str, python_tag: str) -> None:
    """The wheel's Python and ABI tags must be the job interpreter's, or the stable ABI
    (``abi3``) of a CPython no newer than it."""
    own_python, own_abi = _interpreter_tags(python_tag)
    tags = python.split(".")
    if abi == own_abi and own_python in tags:
        return
    if abi == "abi3":
        own = _CPYTHON.match(own_python)
        found = [_CPYTHON.match(tag) for tag in tags]
        if own and all(found):
            limit = (int(own["major"]), int(own["minor"]))
            if all((int(m["major"]), int(m["minor"])) <= limit and not m["flags"] for m in found):
                return
    raise WheelNameError(
        f"its Python and ABI tags {python}-{abi} are not those of the job's {python_tag}"
    )
