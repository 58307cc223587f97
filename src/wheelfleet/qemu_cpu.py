"""The CPU model QEMU emulates for an emulated job: the same features, a faster hash.

Debian forky, RHEL 9 and other recent aarch64 userlands are built with
``-mbranch-protection=standard``: nearly every function signs and checks its return
address with pointer authentication (PAC) instructions. QEMU's default aarch64 CPU
(``max``) computes those signatures with the architected QARMA5 cipher, which costs
more than the function itself under emulation: on this machine kind (QEMU 7.2),
forky's Python 3.13 took 2.9 s to import json, email.parser, argparse and asyncio,
and 0.79 s with ``max,pauth-impdef=on``, an implementation-defined hash QEMU offers
for this (0.66 s against 0.68 s for bookworm's Python 3.11, whose userland signs
little). The CPU keeps every feature and PAC stays on, so programs see the same CPU
(the same HWCAPs) and compute the same results; only the signatures' values differ,
which nothing outside the process can see.

QEMU reads the model from ``QEMU_CPU`` in the environment of each emulated process.
The engine sets it for the commands it runs in an emulated container once QEMU has
accepted it there (an older QEMU without the property refuses to start the command,
and the engine then runs without it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MODELS: dict[str, str] = {"aarch64": "max,pauth-impdef=on"}
"""Per emulated architecture, the ``QEMU_CPU`` value its jobs run with (the role's
``wheel_build_qemu_cpu`` default)."""

_MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.,=+-]*")


class QemuCpuError(ValueError):
    """``wheel_build_qemu_cpu`` is not a mapping of architectures to CPU models."""


def for_job(arch: str, emulated: bool, models: Mapping[str, Any] | None = None) -> str | None:
    """The ``QEMU_CPU`` value of a job of ``arch``, or None: a native job, or no model for
    ``arch`` in ``models`` (the role's ``wheel_build_qemu_cpu``; None: :data:`MODELS`; an
    empty mapping turns the setting off)."""
    chosen = checked(MODELS if models is None else models)
    return chosen.get(arch) if emulated else None


def checked(models: Any) -> dict[str, str]:
    """``models`` as ``{arch: model}``, or QemuCpuError naming the bad entry; an empty
    model leaves its architecture on QEMU's default CPU."""
    if not isinstance(models, Mapping):
        raise QemuCpuError(
            f"wheel_build_qemu_cpu: expected a mapping of architecture to CPU model"
            f" (like {MODELS}), got {models!r}"
        )
    found = {}
    for arch, model in models.items():
        if model in (None, ""):
            continue
        if not isinstance(model, str) or not _MODEL_RE.fullmatch(model):
            raise QemuCpuError(
                f"wheel_build_qemu_cpu: {arch}: {model!r} is not a QEMU CPU model"
                " (a name and comma-separated properties, like max,pauth-impdef=on)"
            )
        found[str(arch)] = model
    return found
