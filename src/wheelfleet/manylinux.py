"""manylinux policies: their names, their glibc, the official images, and the policy floor.

A policy names the oldest glibc a wheel runs on: ``manylinux2014`` is
``manylinux_2_17``, ``manylinux_2_28`` needs glibc 2.28. The official images
(pypa/manylinux) exist for a few policies per architecture; the short names and
defaults below are cibuildwheel 4.3's (its ``resources/pinned_docker_images.cfg``
and ``defaults.toml``), so a project's ``manylinux-<arch>-image = "manylinux_2_34"``
means here what it means there.

The **policy floor** is the least portable policy a release accepts: a wheel that
needs a newer glibc than the floor fails its job (auditwheel names the too-recent
symbols) instead of being shipped with a higher tag.
"""

from __future__ import annotations

import re

OFFICIAL_REGISTRY = "quay.io/pypa"
"""Where the official manylinux images live: ``quay.io/pypa/<policy>_<arch>``."""

OFFICIAL_POLICIES: dict[str, tuple[str, ...]] = {
    **{
        arch: ("manylinux2014", "manylinux_2_28", "manylinux_2_34")
        for arch in ("x86_64", "i686", "aarch64", "ppc64le", "s390x")
    },
    "armv7l": ("manylinux_2_31", "manylinux_2_35"),
    "riscv64": ("manylinux_2_39",),
}
"""The policies with an official image, per architecture (cibuildwheel 4.3's pinned images)."""

DEFAULT_POLICIES: dict[str, str] = {
    **{arch: "manylinux_2_28" for arch in ("x86_64", "i686", "aarch64", "ppc64le", "s390x")},
    "armv7l": "manylinux_2_31",
    "riscv64": "manylinux_2_39",
}
"""cibuildwheel 4.3's default ``manylinux-<arch>-image`` per architecture."""

LEGACY_ALIASES: dict[str, str] = {
    "manylinux1": "manylinux_2_5",
    "manylinux2010": "manylinux_2_12",
    "manylinux2014": "manylinux_2_17",
}
"""PEP 600 spellings of the legacy policy names."""

POLICY_FORMS: tuple[str, ...] = (*LEGACY_ALIASES, "manylinux_X_Y (e.g. manylinux_2_28)")
"""How a policy may be written, for error messages."""

_POLICY_RE = re.compile(r"^manylinux_(?P<major>\d+)_(?P<minor>\d+)$")
_SHORT_NAME_RE = re.compile(r"^(?:manylinux|musllinux)[A-Za-z0-9_]*$")


class PolicyError(ValueError):
    """A value that is not a manylinux policy; the message names it and the valid forms."""


def is_policy(value: str) -> bool:
    """Whether ``value`` is a manylinux policy name (``manylinux2014``, ``manylinux_2_28``)."""
    return value in LEGACY_ALIASES or _POLICY_RE.match(value) is not None


def is_short_name(value: str) -> bool:
    """Whether an image value is a short name (``manylinux_2_28``) rather than a reference:
    it starts like a policy and has no registry, path, tag or digest."""
    return _SHORT_NAME_RE.match(value) is not None


def glibc(policy: str) -> tuple[int, int]:
    """The glibc version a policy needs: ``manylinux2014`` -> (2, 17). PolicyError otherwise."""
    match = _POLICY_RE.match(LEGACY_ALIASES.get(policy, policy))
    if match is None:
        raise PolicyError(
            f"{policy!r} is not a manylinux policy (valid forms: {', '.join(POLICY_FORMS)})"
        )
    return int(match["major"]), int(match["minor"])


def check_policy_floor(value: object, where: str = "policy floor") -> str:
    """The floor, spelt as given, if it names a manylinux policy; PolicyError naming it and
    the valid forms otherwise. ``musllinux_*`` is refused: wheelfleet builds manylinux only."""
    text = str(value).strip() if isinstance(value, str) else None
    if not text or not is_policy(text):
        extra = (
            "; wheelfleet builds manylinux wheels only"
            if text and text.startswith("musllinux")
            else ""
        )
        raise PolicyError(
            f"{where} {value!r} is not a manylinux policy{extra}"
            f" (valid forms: {', '.join(POLICY_FORMS)})"
        )
    return text


def platform_tag(policy: str, arch: str) -> str:
    """The platform tag a wheel repaired to ``policy`` gets: ``manylinux_2_28_x86_64``."""
    return f"{policy}_{arch}"


def policy_of_tag(platform: str) -> str | None:
    """The most portable manylinux policy of a wheel's platform tag (compressed tags
    allowed): ``manylinux_2_17_x86_64.manylinux2014_x86_64`` -> ``manylinux_2_17``.
    None for a tag that names no manylinux policy (``linux_x86_64``)."""
    found: list[str] = []
    for part in platform.split("."):
        head = re.match(r"^(manylinux(?:1|2010|2014|_\d+_\d+))_", part)
        if head:
            found.append(head[1])
    if not found:
        return None
    return min(found, key=glibc)


def above_floor(policy: str, floor: str) -> bool:
    """Whether a wheel of ``policy`` needs a newer glibc than ``floor`` allows."""
    return glibc(policy) > glibc(floor)


def policy_of_wheel(filename: str) -> str | None:
    """The most portable manylinux policy of a wheel file:
    ``pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl`` -> ``manylinux_2_17``.
    """
    name = filename.rsplit("/", 1)[-1].removesuffix(".whl")
    return policy_of_tag(name.rsplit("-", 1)[-1]) if "-" in name else None
