# Copyright: wheelfleet developers
# Apache License 2.0
"""The emulated CPU model of a container's commands (wheelfleet.qemu_cpu plans it).

QEMU user emulation reads ``QEMU_CPU`` from each emulated process's environment. The
engine checks once per container that QEMU accepts the job's model (a QEMU without
the property refuses to run the command) and then gives it to every command it runs
there, so the build, auditwheel and the test all run on it.
"""

from __future__ import annotations

from typing import Any

FACT = "qemu_cpu"
"""The container fact: the model every command gets, or "" (none: QEMU refused it)."""


def apply(container: Any, model: str | None) -> str:
    """Set the container's command environment to ``QEMU_CPU=model`` when QEMU accepts
    the model there; the model applied, or "" when none is."""
    if not model:
        return ""
    if FACT not in container.facts:
        rc, _, _ = container.run(["true"], env={"QEMU_CPU": model})
        container.facts[FACT] = model if rc == 0 else ""
    if container.facts[FACT]:
        container.exec_env["QEMU_CPU"] = container.facts[FACT]
    return container.facts[FACT]
