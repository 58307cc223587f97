"""Filters of the wheel_build role, thin wrappers over src/wheelfleet (jobs.py,
build_outcome.py, job_settings.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from wheelfleet import build_outcome, job_settings, jobs
except ImportError as exc:  # the controller needs the wheelfleet package installed
    jobs = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if jobs is None:
        raise AnsibleFilterError(
            f"the wheelfleet Python package is not importable on the controller "
            f"({IMPORT_ERROR}); install it into the controller's Python "
            "(scripts/bootstrap, or pip install -e . in the repository)"
        )
    try:
        return function(*args, **kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"wheel_build: malformed input ({exc!r})") from exc


def wheel_build_run_id(_: Any = None) -> str:
    """A new run identifier (time-sortable, unique)."""
    return _call(jobs.new_run_id)


def wheel_build_image_names(
    matrix: list, architectures: list, repository: str, image: str, host_arch: str = ""
) -> list[str]:
    """The builder images the host's jobs use (to look them up on its engine), with their
    host-architecture counterparts when ``host_arch`` is given."""
    return _call(
        jobs.image_names, matrix or [], architectures or [], repository, image, host_arch or None
    )


def wheel_build_passed_env(names: list, index_url: str = "") -> dict:
    """environment-pass: the controller's values of those variables (filters run on the
    controller), and PIP_INDEX_URL when ``index_url`` carries credentials (the job's
    settings only hold it redacted). Give the result only to no_log parameters."""
    return _call(job_settings.secret_environment, names or [], os.environ, index_url)


def wheel_build_outcome(planned: list, watched: dict | None = None, failed: Any = None) -> dict:
    """What became of every planned job (``wheel_build_outcome``); ``failed`` is the
    failed task's result when the build stopped early: its ``failure_kind`` says
    whether the project was refused (input) or the host failed."""
    input_error = host_failure = None
    if isinstance(failed, dict):
        message = jobs.failure_message(failed) if jobs is not None else str(failed)
        if failed.get("failure_kind") == "input":
            input_error = message
        else:
            host_failure = message
    return _call(
        build_outcome.outcome,
        planned or [],
        watched if isinstance(watched, dict) else {},
        host_failure=host_failure,
        input_error=input_error,
    )


def wheel_build_summary(
    planned: list, watched: dict | None, host: str = "", outcome: dict | None = None
) -> dict:
    """Built, up-to-date (skipped), failed and unfinished jobs, and a text for the output."""
    return _call(
        build_outcome.summary,
        planned or [],
        watched if isinstance(watched, dict) else {},
        host,
        outcome,
    )


def wheel_build_failure(result: dict) -> str:
    """What went wrong in a failed task's result (ansible_failed_result), loop or not."""
    return _call(jobs.failure_message, result)


class FilterModule:
    """wheelfleet wheel_build filters."""

    def filters(self) -> dict[str, object]:
        return {
            "wheel_build_run_id": wheel_build_run_id,
            "wheel_build_image_names": wheel_build_image_names,
            "wheel_build_passed_env": wheel_build_passed_env,
            "wheel_build_outcome": wheel_build_outcome,
            "wheel_build_summary": wheel_build_summary,
            "wheel_build_failure": wheel_build_failure,
        }
