# Copyright: wheelfleet developers
# Apache License 2.0
"""Check the project on the controller, hash its source and pack it (src/wheelfleet/source.py)."""

from __future__ import annotations

import os
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import manifest, source
except ImportError as exc:  # the controller needs the wheelfleet package installed
    source = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

# wheelfleet.failures: the kind of this plugin's refusals, which the release rounds and
# the CLI's exit code (2) read.
INPUT_REFUSED = {"failure_kind": "input"}


class ActionModule(ActionBase):
    """Runs on the controller only (no connection to the host).

    Arguments: ``project`` (a directory or an sdist on the controller), ``cache_dir`` (the
    archive goes to ``<cache_dir>/sources/<hash>.tar.gz``), ``excludes`` (extra patterns),
    ``wheelhouse`` (returned as an absolute path, with its ``staging`` directory, and created
    for the invoking user; left out of the source when it lies inside the project, as is
    the cache; an unreadable or malformed ``manifest.json`` in it is an error), ``pack``
    (write the archive; false only checks), ``max_bytes`` and ``max_members`` (the limits of
    reading an sdist, source.ReadLimits). Returns the project's name, version, kind, build
    requirements and backend, ``[tool.wheelfleet]`` (``config``), ``source_hash``,
    ``archive`` (the wheelhouse keeps a copy once a job publishes from it, for wheelfleet
    verify), ``source_date_epoch`` and its origin; ``changed`` when the archive is (or, in
    check mode, would be) written.
    ``snapshot``: the project as the release already read it (``release_inputs``'
    ``project_snapshot``); then the project is not read again, unless its packed archive
    has gone from the cache since.
    """

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        if source is None:
            raise AnsibleActionFail(
                f"the wheelfleet Python package is not importable on the controller "
                f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
            )
        args = self._task.args
        project = args.get("project")
        if not project:
            raise AnsibleActionFail(
                "no project given: set wheel_build_project to a project directory or an sdist "
                "on the controller",
                result=INPUT_REFUSED,
            )
        inside = [args.get("wheelhouse") or "", args.get("cache_dir") or ""]
        excludes = source.excludes_for(project, args.get("excludes") or [], inside)
        write = bool(args.get("pack", True)) and not self._task.check_mode
        snapshot = args.get("snapshot") or None
        try:
            limits = source.ReadLimits.from_values(args.get("max_bytes"), args.get("max_members"))
            if snapshot and (not write or os.path.isfile(str(snapshot.get("archive") or ""))):
                # Read once by the release: its archive is in the cache, nothing changes.
                prepared = dict(snapshot, changed=False)
            else:
                prepared = source.prepare(
                    project,
                    args.get("cache_dir") or "~/.cache/wheelfleet",
                    excludes,
                    write=write,
                    limits=limits,
                )
        except source.ProjectError as exc:
            raise AnsibleActionFail(str(exc), result=INPUT_REFUSED) from None
        except OSError as exc:
            raise AnsibleActionFail(
                f"cannot read or pack the project {project}: {exc}", result=INPUT_REFUSED
            ) from None
        if not args.get("pack", True):
            prepared["changed"] = False
        if args.get("wheelhouse"):
            wheelhouse = os.path.abspath(os.path.expanduser(args["wheelhouse"]))
            prepared["wheelhouse"] = wheelhouse
            prepared["staging"] = os.path.join(wheelhouse, ".staging")
            try:
                # A corrupt manifest stops the build here, before any host is changed.
                manifest.load(wheelhouse)
            except manifest.ManifestError as exc:
                raise AnsibleActionFail(str(exc), result=INPUT_REFUSED) from None
            if write:
                # Made here, by the invoking user's ids, before anything is fetched into it.
                try:
                    manifest.make_dirs(Path(wheelhouse), manifest.owner())
                except OSError as exc:
                    raise AnsibleActionFail(
                        f"cannot create the wheelhouse {wheelhouse}: {exc}",
                        result=INPUT_REFUSED,
                    ) from None
        result.update(prepared)
        result["msg"] = (
            f"{prepared['name']} {prepared['version'] or ''} ({prepared['kind']}, "
            f"{prepared['files']} files, source {prepared['source_hash'][:12]})"
        )
        return result
