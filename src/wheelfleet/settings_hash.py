"""The one settings hash of a build job.

A job's wheels are reused (the manifest says it is up to date) only when its
settings hash matches: it covers every setting that changes what a job
produces or whether it is tested, the project's options (as resolved by
:mod:`wheelfleet.options`) and the wheel_build role's own settings
(``ROLE_ONLY``). The plan, the role and ``wheelfleet options`` all hash here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from wheelfleet import requirements

SETTINGS_FORMAT = 2
"""Part of every job's settings hash: bump it when the meaning of a setting changes."""

ROLE_ONLY = (
    "requirements_source",
    "index_url",
    "plat",
    "repair_exclude",
    "repair_strip",
    "repair_only_plat",
    "repair_lib_sdir",
    "repair_pure",
    "extra_build_requires",
)
"""Role settings with no cibuildwheel counterpart; part of the hash all the same."""


def settings_hash(
    option_settings: Mapping[str, Any], role: Mapping[str, Any], build_mode: str | None = None
) -> str:
    """sha256 of everything that changes what a job produces or whether it is tested.

    ``option_settings`` is ``JobSettings.to_dict()``; ``role`` the role's settings
    (missing keys hash as None). ``image`` (the manylinux image the project asks
    for) is left out: the job runs in the fleet's builder image, whose ID is part
    of the job's inputs. ``build_mode`` is the compiler an emulated job asks for (the
    accelerator's toolchain, or ``plain``); None for architectures it never applies to,
    whose hashes stay as they were.
    """
    chosen_role = {key: role.get(key) for key in ROLE_ONLY}
    # An index's password changes nothing that is built (and is never hashed nor shown).
    chosen_role["index_url"] = requirements.redact_url(chosen_role.get("index_url"))
    if chosen_role.get("requirements_source") != "index":
        chosen_role["index_url"] = None
    document = {
        "format": SETTINGS_FORMAT,
        "options": {k: v for k, v in option_settings.items() if k != "image"},
        "role": chosen_role,
    }
    if build_mode is not None:
        document["build_mode"] = build_mode
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
