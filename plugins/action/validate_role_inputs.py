# Copyright: wheelfleet developers
# Apache License 2.0
"""Validate the inputs of several roles of this collection before any of them runs."""

from __future__ import annotations

import os

import yaml
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase

ROLES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "roles")


def load_spec(role: str) -> dict:
    path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    except FileNotFoundError:
        known = sorted(os.listdir(ROLES_DIR))
        raise AnsibleActionFail(
            f"role {role!r} has no argument specs; roles: {', '.join(known)}"
        ) from None


class ActionModule(ActionBase):
    """Checks each named role's inputs against its meta/argument_specs.yml (main entry point).

    Unlike ansible.builtin.validate_argument_spec in a loop, it reports every
    error of every role in one message and does not echo the specs.
    """

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        roles = self._task.args.get("roles") or []
        errors: list[str] = []
        for role in roles:
            spec = load_spec(role)
            provided = {
                name: self._templar.template(task_vars[name]) for name in spec if name in task_vars
            }
            validation = ArgumentSpecValidator(spec).validate(provided)
            for error in validation.errors:
                # Ansible words an unknown key as "<key>. Supported parameters include: ...".
                prefix = "unknown option " if isinstance(error, UnsupportedError) else ""
                errors.append(f"{role}: {prefix}{error.msg}")
        result["validated_roles"] = roles
        if errors:
            result["failed"] = True
            result["errors"] = errors
            result["msg"] = "Invalid inputs:\n" + "\n".join(errors)
        return result
