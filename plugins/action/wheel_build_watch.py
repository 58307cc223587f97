# Copyright: wheelfleet developers
# Apache License 2.0
"""Watch one host's build engine, relay its progress, fetch and publish its jobs
(src/wheelfleet/build_watch.py).

Documentation: plugins/modules/wheel_build_watch.py
(ansible-doc wheelfleet.fleet.wheel_build_watch).
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure, AnsibleError
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import build_watch
except ImportError as exc:  # the controller needs the wheelfleet package installed
    build_watch = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

ARGUMENT_SPEC = {
    "jid": {"type": "str", "required": True},
    "workdir": {"type": "str", "required": True},
    "jobs": {"type": "list", "elements": "dict", "required": True},
    "wheelhouse": {"type": "str", "required": True},
    "staging": {"type": "str", "required": True},
    "poll_interval": {"type": "float", "default": 2.0},
    "timeout": {"type": "int", "default": 3600},
    "allow_pure": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):
    """Polls ``wheel_build_progress`` on the host until the engine's ``finished`` record
    (or its end, or the timeout); a lost connection is a host failure, not an error."""

    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        if build_watch is None:
            raise AnsibleActionFail(
                f"the wheelfleet Python package is not importable on the controller "
                f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
            )
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if self._task.check_mode:
            result.update(changed=False, skipped=True, msg="check mode: nothing watched")
            return result
        host = str(task_vars.get("inventory_hostname", "localhost"))
        jobs = [job for job in args["jobs"] if job.get("status", "build") == "build"]
        watch = build_watch.Watch(
            jobs,
            host=host,
            wheelhouse=os.path.expanduser(args["wheelhouse"]),
            staging=os.path.expanduser(args["staging"]),
            fetch=self._fetcher(args["workdir"]),
            allow_pure=args["allow_pure"],
            progress_path=os.environ.get("WHEELFLEET_PROGRESS") or None,
            show=self._display.display,
        )
        watch.start()
        try:
            self._poll(watch, args, task_vars)
        except AnsibleConnectionFailure as exc:
            watch.host_lost(f"lost the connection to {host}: {exc}")
        except build_watch.FetchError as exc:
            watch.host_lost(str(exc))
        outcome = watch.outcome()
        result.update(outcome)
        # Everything is fetched: the work directory and the engine's async status go now, in
        # one command, rather than in two more tasks (the role's fallback does it otherwise).
        result["cleaned"] = self._clean(args) if not outcome["host_failure"] else False
        if outcome["host_failure"]:
            result["failure_kind"] = "host"
        return result

    def _poll(self, watch: Any, args: dict, task_vars: dict) -> None:
        offset = 0
        deadline = time.monotonic() + args["timeout"] + 300
        async_dir = self._remote_expand_user(
            self.get_shell_option("async_dir", default="~/.ansible_async")
        )
        while True:
            progress = self._execute_module(
                module_name="wheelfleet.fleet.wheel_build_progress",
                module_args={
                    "workdir": args["workdir"],
                    "offset": offset,
                    "jid": args["jid"],
                    "async_dir": async_dir,
                    # A long poll: the host answers as soon as the engine writes a record.
                    "wait": args["poll_interval"],
                },
                task_vars=task_vars,
            )
            if progress.get("unreachable"):
                raise AnsibleConnectionFailure(str(progress.get("msg") or "unreachable"))
            if progress.get("failed"):
                watch.host_lost(f"cannot read the build's progress: {progress.get('msg')}")
                return
            for record in progress.get("records") or []:
                watch.handle(record)
            offset = int(progress.get("offset") or offset)
            if progress.get("finished"):
                self._ended(watch, progress.get("async_result"))
                return
            if time.monotonic() > deadline:
                watch.host_lost(f"the build did not finish within {args['timeout']} s")
                return

    def _clean(self, args: dict) -> bool:
        async_dir = self._remote_expand_user(
            self.get_shell_option("async_dir", default="~/.ansible_async")
        )
        paths = [args["workdir"], f"{async_dir.rstrip('/')}/{args['jid']}"]
        command = "rm -rf -- " + " ".join(shlex.quote(path) for path in paths)
        try:
            done = self._low_level_execute_command(command, sudoable=True)
        except AnsibleError:
            return False
        return done.get("rc") == 0

    @staticmethod
    def _ended(watch: Any, async_result: Any) -> None:
        """The engine ended: jobs it never reported mean it died (killed, crashed)."""
        pending = [name for name in watch.jobs if name not in watch.results]
        if pending and not watch.host_failure:
            why = ""
            if isinstance(async_result, dict):
                why = str(async_result.get("msg") or async_result.get("stderr") or "").strip()
            watch.host_lost(
                f"the build engine ended without reporting {', '.join(pending)}"
                + (f": {why}" if why else "")
            )

    def _fetcher(self, workdir: str) -> Any:
        def fetch(job: str, name: str, local: Path) -> None:
            remote = f"{workdir.rstrip('/')}/out/{job}/{name}"
            local.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._connection.fetch_file(remote, str(local))
            except AnsibleConnectionFailure as exc:
                message = f"lost the connection fetching {remote}: {exc}"
                raise build_watch.FetchError(message, lost=True) from None
            except (AnsibleError, OSError) as exc:
                raise build_watch.FetchError(f"cannot fetch {remote}: {exc}") from None

        return fetch
