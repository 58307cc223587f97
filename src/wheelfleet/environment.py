"""The ``environment`` option: bash-like ``NAME=value`` assignments, parsed into an ordered list.

cibuildwheel reads ``environment`` (and ``test-environment``) as a string of
bash assignments, ``CFLAGS='-O2 -g' PATH="$PATH:/opt/bin" STAMP=$(date +%s)``,
or as a TOML table whose values are read as if double-quoted. Assignments apply
in order, and a value may refer to earlier ones or to the build environment.

wheelfleet parses the text here, on the controller, so a syntax error names
the setting before any host is touched, and so two spellings of the same
environment (string or table) hash the same. Evaluation belongs to the build
container: ``$VAR`` must see the container's variables (its ``PATH``), and
``$(command)`` must run there. ``evaluate`` can resolve plain variables on the
controller for display and tests, but it refuses command substitution, which
the controller cannot evaluate; ``to_shell`` renders the assignments as
``export`` lines for the container's shell, which expands everything in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NAME_RE = re.compile(_NAME)
_ASSIGNMENT_RE = re.compile(rf"({_NAME})=")
_WHITESPACE = " \t\r\n"
_METACHARACTERS = ";&|<>()"
_SPECIAL_PARAMETERS = "?$!#@*-0123456789"
_DOUBLE_QUOTE_ESCAPES = '$`"\\'


class EnvironmentSyntaxError(ValueError):
    """The text is not a list of ``NAME=value`` assignments; the message says where."""


class CommandSubstitutionError(ValueError):
    """A value needs a shell (``$(...)``, backticks, ``${VAR:-x}``) and cannot be evaluated here."""


@dataclass(frozen=True)
class Literal:
    """Text taken as is."""

    text: str


@dataclass(frozen=True)
class Variable:
    """A reference to a variable, ``$NAME`` or ``${NAME}``: empty if unset, as in bash."""

    name: str


@dataclass(frozen=True)
class ShellExpansion:
    """A command substitution or parameter expansion only a shell can evaluate.

    ``source`` keeps the text as written: ``$(date)``, a backtick command, or a
    parameter expansion such as ``${VERSION:-1.0}``.
    """

    source: str


Part = Literal | Variable | ShellExpansion


def _quote_literal(text: str) -> str:
    """Escape text for the inside of a double-quoted shell word."""
    return "".join("\\" + char if char in _DOUBLE_QUOTE_ESCAPES else char for char in text)


@dataclass(frozen=True)
class Assignment:
    """One ``NAME=value`` assignment, its value split into literal and expanded parts."""

    name: str
    parts: tuple[Part, ...]

    @property
    def needs_shell(self) -> bool:
        """Whether the value holds a command substitution the controller cannot evaluate."""
        return any(isinstance(part, ShellExpansion) for part in self.parts)

    @property
    def shell_value(self) -> str:
        """The value as one canonical double-quoted shell word.

        The same value always renders the same way, however it was written, which
        keeps the settings hash stable across spellings.
        """
        rendered = []
        for part in self.parts:
            if isinstance(part, Literal):
                rendered.append(_quote_literal(part.text))
            elif isinstance(part, Variable):
                rendered.append(f"${{{part.name}}}")
            else:
                rendered.append(part.source)
        return '"' + "".join(rendered) + '"'

    def __str__(self) -> str:
        return f"{self.name}={self.shell_value}"


# --------------------------------------------------------------------------- parsing


class _Scanner:
    """A small hand-written scanner for the subset of bash words cibuildwheel accepts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, at: int | None = None) -> EnvironmentSyntaxError:
        where = self.pos if at is None else at
        return EnvironmentSyntaxError(f"{message} at character {where + 1} of {self.text!r}")

    def skip_whitespace(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def assignments(self) -> list[Assignment]:
        result: list[Assignment] = []
        self.skip_whitespace()
        while self.pos < len(self.text):
            match = _ASSIGNMENT_RE.match(self.text, self.pos)
            if not match:
                word = self.text[self.pos :].split(maxsplit=1)[0]
                raise self.error(f"expected NAME=value, found {word!r}")
            self.pos = match.end()
            result.append(Assignment(match[1], _merge(self.word())))
            self.skip_whitespace()
        return result

    def word(self) -> list[Part]:
        """Parts up to the next unquoted whitespace."""
        parts: list[Part] = []
        text = self.text
        while self.pos < len(text) and text[self.pos] not in _WHITESPACE:
            char = text[self.pos]
            if char == "'":
                end = text.find("'", self.pos + 1)
                if end < 0:
                    raise self.error("unterminated single quote")
                parts.append(Literal(text[self.pos + 1 : end]))
                self.pos = end + 1
            elif char == '"':
                self.pos += 1
                parts.extend(self.double_quoted(terminator='"'))
            elif char == "\\":
                following = text[self.pos + 1 : self.pos + 2]
                if following != "\n":  # a backslash-newline continues the line
                    parts.append(Literal(following or "\\"))
                self.pos += 2
            elif char == "$":
                parts.append(self.dollar())
            elif char == "`":
                parts.append(self.backticks())
            elif char in _METACHARACTERS:
                raise self.error(f"unquoted {char!r} (quote the value)")
            else:
                parts.append(Literal(char))
                self.pos += 1
        return parts

    def double_quoted(self, terminator: str | None) -> list[Part]:
        """Parts inside double quotes, up to ``terminator`` (None: to the end of the text)."""
        parts: list[Part] = []
        text = self.text
        start = self.pos
        while self.pos < len(text):
            char = text[self.pos]
            if terminator is not None and char == terminator:
                self.pos += 1
                return parts
            if char == "\\":
                following = text[self.pos + 1 : self.pos + 2]
                if following == "\n":
                    pass
                elif following and following in _DOUBLE_QUOTE_ESCAPES:
                    parts.append(Literal(following))
                else:
                    parts.append(Literal("\\" + following))
                self.pos += 2
            elif char == "$":
                parts.append(self.dollar())
            elif char == "`":
                parts.append(self.backticks())
            else:
                parts.append(Literal(char))
                self.pos += 1
        if terminator is not None:
            raise self.error("unterminated double quote", at=start - 1)
        return parts

    def dollar(self) -> Part:
        text = self.text
        start = self.pos
        following = text[start + 1 : start + 2]
        if following == "(":
            end = self.closing(start + 1, "(", ")")
            self.pos = end + 1
            return ShellExpansion(text[start : end + 1])
        if following == "{":
            end = self.closing(start + 1, "{", "}")
            self.pos = end + 1
            inner = text[start + 2 : end]
            if _NAME_RE.fullmatch(inner):
                return Variable(inner)
            return ShellExpansion(text[start : end + 1])
        match = _NAME_RE.match(text, start + 1)
        if match:
            self.pos = match.end()
            return Variable(match[0])
        if following and following in _SPECIAL_PARAMETERS:
            self.pos = start + 2
            return ShellExpansion(text[start : start + 2])
        self.pos = start + 1
        return Literal("$")

    def backticks(self) -> Part:
        start = self.pos
        cursor = start + 1
        while cursor < len(self.text):
            if self.text[cursor] == "\\":
                cursor += 2
                continue
            if self.text[cursor] == "`":
                self.pos = cursor + 1
                return ShellExpansion(self.text[start : cursor + 1])
            cursor += 1
        raise self.error("unterminated backtick command", at=start)

    def closing(self, open_at: int, opener: str, closer: str) -> int:
        """Index of the bracket closing the one at ``open_at``, skipping quoted text."""
        depth = 0
        cursor = open_at
        text = self.text
        while cursor < len(text):
            char = text[cursor]
            if char == "\\":
                cursor += 2
                continue
            if char in "'\"":
                end = text.find(char, cursor + 1)
                if end < 0:
                    break
                cursor = end + 1
                continue
            if char == opener:
                depth += 1
            elif char == closer:
                depth -= 1
                if depth == 0:
                    return cursor
            cursor += 1
        raise self.error(f"unterminated '${opener}'", at=open_at - 1)


def _merge(parts: Iterable[Part]) -> tuple[Part, ...]:
    """Join adjacent literals, so equal values have equal parts however they were quoted."""
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, Literal) and merged and isinstance(merged[-1], Literal):
            merged[-1] = Literal(merged[-1].text + part.text)
        elif not (isinstance(part, Literal) and not part.text):
            merged.append(part)
    return tuple(merged)


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid environment variable name, else raise."""
    if not _NAME_RE.fullmatch(name):
        raise EnvironmentSyntaxError(
            f"{name!r} is not a variable name (letters, digits and _, not starting with a digit)"
        )
    return name


def parse_environment(text: str) -> tuple[Assignment, ...]:
    """Parse ``A=1 B="two words" C=$A:$(date)`` into ordered assignments."""
    return tuple(_Scanner(text).assignments())


def parse_environment_table(table: Mapping[str, str]) -> tuple[Assignment, ...]:
    """Parse a TOML table ``{PATH = "$PATH:/opt/bin"}``: each value reads as if double-quoted."""
    assignments = []
    for name, value in table.items():
        scanner = _Scanner(value)
        assignments.append(Assignment(check_name(name), _merge(scanner.double_quoted(None))))
    return tuple(assignments)


# --------------------------------------------------------------------------- using


def evaluate(assignments: Iterable[Assignment], environ: Mapping[str, str]) -> dict[str, str]:
    """The values the assignments give, in order, starting from ``environ``.

    Only for values without command substitution: those run in the build
    container, and raise CommandSubstitutionError here.
    """
    scope = dict(environ)
    result: dict[str, str] = {}
    for assignment in assignments:
        pieces = []
        for part in assignment.parts:
            if isinstance(part, Literal):
                pieces.append(part.text)
            elif isinstance(part, Variable):
                pieces.append(scope.get(part.name, ""))
            else:
                raise CommandSubstitutionError(
                    f"{assignment.name}: {part.source} needs a shell; it is evaluated in the"
                    " build container, not on the controller"
                )
        scope[assignment.name] = result[assignment.name] = "".join(pieces)
    return result


def to_shell(assignments: Iterable[Assignment]) -> str:
    """``export`` lines that apply the assignments in order in a POSIX shell."""
    return "".join(f"export {assignment}\n" for assignment in assignments)
