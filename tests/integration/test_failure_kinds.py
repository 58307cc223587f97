"""Failure kinds in real task results: each input check refuses with ``failure_kind: input``
and ``wheelfleet.fleet.stop`` fails with the kind it is given (ansible ad hoc on the
controller; no host, no engine)."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, run_module


@pytest.mark.parametrize(
    ("module", "args", "words"),
    [
        ("wheelfleet.fleet.release_inputs", {"project": "/nonexistent"}, "does not exist"),
        ("wheelfleet.fleet.release_inputs", {"project": str(REPO), "max_rounds": 21}, "1 to 20"),
        ("wheelfleet.fleet.wheel_source", {"project": "/nonexistent", "pack": False}, ""),
        ("wheelfleet.fleet.validate_role_inputs", {"roles": ["no_such_role"]}, "no_such_role"),
        (
            "wheelfleet.fleet.plan_release",
            {"jobs": ["cp311-manylinux_x86_64"], "hosts": ["not-in-inventory"]},
            "not-in-inventory",
        ),
        ("wheelfleet.fleet.image_source", {"choice": "sometimes"}, ""),
    ],
)
def test_input_checks_refuse_with_kind_input(module: str, args: dict, words: str) -> None:
    run = run_module(module, args)
    assert run.rc != 0 and run.result.get("failed"), run.result
    assert run.result["failure_kind"] == "input", run.result
    assert words in run.result["msg"]


@pytest.mark.parametrize("kind", ["input", "host", "job"])
def test_stop_fails_with_its_kind(kind: str) -> None:
    run = run_module("wheelfleet.fleet.stop", {"msg": "stopping here", "kind": kind})
    assert run.result["failed"] and run.result["msg"] == "stopping here"
    assert run.result["failure_kind"] == kind


def test_stop_refuses_an_unknown_kind() -> None:
    run = run_module("wheelfleet.fleet.stop", {"msg": "x", "kind": "weather"})
    assert run.result["failed"] and "weather" in run.result["msg"]
    assert "failure_kind" not in run.result
