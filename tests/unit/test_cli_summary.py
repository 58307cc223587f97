"""Summarising ansible's stats, and the exit code of a run."""

import json

import pytest

from wheelfleet.progress import Failure, Message
from wheelfleet.summary import ExitCode, HostStats, RunSummary, exit_code, host_stats

# playbook_on_stats data recorded from real runs (see test_progress.py).
CHECK_STATS = {
    "changed": {},
    "dark": {},
    "failures": {},
    "ignored": {},
    "ok": {"localhost": 22},
    "processed": {"localhost": 1},
    "rescued": {},
    "skipped": {"localhost": 8},
}
FAIL_STATS = {
    "changed": {},
    "dark": {},
    "failures": {"localhost": 1},
    "ignored": {},
    "ok": {},
    "processed": {"localhost": 1},
    "rescued": {},
    "skipped": {},
}
UNREACH_STATS = {
    "changed": {},
    "dark": {"ghost": 1},
    "failures": {},
    "ignored": {},
    "ok": {"ghost": 1},
    "processed": {"ghost": 1},
    "rescued": {},
    "skipped": {},
}
NO_HOST_STATS = {key: {} for key in CHECK_STATS}


def test_host_stats_uses_the_recap_names():
    assert host_stats(CHECK_STATS) == {"localhost": HostStats(ok=22, skipped=8)}
    assert host_stats(FAIL_STATS) == {"localhost": HostStats(failed=1)}
    assert host_stats(UNREACH_STATS) == {"ghost": HostStats(ok=1, unreachable=1)}


def test_host_stats_of_several_hosts_in_name_order():
    stats = {**CHECK_STATS, "ok": {"b": 1, "a": 2}, "changed": {"c": 1}, "processed": {}}
    assert list(host_stats(stats)) == ["a", "b", "c", "localhost"]


def test_host_stats_without_stats():
    assert host_stats(None) == {}
    assert host_stats(NO_HOST_STATS) == {}


@pytest.mark.parametrize(
    ("status", "stats", "expected"),
    [
        ("successful", CHECK_STATS, ExitCode.OK),
        ("failed", FAIL_STATS, ExitCode.FAILED),
        ("failed", UNREACH_STATS, ExitCode.UNREACHABLE),
        # A failure outranks an unreachable host, as in ansible-playbook.
        ("failed", {**FAIL_STATS, "dark": {"ghost": 1}}, ExitCode.FAILED),
        ("canceled", None, ExitCode.CANCELLED),
        ("canceled", CHECK_STATS, ExitCode.CANCELLED),
        # ansible-playbook refused to start (a --limit matching nothing): no stats.
        ("failed", None, ExitCode.USAGE),
        # The plays matched no host at all.
        ("successful", NO_HOST_STATS, ExitCode.USAGE),
        # Hosts fine but the run did not succeed (a timeout).
        ("timeout", CHECK_STATS, ExitCode.FAILED),
    ],
)
def test_exit_code(status, stats, expected):
    assert exit_code(status, host_stats(stats)) is expected


def test_exit_code_values_are_the_documented_ones():
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 130]


def build(**overrides):
    arguments = {
        "command": "provision",
        "playbook": "/p/playbooks/provision.yml",
        "status": "failed",
        "rc": 2,
        "elapsed": 0.7345,
        "check": False,
        "stats": FAIL_STATS,
        "failures": [Failure("localhost", "Validate", None, "Got no match for: sparc99")],
        "messages": [Message("warning", "w1"), Message("error", "e1")],
    }
    arguments.update(overrides)
    return RunSummary.build(**arguments)


def test_summary_json_document():
    document = build().to_json()
    assert document == {
        "command": "provision",
        "playbook": "/p/playbooks/provision.yml",
        "check": False,
        "status": "failed",
        "rc": 2,
        "exit_code": 1,
        "elapsed": 0.7,
        "hosts": {
            "localhost": {
                "ok": 0,
                "changed": 0,
                "failed": 1,
                "unreachable": 0,
                "skipped": 0,
                "rescued": 0,
                "ignored": 0,
            }
        },
        "failures": [
            {
                "host": "localhost",
                "task": "Validate",
                "role": None,
                "msg": "Got no match for: sparc99",
                "unreachable": False,
                "kind": None,
            }
        ],
        "errors": ["e1"],
        "warnings": ["w1"],
    }
    json.dumps(document)  # serialisable as is


def test_summary_drops_failures_a_block_rescued():
    stats = {**CHECK_STATS, "rescued": {"localhost": 1}}
    summary = build(status="successful", rc=0, stats=stats)
    assert summary.failures == []
    assert summary.exit_code is ExitCode.OK


def test_summary_keeps_failures_of_hosts_missing_from_stats():
    summary = build(stats=None, status="canceled")
    assert [f.host for f in summary.failures] == ["localhost"]
    assert summary.exit_code is ExitCode.CANCELLED


def test_only_input_failures_make_bad_input():
    refused = Failure("localhost", "any", None, "no project", kind="input")
    summary = build(failures=[refused])
    assert summary.bad_input and summary.exit_code == 2
    broken = Failure("localhost", "any", None, "exit 1", kind="job")
    assert build(failures=[refused, broken]).exit_code == 1
    assert build(failures=[Failure("localhost", "any", None, "?")]).exit_code == 1
