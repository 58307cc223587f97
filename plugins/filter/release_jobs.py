"""Filters that turn a release matrix into jobs, thin wrappers over src/wheelfleet/plan.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from wheelfleet import plan
except ImportError as exc:  # the controller needs the wheelfleet package installed
    plan = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


def _call(function: Callable[[], list[Any]]) -> list[dict[str, Any]]:
    if plan is None:
        raise AnsibleFilterError(
            f"the wheelfleet Python package is not importable on the controller "
            f"({IMPORT_ERROR}); install it into the controller's Python "
            "(scripts/bootstrap, or pip install -e . in the repository)"
        )
    try:
        return [job.to_json() for job in function()]
    except plan.PlanInputError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def matrix_jobs(architectures: list[str], pythons: list[str]) -> list[dict[str, Any]]:
    """One job per architecture and Python tag; fails naming an unknown one."""
    return _call(lambda: plan.matrix_jobs(architectures, pythons))


def release_jobs(jobs: list[Any]) -> list[dict[str, Any]]:
    """Jobs given as build identifiers or mappings, checked and written out in full."""
    if isinstance(jobs, str | dict) or not isinstance(jobs, list):
        raise AnsibleFilterError(f"release_jobs expects a list of jobs, got {jobs!r}")
    return _call(lambda: [plan.Job.from_json(job) for job in jobs])


class FilterModule:
    """wheelfleet release matrix filters."""

    def filters(self) -> dict[str, object]:
        return {
            "matrix_jobs": matrix_jobs,
            "release_jobs": release_jobs,
        }
