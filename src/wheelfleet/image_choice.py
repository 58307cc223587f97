"""Which container image each architecture's jobs build in, and who chose it.

A project chooses with ``manylinux-<arch>-image`` (in ``[tool.cibuildwheel]``,
its ``linux`` table or overrides, ``[tool.wheelfleet]``, a ``CIBW_*`` variable or
``wheelfleet_options``): a short name (``manylinux2014``, ``manylinux_2_28``,
``manylinux_2_34``...) means the official image ``quay.io/pypa/<policy>_<arch>``,
as in cibuildwheel 4.3; anything else is an image reference, taken as given.
Without a choice, cibuildwheel's default applies (``manylinux_2_28``, and
``manylinux_2_31`` on armv7l, ``manylinux_2_39`` on riscv64).

The result is a plain value the plan carries. The reference has no digest yet:
whoever pulls the image pins it by digest. An unknown short name never gets here:
reading the configuration refuses it (wheelfleet.options).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from wheelfleet import manylinux
from wheelfleet.identifiers import Identifier
from wheelfleet.options import ProjectConfig

ChoiceKind = Literal["default", "project", "environment", "explicit"]


@dataclass(frozen=True)
class ImageChoice:
    """The image of one architecture's jobs (or of some of them, where overrides differ)."""

    arch: str
    reference: str
    """The image to pull or run, without a digest: ``quay.io/pypa/manylinux_2_28_x86_64``."""
    policy: str | None
    """The manylinux policy of a short name; None for a reference given in full (the image's
    own ``AUDITWHEEL_POLICY`` tells, once pulled)."""
    origin: str
    """Who chose: ``cibuildwheel default``, ``project manylinux-x86_64-image``,
    ``CIBW_MANYLINUX_X86_64_IMAGE`` or ``wheelfleet_options manylinux-x86_64-image``."""
    kind: ChoiceKind
    where: str
    """The file and table (or variable) the value came from, for people."""
    identifiers: tuple[str, ...] = ()
    """The selected jobs that build in it; empty when computed for the architecture alone."""

    @property
    def official(self) -> bool:
        """Whether the reference is an official pypa image (a short name was given)."""
        return self.policy is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "reference": self.reference,
            "policy": self.policy,
            "origin": self.origin,
            "kind": self.kind,
            "where": self.where,
            "official": self.official,
            "identifiers": list(self.identifiers),
        }

    def describe(self) -> str:
        """One line for the plan: ``x86_64: quay.io/... (manylinux_2_28; cibuildwheel default)``."""
        policy = self.policy or "policy read from the image"
        return f"{self.arch}: {self.reference} ({policy}; {self.origin})"


def _who(key: str, origin: str) -> tuple[str, ChoiceKind]:
    """The origin of a value as the plan names it, from the configuration layer's origin."""
    if origin == "defaults":
        return "cibuildwheel default", "default"
    if origin.startswith("CIBW_"):
        return origin, "environment"
    if origin == "explicit overrides":
        return f"wheelfleet_options {key}", "explicit"
    return f"project {key}", "project"


def choose(config: ProjectConfig, arch: str, identifier: Identifier | None = None) -> ImageChoice:
    """The image of ``arch``'s jobs (of ``identifier``'s job, where overrides may differ)."""
    key = f"manylinux-{arch}-image"
    value, where = config.value(key, identifier)
    origin, kind = _who(key, where)
    value = str(value)
    if manylinux.is_short_name(value):
        reference = f"{manylinux.OFFICIAL_REGISTRY}/{manylinux.platform_tag(value, arch)}"
        return ImageChoice(arch, reference, value, origin, kind, where)
    return ImageChoice(arch, value, None, origin, kind, where)


def for_jobs(config: ProjectConfig, identifiers: Iterable[Identifier]) -> list[ImageChoice]:
    """One choice per distinct image of the selected jobs, with the jobs that use it, in the
    jobs' order: one per architecture unless overrides give some jobs another image."""
    grouped: dict[tuple[str, str], tuple[ImageChoice, list[str]]] = {}
    for identifier in identifiers:
        choice = choose(config, identifier.arch, identifier)
        slot = grouped.setdefault((choice.arch, choice.reference), (choice, []))
        slot[1].append(str(identifier))
    return [
        ImageChoice(
            choice.arch,
            choice.reference,
            choice.policy,
            choice.origin,
            choice.kind,
            choice.where,
            tuple(names),
        )
        for choice, names in grouped.values()
    ]
