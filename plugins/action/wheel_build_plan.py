# Copyright: wheelfleet developers
# Apache License 2.0
"""Plan one host's build jobs against the wheelhouse manifest (src/wheelfleet/jobs.py)."""

from __future__ import annotations

import os
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import (
        architectures,
        job_settings,
        jobs,
        manifest,
        options,
        requirements,
        role_defaults,
        source,
    )
except ImportError as exc:  # the controller needs the wheelfleet package installed
    jobs = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

# wheelfleet.failures: the kind of this plugin's refusals, which the release rounds and
# the CLI's exit code (2) read.
INPUT_REFUSED = {"failure_kind": "input"}


class ActionModule(ActionBase):
    """Runs on the controller only; reads the wheelhouse manifest and the wheels it lists.

    Arguments: ``project`` (the result of wheelfleet.fleet.wheel_source),
    ``settings`` (build settings that replace the role's; by default the role's
    defaults overlaid with the host's ``wheel_build_*`` variables,
    src/wheelfleet/role_defaults.py), ``options`` (cibuildwheel options
    by name, the highest precedence), ``use_project_config``, ``architectures``,
    ``python_tags`` (or ``jobs``, explicit ``{arch, python}`` pairs that replace them),
    ``images`` (``docker_image_info`` results of the host),
    ``image`` (repository; the tag is the architecture), ``source_excludes`` (as
    given to wheel_source: test-sources are checked against what is packed),
    ``source_max_bytes`` and ``source_max_members`` (as given to wheel_source),
    ``host_arch`` (the engine's architecture), ``wheelhouse``, ``run_id``, ``force``,
    ``before_all_network`` and ``limits`` (the containers' checked limits). Returns
    ``jobs`` (resolved, src/wheelfleet/jobs.py: each with its effective ``settings``,
    its steps, group, networking and limits, and ``status`` build, up-to-date or
    failed), ``requirements`` (the wheelhouses the jobs to build need), ``warnings``
    about the configuration, and counts. Never changes anything.
    """

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        if jobs is None:
            raise AnsibleActionFail(
                f"the wheelfleet Python package is not importable on the controller "
                f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
            )
        task_vars = task_vars or {}
        args = self._task.args
        project = args["project"]
        try:
            role = self._role_settings(task_vars, args.get("settings") or {})
            config = job_settings.project_config(
                project,
                role,
                args.get("options") or {},
                use_project_config=bool(args.get("use_project_config", True)),
                environ=options.cibw_environ(os.environ),
            )
            wheelhouse = args["wheelhouse"]
            excludes = source.excludes_for(
                project["path"], args.get("source_excludes") or [], [wheelhouse]
            )
            limits = source.ReadLimits.from_values(
                args.get("source_max_bytes"), args.get("source_max_members")
            )
            # The paths come with the project as it was read (once per release); a project
            # description without them is read for them.
            present = (
                frozenset(project["paths"])
                if project.get("paths") is not None
                else source.member_paths(source.load_files(project["path"], excludes, limits)[1])
            )
            planned = jobs.plan(
                present=present,
                project=project,
                config=config,
                role=role,
                architectures_wanted=args.get("architectures") or [],
                python_tags=args.get("python_tags") or [],
                images=args.get("images") or [],
                image_repository=args["image"],
                host=task_vars.get("inventory_hostname", "localhost"),
                host_arch=args["host_arch"],
                wheelhouse_manifest=manifest.load(wheelhouse),
                wheelhouse=wheelhouse,
                run_id=args["run_id"],
                force=bool(args.get("force")),
                matrix=args.get("jobs") or None,
                before_all_network=bool(args.get("before_all_network", True)),
                limits=args.get("limits") or {},
            )
        except (
            jobs.PlanError,
            requirements.RequirementsError,
            architectures.UnknownArchitectureError,
            options.OptionsError,
            source.ProjectError,
            manifest.ManifestError,
            role_defaults.RoleDefaultsError,
        ) as exc:
            raise AnsibleActionFail(str(exc), result=INPUT_REFUSED) from None
        notes = [note for job in planned for note in job["settings"]["notes"]]
        warnings = [str(warning) for warning in config.warnings] + list(dict.fromkeys(notes))
        for warning in warnings:
            self._display.warning(warning)
        result.update(
            changed=False,
            jobs=planned,
            config_warnings=warnings,
            requirements=jobs.wheelhouse_requests(planned, project),
            to_build=[job["id"] for job in planned if job["status"] == "build"],
            up_to_date=[job["id"] for job in planned if job["status"] == "up-to-date"],
            failed_jobs=[job["id"] for job in planned if job["status"] == "failed"],
        )
        result["msg"] = (
            f"{len(result['to_build'])} to build, {len(result['up_to_date'])} up to date "
            f"(skipped), {len(result['failed_jobs'])} cannot run"
        )
        return result

    def _role_settings(self, task_vars: dict, given: dict) -> dict:
        """The role's defaults, the host's ``wheel_build_*`` variables over them, then
        ``given`` (the ``settings`` argument) over both."""
        root = Path(__file__).resolve().parents[2]
        defaults = role_defaults.load_defaults(role_defaults.defaults_path(root))
        settings = role_defaults.build_settings(defaults, task_vars, self._templar.template)
        settings.update(given)
        return settings
