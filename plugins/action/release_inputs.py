# Copyright: wheelfleet developers
# Apache License 2.0
"""Check a release's inputs on the controller (src/wheelfleet/release.py).

Documentation: plugins/modules/release_inputs.py (ansible-doc wheelfleet.fleet.release_inputs).
"""

from __future__ import annotations

import os
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import mirrors, release, role_defaults
except ImportError as exc:  # the controller needs the wheelfleet package installed
    release = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

# wheelfleet.failures: the kind of this plugin's refusals, which the release rounds and
# the CLI's exit code (2) read.
INPUT_REFUSED = {"failure_kind": "input"}

ARGUMENT_SPEC = {
    "project": {"type": "raw"},
    "wheel_build_project": {"type": "raw"},
    "architectures": {"type": "raw"},
    "pythons": {"type": "raw"},
    "jobs": {"type": "raw"},
    "wheel_build_jobs": {"type": "raw"},
    "max_rounds": {"type": "raw"},
    "emulation_factor": {"type": "raw"},
    "build_options": {"type": "raw"},
    "publish": {"type": "raw", "default": False},
    "repository_url": {"type": "raw"},
    "has_username": {"type": "bool", "default": False},
    "has_password": {"type": "bool", "default": False},
    "policy_floor": {"type": "raw"},
    "extra_build_requires": {"type": "raw"},
    "test_requires": {"type": "raw"},
    "source_max_bytes": {"type": "raw"},
    "source_max_members": {"type": "raw"},
    "pack_source": {"type": "bool", "default": True},
    "project_snapshot": {"type": "dict"},
}


class ActionModule(ActionBase):
    """Checks every input at once and fails naming each bad value; contacts no host."""

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
        task_vars = task_vars or {}
        # Every mirror setting in play (builder_image_debian_mirror, a registry mirror...),
        # checked before any host changes.
        mirror_settings = {
            name: self._templar.template(task_vars[name])
            for name in task_vars
            if mirrors.is_mirror_setting(name)
        }
        # The release reads the project here, once: where its source is packed and what is
        # left out of it are the wheel_build role's settings, as the builds would use them.
        settings = self._role_settings(task_vars)
        pack = args.pop("pack_source") and not self._task.check_mode
        try:
            checked = release.check_inputs(
                **args,
                mirrors=mirror_settings,
                environ=os.environ,
                cwd=os.getcwd(),
                source_cache_dir=settings.get("cache_dir"),
                source_excludes=settings.get("source_excludes") or [],
                wheelhouse=settings.get("wheelhouse"),
                pack=pack,
                qemu_cpu_models=settings.get("qemu_cpu"),
            )
        except release.ReleaseInputError as exc:
            raise AnsibleActionFail(
                f"Invalid release inputs:\n{exc}", result=INPUT_REFUSED
            ) from None
        result.update(changed=False, **checked)
        if checked["project_snapshot"]:
            result["changed"] = bool(checked["project_snapshot"]["changed"])
        if checked["jobs"]:
            result["msg"] = (
                f"{len(checked['jobs'])} job(s) for {checked['project']}:"
                f" {', '.join(job['identifier'] for job in checked['jobs'])}"
            )
        else:
            result["msg"] = (
                f"the jobs of {checked['project']} are what its build configuration selects"
                f" on this fleet (architectures named: {', '.join(checked['architectures'])}"
                " or the hosts' own)"
            )
        return result

    def _role_settings(self, task_vars: dict) -> dict:
        """The wheel_build role's settings by short name: its defaults, the play's
        ``wheel_build_*`` variables over them (src/wheelfleet/role_defaults.py)."""
        root = Path(__file__).resolve().parents[2]
        try:
            defaults = role_defaults.load_defaults(role_defaults.defaults_path(root))
        except role_defaults.RoleDefaultsError as exc:
            raise AnsibleActionFail(str(exc)) from None
        names = (*role_defaults.SOURCE_SETTINGS, "qemu_cpu")
        return role_defaults.build_settings(defaults, task_vars, self._templar.template, names)
