# Copyright: wheelfleet developers
# Apache License 2.0
"""Plan a release across the build hosts, on the controller (src/wheelfleet/plan.py).

Documentation: plugins/modules/plan_release.py (ansible-doc wheelfleet.fleet.plan_release).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from wheelfleet import image_offers, options, plan, release_matrix, role_defaults, source
except ImportError as exc:  # the controller needs the wheelfleet package installed
    plan = None
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

# wheelfleet.failures: the kind of this plugin's refusals, which the release rounds and
# the CLI's exit code (2) read.
INPUT_REFUSED = {"failure_kind": "input"}

ARGUMENT_SPEC = {
    "jobs": {"type": "list", "elements": "raw"},
    "project": {"type": "str"},
    "project_snapshot": {"type": "dict"},
    "options": {"type": "dict", "default": {}},
    "settings": {"type": "dict", "default": {}},
    "image_recipes": {"type": "list", "elements": "dict", "default": []},
    "architectures": {"type": "list", "elements": "str"},
    "pythons": {"type": "list", "elements": "str"},
    "hosts": {"type": "list", "elements": "str"},
    "emulation_factor": {"type": "float"},
    "previous": {"type": "dict"},
    "failed_hosts": {"type": "raw", "default": []},
    "finished_jobs": {"type": "list", "elements": "str", "default": []},
    "fail_on_unschedulable": {"type": "bool", "default": True},
}

# The fact playbooks/plan.yml sets on each host: the builder images there (what
# wheelfleet.fleet.builder_image_info returned), whose labels say what each provides.
IMAGES_FACT = "wheelfleet_builder_images"

# The host variables host_from_vars reads, and the facts it needs from ansible_facts.
HOST_VARS = (
    "wheelfleet_architecture",
    "wheelfleet_capacity",
    "wheelfleet_emulates",
    "wheelfleet_emulated_architectures",
    "wheelfleet_unavailable",
)
FACTS = ("architecture", "processor_nproc", "processor_vcpus")


def host_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The part of one host's hostvars that planning reads."""
    found = {name: variables[name] for name in HOST_VARS if name in variables}
    facts = variables.get("ansible_facts") or {}
    if isinstance(facts, Mapping):
        found["ansible_facts"] = {name: facts[name] for name in FACTS if name in facts}
    return found


def _with_image(job: Any, offers: list) -> Any:
    """The job naming the image that provides its Python (kept when it names one already)."""
    if job.image:
        return job
    chosen = image_offers.choose(offers, job.architecture, job.python)
    return plan.Job.from_json({**job.to_json(), "image": chosen.name}) if chosen else job


class ActionModule(ActionBase):
    """Reads the build hosts' variables and facts, returns the plan; never contacts a host."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        if plan is None:
            raise AnsibleActionFail(
                f"the wheelfleet Python package is not importable on the controller "
                f"({IMPORT_ERROR}); install it (scripts/bootstrap, or pip install -e .)"
            )
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[
                ("jobs", "architectures", "previous", "project"),
                ("jobs", "pythons", "previous", "project"),
                ("previous", "hosts"),
                ("previous", "emulation_factor"),
            ],
            required_together=[("architectures", "pythons")],
            required_one_of=[("jobs", "architectures", "previous", "project")],
        )
        if args["previous"] is not None:
            return self._replan(result, args)
        try:
            args["settings"] = self._role_settings(task_vars, args["settings"] or {})
        except role_defaults.RoleDefaultsError as exc:
            raise AnsibleActionFail(str(exc)) from None
        hostvars = task_vars.get("hostvars") or {}
        names = args["hosts"]
        if names is None:
            names = (task_vars.get("groups") or {}).get("build_hosts") or []
        unknown = [name for name in names if name not in hostvars]
        if unknown:
            raise AnsibleActionFail(
                f"hosts not in the inventory: {', '.join(unknown)}", result=INPUT_REFUSED
            )
        factor = args["emulation_factor"]
        selection = None
        listings = {
            name: hostvars[name].get(IMAGES_FACT) or []
            for name in names
            if isinstance(hostvars[name].get(IMAGES_FACT), list)
        }
        try:
            offers = image_offers.merge(args["image_recipes"], listings)
            hosts = [plan.host_from_vars(name, host_variables(hostvars[name])) for name in names]
            if args["project"] is not None:
                selection = self._select(args, hosts, offers)
                jobs = [*selection.jobs, *selection.unbuildable]
            elif args["jobs"] is not None:
                jobs = [plan.Job.from_json(job) for job in args["jobs"]]
            else:
                jobs = plan.matrix_jobs(args["architectures"], args["pythons"])
            jobs = [_with_image(job, offers) for job in jobs]
            release = plan.make_plan(
                jobs,
                hosts,
                emulation_factor=plan.DEFAULT_EMULATION_FACTOR if factor is None else factor,
            )
        except plan.PlanInputError as exc:
            raise AnsibleActionFail(str(exc), result=INPUT_REFUSED) from exc
        result = self._report(result, release, args["fail_on_unschedulable"])
        result["images"] = [offer.to_json() for offer in offers]
        if selection is not None:
            chosen = selection.to_json()
            result["plan"]["selection"] = chosen
            result["selection"] = chosen
            result["table"] = release_matrix.render(chosen) + "\n" + result["table"]
            for warning in selection.warnings:
                self._display.warning(warning)
        return result

    def _role_settings(self, task_vars: dict, given: dict) -> dict:
        """The wheel_build role's defaults, the host's ``wheel_build_*`` variables over
        them (src/wheelfleet/role_defaults.py), then ``given`` over both."""
        root = Path(__file__).resolve().parents[2]
        defaults = role_defaults.load_defaults(role_defaults.defaults_path(root))
        settings = role_defaults.build_settings(defaults, task_vars, self._templar.template)
        settings.update(given)
        return settings

    @staticmethod
    def _select(args: dict, hosts: list, offers: list) -> Any:
        """The jobs the project's configuration selects on these hosts and images."""
        try:
            settings = args["settings"] or {}
            limits = source.ReadLimits.from_values(
                settings.get("source_max_bytes"), settings.get("source_max_members")
            )
            project, config = release_matrix.load_project(
                args["project"],
                args["settings"],
                args["options"],
                options.cibw_environ(os.environ),
                limits,
                snapshot=args["project_snapshot"],
            )
            fleet = release_matrix.capabilities(hosts, release_matrix.image_pythons(offers))
            required = args["options"].get("archs") or []
            if isinstance(required, str):
                required = required.replace(",", " ").split()
            return release_matrix.select(
                project,
                config,
                fleet,
                args["settings"],
                required_archs=required,
                hosts=hosts,
                offers=offers,
            )
        except (source.ProjectError, options.OptionsError, ValueError) as exc:
            raise AnsibleActionFail(
                f"cannot select the release's jobs: {exc}", result=INPUT_REFUSED
            ) from None

    def _replan(self, result: dict, args: dict) -> dict:
        failed = args["failed_hosts"]
        if isinstance(failed, str) or not isinstance(failed, list | dict):
            raise AnsibleActionFail(
                f"failed_hosts must be a list of host names or a mapping of name to reason,"
                f" got {failed!r}",
                result=INPUT_REFUSED,
            )
        try:
            previous = plan.Plan.from_json(args["previous"])
            release = plan.replan(previous, failed, args["finished_jobs"])
        except plan.PlanInputError as exc:
            raise AnsibleActionFail(str(exc), result=INPUT_REFUSED) from exc
        return self._report(result, release, args["fail_on_unschedulable"])

    def _report(self, result: dict, release: Any, fail_on_unschedulable: bool) -> dict:
        result.update(
            changed=False,
            plan=release.to_json(),
            assignments=release.assignments(),
            table=release.render(),
            unschedulable=[
                {
                    "identifier": u.job.identifier,
                    "architecture": u.job.architecture,
                    "reason": u.reason,
                }
                for u in release.unschedulable
            ],
        )
        if not release.ok:
            result["msg"] = (
                f"{len(release.unschedulable)} job(s) cannot be built on this fleet:\n"
                + "\n".join(release.problems())
            )
            result["failed"] = fail_on_unschedulable
            if fail_on_unschedulable:
                result.update(INPUT_REFUSED)
        return result
