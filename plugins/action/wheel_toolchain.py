# Copyright: wheelfleet developers
# Apache License 2.0
"""Download and pack the accelerator's toolchain on the controller (wheelfleet.accelerator)."""

from __future__ import annotations

import sys

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import accelerator
except ImportError as exc:  # the controller needs the wheelfleet package installed
    accelerator = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


class ActionModule(ActionBase):
    """Runs on the controller only.

    Arguments: ``jobs`` (the plan's jobs; those to build with an ``accelerator`` name the
    toolchains wanted), ``cache_dir``, ``pip_args`` (extra arguments for ``pip download``),
    ``timeout``. Returns ``toolchains``: per archive key its ``key``, ``archive`` (a
    .tar.gz for the engine to unpack into the build containers), ``changed`` and
    ``seconds``. A cached archive is not downloaded again; in check mode nothing is.
    """

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        if accelerator is None:
            raise AnsibleActionFail(
                f"the wheelfleet Python package is not importable on the controller "
                f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
            )
        args = self._task.args
        done = []
        for key in accelerator.wanted_archives(list(args.get("jobs") or [])):
            try:
                done.append(
                    accelerator.ensure(
                        key,
                        args.get("cache_dir") or "~/.cache/wheelfleet",
                        python=args.get("python") or sys.executable,
                        pip_args=list(args.get("pip_args") or []),
                        download=not self._task.check_mode,
                        timeout=float(args.get("timeout") or 1800),
                    )
                )
            except accelerator.ToolchainError as exc:
                raise AnsibleActionFail(str(exc)) from None
        result["toolchains"] = done
        result["changed"] = any(item["changed"] for item in done)
        return result
