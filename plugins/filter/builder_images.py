"""Filters of the builder_image role, thin wrappers over src/wheelfleet/builder_images.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from wheelfleet import builder_images
except ImportError as exc:  # the controller needs the wheelfleet package installed
    builder_images = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if builder_images is None:
        raise AnsibleFilterError(
            f"the wheelfleet Python package is not importable on the controller "
            f"({IMPORT_ERROR}); install it into the controller's Python "
            "(scripts/bootstrap, or pip install -e . in the repository)"
        )
    try:
        return function(*args, **kwargs)
    except builder_images.BuilderImageError as exc:
        raise AnsibleFilterError(f"builder_image: {exc}") from exc
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"builder_image: malformed input ({exc!r})") from exc


def builder_image_plan(images: list[dict], settings: dict) -> list[dict]:
    """One entry per (image, architecture), with its tag and recipe hash."""
    return _call(lambda: builder_images.plan(images, settings))


def builder_image_status(
    entry: dict, images: list[dict], base_digest: str | None = None, force: bool = False
) -> dict:
    """Whether an entry must be built, and why."""
    return _call(lambda: builder_images.status(entry, images, base_digest, force))


def builder_image_base_digest(inspection: dict | None, reference: str) -> str | None:
    """The registry digest (or, for a local-only image, the ID) of a base image."""
    return _call(lambda: builder_images.base_digest(inspection, reference))


def builder_image_wheelhouse(
    entry: dict, rootfs: dict, settings: dict, python: str, cache_dir: str
) -> dict:
    """The controller's pip download command and cache directory for a bootstrapped image."""
    return _call(lambda: builder_images.wheelhouse(entry, rootfs, settings, python, cache_dir))


def builder_image_wheelhouse_error(entry: dict, info: dict, output: str) -> str:
    """A message for a failed wheelhouse download."""
    return _call(lambda: builder_images.wheelhouse_error(entry, info, output))


def builder_image_rootfs_cache(
    entry: dict,
    cache_dir: str,
    max_age_days: int,
    version: str,
    files: list[dict],
    now: float,
    unique: str,
) -> dict:
    """Whether a cached rootfs stands in for debootstrap, where it is kept, and what to prune."""
    return _call(
        lambda: builder_images.rootfs_cache(
            entry, cache_dir, max_age_days, version, files, now, unique
        )
    )


def builder_image_finish(
    entry: dict,
    probe_stdout: str,
    base_digest: str | None = None,
    expected_tags: list[str] | None = None,
) -> dict:
    """Contract problems, missing AUDITWHEEL_* variables and labels of a candidate image."""
    return _call(
        lambda: builder_images.finish(entry, probe_stdout, base_digest, expected_tags or [])
    )


def builder_image_known_env(glibc: str, arch: str, platforms: list[str]) -> dict:
    """AUDITWHEEL_* at the newest policy the image's auditwheel knows at or below its glibc."""
    return _call(lambda: builder_images.known_auditwheel_env(glibc, arch, platforms))


def builder_image_apt_sources(entry: dict, default_mirror: str) -> str:
    """The rootfs's sources.list, with check-valid-until=no where the image turns it off."""
    return _call(lambda: builder_images.apt_sources(entry, default_mirror))


def builder_image_stale(images: list[dict], entries: list[dict], repository: str) -> list[str]:
    """Tags (or IDs) of the project's images that the current set no longer wants."""
    return _call(lambda: builder_images.stale(images, entries, repository))


class FilterModule:
    """wheelfleet builder image filters."""

    def filters(self) -> dict[str, object]:
        return {
            "builder_image_plan": builder_image_plan,
            "builder_image_status": builder_image_status,
            "builder_image_base_digest": builder_image_base_digest,
            "builder_image_wheelhouse": builder_image_wheelhouse,
            "builder_image_wheelhouse_error": builder_image_wheelhouse_error,
            "builder_image_rootfs_cache": builder_image_rootfs_cache,
            "builder_image_finish": builder_image_finish,
            "builder_image_apt_sources": builder_image_apt_sources,
            "builder_image_known_env": builder_image_known_env,
            "builder_image_stale": builder_image_stale,
        }
