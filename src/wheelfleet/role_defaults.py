"""The wheel_build role's build settings in one place: its defaults file, overlaid with a
host's ``wheel_build_*`` variables.

The settings hash of a job covers these settings (:mod:`wheelfleet.job_settings`);
the release plan (``plan_release``) and the role's own plan (``wheel_build_plan``)
must therefore see the same values. Both read them here: the defaults from
``roles/wheel_build/defaults/main.yml`` (never a copy), then the host's
variables on top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

PREFIX = "wheel_build_"

SETTINGS = (
    "before_all",
    "before_build",
    "environment",
    "frontend",
    "test_command",
    "test_requires",
    "requirements_source",
    "index_url",
    "plat",
    "repair_exclude",
    "repair_strip",
    "repair_only_plat",
    "repair_lib_sdir",
    "repair_pure",
    "extra_build_requires",
    "accelerate",
    "native_userland",
    "qemu_cpu",
    "environment_pass_allow",
    "environment_pass_deny",
    "source_max_bytes",
    "source_max_members",
)
"""The plan's settings (a job's settings and how much of an sdist is read), each the
role variable ``wheel_build_<name>``."""

SOURCE_SETTINGS = ("cache_dir", "source_excludes", "wheelhouse")
"""Where a project's source is packed and what is left out of it: the release reads and
packs the project once, as the role would (``wheelfleet.source.prepare``)."""


def switched_on(value: Any) -> bool:
    """A role switch's value (``wheel_build_accelerate``, ``wheel_build_native_userland``):
    unset is on; ``0``, ``false``, ``no``, ``off`` and the empty string are off."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


class RoleDefaultsError(ValueError):
    """The role's defaults file cannot be read."""


def defaults_path(collection_root: str | Path) -> Path:
    return Path(collection_root) / "roles" / "wheel_build" / "defaults" / "main.yml"


def load_defaults(path: str | Path) -> dict[str, Any]:
    """The role's defaults file as a mapping."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        message = f"cannot read the wheel_build role's defaults {path}: {exc}"
        raise RoleDefaultsError(message) from None
    if not isinstance(document, dict):
        raise RoleDefaultsError(f"the wheel_build role's defaults {path} are not a mapping")
    return document


def build_settings(
    defaults: Mapping[str, Any],
    variables: Mapping[str, Any],
    render: Callable[[Any], Any] = lambda value: value,
    names: tuple[str, ...] = SETTINGS,
) -> dict[str, Any]:
    """The settings by their short name: a host's ``wheel_build_<name>`` when it has one,
    else the role's default. ``render`` templates a host's value (an action plugin's
    templar), defaults are literal."""
    found: dict[str, Any] = {}
    for name in names:
        variable = PREFIX + name
        if variable in variables:
            found[name] = render(variables[variable])
        else:
            found[name] = defaults.get(variable)
    return found
