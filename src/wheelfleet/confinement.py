"""How build and test containers are confined: resource limits and network.

Projects are untrusted: a runaway build (a fork bomb, a compiler eating all
memory) must fail its own job, not the build host, and the project's own code
gets no network when its requirements come from the controller's wheelhouse.
The role's variables are checked here, before any host is changed, and turned
into the parameters of community.docker.docker_container and container_steps.
"""

from __future__ import annotations

import re
from typing import Any

# Docker refuses a memory limit under 6 MiB; a Python build needs far more.
MIN_MEMORY = 64 * 1024**2
# A pip build starts a few dozen processes; fewer than this breaks every build.
MIN_PIDS = 32
UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
MEMORY_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
VALID_MEMORY = "a size such as 8g, 512m or 8589934592 (bytes), at least 64m, or 0 for no limit"
VALID_PIDS = f"an integer of at least {MIN_PIDS}, or 0 for no limit"
VALID_CPUS = "a number of CPUs such as 2 or 1.5, or 0 for all of the engine's CPUs"


class LimitError(ValueError):
    """A limit that cannot be applied; the message names the value and the valid ones."""


def memory_bytes(value: Any) -> int:
    """``wheel_build_container_memory`` in bytes (0: no limit)."""
    if isinstance(value, bool):
        raise LimitError(f"wheel_build_container_memory {value!r} is not {VALID_MEMORY}")
    match = MEMORY_PATTERN.match(str(value))
    if not match:
        raise LimitError(f"wheel_build_container_memory {value!r} is not {VALID_MEMORY}")
    number = float(match.group(1)) * UNITS[match.group(2).lower()]
    if number != 0 and number < MIN_MEMORY:
        raise LimitError(
            f"wheel_build_container_memory {value!r} is too small: it must be {VALID_MEMORY}"
        )
    return int(number)


def pids_limit(value: Any) -> int:
    """``wheel_build_container_pids_limit`` (0: no limit)."""
    try:
        number = int(str(value).strip())
    except ValueError:
        number = -1
    if isinstance(value, bool) or number < 0 or (0 < number < MIN_PIDS):
        raise LimitError(f"wheel_build_container_pids_limit {value!r} is not {VALID_PIDS}")
    return number


def cpus(value: Any, engine_cpus: int | None = None) -> float:
    """``wheel_build_container_cpus``; 0 means every CPU of the engine (when known)."""
    try:
        number = float(str(value).strip())
    except ValueError:
        number = -1.0
    if isinstance(value, bool) or not number >= 0 or (0 < number < 0.01):
        raise LimitError(f"wheel_build_container_cpus {value!r} is not {VALID_CPUS}")
    if engine_cpus:
        if number > engine_cpus:
            raise LimitError(
                f"wheel_build_container_cpus {value!r} is more than the engine's {engine_cpus} "
                f"CPUs, which Docker refuses; use a number from 0.01 to {engine_cpus}, or 0"
            )
        if number == 0:
            number = float(engine_cpus)
    return number


def container_limits(
    memory: Any = "8g", pids: Any = 4096, cpu_count: Any = 0, engine_cpus: Any = None
) -> dict[str, Any]:
    """The docker_container parameters for the limits, every value checked.

    ``None`` for a value means its default. Without ``engine_cpus`` only the
    values' form is checked (the engine is not asked yet); ``cpus`` is then
    None when 0 (all of the engine's CPUs) was asked for.
    """
    memory = memory_bytes("8g" if memory is None else memory)
    pids = pids_limit(4096 if pids is None else pids)
    engine = int(engine_cpus) if engine_cpus else None
    chosen = cpus(0 if cpu_count is None else cpu_count, engine)
    return {
        # docker_container reads a bare number as bytes; omitted values mean no limit.
        "memory": str(memory) if memory else None,
        "pids_limit": pids if pids else None,
        "cpus": chosen if chosen else None,
    }


def network_plan(settings: dict[str, Any], before_all_network: bool = True) -> dict[str, Any]:
    """The networking of a job's containers.

    With requirements from the controller's wheelhouse, everything a build and
    a test install comes from files copied in, so the project's code runs with
    no network: the test container has none at all, and so has the build
    container, except while ``before-all`` runs when ``before_all_network`` is
    true (cibuildwheel's place for installing system packages from the
    distribution's mirrors); the container is taken off the network before
    ``before-build``. With requirements from an index, the containers keep
    the engine's default network, which installing from the index needs.

    Returns ``build_network_mode`` and ``test_network_mode`` (``none``, or None
    for the engine's default network) and ``online_steps`` (for container_steps;
    None leaves the build container's networking alone).
    """
    if settings.get("requirements_source", "wheelhouse") == "index":
        return _network(None, None, None)
    if before_all_network and settings.get("before_all"):
        return _network(None, "none", ["before_all"])
    return _network("none", "none", None)


def _network(build: str | None, test: str | None, online: list[str] | None) -> dict[str, Any]:
    return {"build_network_mode": build, "test_network_mode": test, "online_steps": online}
