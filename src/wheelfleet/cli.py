"""The ``wheelfleet`` command: run the project's playbooks with live progress.

Each subcommand runs one playbook of the project (see ``COMMANDS``) through
ansible-runner, shows per-host progress, and ends with a per-host summary. A
playbook may publish a result with ``set_stats`` (``wheelfleet plan`` prints the
plan this way, ``wheelfleet release`` its report); it is shown before the
summary and is part of ``--json``. ``wheelfleet release`` also shows each job
of the release: queued, building, repairing, testing, done or failed, with its
host and time. ``wheelfleet report`` runs nothing: it renders the report of a
wheelhouse's last release.

Exit codes:
    0    success
    1    the playbook failed on at least one host (for release: a job has no
         wheel, from a failed job or a host failure; for report: the release it
         shows has failed jobs)
    2    usage error or bad input (bad arguments, a missing inventory file, a
         malformed -e value, or inputs ansible-playbook rejected before any task
         ran, such as a --limit matching no host; a run whose every failure is
         an input check's, failure_kind input: for plan and release, a job no
         host can build or a project the checks refuse; for report, a
         wheelhouse without a manifest)

The exit code comes from the failures' kinds (wheelfleet.failures) in the task
results, never from the names of the tasks that failed. Live job progress comes
from the records the playbook appends to the file named by WHEELFLEET_PROGRESS,
which the command creates in its private run directory.
    3    at least one host was unreachable (and none failed)
    130  cancelled (Ctrl-C)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from wheelfleet import __version__, mirrors, release_matrix, role_defaults, verify_cli
from wheelfleet import release as release_inputs
from wheelfleet import report as release_report
from wheelfleet.display import make_display
from wheelfleet.inputs import InputError, check_inventory, extra_var_layers, parse_extra_vars
from wheelfleet.options import ARCH_KEYWORDS
from wheelfleet.plan import (
    DEFAULT_EMULATION_FACTOR,
    Job,
    Plan,
    PlanInputError,
    check_architecture,
    check_python,
)
from wheelfleet.progress import Message, Progress
from wheelfleet.progress_records import Record
from wheelfleet.runner import (
    Cancellation,
    Project,
    ProjectNotFoundError,
    RunRequest,
    RunResult,
    run_playbook,
)
from wheelfleet.summary import ExitCode, RunSummary


@dataclass(frozen=True)
class Published:
    """A result the playbook publishes with ``ansible.builtin.set_stats`` (``per_host: false``)."""

    key: str
    """The set_stats key."""
    name: str
    """Its key in the ``--json`` document."""
    render: Callable[[Any], str]
    """The text shown before the summary."""
    bad_input: Callable[[Any], bool] = lambda data: False
    """Whether the result shows the run stopped on bad input (exit code 2, not 1)."""


@dataclass(frozen=True)
class Command:
    """A subcommand that runs one playbook from ``playbooks/``."""

    name: str
    playbook: str
    help: str
    description: str
    changes_hosts: bool = True
    """The playbook changes hosts: --check and --diff are offered."""
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    """Adds the subcommand's own options."""
    extravars: Callable[[argparse.Namespace, Mapping[str, Any]], dict[str, Any]] | None = None
    """Extra variables from those options, given the -e ones; raises InputError."""
    published: Published | None = None
    skip_tags: Callable[[argparse.Namespace], tuple[str, ...]] | None = None
    """Tags to skip, from the subcommand's options."""


# --------------------------------------------------------------------- plan

_MATRIX_VARS = ("wheelfleet_architectures", "wheelfleet_pythons", "wheelfleet_jobs")


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("release matrix")
    group.add_argument(
        "--arch",
        action="append",
        dest="architectures",
        metavar="ARCH",
        help="an architecture to build for (x86_64, aarch64, ... or an alias such as arm64;"
        " with a project also auto, native or all), over the project's archs; repeat for more",
    )
    group.add_argument(
        "--python",
        action="append",
        dest="pythons",
        metavar="TAG",
        help="a CPython tag to build for (cp311, cp313t, ...), over the project's build"
        " selector; repeat for more",
    )
    group.add_argument(
        "--emulation-factor",
        type=float,
        metavar="N",
        help="how many times longer an emulated build takes than a native one"
        f" (default {DEFAULT_EMULATION_FACTOR:g})",
    )
    group.add_argument(
        "--policy-floor",
        metavar="POLICY",
        help="the least portable manylinux policy a wheel may have (manylinux_2_28,"
        " manylinux2014, ...): a wheel that needs a newer glibc fails its job",
    )


def _plan_command_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "project",
        metavar="PROJECT",
        nargs="?",
        help="plan what this project's [tool.cibuildwheel] / [tool.wheelfleet] select"
        " (a directory or an sdist); without it, give --arch and --python",
    )
    _plan_arguments(parser)


def _architectures(values: Sequence[str]) -> list[str]:
    """Canonical names, keeping archs keywords (auto, native, all) for the project's options."""
    return list(dict.fromkeys(v if v in ARCH_KEYWORDS else check_architecture(v) for v in values))


def _plan_project_extravars(args: argparse.Namespace, merged: Mapping[str, Any]) -> dict[str, Any]:
    """``wheelfleet plan PROJECT``: the project's configuration selects; --arch and --python
    take precedence over it. Checked here, so a bad option never reaches a host."""
    try:
        checked = release_inputs.check_inputs(
            project=args.project,
            architectures=merged.get("wheelfleet_architectures"),
            pythons=merged.get("wheelfleet_pythons"),
            jobs=merged.get("wheelfleet_jobs"),
            build_options=merged.get("wheelfleet_options"),
            policy_floor=merged.get("wheelfleet_policy_floor"),
            mirrors=_mirror_settings(merged),
            environ=os.environ,
            source_max_bytes=merged.get("wheel_build_source_max_bytes"),
            source_max_members=merged.get("wheel_build_source_max_members"),
            **_source_settings(merged),
        )
    except release_inputs.ReleaseInputError as exc:
        raise InputError(str(exc)) from None
    # Read here, once: the playbook takes the project from this snapshot.
    result: dict[str, Any] = {
        "project": checked["project"],
        "wheelfleet_project_snapshot": checked["project_snapshot"],
    }
    if args.architectures:
        result["wheelfleet_architectures"] = _architectures(args.architectures)
    if args.pythons:
        result["wheelfleet_pythons"] = list(dict.fromkeys(args.pythons))
    return result


def _source_settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """Where the project's source is packed and what is left out: the wheel_build role's
    settings (its defaults under the user's -e values), as the builds use them."""
    try:
        defaults = role_defaults.load_defaults(role_defaults.defaults_path(Project.locate().root))
    except (role_defaults.RoleDefaultsError, ProjectNotFoundError) as exc:
        raise InputError(str(exc)) from None
    settings = role_defaults.build_settings(defaults, given, names=role_defaults.SOURCE_SETTINGS)
    return {
        "source_cache_dir": settings["cache_dir"],
        "source_excludes": settings["source_excludes"] or [],
        "wheelhouse": settings["wheelhouse"],
    }


def _mirror_settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """The mirror URLs among the extra vars, for the up-front check."""
    return {name: value for name, value in given.items() if mirrors.is_mirror_setting(name)}


def _plan_matrix_extravars(merged: Mapping[str, Any]) -> dict[str, Any]:
    """``wheelfleet plan`` without a project: the matrix is --arch x --python, or the jobs."""
    result: dict[str, Any] = {}
    try:
        if "wheelfleet_jobs" in merged:
            jobs = merged["wheelfleet_jobs"]
            if not isinstance(jobs, list) or not jobs:
                raise InputError("-e wheelfleet_jobs: expected a non-empty list of jobs")
            for job in jobs:
                Job.from_json(job)
            return result
        for key, check, what in (
            ("wheelfleet_architectures", check_architecture, "--arch"),
            ("wheelfleet_pythons", check_python, "--python"),
        ):
            values = merged.get(key)
            if isinstance(values, str):
                values = [values]
            if not values:
                raise InputError(
                    f"wheelfleet plan needs a PROJECT, or at least one {what}"
                    " (or -e wheelfleet_jobs=[...build identifiers...])"
                )
            result[key] = list(dict.fromkeys(check(value) for value in values))
    except PlanInputError as exc:
        raise InputError(str(exc)) from None
    return result


def _plan_extravars(args: argparse.Namespace, given: Mapping[str, Any]) -> dict[str, Any]:
    """Check the matrix before anything runs; every error names the value."""
    options = {
        "wheelfleet_architectures": args.architectures,
        "wheelfleet_pythons": args.pythons,
        "wheelfleet_emulation_factor": args.emulation_factor,
        "wheelfleet_policy_floor": args.policy_floor,
    }
    flags = {
        "wheelfleet_architectures": "--arch",
        "wheelfleet_pythons": "--python",
        "wheelfleet_emulation_factor": "--emulation-factor",
        "wheelfleet_policy_floor": "--policy-floor",
    }
    for key, value in options.items():
        if value is not None and key in given:
            raise InputError(f"{flags[key]} conflicts with -e {key}: give it one way")
    if "wheelfleet_jobs" in given and (args.architectures or args.pythons):
        raise InputError(
            "--arch/--python conflict with -e wheelfleet_jobs: give the matrix one way"
        )
    merged = {**given, **{k: v for k, v in options.items() if v is not None}}
    if getattr(args, "project", None):
        if "project" in given:
            raise InputError("the project is the PROJECT argument; do not also give it with -e")
        result = _plan_project_extravars(args, merged)
        if args.policy_floor is not None:
            result["wheelfleet_policy_floor"] = args.policy_floor
    else:
        if merged.get("wheelfleet_policy_floor") is not None:
            raise InputError(
                "--policy-floor needs a PROJECT: it is a build setting, not part of the matrix"
            )
        result = _plan_matrix_extravars(merged)
    factor = merged.get("wheelfleet_emulation_factor")
    if factor is not None:
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor < 1:
            raise InputError(f"--emulation-factor {factor!r}: must be a number of 1 or more")
        result["wheelfleet_emulation_factor"] = float(factor)
    return result


# ------------------------------------------------------------------ release


def _release_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "project",
        metavar="PROJECT",
        help="the project to release: a directory with pyproject.toml or setup.py, or an sdist",
    )
    _plan_arguments(parser)
    group = parser.add_argument_group("release")
    group.add_argument(
        "-w",
        "--wheelhouse",
        metavar="DIR",
        help="the controller's wheelhouse (default: ./wheelhouse)",
    )
    group.add_argument(
        "--force", action="store_true", help="rebuild the jobs whose wheels are up to date"
    )
    group.add_argument(
        "--no-accelerate",
        action="store_true",
        help="build emulated jobs under plain emulation, without the host-native compiler"
        " (wheel_build_accelerate=false)",
    )
    group.add_argument(
        "--max-rounds",
        type=int,
        metavar="N",
        help="build rounds when hosts fail: their jobs move to the others (1 to 20, default 3)",
    )
    group.add_argument(
        "--skip-provision",
        action="store_true",
        help="do not provision the build hosts (--skip-tags provision)",
    )
    group.add_argument(
        "--skip-images",
        action="store_true",
        help="do not build or check the builder images (--skip-tags images)",
    )
    group.add_argument(
        "--publish",
        metavar="URL",
        help="upload the wheels with twine to this repository when every job has its wheel;"
        " credentials from -e wheelfleet_publish_username/_password (vault) or"
        " TWINE_USERNAME/TWINE_PASSWORD",
    )
    group.add_argument(
        "--max-source-bytes",
        type=int,
        metavar="N",
        help="refuse an sdist that unpacks to more than N bytes (default 1 GiB;"
        " -e wheel_build_source_max_bytes)",
    )
    group.add_argument(
        "--max-source-members",
        type=int,
        metavar="N",
        help="refuse an sdist of more than N members (default 100000;"
        " -e wheel_build_source_max_members)",
    )
    group.add_argument(
        "--vault-password-file",
        metavar="FILE",
        help="decrypt vaulted variables (such as publishing credentials) with this file",
    )


def _release_extravars(args: argparse.Namespace, given: Mapping[str, Any]) -> dict[str, Any]:
    """Check the release's inputs before anything runs; every error names the value."""
    result: dict[str, Any] = {}
    for key, value, flag in (
        ("wheelfleet_architectures", args.architectures, "--arch"),
        ("wheelfleet_pythons", args.pythons, "--python"),
        ("wheelfleet_emulation_factor", args.emulation_factor, "--emulation-factor"),
        ("wheelfleet_policy_floor", args.policy_floor, "--policy-floor"),
        ("wheelfleet_max_rounds", args.max_rounds, "--max-rounds"),
        ("wheel_build_wheelhouse", args.wheelhouse, "--wheelhouse"),
        ("wheelfleet_publish_repository_url", args.publish, "--publish"),
        ("wheel_build_source_max_bytes", args.max_source_bytes, "--max-source-bytes"),
        ("wheel_build_source_max_members", args.max_source_members, "--max-source-members"),
    ):
        if value is not None and key in given:
            raise InputError(f"{flag} conflicts with -e {key}: give it one way")
        if value is not None:
            result[key] = value
    if "project" in given or "wheel_build_project" in given:
        raise InputError("the project is the PROJECT argument; do not also give it with -e")
    merged = {**given, **result}
    if args.publish is not None:
        result["wheelfleet_publish"] = True
        merged["wheelfleet_publish"] = True
    try:
        checked = release_inputs.check_inputs(
            project=args.project,
            architectures=merged.get("wheelfleet_architectures"),
            pythons=merged.get("wheelfleet_pythons"),
            jobs=merged.get("wheelfleet_jobs"),
            wheel_build_jobs=merged.get("wheel_build_jobs"),
            max_rounds=merged.get("wheelfleet_max_rounds"),
            emulation_factor=merged.get("wheelfleet_emulation_factor"),
            build_options=merged.get("wheelfleet_options"),
            policy_floor=merged.get("wheelfleet_policy_floor"),
            mirrors=_mirror_settings(merged),
            publish=merged.get("wheelfleet_publish", False),
            repository_url=merged.get("wheelfleet_publish_repository_url"),
            has_username=bool(merged.get("wheelfleet_publish_username"))
            or args.vault_password_file is not None,
            has_password=bool(merged.get("wheelfleet_publish_password"))
            or args.vault_password_file is not None,
            environ=os.environ,
            extra_build_requires=merged.get("wheel_build_extra_build_requires"),
            test_requires=merged.get("wheel_build_test_requires"),
            source_max_bytes=merged.get("wheel_build_source_max_bytes"),
            source_max_members=merged.get("wheel_build_source_max_members"),
            # The one read of the project in a release, packed as the builds will take it.
            pack=not getattr(args, "check", False),
            **_source_settings(merged),
        )
    except release_inputs.ReleaseInputError as exc:
        raise InputError(str(exc)) from None
    result["project"] = checked["project"]
    result["wheelfleet_project_snapshot"] = checked["project_snapshot"]
    if args.architectures:
        result["wheelfleet_architectures"] = _architectures(args.architectures)
    # Paths reach ansible-runner absolute: it does not run in this directory.
    result["wheel_build_wheelhouse"] = str(
        Path(merged.get("wheel_build_wheelhouse") or "wheelhouse").expanduser().absolute()
    )
    if args.force:
        result["wheel_build_force"] = True
    if args.no_accelerate:
        result["wheel_build_accelerate"] = False
    if "wheelfleet_release_id" not in merged:
        # Known here, so that a cancelled release can be tidied up (see _after_cancel).
        result["wheelfleet_release_id"] = release_inputs.new_release_id()
    return result


def _after_cancel(request: RunRequest) -> list[str]:
    """After a cancelled release: remove its staging directories from the wheelhouse (no
    wheel of an unfinished job is ever in the wheelhouse itself), and say how to remove
    the build containers the hosts may still run."""
    release_id = str(request.extravars.get("wheelfleet_release_id") or "")
    wheelhouse = request.extravars.get("wheel_build_wheelhouse")
    if not release_id or not wheelhouse:
        return []
    staging = Path(wheelhouse) / ".staging"
    removed = []
    for directory in sorted(staging.glob(f"{release_id}-r*")) if staging.is_dir() else []:
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory.name)
    with contextlib.suppress(OSError):
        staging.rmdir()  # only when empty
    notes = [
        f"release {release_id} cancelled: no wheel of an unfinished job reached {wheelhouse}",
        "build containers the hosts were running may remain; remove them on each host with"
        f" docker rm -f $(docker ps -aq --filter label=org.wheelfleet.run={release_id}-r1)"
        " (and -r2, -r3, ... for later rounds)",
    ]
    if removed:
        notes.insert(1, f"removed its staging directories: {', '.join(removed)}")
    return notes


def _release_skip_tags(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(
        tag for tag, on in (("provision", args.skip_provision), ("images", args.skip_images)) if on
    )


def _release_text(data: Any) -> str:
    if not isinstance(data, Mapping) or not isinstance(data.get("report"), Mapping):
        return "the release published no report"
    return release_report.text_summary(data["report"], data.get("paths") or {})


def _plan_text(data: Any) -> str:
    text = Plan.from_json(data).render()
    if isinstance(data, Mapping) and isinstance(data.get("selection"), Mapping):
        text = release_matrix.render(data["selection"]) + "\n\n" + text
    return text


def _plan_bad_input(data: Any) -> bool:
    return isinstance(data, Mapping) and bool(data.get("unschedulable"))


COMMANDS: tuple[Command, ...] = (
    Command(
        name="provision",
        playbook="provision.yml",
        help="install Docker Engine and QEMU emulation on the build hosts",
        description=(
            "Provision every host of the build_hosts group: validate the role inputs,"
            " then install and start Docker Engine and register QEMU user emulation"
            " with binfmt_misc (roles docker_engine and qemu_binfmt)."
        ),
    ),
    Command(
        name="plan",
        playbook="plan.yml",
        help="show which build host would build which wheel, changing nothing",
        description=(
            "Plan a release across the build_hosts group and print it (a table, or JSON"
            " with --json under the key 'plan'). Jobs go to a host of their own"
            " architecture when there is one, otherwise to a host that emulates it, and"
            " are balanced by each host's capacity. No host is changed: the plan reads"
            " each host's architecture and processor count (the setup module) and which"
            " requested architectures run there under emulation (a tiny probe program),"
            " unless the inventory describes the host with the variables"
            " wheelfleet_architecture, wheelfleet_emulates and wheelfleet_capacity; a"
            " host described by all three is not contacted, so a plan can be made for"
            " hosts that are not reachable yet. wheelfleet_capacity (parallel builds)"
            " also overrides the processor count on its own. An unreachable host is left"
            " out, with the reason. A job that no host can build fails with exit code 2,"
            " naming its architecture."
        ),
        changes_hosts=False,
        add_arguments=_plan_command_arguments,
        extravars=_plan_extravars,
        published=Published(
            key="wheelfleet_plan", name="plan", render=_plan_text, bad_input=_plan_bad_input
        ),
    ),
    Command(
        name="images",
        playbook="images.yml",
        help="build the builder images on the build hosts",
        description=(
            "Build the builder images on every host of the build_hosts group"
            " (playbooks/images.yml, role builder_image): one image per architecture,"
            " <repository>/<name>:<arch>, with the manylinux layout (interpreters in"
            " /opt/python, auditwheel and patchelf), bootstrapped with debootstrap or based on"
            " a registry image. Images whose labels match their inputs are left alone."
        ),
    ),
    Command(
        name="release",
        playbook="release.yml",
        help="build every wheel of a project across the fleet, with a report",
        description=(
            "Release PROJECT across the build_hosts group (playbooks/release.yml): check the"
            " inputs, provision the hosts, plan the matrix (native hosts first, balanced by"
            " capacity; printed before building), then build in rounds: each host ensures the"
            " builder images of its jobs and builds, repairs (auditwheel) and tests them, and"
            " every wheel lands atomically in the wheelhouse with manifest.json. When a host"
            " fails or becomes unreachable, its unfinished jobs move to the remaining capable"
            " hosts in the next round; wheels already built are kept. A job whose inputs"
            " (source, image, Python tag, architecture, build settings) match a wheel in the"
            " manifest is not rebuilt. The wheelhouse then holds release.json, report.md and"
            " report.html. Each job is shown as it goes: queued, building, repairing, testing,"
            " done or failed, with its host and time. The matrix defaults to x86_64 and"
            " aarch64 with cp311. Exit code 1 when a job has no wheel (the report names each"
            " one and why), 2 on bad input, which is refused before any host is changed."
        ),
        add_arguments=_release_arguments,
        extravars=_release_extravars,
        published=Published(key="wheelfleet_release", name="release", render=_release_text),
        skip_tags=_release_skip_tags,
    ),
)

REPORT_DESCRIPTION = (
    "Render the report of the last release in WHEELHOUSE (default ./wheelhouse) from its"
    " manifest.json and release.json, without running anything: the matrix (rows Python,"
    " columns architecture) with each job's status, host, mode and time, the wheels, the jobs"
    " replanned after host failures, and each failure with its reason. Without release.json,"
    " the matrix of the wheels in manifest.json. Exit code 0 when every job has its wheel, 1"
    " when the release has failed jobs, 2 when WHEELHOUSE has no manifest.json."
)

EPILOG = """\
exit codes:
  0    success
  1    the playbook failed on at least one host (for release: a job has no
       wheel; for report: the release it shows has failed jobs)
  2    usage error or bad input (bad arguments, a missing inventory file, a
       malformed -e value, or inputs ansible-playbook rejected before any task
       ran, such as a --limit matching no host; a run whose every failure is
       an input check's (failure_kind input), such as a job no host can build;
       for report, a wheelhouse without a manifest)
  3    at least one host was unreachable (and none failed)
  130  cancelled (Ctrl-C)
"""


def _version_string() -> str:
    parts = []
    for dist in ("ansible-core", "ansible-runner"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} not installed")
    return f"wheelfleet {__version__} ({', '.join(parts)})"


def _add_run_options(parser: argparse.ArgumentParser, *, changes_hosts: bool = True) -> None:
    parser.add_argument(
        "-i",
        "--inventory",
        action="append",
        metavar="INVENTORY",
        help="inventory file or directory; repeat to combine"
        " (default: the embedded inventory/localhost.yml, this machine only)",
    )
    parser.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        default=[],
        metavar="VARS",
        help="extra variables: KEY=VALUE, @FILE (YAML or JSON) or a JSON object; repeatable",
    )
    parser.add_argument("-l", "--limit", metavar="PATTERN", help="only run on hosts matching")
    if changes_hosts:
        parser.add_argument(
            "-C", "--check", action="store_true", help="dry run: report what would change"
        )
        parser.add_argument(
            "-D",
            "--diff",
            action="store_true",
            help="show the changes made to files and templates",
        )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document with the outcome on stdout (progress goes to stderr)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="pass -v to ansible-playbook and show its output for every task (repeat for more)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wheelfleet",
        description="Provision build hosts and build multi-architecture wheels, as code.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version_string())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=textwrap.fill(command.description, width=79),
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_run_options(sub, changes_hosts=command.changes_hosts)
        if command.add_arguments is not None:
            command.add_arguments(sub)
    report = subparsers.add_parser(
        "report",
        help="show the report of a wheelhouse's last release (runs nothing)",
        description=textwrap.fill(REPORT_DESCRIPTION, width=79),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument(
        "wheelhouse", nargs="?", default="wheelhouse", metavar="WHEELHOUSE", help="(./wheelhouse)"
    )
    report.add_argument(
        "--format",
        choices=("markdown", "html", "json"),
        default="markdown",
        help="what to print (default markdown)",
    )
    report.add_argument("--json", action="store_true", help="the same as --format json")
    report.add_argument(
        "--write",
        action="store_true",
        help="also (re)write report.md and report.html in the wheelhouse",
    )
    verify_cli.add_parser(subparsers, EPILOG)
    return parser


def command_named(name: str) -> Command:
    return next(command for command in COMMANDS if command.name == name)


def build_request(args: argparse.Namespace, project: Project) -> RunRequest:
    """Turn parsed arguments into a run; raises InputError naming a bad value."""
    command = command_named(args.command)
    inventories = tuple(check_inventory(value) for value in args.inventory or ())
    layers = extra_var_layers(args.extra_vars)
    extravars = parse_extra_vars(args.extra_vars)
    derived = command.extravars(args, extravars) if command.extravars is not None else {}
    extravars.update(derived)
    vault = getattr(args, "vault_password_file", None)
    if vault is not None and not Path(vault).expanduser().is_file():
        raise InputError(f"--vault-password-file {vault!r}: no such file")
    return RunRequest(
        playbook=project.playbook(command.playbook),
        inventories=inventories or (project.default_inventory,),
        extravars=extravars,
        limit=args.limit,
        check=getattr(args, "check", False),
        diff=getattr(args, "diff", False),
        verbosity=args.verbose,
        skip_tags=command.skip_tags(args) if command.skip_tags is not None else (),
        vault_password_file=Path(vault).expanduser().absolute() if vault is not None else None,
        # The user's -e values as given (files as files: vaulted values stay intact), then
        # what the command derived from them, which takes precedence.
        extravar_layers=(*layers, derived) if derived else tuple(layers),
    )


def _fail(message: str) -> int:
    print(f"wheelfleet: error: {message}", file=sys.stderr)
    return int(ExitCode.USAGE)


def _messages(progress: Progress, result: RunResult) -> list[Message]:
    """Ansible's warnings and errors, plus an explanation when nothing ran."""
    messages = list(progress.messages)
    if result.status == "successful" and (hint := progress.no_host_message()):
        messages.append(hint)
    no_error = not any(m.level == "error" for m in messages)
    if result.status == "failed" and result.stats is None and progress.stats is None and no_error:
        messages.append(
            Message(
                "error",
                f"ansible-playbook exited with code {result.rc} before running any play;"
                " run again with -v to see its output",
            )
        )
    return messages


def report_main(args: argparse.Namespace) -> int:
    """``wheelfleet report``: render a wheelhouse's report; runs nothing."""
    home = Path(args.wheelhouse).expanduser().absolute()
    if not (home / "manifest.json").is_file():
        return _fail(
            f"no manifest.json in {str(home)!r}: give the wheelhouse of a release"
            " (wheelfleet report WHEELHOUSE)"
        )
    try:
        built = release_report.Report.from_wheelhouse(home)
    except release_report.wheelhouse_manifest.ManifestError as exc:
        return _fail(str(exc))
    if args.write:
        built.write(home)
    fmt = "json" if args.json else args.format
    print(release_report.render(built, fmt))
    return int(ExitCode.OK if built.complete else ExitCode.FAILED)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wheelfleet`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "report":
        return report_main(args)
    if args.command == "verify":
        try:
            return verify_cli.main(args)
        except ProjectNotFoundError as exc:
            return _fail(str(exc))
    try:
        project = Project.locate()
        request = build_request(args, project)
    except (InputError, ProjectNotFoundError) as exc:
        return _fail(str(exc))

    progress = Progress()
    stream = sys.stderr if args.json else sys.stdout
    display = make_display(stream, progress, verbosity=args.verbose)
    cancellation = Cancellation(on_request=display.cancelling)

    # Runner events (this thread) and progress records (the tail's thread) update the same
    # state and display, one at a time.
    lock = threading.Lock()

    def on_event(event: Mapping[str, Any]) -> None:
        with lock:
            for notice in progress.apply(event):
                display.show(notice)

    def on_record(record: Record) -> None:
        with lock:
            for notice in progress.apply_record(record):
                display.show(notice)

    started = time.monotonic()
    try:
        with cancellation.installed(), display:
            result = run_playbook(
                project, request, on_event=on_event, on_record=on_record, cancellation=cancellation
            )
    except KeyboardInterrupt:
        # A second Ctrl-C: ansible-playbook was killed, and runner's result is lost.
        print("\nwheelfleet: cancelled (forced)", file=sys.stderr)
        result = RunResult("canceled", None, None, time.monotonic() - started)

    command = command_named(args.command)
    if result.status == "canceled" and args.command == "release":
        for note in _after_cancel(request):
            print(f"wheelfleet: {note}", file=sys.stderr, flush=True)
    published = command.published
    data = progress.artifacts.get(published.key) if published is not None else None
    summary = RunSummary.build(
        command=args.command,
        playbook=str(request.playbook),
        status=result.status,
        rc=result.rc,
        elapsed=result.elapsed,
        check=request.check,
        stats=progress.stats if progress.stats is not None else result.stats,
        failures=progress.failures,
        messages=_messages(progress, result),
    )
    if published is not None and data is not None:
        # Exit code 2 when every failure was an input check's (failure_kind input: see
        # RunSummary.build), or when the published result says the input was bad.
        summary = replace(summary, bad_input=summary.bad_input or published.bad_input(data))
        print("\n" + published.render(data), file=stream, flush=True)
    display.summary(summary)
    if args.json:
        document = summary.to_json()
        if published is not None:
            document[published.name] = data
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return int(summary.exit_code)


if __name__ == "__main__":
    sys.exit(main())
