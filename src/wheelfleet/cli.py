"""The ``wheelfleet`` command: run the project's playbooks with live progress.

Each subcommand runs one playbook of the project (see ``COMMANDS``) through
ansible-runner, shows per-host progress, and ends with a per-host summary. A
playbook may publish a result with ``set_stats`` (``wheelfleet plan`` prints the
plan this way); it is shown before the summary and is part of ``--json``.

Exit codes:
    0    success
    1    the playbook failed on at least one host
    2    usage error or bad input (bad arguments, a missing inventory file, a
         malformed -e value, or inputs ansible-playbook rejected before any task
         ran, such as a --limit matching no host; for plan, a job no host can build)
    3    at least one host was unreachable (and none failed)
    130  cancelled (Ctrl-C)
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from wheelfleet import __version__
from wheelfleet.display import make_display
from wheelfleet.inputs import InputError, check_inventory, parse_extra_vars
from wheelfleet.plan import (
    DEFAULT_EMULATION_FACTOR,
    Job,
    Plan,
    PlanInputError,
    check_architecture,
    check_python,
)
from wheelfleet.progress import Message, Progress
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


# --------------------------------------------------------------------- plan

_MATRIX_VARS = ("wheelfleet_architectures", "wheelfleet_pythons", "wheelfleet_jobs")


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("release matrix")
    group.add_argument(
        "--arch",
        action="append",
        dest="architectures",
        metavar="ARCH",
        help="an architecture to build for (x86_64, aarch64, ... or an alias such as arm64);"
        " repeat for more",
    )
    group.add_argument(
        "--python",
        action="append",
        dest="pythons",
        metavar="TAG",
        help="a CPython tag to build for (cp311, cp313t, ...); repeat for more",
    )
    group.add_argument(
        "--emulation-factor",
        type=float,
        metavar="N",
        help="how many times longer an emulated build takes than a native one"
        f" (default {DEFAULT_EMULATION_FACTOR:g})",
    )


def _plan_extravars(args: argparse.Namespace, given: Mapping[str, Any]) -> dict[str, Any]:
    """Check the matrix before anything runs; every error names the value."""
    options = {
        "wheelfleet_architectures": args.architectures,
        "wheelfleet_pythons": args.pythons,
        "wheelfleet_emulation_factor": args.emulation_factor,
    }
    flags = {
        "wheelfleet_architectures": "--arch",
        "wheelfleet_pythons": "--python",
        "wheelfleet_emulation_factor": "--emulation-factor",
    }
    for key, value in options.items():
        if value is not None and key in given:
            raise InputError(f"{flags[key]} conflicts with -e {key}: give it one way")
    if "wheelfleet_jobs" in given and (args.architectures or args.pythons):
        raise InputError(
            "--arch/--python conflict with -e wheelfleet_jobs: give the matrix one way"
        )
    merged = {**given, **{k: v for k, v in options.items() if v is not None}}
    result: dict[str, Any] = {}
    try:
        if "wheelfleet_jobs" in merged:
            jobs = merged["wheelfleet_jobs"]
            if not isinstance(jobs, list) or not jobs:
                raise InputError("-e wheelfleet_jobs: expected a non-empty list of jobs")
            for job in jobs:
                Job.from_json(job)
        else:
            for key, check, what in (
                ("wheelfleet_architectures", check_architecture, "--arch"),
                ("wheelfleet_pythons", check_python, "--python"),
            ):
                values = merged.get(key)
                if isinstance(values, str):
                    values = [values]
                if not values:
                    raise InputError(
                        f"wheelfleet plan needs at least one {what}"
                        " (or -e wheelfleet_jobs=[...build identifiers...])"
                    )
                result[key] = list(dict.fromkeys(check(value) for value in values))
    except PlanInputError as exc:
        raise InputError(str(exc)) from None
    factor = merged.get("wheelfleet_emulation_factor")
    if factor is not None:
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor < 1:
            raise InputError(f"--emulation-factor {factor!r}: must be a number of 1 or more")
        result["wheelfleet_emulation_factor"] = float(factor)
    return result


def _plan_text(data: Any) -> str:
    return Plan.from_json(data).render()


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
        add_arguments=_plan_arguments,
        extravars=_plan_extravars,
        published=Published(
            key="wheelfleet_plan", name="plan", render=_plan_text, bad_input=_plan_bad_input
        ),
    ),
)

EPILOG = """\
exit codes:
  0    success
  1    the playbook failed on at least one host
  2    usage error or bad input (bad arguments, a missing inventory file, a
       malformed -e value, or inputs ansible-playbook rejected before any task
       ran, such as a --limit matching no host; for plan, a job no host can build)
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
    return parser


def command_named(name: str) -> Command:
    return next(command for command in COMMANDS if command.name == name)


def build_request(args: argparse.Namespace, project: Project) -> RunRequest:
    """Turn parsed arguments into a run; raises InputError naming a bad value."""
    command = command_named(args.command)
    inventories = tuple(check_inventory(value) for value in args.inventory or ())
    extravars = parse_extra_vars(args.extra_vars)
    if command.extravars is not None:
        extravars.update(command.extravars(args, extravars))
    return RunRequest(
        playbook=project.playbook(command.playbook),
        inventories=inventories or (project.default_inventory,),
        extravars=extravars,
        limit=args.limit,
        check=getattr(args, "check", False),
        diff=getattr(args, "diff", False),
        verbosity=args.verbose,
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wheelfleet`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        project = Project.locate()
        request = build_request(args, project)
    except (InputError, ProjectNotFoundError) as exc:
        return _fail(str(exc))

    progress = Progress()
    stream = sys.stderr if args.json else sys.stdout
    display = make_display(stream, progress, verbosity=args.verbose)
    cancellation = Cancellation(on_request=display.cancelling)

    def on_event(event: Mapping[str, Any]) -> None:
        for notice in progress.apply(event):
            display.show(notice)

    started = time.monotonic()
    try:
        with cancellation.installed(), display:
            result = run_playbook(project, request, on_event=on_event, cancellation=cancellation)
    except KeyboardInterrupt:
        # A second Ctrl-C: ansible-playbook was killed, and runner's result is lost.
        print("\nwheelfleet: cancelled (forced)", file=sys.stderr)
        result = RunResult("canceled", None, None, time.monotonic() - started)

    command = command_named(args.command)
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
        summary = replace(summary, bad_input=published.bad_input(data))
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
