"""What the builder images offer: per image and architecture, the CPythons in its /opt/python.

The truth is read from the images themselves: the ``builder_image`` role lists
``/opt/python`` in a container of every candidate image (bootstrapped or
pulled) before tagging it, and writes that listing into the image's
``org.wheelfleet.image.python-tags`` label, with its glibc and
``AUDITWHEEL_PLAT``. ``wheelfleet.fleet.builder_image_info`` reads those back on
each host, and :func:`from_listings` turns them into offers.

Before an image exists (a first release on a fresh machine plans before it
builds its images), :func:`predicted` reads the recipe instead: a bootstrapped
image's ``interpreters`` (``python3.13`` gives cp313), else the suite's system
Python; a registry image the manylinux set. Such offers say so
(``origin: predicted``), and :func:`merge` replaces each by the truth as soon as
a host has the image.

:func:`choose` picks, for one build identifier, the image that provides its
Python: the one with the oldest glibc (the most portable wheel), then the
first in the recipe order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wheelfleet import architectures
from wheelfleet.identifiers import KNOWN_PYTHON_TAGS, split_tag

READ = "image"
"""Origin of an offer read from an image's /opt/python listing (its label)."""
PREDICTED = "predicted"
"""Origin of an offer guessed from a recipe, for an image not built yet."""

SUITE_PYTHONS: dict[str, str] = {
    "bullseye": "cp39",
    "bookworm": "cp311",
    "trixie": "cp313",
    "forky": "cp314",
    "jammy": "cp310",
    "noble": "cp312",
}
"""The system python3 of a distribution release: only a prediction, for a recipe without
``interpreters`` whose image is not built yet."""

MANYLINUX_PYTHONS: tuple[str, ...] = tuple(t for t in KNOWN_PYTHON_TAGS if t != "cp38")
"""What current manylinux images carry in /opt/python (a prediction for registry recipes)."""

_DEBIAN_INTERPRETER = re.compile(r"^python3\.([0-9]{1,2})$")
_GLIBC = re.compile(r"(\d+)\.(\d+)")


@dataclass(frozen=True)
class ImageOffer:
    """One builder image on one architecture and the CPython tags it provides."""

    name: str
    arch: str
    pythons: tuple[str, ...]
    origin: str = PREDICTED
    glibc: str | None = None
    """``2.36``; None when unknown (a prediction)."""
    hosts: tuple[str, ...] = field(default=())
    """The hosts the offer was read on (empty for a prediction)."""
    order: int = 0
    """The image's position in the recipe list (ties in :func:`choose`)."""

    @property
    def glibc_key(self) -> tuple[int, int]:
        match = _GLIBC.search(self.glibc or "")
        return (int(match.group(1)), int(match.group(2))) if match else (99, 99)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arch": self.arch,
            "pythons": list(self.pythons),
            "origin": self.origin,
            "glibc": self.glibc,
            "hosts": list(self.hosts),
        }

    def describe(self) -> str:
        """``forky x86_64: cp313 cp314 cp315 (read from the image on h1; glibc 2.43)``."""
        if self.origin == READ:
            where = f"read from the image on {', '.join(self.hosts)}"
        else:
            where = "predicted from the recipe: the image is not built yet"
        glibc = f"; glibc {self.glibc}" if self.glibc else ""
        pythons = " ".join(self.pythons) or "none"
        return f"{self.name} {self.arch}: {pythons} ({where}{glibc})"


def _short(tag: str) -> str:
    return split_tag(str(tag))[0]


def recipe_pythons(recipe: Mapping[str, Any]) -> list[str]:
    """The CPython tags a recipe is predicted to provide (see the module's docstring)."""
    if recipe.get("pythons"):
        return [_short(tag) for tag in recipe["pythons"]]
    if recipe.get("source", "bootstrap") != "bootstrap":
        return list(MANYLINUX_PYTHONS)
    named = []
    for name in recipe.get("interpreters") or []:
        match = _DEBIAN_INTERPRETER.match(str(name))
        if match:
            named.append(f"cp3{match.group(1)}")
    if named:
        return named
    suite = str(recipe.get("suite") or "")
    return [SUITE_PYTHONS[suite]] if suite in SUITE_PYTHONS else []


def predicted(recipes: Iterable[Mapping[str, Any]]) -> list[ImageOffer]:
    """One predicted offer per recipe and architecture."""
    offers = []
    for order, recipe in enumerate(recipes):
        pythons = tuple(recipe_pythons(recipe))
        for arch in recipe.get("architectures") or []:
            name = architectures.resolve(str(arch)).name
            offers.append(
                ImageOffer(str(recipe.get("name")), name, pythons, PREDICTED, None, (), order)
            )
    return offers


def from_listings(
    listings: Mapping[str, Iterable[Mapping[str, Any]]], order: Sequence[str] = ()
) -> list[ImageOffer]:
    """Offers read from the images on the hosts: ``listings`` maps a host to what
    ``wheelfleet.fleet.builder_image_info`` returned there (``name``, ``arch``, ``tags``,
    ``labels`` with ``python-tags`` and ``glibc``, ``env`` with ``AUDITWHEEL_PLAT``).
    Untagged images are left out. An image on several hosts is one offer when the hosts
    agree; the interpreters every host has are offered otherwise."""
    found: dict[tuple[str, str], ImageOffer] = {}
    for host in sorted(listings):
        for image in listings[host] or []:
            labels = image.get("labels") or {}
            name, arch = image.get("name") or labels.get("name"), image.get("arch")
            if not name or not arch or not image.get("tags"):
                continue
            pythons = tuple(_short(tag) for tag in str(labels.get("python-tags") or "").split())
            glibc = labels.get("glibc") or _glibc_of_plat(
                (image.get("env") or {}).get("AUDITWHEEL_PLAT")
            )
            key = (str(name), str(arch))
            rank = order.index(name) if name in order else len(order)
            seen = found.get(key)
            if seen is not None:
                pythons = tuple(tag for tag in seen.pythons if tag in pythons)
                host_list = (*seen.hosts, host)
            else:
                host_list = (host,)
            found[key] = ImageOffer(key[0], key[1], pythons, READ, glibc or None, host_list, rank)
    return list(found.values())


def _glibc_of_plat(plat: str | None) -> str | None:
    match = re.match(r"^manylinux_(\d+)_(\d+)_", plat or "")
    return f"{match.group(1)}.{match.group(2)}" if match else None


def merge(
    recipes: Iterable[Mapping[str, Any]],
    listings: Mapping[str, Iterable[Mapping[str, Any]]],
) -> list[ImageOffer]:
    """The release's offers: the truth for every recipe image a host has, the prediction for
    the others. Images on the hosts that no recipe names are not offered (they are not built
    for this release, and a recipe change may have replaced them)."""
    recipes = list(recipes)
    names = [str(recipe.get("name")) for recipe in recipes]
    read = {(o.name, o.arch): o for o in from_listings(listings, names)}
    offers = []
    for offer in predicted(recipes):
        offers.append(read.get((offer.name, offer.arch), offer))
    return offers


def pythons_by_arch(offers: Iterable[ImageOffer]) -> dict[str, list[str]]:
    """Architecture -> every CPython tag some image provides there."""
    found: dict[str, list[str]] = {}
    for offer in offers:
        merged = found.setdefault(offer.arch, [])
        merged.extend(tag for tag in offer.pythons if tag not in merged)
    return found


def choose(offers: Iterable[ImageOffer], arch: str, python: str) -> ImageOffer | None:
    """The image for ``python`` on ``arch``: among those providing it, the oldest glibc
    (the most portable wheel), then the recipe order. None when no image provides it."""
    providing = [o for o in offers if o.arch == arch and python in o.pythons]
    if not providing:
        return None
    return min(providing, key=lambda o: (o.glibc_key, o.order))


def from_json(items: Iterable[Mapping[str, Any]]) -> list[ImageOffer]:
    """Offers from their JSON form (:meth:`ImageOffer.to_json`), in order."""
    return [
        ImageOffer(
            str(item["name"]),
            str(item["arch"]),
            tuple(item.get("pythons") or ()),
            str(item.get("origin") or PREDICTED),
            item.get("glibc"),
            tuple(item.get("hosts") or ()),
            order,
        )
        for order, item in enumerate(items)
    ]
