"""``wheelfleet verify WHEELHOUSE``: the command line over :mod:`wheelfleet.verify`.

Reads the inventory's build hosts, runs each rebuild as a release through
ansible-runner (playbooks/release.yml, --skip-tags provision,images: verify
changes no host's setup), prints the table and exits 0 (every wheel identical),
1 (a mismatch, or a wheel that could not be rebuilt) or 2 (bad input).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wheelfleet import manifest, verify
from wheelfleet.inputs import InputError, check_inventory, parse_extra_vars
from wheelfleet.release import new_release_id
from wheelfleet.runner import Cancellation, Project, RunRequest, run_playbook
from wheelfleet.summary import ExitCode

DESCRIPTION = (
    "Rebuild the wheels of WHEELHOUSE (all, or each --wheel) from the exact source their"
    " release built from, under the SOURCE_DATE_EPOCH it recorded, on other build hosts"
    " (each --host, else a host other than the one that built the wheel when the inventory"
    " has one), into a temporary wheelhouse; compare their sha256 with the manifest's and"
    " print a table. The wheelhouse is only read. Exit codes: 0 every wheel identical,"
    " 1 a mismatch or a wheel that could not be rebuilt, 2 bad input."
)


def add_parser(subparsers: Any, epilog: str) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="rebuild a wheelhouse's wheels on other hosts and compare their bytes",
        description=textwrap.fill(DESCRIPTION, width=79),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("wheelhouse", metavar="WHEELHOUSE", help="the wheelhouse to verify")
    parser.add_argument(
        "--wheel", action="append", default=[], metavar="NAME", help="a wheel's file name"
    )
    parser.add_argument(
        "--host", action="append", default=[], metavar="HOST", help="a host to rebuild on"
    )
    parser.add_argument(
        "-i",
        "--inventory",
        action="append",
        metavar="INVENTORY",
        help="the fleet's inventory (default: the embedded inventory/localhost.yml)",
    )
    parser.add_argument(
        "-e",
        "--extra-vars",
        action="append",
        default=[],
        metavar="VARS",
        help="extra variables for the rebuilds (the release's own, if it had any)",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def build_hosts(inventories: Sequence[Path]) -> list[str]:
    """The hosts of the ``build_hosts`` group, as Ansible reads the inventories."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    found = InventoryManager(loader=DataLoader(), sources=[str(path) for path in inventories])
    return [host.name for host in found.get_hosts("build_hosts")]


def _fail(message: str) -> int:
    print(f"wheelfleet: error: {message}", file=sys.stderr)
    return int(ExitCode.USAGE)


def main(args: argparse.Namespace) -> int:
    project = Project.locate()
    home = Path(args.wheelhouse).expanduser().absolute()
    if not (home / manifest.MANIFEST).is_file():
        return _fail(f"no {manifest.MANIFEST} in {str(home)!r}: give the wheelhouse of a release")
    try:
        inventories = tuple(check_inventory(value) for value in args.inventory or ()) or (
            project.default_inventory,
        )
        extravars = parse_extra_vars(args.extra_vars)
        entries = verify.select(manifest.load(home).get("wheels", {}), args.wheel)
        checks = verify.plan_checks(home, entries, build_hosts(inventories), args.host)
    except (InputError, verify.VerifyInputError, manifest.ManifestError) as exc:
        return _fail(str(exc))
    out = sys.stderr if args.json else sys.stdout
    cancellation = Cancellation()

    def release(rebuild: verify.Rebuild, source: Path, temporary: Path) -> str | None:
        request = RunRequest(
            playbook=project.playbook("release.yml"),
            inventories=inventories,
            extravars={
                **extravars,
                **verify.release_extravars(rebuild, source, temporary),
                "wheelfleet_release_id": f"verify-{new_release_id()}",
            },
            limit=rebuild.host,
            verbosity=args.verbose,
            skip_tags=("provision", "images"),
            environment=verify.release_environment(rebuild),
        )
        failures: list[str] = []

        def on_event(event: Mapping[str, Any]) -> None:
            data = event.get("event_data") or {}
            if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
                message = str((data.get("res") or {}).get("msg") or "").strip()
                if message and not data.get("ignore_errors"):
                    failures.append(message.splitlines()[0][:300])

        with cancellation.installed():
            result = run_playbook(project, request, on_event=on_event, cancellation=cancellation)
        if result.status == "successful":
            return None
        return failures[-1] if failures else f"the release ended {result.status} (rc {result.rc})"

    def on_rebuild(rebuild: verify.Rebuild) -> None:
        print(
            f"rebuilding {', '.join(rebuild.jobs)} of {rebuild.project} on {rebuild.host}"
            f" (SOURCE_DATE_EPOCH={rebuild.source_date_epoch})",
            file=out,
            flush=True,
        )

    started = time.monotonic()
    rows = verify.verify(home, checks, release, verify.default_workdir(), on_rebuild)
    elapsed = time.monotonic() - started
    if args.json:
        json.dump({"wheels": verify.as_json(rows), "seconds": round(elapsed, 1)}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(verify.render(rows), file=out)
        print(f"verify took {elapsed:.1f} s", file=out)
    return verify.exit_code(rows)
