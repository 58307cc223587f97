"""The outcome of a run: per-host totals, failures, and wheelfleet's exit code.

Built from ansible's ``playbook_on_stats`` data (the same numbers as the PLAY
RECAP; ``ok`` includes ``changed``) and the failures collected from events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any

from wheelfleet import failures as failure_kinds
from wheelfleet.progress import Failure, Message


class ExitCode(IntEnum):
    """wheelfleet's exit codes (also listed in ``wheelfleet --help``)."""

    OK = 0
    FAILED = 1
    """The playbook failed on at least one host."""
    USAGE = 2
    """Usage error or bad input: caught by wheelfleet, or rejected by ansible-playbook
    before any task ran (a --limit matching nothing, an inventory with no build host)."""
    UNREACHABLE = 3
    """At least one host was unreachable (and none failed)."""
    CANCELLED = 130


# playbook_on_stats key -> the name wheelfleet reports (ansible's PLAY RECAP names).
_STAT_NAMES: dict[str, str] = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}


@dataclass(frozen=True)
class HostStats:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


def host_stats(stats: Mapping[str, Mapping[str, int]] | None) -> dict[str, HostStats]:
    """Per-host totals from ``playbook_on_stats`` data, hosts in name order."""
    if not stats:
        return {}
    hosts: set[str] = set(stats.get("processed", {}))
    for key in _STAT_NAMES:
        hosts.update(stats.get(key, {}))
    return {
        host: HostStats(
            **{name: int(stats.get(key, {}).get(host, 0)) for key, name in _STAT_NAMES.items()}
        )
        for host in sorted(hosts)
    }


def exit_code(status: str, hosts: Mapping[str, HostStats]) -> ExitCode:
    """Map ansible-runner's final status and the per-host totals to an exit code.

    A failure outranks an unreachable host, as in ansible-playbook's own codes.
    """
    if status == "canceled":
        return ExitCode.CANCELLED
    if any(h.failed for h in hosts.values()):
        return ExitCode.FAILED
    if any(h.unreachable for h in hosts.values()):
        return ExitCode.UNREACHABLE
    if not hosts:
        # Nothing ran: ansible-playbook refused the inputs, or no host matched.
        return ExitCode.USAGE
    return ExitCode.OK if status == "successful" else ExitCode.FAILED


@dataclass(frozen=True)
class RunSummary:
    command: str
    playbook: str
    status: str
    """ansible-runner's final status: successful, failed, canceled or timeout."""
    rc: int | None
    """ansible-playbook's return code (254 when cancelled)."""
    elapsed: float
    check: bool
    hosts: dict[str, HostStats]
    failures: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bad_input: bool = False
    """The playbook stopped on the user's input: every failure it kept is of kind ``input``
    (wheelfleet.failures), or the published result says so (a plan with unschedulable
    jobs). Exit code 2 instead of 1."""

    @classmethod
    def build(
        cls,
        *,
        command: str,
        playbook: str,
        status: str,
        rc: int | None,
        elapsed: float,
        check: bool,
        stats: Mapping[str, Mapping[str, int]] | None,
        failures: Sequence[Failure],
        messages: Sequence[Message],
    ) -> RunSummary:
        hosts = host_stats(stats)
        # A failure later rescued by a block leaves the host's final totals clean.
        kept = [
            f
            for f in failures
            if f.host not in hosts or hosts[f.host].failed or hosts[f.host].unreachable
        ]
        return cls(
            command=command,
            playbook=playbook,
            status=status,
            rc=rc,
            elapsed=elapsed,
            check=check,
            hosts=hosts,
            failures=kept,
            errors=[m.text for m in messages if m.level == "error"],
            warnings=[m.text for m in messages if m.level == "warning"],
            bad_input=failure_kinds.only_input(f.kind for f in kept),
        )

    @property
    def exit_code(self) -> ExitCode:
        code = exit_code(self.status, self.hosts)
        return ExitCode.USAGE if self.bad_input and code is ExitCode.FAILED else code

    def to_json(self) -> dict[str, Any]:
        """The document ``--json`` prints."""
        return {
            "command": self.command,
            "playbook": self.playbook,
            "check": self.check,
            "status": self.status,
            "rc": self.rc,
            "exit_code": int(self.exit_code),
            "elapsed": round(self.elapsed, 1),
            "hosts": {name: asdict(stats) for name, stats in self.hosts.items()},
            "failures": [asdict(f) for f in self.failures],
            "errors": self.errors,
            "warnings": self.warnings,
        }
