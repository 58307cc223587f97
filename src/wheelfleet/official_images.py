"""The official manylinux images: which ones, from where, and whether a release uses them.

Pure logic plus one cheap network probe; no host access. A release uses the
official images (cibuildwheel's defaults, pulled and pinned by digest on each
build host) wherever their registry answers, and the offline (bootstrapped)
images where it does not. One setting, the mirror, redirects every official
reference to an internal registry.

Where this meets image selection: a project's ``manylinux-<arch>-image``
choice (``wheelfleet.image_choice``, read from its configuration, ``CIBW_*``
variables or ``wheelfleet_options``) replaces the policy defaults below
(``project_overrides``); with the offline images it has no effect, and the
plan says so.
"""

from __future__ import annotations

import http.client
import re
import ssl
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wheelfleet import manylinux
from wheelfleet.architectures import resolve

OFFICIAL_REGISTRY = "quay.io"
OFFICIAL_NAMESPACE = "quay.io/pypa"
"""Where the official manylinux images live: quay.io/pypa/<policy>_<arch>."""

DEFAULT_POLICIES = manylinux.DEFAULT_POLICIES
"""cibuildwheel 4.3.5's ``manylinux-<arch>-image`` defaults: one table, in wheelfleet.manylinux."""

IMAGE_NAME = "manylinux"
"""The builder image name of the official images: <repository>/manylinux:<arch>."""

CHOICES = ("auto", "official", "offline")
"""wheelfleet_images: probe and decide, or force either way."""

DEFAULT_PROBE_TIMEOUT = 3.0
MIRROR_FORM = "http(s)://HOST[:PORT][/PATH], e.g. https://registry.example:5000/pypa"

_HOST_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])$"
)
_PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


class ImageSourceError(ValueError):
    """A setting of the image source that cannot be used."""


@dataclass(frozen=True)
class Mirror:
    """A registry mirror: where the official images are pulled from instead of quay.io/pypa."""

    scheme: str
    host: str
    """host[:port], as Docker references name a registry."""
    path: str
    """The repository prefix inside the registry (may be empty)."""

    @property
    def prefix(self) -> str:
        """The reference prefix: host[:port][/path]."""
        return f"{self.host}/{self.path}" if self.path else self.host

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"


def parse_mirror(value: str) -> Mirror:
    """``https://registry.example:5000/pypa`` -> Mirror; anything else is refused with the form."""
    text = str(value or "").strip()

    # Credentials in the value are never repeated in a message.
    shown = re.sub(r"//[^/@]*@", "//***@", text)

    def refuse(why: str) -> ImageSourceError:
        return ImageSourceError(
            f"wheelfleet_registry_mirror {shown!r} {why}; valid form: {MIRROR_FORM}"
        )

    if "://" not in text:
        raise refuse("has no scheme")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise refuse(f"has the scheme {parts.scheme!r} (only http and https)")
    if parts.username or parts.password:
        raise refuse("carries credentials (log the hosts in to the registry instead)")
    if parts.query or parts.fragment:
        raise refuse("has a query or a fragment")
    try:
        port = parts.port
    except ValueError:
        raise refuse("has an invalid port") from None
    hostname = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if not hostname or not _HOST_RE.match(hostname):
        raise refuse("has no valid host")
    path = parts.path.strip("/")
    if path and not all(_PATH_COMPONENT_RE.match(part) for part in path.split("/")):
        raise refuse(f"has the path {parts.path!r} (lowercase letters, digits and . _ - only)")
    return Mirror(scheme=parts.scheme, host=parts.netloc, path=path)


def official_reference(arch: str, policy: str | None = None) -> str:
    """``quay.io/pypa/manylinux_2_28_x86_64`` for x86_64 (cibuildwheel's default policy)."""
    name = resolve(arch).name
    return f"{OFFICIAL_NAMESPACE}/{policy or DEFAULT_POLICIES[name]}_{name}"


def redirect(reference: str, mirror: Mirror | None) -> str:
    """An official reference rewritten onto the mirror; any other reference is left alone.

    ``quay.io/pypa/manylinux_2_28_x86_64:2026.10.26-1`` with the mirror
    ``https://registry.example:5000/pypa`` ->
    ``registry.example:5000/pypa/manylinux_2_28_x86_64:2026.10.26-1``.
    """
    prefix = OFFICIAL_NAMESPACE + "/"
    if mirror is None or not reference.startswith(prefix):
        return reference
    return f"{mirror.prefix}/{reference[len(prefix) :]}"


@dataclass(frozen=True)
class Probe:
    """Whether a registry answered its API root (GET /v2/) within the timeout."""

    url: str
    answers: bool
    detail: str


def probe(url: str, timeout: float = DEFAULT_PROBE_TIMEOUT) -> Probe:
    """One GET of ``url``/v2/: any HTTP answer (200, or 401 asking for a token) counts.

    Refused connections, unknown hosts, TLS failures and time-outs do not. The
    whole probe, name resolution included (which socket timeouts do not
    cover), is bounded by ``timeout``.
    """
    outcome: list[Probe] = []
    worker = threading.Thread(target=lambda: outcome.append(_get_v2(url, timeout)), daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    if not outcome:
        return Probe(url, False, f"no answer within {timeout:g} s")
    return outcome[0]


def _get_v2(url: str, timeout: float) -> Probe:
    parts = urlsplit(url)
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(parts.netloc, timeout=timeout)
    try:
        connection.request("GET", "/v2/", headers={"User-Agent": "wheelfleet"})
        status = connection.getresponse().status
    except TimeoutError:
        return Probe(url, False, f"no answer within {timeout:g} s")
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return Probe(url, False, str(exc) or type(exc).__name__)
    finally:
        connection.close()
    return Probe(url, True, f"answered HTTP {status}")


@dataclass(frozen=True)
class ImageSource:
    """Which images a release uses, and why (the plan prints ``reason``)."""

    source: str
    """official or offline."""
    reason: str
    mirror: Mirror | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "reason": self.reason,
            "mirror": self.mirror.prefix if self.mirror else None,
        }


def decide(
    choice: str,
    mirror_value: str = "",
    timeout: float = DEFAULT_PROBE_TIMEOUT,
    prober: Any = probe,
) -> ImageSource:
    """Official images where their registry (or the mirror) answers, else the offline ones.

    ``choice`` forces either way (official, offline) or probes (auto), once.
    Bad settings are refused before any probe.
    """
    if choice not in CHOICES:
        raise ImageSourceError(
            f"wheelfleet_images {choice!r} is unknown; valid: {', '.join(CHOICES)}"
        )
    mirror = parse_mirror(mirror_value) if str(mirror_value or "").strip() else None
    where = mirror.prefix if mirror else OFFICIAL_REGISTRY
    if choice == "offline":
        return ImageSource("offline", "wheelfleet_images is offline: using offline images", mirror)
    if choice == "official":
        reason = f"wheelfleet_images is official: using the official images from {where}"
        return ImageSource("official", reason, mirror)
    answer: Probe = prober(mirror.url if mirror else f"https://{OFFICIAL_REGISTRY}", timeout)
    if answer.answers:
        return ImageSource(
            "official", f"{where} answers ({answer.detail}): using the official images", mirror
        )
    reason = f"{where} unreachable ({answer.detail}): using offline images"
    return ImageSource("offline", reason, mirror)


def recipe(
    architectures: Iterable[str] = tuple(DEFAULT_POLICIES),
    mirror: Mirror | None = None,
    policies: Mapping[str, str] | None = None,
    references: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The builder_image_images entry of the official images, one base per architecture.

    ``policies`` (arch -> manylinux policy) replace cibuildwheel's defaults;
    ``references`` (arch -> a full image reference, as a project's
    ``manylinux-<arch>-image`` may give) replace the reference itself. Both go
    through the mirror. Bases carry no digest unless given one: each build host
    resolves the reference to its current digest, pulls that digest and pins
    it; a new digest rebuilds the image and its wheels.
    """
    chosen = dict(DEFAULT_POLICIES, **(policies or {}))
    given = {resolve(arch).name: ref for arch, ref in (references or {}).items()}
    archs = [resolve(arch).name for arch in architectures]
    return {
        "name": IMAGE_NAME,
        "source": "registry",
        "architectures": archs,
        "base": {
            arch: redirect(given.get(arch) or official_reference(arch, chosen[arch]), mirror)
            for arch in archs
        },
        "pull": "always",
    }


def project_overrides(
    choices: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """The ``policies`` and ``references`` of :func:`recipe` from a project's image choices
    (arch -> the JSON of ``image_choice.ImageChoice``): a short name chooses the official
    image of its policy, a full reference is taken as given. cibuildwheel's defaults need
    no override and are left out."""
    policies: dict[str, str] = {}
    references: dict[str, str] = {}
    for arch, choice in (choices or {}).items():
        if choice.get("kind") == "default":
            continue
        name = resolve(arch).name
        if choice.get("policy"):
            policies[name] = str(choice["policy"])
        else:
            references[name] = str(choice["reference"])
    return policies, references


def describe_overrides(choices: Mapping[str, Mapping[str, Any]] | None) -> list[str]:
    """One line per architecture whose image the project (or the operator) chose."""
    return [
        f"{arch}: {choice['reference']} (from {choice['origin']})"
        for arch, choice in sorted((choices or {}).items())
        if choice.get("kind") != "default"
    ]
