# Copyright: wheelfleet developers
# Apache License 2.0
"""Write a release's state and report into the wheelhouse (src/wheelfleet/report.py).

Documentation: plugins/modules/release_report.py (ansible-doc wheelfleet.fleet.release_report).
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import manifest, release, report
except ImportError as exc:  # the controller needs the wheelfleet package installed
    release = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

ARGUMENT_SPEC = {
    "state": {"type": "dict", "required": True},
    "wheelhouse": {"type": "path", "required": True},
}


class ActionModule(ActionBase):
    """Writes release.json, report.md and report.html; returns the report as data."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        if release is None:
            raise AnsibleActionFail(
                f"the wheelfleet Python package is not importable on the controller "
                f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
            )
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        home = os.path.abspath(os.path.expanduser(args["wheelhouse"]))
        state = args["state"]
        if not self._task.check_mode:
            # A release that stops before its last round ends here: what is left failed.
            state = release.finish(state)
        try:
            document = manifest.load(home)
        except manifest.ManifestError as exc:
            raise AnsibleActionFail(str(exc)) from None
        built = report.Report.build(document, state, home)
        paths: dict[str, str] = {}
        if not self._task.check_mode:
            try:
                paths["state"] = release.write_state(home, state)
                paths.update(built.write(home))
            except OSError as exc:
                raise AnsibleActionFail(f"cannot write the report into {home}: {exc}") from None
        result.update(
            changed=not self._task.check_mode,
            state=state,
            report=built.to_json(),
            paths=paths,
            wheels=release.finished_wheels(state, document),
            failed_jobs=[job["identifier"] for job in release.failed_jobs(state)],
            text=release.summary_text(state),
            msg=built.headline(),
        )
        return result
