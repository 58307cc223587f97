# Copyright: wheelfleet developers
# Apache License 2.0
"""Claim a run's staging directory in the wheelhouse and remove those of runs that were
killed (src/wheelfleet/stale.py)."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import stale
except ImportError as exc:  # the controller needs the wheelfleet package installed
    stale = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


class ActionModule(ActionBase):
    """Runs on the controller only (no connection to the host).

    Arguments: ``wheelhouse`` (the controller's wheelhouse), ``run`` (this run's
    identifier), ``state`` (``present``: remove the staging directories of runs whose
    controller process has ended, then record this run's owner in
    ``.staging/<run>/.owner``; ``absent``: drop this run's claim at its end).
    Returns ``owner`` (this run's owner identity, for the ``org.wheelfleet.owner`` label
    of its containers) and ``removed`` (the stale staging directories removed, or that
    would be in check mode).
    """

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        if stale is None:
            raise AnsibleActionFail(
                f"the wheelfleet Python package is not importable on the controller "
                f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
            )
        args = self._task.args
        wheelhouse = os.path.abspath(os.path.expanduser(str(args.get("wheelhouse") or "")))
        run = str(args.get("run") or "")
        state = args.get("state", "present")
        if not args.get("wheelhouse") or not run or "/" in run or run.startswith("."):
            raise AnsibleActionFail(
                f"wheel_build_claim needs a wheelhouse and a run name, got {args!r}"
            )
        if state not in ("present", "absent"):
            raise AnsibleActionFail(
                f"wheel_build_claim: state {state!r} is not one of present, absent"
            )
        owner = stale.owner()
        result.update(owner=owner, removed=[], changed=False)
        try:
            if state == "absent":
                # Dropping the run's own claim undoes what its start did: no net change, so
                # an unchanged run stays changed=0.
                if not self._task.check_mode:
                    result["released"] = stale.release_staging(wheelhouse, run)
                return result
            if self._task.check_mode:
                result["removed"] = [path.name for path in stale.stale_staging(wheelhouse)]
                result["changed"] = bool(result["removed"])
                return result
            result["removed"] = stale.remove_stale_staging(wheelhouse)
            stale.claim_staging(wheelhouse, run, owner)
        except OSError as exc:
            raise AnsibleActionFail(
                f"cannot tidy the staging directories of {wheelhouse}: {exc}"
            ) from None
        result["changed"] = bool(result["removed"])
        return result
