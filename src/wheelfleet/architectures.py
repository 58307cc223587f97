"""CPU architectures that wheelfleet builds for, and how each tool names them.

One table answers every naming question: the wheel/manylinux name (the
canonical one, as in ``manylinux_2_28_aarch64``), the kernel's ``uname -m``,
Debian's architecture, Docker's platform string and QEMU's user-mode target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    """One CPU architecture, named the way each tool names it."""

    name: str
    """Canonical name, as used in manylinux platform tags (``aarch64``)."""
    debian: str
    """Debian's architecture name (``arm64``), for debootstrap and apt."""
    docker_platform: str
    """Docker's ``--platform`` value (``linux/arm64``)."""
    qemu: str
    """QEMU user-mode target, as in ``qemu-<target>-static`` and binfmt.d files."""
    aliases: tuple[str, ...] = ()
    """Other spellings users and tools use (``arm64`` for aarch64)."""


ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture("x86_64", "amd64", "linux/amd64", "x86_64", ("amd64", "x64")),
        Architecture("i686", "i386", "linux/386", "i386", ("i386", "x86")),
        Architecture("aarch64", "arm64", "linux/arm64", "aarch64", ("arm64", "armv8")),
        Architecture("armv7l", "armhf", "linux/arm/v7", "arm", ("armhf", "arm", "armv7")),
        Architecture("ppc64le", "ppc64el", "linux/ppc64le", "ppc64le", ("ppc64el",)),
        Architecture("s390x", "s390x", "linux/s390x", "s390x"),
        Architecture("riscv64", "riscv64", "linux/riscv64", "riscv64"),
    )
}

# Architectures a host runs without emulation besides its own: an x86_64
# kernel executes i686 binaries natively. (Many aarch64 CPUs lack AArch32, so
# armv7l is not assumed native on aarch64.)
_NATIVE_COMPAT: dict[str, frozenset[str]] = {
    "x86_64": frozenset({"i686"}),
}


class UnknownArchitectureError(ValueError):
    """Raised for a name that matches no architecture or alias."""

    def __init__(self, value: str) -> None:
        self.value = value
        super().__init__(
            f"unknown architecture {value!r}; valid names: {', '.join(ARCHITECTURES)}"
            f" (aliases: {', '.join(sorted(_ALIASES))})"
        )


_ALIASES: dict[str, str] = {
    alias: arch.name for arch in ARCHITECTURES.values() for alias in arch.aliases
}


def resolve(name: str) -> Architecture:
    """Return the architecture for a canonical name or an alias."""
    key = name.strip().lower()
    canonical = key if key in ARCHITECTURES else _ALIASES.get(key)
    if canonical is None:
        raise UnknownArchitectureError(name)
    return ARCHITECTURES[canonical]


def runs_natively(host: str, target: str) -> bool:
    """Whether a host of architecture ``host`` executes ``target`` binaries without QEMU."""
    host_arch = resolve(host).name
    target_arch = resolve(target).name
    return target_arch == host_arch or target_arch in _NATIVE_COMPAT.get(host_arch, frozenset())


def needing_emulation(host: str, targets: Iterable[str]) -> list[Architecture]:
    """The targets a host must emulate, in request order, without duplicates."""
    wanted: dict[str, Architecture] = {}
    for target in targets:
        arch = resolve(target)
        if not runs_natively(host, arch.name):
            wanted.setdefault(arch.name, arch)
    return list(wanted.values())
