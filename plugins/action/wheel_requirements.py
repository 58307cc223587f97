# Copyright: wheelfleet developers
# Apache License 2.0
"""Download build/test requirement wheelhouses on the controller (wheelfleet.requirements)."""

from __future__ import annotations

import sys
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import requirements
except ImportError as exc:  # the controller needs the wheelfleet package installed
    requirements = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

# wheelfleet.failures: the kind of this plugin's refusals, which the release rounds and
# the CLI's exit code (2) read.
INPUT_REFUSED = {"failure_kind": "input"}


class ActionModule(ActionBase):
    """Runs on the controller only.

    Arguments: ``requests`` (a list of ``{arch, python_tag, glibc, requirements}``),
    ``cache_dir``, ``source`` (``wheelhouse`` downloads with the controller's
    pip, ``index`` leaves the wheelhouse empty), ``pip_args`` (extra arguments
    for ``pip download``, e.g. an index URL), ``timeout``. Returns
    ``wheelhouses``: per request its ``key`` (the cache's), ``request_key``
    (the request's own ``key``, which the jobs name as ``requirements_key``),
    ``archive`` (a tar to copy into containers), ``files``, ``changed`` and
    ``seconds``. A cached wheelhouse is
    not downloaded again. In check mode nothing is downloaded.
    """

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        if requirements is None:
            raise AnsibleActionFail(
                f"the wheelfleet Python package is not importable on the controller "
                f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
            )
        args = self._task.args
        done = []
        for request in args.get("requests") or []:
            started = time.monotonic()
            try:
                prepared = requirements.ensure(
                    request.get("requirements") or [],
                    request["arch"],
                    request["python_tag"],
                    request["glibc"],
                    args.get("cache_dir") or "~/.cache/wheelfleet",
                    source=args.get("source") or "wheelhouse",
                    python=args.get("python") or sys.executable,
                    pip_args=args.get("pip_args") or [],
                    download=not self._task.check_mode,
                    timeout=float(args.get("timeout") or 1800),
                )
            except requirements.RequirementsError as exc:
                raise AnsibleActionFail(str(exc), result=INPUT_REFUSED) from None
            prepared["seconds"] = round(time.monotonic() - started, 3)
            prepared["jobs"] = list(request.get("jobs") or [])
            prepared["request_key"] = request.get("key")
            done.append(prepared)
        result["wheelhouses"] = done
        result["by_job"] = {
            job: {"key": item["key"], "seconds": item["seconds"], "changed": item["changed"]}
            for item in done
            for job in item["jobs"]
        }
        result["changed"] = any(item["changed"] for item in done)
        return result
