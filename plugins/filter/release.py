"""Filters of playbooks/release.yml, thin wrappers over src/wheelfleet/release.py."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from wheelfleet import release
except ImportError as exc:  # the controller needs the wheelfleet package installed
    release = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


def release_images(recipe: list[Any], image: str, architectures: list[str]) -> list[dict[str, Any]]:
    """The builder_image_images entry of ``image`` restricted to ``architectures``."""
    if release is None:
        raise AnsibleFilterError(
            f"the wheelfleet Python package is not importable on the controller "
            f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
        )
    if not isinstance(recipe, list):
        raise AnsibleFilterError(f"builder_image_images must be a list, got {recipe!r}")
    try:
        return release.builder_images(recipe, image, architectures)
    except (release.ReleaseInputError, ValueError) as exc:
        raise AnsibleFilterError(str(exc)) from None


def release_job_images(recipe: list[Any], default: str, jobs: list[Any]) -> list[dict[str, Any]]:
    """The builder_image_images entries of the images a host's jobs name, restricted to
    their architectures (a job naming no image uses ``default``)."""
    if release is None:
        raise AnsibleFilterError(
            f"the wheelfleet Python package is not importable on the controller "
            f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
        )
    if not isinstance(recipe, list) or not isinstance(jobs, list):
        raise AnsibleFilterError(
            f"builder_image_images and the jobs must be lists, got {recipe!r} and {jobs!r}"
        )
    try:
        return release.job_images(recipe, default, jobs)
    except (release.ReleaseInputError, ValueError, KeyError) as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """wheelfleet release filters."""

    def filters(self) -> dict[str, object]:
        return {"release_images": release_images, "release_job_images": release_job_images}
