"""Build identifiers: one Python interpreter on one architecture, as cibuildwheel names them.

An identifier such as ``cp311-manylinux_aarch64`` or ``cp313t-manylinux_x86_64``
is what ``build``/``skip``/``test-skip`` selectors and ``overrides`` tables match
against, and what one wheelfleet job builds. Keeping cibuildwheel's spelling
means a project's existing selectors select the same builds here.

cibuildwheel also has ``musllinux_*`` identifiers (and macOS, Windows, PyPy,
GraalPy, Pyodide...). wheelfleet builds CPython manylinux wheels only, so it
never produces those identifiers: a selector such as ``*-musllinux*`` is valid
and simply matches nothing here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from wheelfleet.architectures import ARCHITECTURES, resolve

PLATFORM = "manylinux"
"""The only platform family wheelfleet builds (no musllinux, macOS, Windows...)."""

KNOWN_PYTHON_TAGS: tuple[str, ...] = (
    "cp39",
    "cp310",
    "cp311",
    "cp312",
    "cp313",
    "cp313t",
    "cp314",
    "cp314t",
    "cp315",
    "cp315t",
)
"""CPython tags wheelfleet selects from, oldest first; ``t`` marks a free-threaded build (PEP 703).

These are cibuildwheel 4.3's Linux CPython identifiers (cp39 to cp315t), plus
cp313t, which cibuildwheel 4 dropped and wheelfleet selects only when the legacy
``cpython-freethreading`` group is enabled. Selection runs over these only: a
config that selects one no image has is reported as unavailable, not forgotten,
and an interpreter an image has but cibuildwheel no longer builds (cp38) is never
selected, so a plan selects what ``cibuildwheel --print-build-identifiers`` does.
"""

_PYTHON_TAG_RE = re.compile(r"^cp(?P<major>3)(?P<minor>\d{1,2})(?P<threading>t?)$")
_IDENTIFIER_RE = re.compile(r"^(?P<python>[^-]+)-(?P<platform>[a-z]+)_(?P<arch>[a-z0-9_]+)$")


class IdentifierError(ValueError):
    """A Python tag or build identifier wheelfleet cannot build; the message says why."""


def check_python_tag(tag: str) -> str:
    """Return ``tag`` if it names a CPython 3 interpreter (``cp312``, ``cp313t``), else raise."""
    if not _PYTHON_TAG_RE.match(tag):
        raise IdentifierError(
            f"{tag!r} is not a CPython tag wheelfleet can build (expected cp3X or cp3Xt,"
            f" e.g. {', '.join(KNOWN_PYTHON_TAGS)})"
        )
    return tag


def python_version(tag: str) -> tuple[int, int]:
    """The (major, minor) version a tag builds for: ``cp313t`` -> (3, 13)."""
    match = _PYTHON_TAG_RE.match(check_python_tag(tag))
    assert match is not None  # checked above
    return int(match["major"]), int(match["minor"])


def is_free_threaded(tag: str) -> bool:
    """Whether the tag names a free-threaded (no-GIL) interpreter, such as ``cp314t``."""
    return check_python_tag(tag).endswith("t")


def python_sort_key(tag: str) -> tuple[int, int, bool]:
    """Order tags by version, the default build before the free-threaded one."""
    return (*python_version(tag), is_free_threaded(tag))


@dataclass(frozen=True)
class Identifier:
    """One build: a CPython tag on a manylinux architecture."""

    python: str
    """The CPython tag, such as ``cp312`` or ``cp313t``."""
    arch: str
    """The canonical architecture name from wheelfleet.architectures (``aarch64``)."""

    def __post_init__(self) -> None:
        check_python_tag(self.python)
        if self.arch not in ARCHITECTURES:
            raise IdentifierError(
                f"{self.arch!r} is not a canonical architecture; valid: {', '.join(ARCHITECTURES)}"
            )

    @property
    def platform(self) -> str:
        """The cibuildwheel platform part: ``manylinux_aarch64``."""
        return f"{PLATFORM}_{self.arch}"

    @property
    def interpreter(self) -> str:
        """The interpreter's directory under ``/opt/python`` in a manylinux image.

        ``cp312`` -> ``cp312-cp312``; the free-threaded ``cp313t`` -> ``cp313-cp313t``.
        """
        return f"{self.python.removesuffix('t')}-{self.python}"

    @property
    def sort_key(self) -> tuple[int, tuple[int, int, bool]]:
        """Order by architecture (the table's order), then by Python version."""
        return list(ARCHITECTURES).index(self.arch), python_sort_key(self.python)

    def __str__(self) -> str:
        return f"{self.python}-{self.platform}"

    @classmethod
    def parse(cls, text: str) -> Identifier:
        """Parse ``cp311-manylinux_x86_64``; musllinux and other platforms are refused."""
        match = _IDENTIFIER_RE.match(text.strip())
        if not match:
            raise IdentifierError(
                f"{text!r} is not a build identifier (expected e.g. cp312-manylinux_x86_64)"
            )
        if match["platform"] != PLATFORM:
            raise IdentifierError(
                f"{text!r}: wheelfleet builds manylinux wheels only, not {match['platform']}"
            )
        return cls(check_python_tag(match["python"]), resolve(match["arch"]).name)


def build_identifiers(pythons: Iterable[str], archs: Iterable[str]) -> list[Identifier]:
    """Every (python, arch) pair, without duplicates, ordered by architecture then version."""
    unique = {
        Identifier(check_python_tag(python), resolve(arch).name)
        for python in pythons
        for arch in archs
    }
    return sorted(unique, key=lambda identifier: identifier.sort_key)


def split_tag(tag: str) -> tuple[str, str]:
    """A Python tag in either spelling, as (CPython tag, interpreter directory).

    The planner and build identifiers say ``cp311``; an image's ``/opt/python``
    says ``cp311-cp311``. Both are accepted wherever a Python is named:
    ``cp311`` -> (cp311, cp311-cp311); ``cp313-cp313t`` -> (cp313t, cp313-cp313t).
    """
    text = str(tag).strip()
    short = text.split("-", 1)[1] if "-" in text else text
    check_python_tag(short)
    interpreter = Identifier(short, "x86_64").interpreter
    if "-" in text and text != interpreter:
        raise IdentifierError(
            f"{tag!r} is not an interpreter tag: expected {interpreter} (or {short})"
        )
    return short, interpreter
