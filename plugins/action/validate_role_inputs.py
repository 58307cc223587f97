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

# wheelfleet.failures: the kind of this plugin's refusals, which the release rounds and
# the CLI's exit code (2) read.
INPUT_REFUSED = {"failure_kind": "input"}

ROLES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "roles")


def load_spec(role: str) -> dict:
    path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    except FileNotFoundError:
        known = sorted(os.listdir(ROLES_DIR))
        raise AnsibleActionFail(
            f"role {role!r} has no argument specs; roles: {', '.join(known)}",
            result=INPUT_REFUSED,
        ) from None


def mirror_problems(provided: dict) -> list[str]:
    """Mirror URLs without a scheme (src/wheelfleet/mirrors.py): argument specs cannot say
    that a string must be a URL."""
    try:
        from wheelfleet import mirrors
    except ImportError:  # the roles run without the package; the CLI checks these too
        return []
    return mirrors.check_role_variables(provided)


def describe(error: Exception) -> str:
    # Ansible words an unknown key as "<key>. Supported parameters include: ...".
    prefix = "unknown option " if isinstance(error, UnsupportedError) else ""
    return f"{prefix}{error.msg}"


def located_errors(spec: dict, provided: dict) -> dict[str, list[tuple[str, str]]]:
    """Errors inside lists of dicts, per element: Ansible only says "found in <option>".

    Each element of such an option is validated on its own, so that the message
    can name it: ``builder_image_images[1] (name: bookworm): value of ...``.
    """
    located: dict[str, list[tuple[str, str]]] = {}
    for name, option in spec.items():
        value = provided.get(name)
        if option.get("elements") != "dict" or not option.get("options"):
            continue
        if not isinstance(value, list):
            continue
        validator = ArgumentSpecValidator(
            option["options"],
            mutually_exclusive=option.get("mutually_exclusive"),
            required_together=option.get("required_together"),
            required_one_of=option.get("required_one_of"),
            required_if=option.get("required_if"),
            required_by=option.get("required_by"),
        )
        for index, element in enumerate(value):
            if not isinstance(element, dict):
                continue
            label = f" (name: {element['name']})" if element.get("name") else ""
            for error in validator.validate(element).errors:
                located.setdefault(name, []).append((f"[{index}]{label}", describe(error)))
    return located


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
            located = located_errors(spec, provided)
            for error in validation.errors:
                if any(
                    error.msg.endswith(f" found in {name}") or error.msg.startswith(f"{name}.")
                    for name in located
                ):
                    continue  # reported below, naming the list element
                errors.append(f"{role}: {describe(error)}")
            for name, element_errors in located.items():
                errors += [f"{role}: {name}{where}: {message}" for where, message in element_errors]
            errors += [f"{role}: {problem}" for problem in mirror_problems(provided)]
        result["validated_roles"] = roles
        if errors:
            result["failed"] = True
            result.update(INPUT_REFUSED)
            result["errors"] = errors
            result["msg"] = "Invalid inputs:\n" + "\n".join(errors)
        return result
