# Copyright: wheelfleet developers
# Apache License 2.0
"""Start a release or fold a round's outcome into it, on the controller (src/wheelfleet/release.py).

Documentation: plugins/modules/release_round.py (ansible-doc wheelfleet.fleet.release_round).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import manifest, plan, release
except ImportError as exc:  # the controller needs the wheelfleet package installed
    release = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

ARGUMENT_SPEC = {
    "state": {"type": "dict"},
    "plan": {"type": "dict"},
    "release_id": {"type": "str"},
    "project": {"type": "str"},
    "max_rounds": {"type": "int", "default": 3},
    "failed_hosts": {"type": "dict", "default": {}},
    "outcome_fact": {"type": "str", "default": "wheelfleet_round_outcome"},
    "wheelhouse": {"type": "path"},
}


def _plain(value: Any) -> Any:
    """Hostvars values as plain JSON-ready data."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _same_round(number: Any, state: Mapping[str, Any]) -> bool:
    """Whether an outcome fact is of the state's current round (an earlier one does not
    count)."""
    try:
        return int(number) == int(state.get("round"))
    except (TypeError, ValueError):
        return False


class ActionModule(ActionBase):
    """Start: plan -> state with round 1 assigned. Advance: state + each host's outcome fact
    + the wheelhouse manifest -> state with the next round assigned (or complete)."""

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
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            required_one_of=[("state", "plan")],
            mutually_exclusive=[("state", "plan")],
            required_by={"plan": ("release_id", "project"), "state": ("wheelhouse",)},
        )
        try:
            if args["plan"] is not None:
                state = release.start(
                    args["plan"],
                    release_id=args["release_id"],
                    project=args["project"],
                    max_rounds=args["max_rounds"],
                    failed_hosts=args["failed_hosts"],
                )
                moves_before = 0
            else:
                previous = args["state"]
                hostvars = task_vars.get("hostvars") or {}
                outcomes = {}
                for host in previous.get("assignments") or {}:
                    value = hostvars[host].get(args["outcome_fact"]) if host in hostvars else None
                    value = _plain(value) if isinstance(value, Mapping) else None
                    if value is not None and not _same_round(value.get("round"), previous):
                        value = None
                    outcomes[host] = value
                home = os.path.abspath(os.path.expanduser(args["wheelhouse"]))
                moves_before = len(previous.get("moves") or [])
                state = release.advance(previous, outcomes, manifest.load(home))
                result["outcomes"] = outcomes
        except manifest.ManifestError as exc:
            raise AnsibleActionFail(str(exc)) from None
        except (plan.PlanInputError, KeyError, ValueError) as exc:
            raise AnsibleActionFail(f"cannot advance the release: {exc!r}") from None
        new_moves = state["moves"][moves_before:]
        result.update(
            changed=False,
            state=state,
            round=state["round"],
            complete=state["complete"],
            host_jobs={host: release.host_jobs(state, host) for host in state["assignments"]},
            round_jobs=[]
            if state["complete"]
            else [
                {**state["jobs"][name], "host": host}
                for host, names in state["assignments"].items()
                for name in names
            ],
            moves=new_moves,
            counts=release.counts(state),
            failure_kind=release.failure_kind(state),
            table=plan.Plan.from_json(state["plan"]).render(),
            text=release.summary_text(state),
        )
        if state["complete"]:
            result["msg"] = "release complete: " + release.summary_text(state).splitlines()[0]
        else:
            result["msg"] = f"round {state['round']}: " + ", ".join(
                f"{host}: {', '.join(names)}" for host, names in state["assignments"].items()
            )
        return result
