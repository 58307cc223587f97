"""Mirror URLs given as settings: checked up front, so a typo never reaches a host.

A mirror setting (``builder_image_debian_mirror``, a registry mirror) is a URL
with a scheme: ``http://deb.example.org/debian`` or ``https://...``. Without one
(``deb.example.org/debian``), apt and Docker fail late and obscurely on the host,
after it has been changed; here the value is refused first, named with the valid form.
An empty value means "no mirror" and is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SCHEMES = ("http", "https")
_URL_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[^\s/]+)(?P<rest>\S*)$")
_MIRROR_NAME_RE = re.compile(r"(^|_)mirror(_url)?$")


class MirrorError(ValueError):
    """A mirror setting that is not a URL with a scheme; the message names it."""


def is_mirror_setting(name: str) -> bool:
    """Whether a variable names a mirror URL: ``*_mirror`` or ``*_mirror_url``."""
    return _MIRROR_NAME_RE.search(name) is not None


def check_mirror_url(name: str, value: Any) -> str:
    """``value`` if empty or an http(s) URL with a host; MirrorError naming ``name``,
    the value and the valid form otherwise."""
    if value is None or value == "":
        return ""
    text = value if isinstance(value, str) else None
    match = _URL_RE.match(text.strip()) if text else None
    if match is None or match["scheme"].lower() not in SCHEMES:
        raise MirrorError(
            f"{name} {value!r} is not a mirror URL: expected {' or '.join(SCHEMES)}://HOST/PATH"
            " (for example http://deb.debian.org/debian), or empty for none"
        )
    return text.strip() if text else ""


def check_mirror_settings(variables: Mapping[str, Any]) -> list[str]:
    """Every problem with the mirror settings among ``variables``, one message each."""
    problems: list[str] = []
    for name, value in variables.items():
        if not is_mirror_setting(name):
            continue
        try:
            check_mirror_url(name, value)
        except MirrorError as exc:
            problems.append(str(exc))
    return problems


def check_role_variables(variables: Mapping[str, Any]) -> list[str]:
    """:func:`check_mirror_settings`, and the ``mirror`` key of each mapping in a list
    variable (``builder_image_images[1].mirror``), named by its place."""
    problems = check_mirror_settings(variables)
    for name, value in variables.items():
        if not isinstance(value, list):
            continue
        for index, element in enumerate(value):
            if isinstance(element, Mapping) and "mirror" in element:
                try:
                    check_mirror_url(f"{name}[{index}].mirror", element["mirror"])
                except MirrorError as exc:
                    problems.append(str(exc))
    return problems
