# Copyright: wheelfleet developers
# Apache License 2.0
"""Launch a host's build engine with its inputs in place, in one task.

Before the module runs (in the background, with the task's ``async``), the action makes
the engine's private work directory on the host and copies the source and requirement
archives into it over the connection: what three module runs (tempfile, two copies) did
before, each paying for a Python start on the host, here costs one shell command and
the file transfers themselves.

Documentation: plugins/modules/wheel_build_engine.py
(ansible-doc wheelfleet.fleet.wheel_build_engine).
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash
from ansible_collections.wheelfleet.fleet.plugins.module_utils.engine_workdir import (
    SOURCE_ARCHIVE,
    requirements_archive,
    toolchain_archive,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict(self._task.args)
        files = [{"src": args.pop("source_archive", None), "name": SOURCE_ARCHIVE}]
        files = files if files[0]["src"] else []
        for wheelhouse in args.pop("requirement_archives", None) or []:
            name = requirements_archive(str(wheelhouse.get("request_key")))
            files.append({"src": wheelhouse.get("archive"), "name": name})
        toolchains = [
            {"src": item.get("archive"), "name": toolchain_archive(str(item.get("key")))}
            for item in args.pop("toolchain_archives", None) or []
        ]
        parent = args.pop("workdir_parent", None)
        prefix = args.pop("workdir_prefix", None) or "wheelfleet-"
        if not args.get("workdir"):
            if not parent:
                raise AnsibleActionFail("give workdir, or workdir_parent for a new one")
            if self._task.check_mode:
                args["workdir"] = f"{parent.rstrip('/')}/{prefix}(new)"
            else:
                args["workdir"] = self._make_workdir(parent, prefix)
        result["workdir"] = args["workdir"]
        if not self._task.check_mode:
            try:
                if toolchains:
                    result["toolchains"] = self._put_toolchains(toolchains, args)
                for item in files:
                    self._put(item, args["workdir"])
            except Exception:
                # Nothing is left behind on the host when the inputs cannot be copied.
                if not self._task.args.get("workdir"):
                    self._low_level_execute_command(
                        f"rm -rf -- {shlex.quote(args['workdir'])}", sudoable=False
                    )
                raise
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        module_result = self._execute_module(
            module_name="wheelfleet.fleet.wheel_build_engine",
            module_args=args,
            task_vars=task_vars,
            wrap_async=wrap_async,
        )
        result = merge_hash(result, module_result)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _make_workdir(self, parent: str, prefix: str) -> str:
        """A new directory only this user can read (mktemp -d: mode 0700, a name nobody
        can guess), under ``parent``, which is made when missing."""
        template = f"{parent.rstrip('/')}/{prefix}XXXXXXXX"
        command = f"mkdir -p {shlex.quote(parent)} && mktemp -d {shlex.quote(template)}"
        # As the connection's user, who then copies the files in; a become user (root)
        # running the engine reads and writes there too.
        made = self._low_level_execute_command(command, sudoable=False)
        path = (made.get("stdout") or "").strip()
        if made.get("rc") != 0 or not path.startswith(parent.rstrip("/") + "/"):
            raise AnsibleActionFail(
                f"cannot make the build's work directory under {parent}: "
                f"{(made.get('stderr') or made.get('stdout') or '').strip() or 'no output'}"
            )
        return path

    def _put_toolchains(self, toolchains: list[dict[str, Any]], args: dict) -> dict[str, str]:
        """Each toolchain archive in the host's toolchain directory, copied there only when
        missing (``cached`` or ``copied`` per archive); in the work directory (``workdir``)
        when there is no toolchain directory or it is not this user's alone, since the
        engine puts what it holds into build containers as their compiler."""
        directory = args.get("toolchain_dir")
        if directory and not self._private_directory(directory):
            args.pop("toolchain_dir")
            directory = None
        where = {}
        for item in toolchains:
            key = item["name"].removeprefix("toolchain-").removesuffix(".tar.gz")
            kept = f"{directory}/{item['name']}" if directory else ""
            if not directory:
                self._put(item, args["workdir"])
                where[key] = "workdir"
            elif self._remote_ok(f"test -f {shlex.quote(kept)}"):
                where[key] = "cached"
            else:
                # Under a name of this run, renamed when whole: another run may look.
                partial = f"{item['name']}.{os.path.basename(args['workdir'])}.part"
                quoted = shlex.quote(f"{directory}/{partial}")
                try:
                    self._put({"src": item["src"], "name": partial}, directory)
                    if not self._remote_ok(f"mv -f {quoted} {shlex.quote(kept)}"):
                        raise AnsibleActionFail(f"cannot keep {item['name']} in {directory}")
                except Exception:
                    self._remote_ok(f"rm -f {quoted}")
                    raise
                where[key] = "copied"
        return where

    def _private_directory(self, directory: str) -> bool:
        """Whether ``directory`` exists or was made, is no symlink, belongs to this user and
        only this user can write to it (mode 0700)."""
        quoted = shlex.quote(directory)
        return self._remote_ok(
            f"mkdir -p -m 0700 {quoted} && test -d {quoted} && test ! -L {quoted}"
            f' && test -O {quoted} && test "$(stat -c %a {quoted})" = 700'
        )

    def _remote_ok(self, command: str) -> bool:
        return self._low_level_execute_command(command, sudoable=False).get("rc") == 0

    def _put(self, item: dict[str, Any], workdir: str) -> None:
        source = os.path.expanduser(str(item.get("src") or ""))
        name = str(item.get("name") or "")
        if not os.path.isfile(source) or not name or "/" in name:
            raise AnsibleActionFail(f"cannot copy {source!r} as {name!r} into the work directory")
        remote = f"{workdir.rstrip('/')}/{name}"
        self._transfer_file(source, remote)
