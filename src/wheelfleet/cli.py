"""The ``wheelfleet`` command: run the project's playbooks with live progress.

Each subcommand runs one playbook of the project (see ``COMMANDS``) through
ansible-runner, shows per-host progress, and ends with a per-host summary.

Exit codes:
    0    success
    1    the playbook failed on at least one host
    2    usage error or bad input (bad arguments, a missing inventory file, a
         malformed -e value, or inputs ansible-playbook rejected before any task
         ran, such as a --limit matching no host)
    3    at least one host was unreachable (and none failed)
    130  cancelled (Ctrl-C)
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from wheelfleet import __version__
from wheelfleet.display import make_display
from wheelfleet.inputs import InputError, check_inventory, parse_extra_vars
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
class Command:
    """A subcommand that runs one playbook from ``playbooks/``."""

    name: str
    playbook: str
    help: str
    description: str


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
)

EPILOG = """\
exit codes:
  0    success
  1    the playbook failed on at least one host
  2    usage error or bad input (bad arguments, a missing inventory file, a
       malformed -e value, or inputs ansible-playbook rejected before any task
       ran, such as a --limit matching no host)
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


def _add_run_options(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument(
        "-C", "--check", action="store_true", help="dry run: report what would change"
    )
    parser.add_argument(
        "-D", "--diff", action="store_true", help="show the changes made to files and templates"
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
        _add_run_options(sub)
    return parser


def command_named(name: str) -> Command:
    return next(command for command in COMMANDS if command.name == name)


def build_request(args: argparse.Namespace, project: Project) -> RunRequest:
    """Turn parsed arguments into a run; raises InputError naming a bad value."""
    command = command_named(args.command)
    inventories = tuple(check_inventory(value) for value in args.inventory or ())
    return RunRequest(
        playbook=project.playbook(command.playbook),
        inventories=inventories or (project.default_inventory,),
        extravars=parse_extra_vars(args.extra_vars),
        limit=args.limit,
        check=args.check,
        diff=args.diff,
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
    display.summary(summary)
    if args.json:
        json.dump(summary.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    return int(summary.exit_code)


if __name__ == "__main__":
    sys.exit(main())
