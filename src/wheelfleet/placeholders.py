"""Placeholders in commands: ``{project}`` and ``{package}``, with cibuildwheel's ``#{...}`` escape.

``before-all``, ``before-build``, ``test-command`` and ``config-settings`` may
name the project root and the package being built. Those paths exist only
inside the build container, so the resolved settings keep the placeholders and
the step that runs a command substitutes them; keeping them also keeps the
settings hash independent of where a host unpacks the project. Write
``#{project}`` for a literal ``{project}``. Other braces are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDERS = ("project", "package")
"""The placeholders wheelfleet substitutes in build and test commands."""


def substitute(command: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` by ``values[name]`` and ``#{name}`` by a literal ``{name}``."""
    for name, value in values.items():
        escaped = re.escape(name)
        command = re.sub(rf"(?<!#)\{{{escaped}\}}", lambda _match, v=value: v, command)
        command = re.sub(rf"#\{{{escaped}\}}", lambda _match, n=name: f"{{{n}}}", command)
    return command


def used(command: str) -> tuple[str, ...]:
    """The known placeholders a command uses (not counting escaped ones)."""
    return tuple(name for name in PLACEHOLDERS if re.search(rf"(?<!#)\{{{name}\}}", command))
