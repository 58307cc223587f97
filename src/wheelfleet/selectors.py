"""Which build identifiers a project asks for: cibuildwheel's ``build``/``skip`` selectors.

A selector is a list of shell-style patterns (``fnmatch``, matched case-sensitively)
with bash-like brace expansion, so ``cp3{11,12}-*_{aarch64,x86_64}`` and
``cp3{10..13}-*`` work as they do under cibuildwheel. Projects write these
patterns once for cibuildwheel; matching them the same way here is what makes a
wheelfleet plan select the same builds.

``BuildSelection`` adds the other filters cibuildwheel applies before the
patterns: the project's ``requires-python`` and the ``enable`` groups that opt
in to builds left out by default (the free-threaded CPython 3.13).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from wheelfleet.identifiers import Identifier, is_free_threaded, python_version

_SEQUENCE_RE = re.compile(r"^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$")
_CHAR_SEQUENCE_RE = re.compile(r"^([A-Za-z])\.\.([A-Za-z])$")
_ESCAPED_RE = re.compile(r"\\([{},\\])")


# --------------------------------------------------------------------------- brace expansion


def _sequence(body: str) -> list[str] | None:
    """Expand ``1..3``, ``08..10``, ``1..9..2`` or ``a..c``; None if ``body`` is not one."""
    match = _SEQUENCE_RE.match(body)
    if match:
        first, last = int(match[1]), int(match[2])
        step = abs(int(match[3] or 1)) or 1
        padded = any(len(s.lstrip("-")) > 1 and s.lstrip("-")[0] == "0" for s in match.groups()[:2])
        width = max(len(match[1]), len(match[2])) if padded else 0
        numbers = range(first, last + 1, step) if first <= last else range(first, last - 1, -step)
        return [str(number).zfill(width) for number in numbers]
    match = _CHAR_SEQUENCE_RE.match(body)
    if match:
        first, last = ord(match[1]), ord(match[2])
        codes = range(first, last + 1) if first <= last else range(first, last - 1, -1)
        return [chr(code) for code in codes]
    return None


def _find_group(text: str, start: int) -> tuple[int, int, list[str]] | None:
    """The first expandable ``{...}`` at or after ``start``: (open, close, alternatives)."""
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth, cursor, commas = 0, index, []
            while cursor < len(text):
                inner = text[cursor]
                if inner == "\\":
                    cursor += 2
                    continue
                if inner == "{":
                    depth += 1
                elif inner == "}":
                    depth -= 1
                    if depth == 0:
                        break
                elif inner == "," and depth == 1:
                    commas.append(cursor)
                cursor += 1
            if cursor < len(text):  # found the matching brace
                body = text[index + 1 : cursor]
                if commas:
                    bounds = [index, *commas, cursor]
                    return index, cursor, [text[a + 1 : b] for a, b in itertools.pairwise(bounds)]
                sequence = _sequence(body)
                if sequence is not None:
                    return index, cursor, sequence
            # An unbalanced or plain ``{x}`` is literal; groups nested in it may still expand.
        index += 1
    return None


def _expand(text: str) -> list[str]:
    group = _find_group(text, 0)
    if group is None:
        return [text]
    open_at, close_at, alternatives = group
    prefix, tails = text[:open_at], _expand(text[close_at + 1 :])
    return [
        prefix + head + tail
        for alternative in alternatives
        for head in _expand(alternative)
        for tail in tails
    ]


@lru_cache(maxsize=1024)
def expand_braces(pattern: str) -> tuple[str, ...]:
    """Expand bash-style braces: ``cp3{11,12}-*`` -> ``cp311-*``, ``cp312-*``.

    Supports comma lists (nested too), numeric and letter sequences (``{8..10}``,
    ``{a..c}``) and backslash escapes; an unbalanced or single-item group stays
    literal, as in bash.
    """
    return tuple(_ESCAPED_RE.sub(r"\1", expanded) for expanded in _expand(pattern))


# --------------------------------------------------------------------------- selectors


@dataclass(frozen=True)
class Selector:
    """A whitespace-separated list of identifier patterns, as written in the config."""

    patterns: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str | Iterable[str]) -> Selector:
        """From a string (``"pp* *-musllinux*"``) or a list of strings (TOML arrays)."""
        items = [value] if isinstance(value, str) else list(value)
        return cls(tuple(pattern for item in items for pattern in item.split()))

    def matching_pattern(self, identifier: Identifier | str) -> str | None:
        """The first pattern, as written, that matches the identifier; None if none does."""
        text = str(identifier)
        for pattern in self.patterns:
            if any(fnmatchcase(text, expanded) for expanded in expand_braces(pattern)):
                return pattern
        return None

    def matches(self, identifier: Identifier | str) -> bool:
        """Whether any pattern matches the identifier."""
        return self.matching_pattern(identifier) is not None

    def __str__(self) -> str:
        return " ".join(self.patterns)


# --------------------------------------------------------------------------- selection

CIBUILDWHEEL_ENABLE_GROUPS: tuple[str, ...] = (
    "cpython-prerelease",
    "graalpy",
    "pypy",
    "pypy-eol",
    "pyodide-prerelease",
    "pyodide-eol",
)
"""cibuildwheel 4.3's ``enable`` values. Only ``cpython-prerelease`` changes what wheelfleet
selects; wheelfleet builds no PyPy, GraalPy or Pyodide."""

LEGACY_ENABLE_GROUPS: tuple[str, ...] = ("cpython-experimental-riscv64", "cpython-freethreading")
"""Groups cibuildwheel 3 had and 4 refuses. wheelfleet still reads them, with a warning:
``cpython-freethreading`` selects cp313t (which cibuildwheel 4 no longer builds) where an
image provides it; riscv64 needs no opt-in."""

ENABLE_GROUPS: tuple[str, ...] = (*LEGACY_ENABLE_GROUPS, *CIBUILDWHEEL_ENABLE_GROUPS)
"""Every ``enable`` value wheelfleet accepts."""

OLDEST_PYTHON = (3, 9)
"""The oldest CPython cibuildwheel 4 builds: older ones are never selected."""

PRERELEASE_MINOR = 16
"""The first CPython minor version still in beta: its tags need ``cpython-prerelease``."""


@dataclass(frozen=True)
class BuildSelection:
    """The filters that decide whether an identifier is built, in cibuildwheel's order."""

    build: Selector = field(default_factory=lambda: Selector(("*",)))
    skip: Selector = field(default_factory=Selector)
    requires_python: SpecifierSet | None = None
    enable: frozenset[str] = frozenset()

    def exclusion(self, identifier: Identifier) -> str | None:
        """Why the identifier is not built, or None if it is."""
        tag = identifier.python
        major, minor = python_version(tag)
        if self.requires_python is not None and not self.requires_python.contains(
            Version(f"{major}.{minor}.99"), prereleases=True
        ):
            return f"requires-python {self.requires_python} excludes Python {major}.{minor}"
        if (major, minor) < OLDEST_PYTHON:
            return f"{tag} has reached its end of life: cibuildwheel 4 does not build it"
        if is_free_threaded(tag) and minor <= 13 and "cpython-freethreading" not in self.enable:
            return f"{tag} (free-threaded {major}.{minor}) needs enable = cpython-freethreading"
        if minor >= PRERELEASE_MINOR and "cpython-prerelease" not in self.enable:
            return f"{tag} is a pre-release; it needs enable = cpython-prerelease"
        if not self.build.matches(identifier):
            return f"not matched by build = {str(self.build)!r}"
        pattern = self.skip.matching_pattern(identifier)
        if pattern is not None:
            return f"matched by skip pattern {pattern!r}"
        return None

    def __call__(self, identifier: Identifier) -> bool:
        return self.exclusion(identifier) is None
