"""Filters of the wheel_build role for its containers: their resource limits
(src/wheelfleet/confinement.py) and which ones a killed run left behind
(src/wheelfleet/stale.py). Filters run on the controller."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from wheelfleet import confinement, stale
except ImportError as exc:  # the controller needs the wheelfleet package installed
    confinement = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


def _need_package() -> None:
    if confinement is None:
        raise AnsibleFilterError(
            f"the wheelfleet Python package is not importable on the controller "
            f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
        )


def wheel_build_container_limits(
    memory: Any, pids: Any = None, cpus: Any = None, engine_cpus: Any = None
) -> dict:
    """The checked limits as docker_container parameters (memory, pids_limit, cpus);
    a bad value fails, naming it and the valid ones."""
    _need_package()
    try:
        return confinement.container_limits(memory, pids, cpus, engine_cpus)
    except confinement.LimitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def wheel_build_network(job: dict, before_all_network: Any = True) -> dict:
    """The networking of a job's build and test containers (network modes, online steps)."""
    _need_package()
    try:
        return confinement.network_plan(job.get("settings") or {}, bool(before_all_network))
    except (AttributeError, TypeError) as exc:
        raise AnsibleFilterError(f"wheel_build_network: malformed job ({exc!r})") from None


def wheel_build_stale_containers(containers: list) -> list[str]:
    """Names of the listed containers (docker_host_info, verbose) whose run's controller
    process has ended."""
    _need_package()
    return stale.stale_containers(containers or [])


class FilterModule:
    """wheelfleet wheel_build container filters."""

    def filters(self) -> dict[str, object]:
        return {
            "wheel_build_container_limits": wheel_build_container_limits,
            "wheel_build_network": wheel_build_network,
            "wheel_build_stale_containers": wheel_build_stale_containers,
        }
