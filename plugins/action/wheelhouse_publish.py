# Copyright: wheelfleet developers
# Apache License 2.0
"""Move a job's fetched wheels into the controller's wheelhouse (src/wheelfleet/manifest.py)."""

from __future__ import annotations

import os
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import manifest
except ImportError as exc:  # the controller needs the wheelfleet package installed
    manifest = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


class ActionModule(ActionBase):
    """Runs on the controller only.

    Arguments: ``wheelhouse``, ``staging`` (where the job's files were fetched, inside the
    wheelhouse), ``job`` (the planned job), ``wheels`` (``file``, ``sha256``, ``size``,
    ``tags``, ``grafted``, ``plat`` of each repaired wheel), ``timings``, ``logs`` (staged
    log files, concatenated into ``logs/<job>.log``), ``header`` (text put before them),
    ``failed`` (only the log is written), ``discard`` (only remove the staging directory),
    ``allow_pure`` (a pure ``py3-none-any`` wheel of the project may land).
    Each wheel's name must be one the job may publish (the build container is not
    trusted); its sha256 and size are computed here from the fetched bytes. Every wheel
    lands with its manifest entry or none does (src/wheelfleet/manifest.py). The staging
    directory is always removed. Check mode changes nothing.
    """

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        if manifest is None:
            raise AnsibleActionFail(
                f"the wheelfleet Python package is not importable on the controller "
                f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
            )
        task_vars = task_vars or {}
        args = self._task.args
        if self._task.check_mode:
            result.update(changed=False, skipped=True, msg="check mode: nothing published")
            return result
        home = os.path.abspath(os.path.expanduser(args["wheelhouse"]))
        staging = os.path.abspath(os.path.expanduser(args["staging"]))
        if args.get("discard"):
            manifest.remove_staging(Path(home), Path(staging))
            result.update(changed=False, published=[])
            return result
        job = args["job"]
        log_text = (args.get("header") or "") + "".join(
            _read(os.path.join(staging, name)) for name in args.get("logs") or []
        )
        log_name = f"{job['id']}.log"
        if args.get("failed"):
            try:
                path = manifest.write_log(Path(home), log_name, log_text)
            except manifest.PublishError as exc:
                raise AnsibleActionFail(str(exc)) from None
            finally:
                manifest.remove_staging(Path(home), Path(staging))
            result.update(changed=True, log=path, published=[])
            return result
        host = task_vars.get("inventory_hostname", "localhost")
        timings = args.get("timings") or {}
        wheels = args.get("wheels") or []
        entries = [manifest.entry(job, wheel, host=host, timings=timings) for wheel in wheels]
        try:
            published = manifest.publish(
                home,
                staging,
                wheels,
                entries,
                job=job,
                allow_pure=bool(args.get("allow_pure")),
                log_name=log_name,
                log_text=log_text,
            )
        except manifest.PublishError as exc:
            raise AnsibleActionFail(str(exc)) from None
        result.update(changed=True, **published)
        return result
