"""Filters of the wheel_build role, thin wrappers over src/wheelfleet/jobs.py."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from wheelfleet import job_settings, jobs
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


def wheel_build_steps(job: dict, purpose: str = "build", wheels: list | None = None) -> list[dict]:
    """The steps a job runs in its build container, or (purpose=test) its test container,
    from the job's own settings."""
    if purpose == "test":
        return _call(jobs.test_steps, job, wheels or [])
    return _call(jobs.build_steps, job)


def wheel_build_passed_env(names: list, index_url: str = "") -> dict:
    """environment-pass: the controller's values of those variables (filters run on the
    controller), and PIP_INDEX_URL when ``index_url`` carries credentials (the job's
    settings only hold it redacted). Give the result only to no_log parameters."""
    return _call(job_settings.secret_environment, names or [], os.environ, index_url)


def wheel_build_record(
    state: dict, job: str, step: str, seconds: Any = None, error: str | None = None, **data: Any
) -> dict:
    """The job state with one step recorded (``error`` marks the job failed)."""
    return _call(jobs.record, state or {}, job, step, seconds, error, **data)


def wheel_build_record_async(state: dict, results: list, step: str, tail_lines: int = 40) -> dict:
    """The job state with the async_status results of launched container steps recorded."""
    return _call(jobs.record_async, state or {}, results or [], step, tail_lines)


def wheel_build_active(planned: list, state: dict) -> list[dict]:
    """The planned jobs to build that have not failed."""
    return _call(jobs.active, planned or [], state or {})


def wheel_build_summary(planned: list, state: dict, host: str = "") -> dict:
    """Built, up-to-date (skipped) and failed jobs, and a text for the output."""
    return _call(jobs.summary, planned or [], state or {}, host)


def wheel_build_step_name(task_name: str) -> str:
    """The step part of a job task's name ("Start the build container: <job>")."""
    return _call(jobs.step_name, task_name)


def wheel_build_failure(result: dict) -> str:
    """What went wrong in a failed task's result (ansible_failed_result), loop or not."""
    return _call(jobs.failure_message, result)


def wheel_build_repaired_wheels(results: list) -> list[dict]:
    """The repaired wheels from the auditwheel module's loop results."""
    return _call(jobs.repaired_wheels, results or [])


def wheel_build_refused_wheels(results: list, job: dict, allow_pure: bool = False) -> list[str]:
    """Why the controller refuses the names of the repaired wheels ([] when it accepts all)."""
    return _call(jobs.refused_wheels, results or [], job, bool(allow_pure))


def wheel_build_log_header(job: dict, state: dict, host: str) -> str:
    """The top of a job's log in the wheelhouse."""
    return _call(jobs.log_header, job, state or {}, host)


class FilterModule:
    """wheelfleet wheel_build filters."""

    def filters(self) -> dict[str, object]:
        return {
            "wheel_build_run_id": wheel_build_run_id,
            "wheel_build_steps": wheel_build_steps,
            "wheel_build_passed_env": wheel_build_passed_env,
            "wheel_build_record": wheel_build_record,
            "wheel_build_record_async": wheel_build_record_async,
            "wheel_build_active": wheel_build_active,
            "wheel_build_summary": wheel_build_summary,
            "wheel_build_step_name": wheel_build_step_name,
            "wheel_build_failure": wheel_build_failure,
            "wheel_build_repaired_wheels": wheel_build_repaired_wheels,
            "wheel_build_refused_wheels": wheel_build_refused_wheels,
            "wheel_build_log_header": wheel_build_log_header,
        }
