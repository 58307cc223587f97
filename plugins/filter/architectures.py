"""Filters over wheelfleet's architecture table (src/wheelfleet/architectures.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

try:
    from wheelfleet import architectures
except ImportError as exc:  # the controller needs the wheelfleet package installed
    architectures = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


def _require() -> None:
    if architectures is None:
        raise AnsibleFilterError(
            f"the wheelfleet Python package is not importable on the controller "
            f"({IMPORT_ERROR}); install it into the controller's Python "
            "(scripts/bootstrap, or pip install -e . in the repository)"
        )


def emulation_targets(targets: list[str], host_arch: str) -> list[dict[str, str]]:
    """The requested architectures a host of ``host_arch`` must emulate, with their QEMU names."""
    _require()
    try:
        needed = architectures.needing_emulation(host_arch, targets)
    except architectures.UnknownArchitectureError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    return [{"name": arch.name, "qemu": arch.qemu} for arch in needed]


class FilterModule:
    """wheelfleet architecture filters."""

    def filters(self) -> dict[str, object]:
        return {
            "emulation_targets": emulation_targets,
        }
