# Copyright: wheelfleet developers
# Apache License 2.0
"""Stop a play with a message and the kind of its failure (wheelfleet.failures).

Documentation: plugins/modules/stop.py (ansible-doc wheelfleet.fleet.stop).
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

ARGUMENT_SPEC = {
    "msg": {"type": "str", "required": True},
    "kind": {"type": "str", "required": True, "choices": ["input", "host", "job"]},
}


class ActionModule(ActionBase):
    """ansible.builtin.fail with ``failure_kind`` in its result, which the rounds and the
    CLI's exit code read instead of the task's name."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result.update(failed=True, changed=False, msg=args["msg"], failure_kind=args["kind"])
        return result
