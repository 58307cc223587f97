"""src/wheelfleet/failures.py: the kinds failures declare, and how several combine."""

from __future__ import annotations

from wheelfleet import failures


def test_a_result_declares_its_kind_or_none():
    assert failures.kind_of({"failed": True, "failure_kind": "input"}) == "input"
    assert failures.kind_of({"failed": True, "failure_kind": "weather"}) is None
    assert failures.kind_of({"failed": True}) is None
    assert failures.kind_of(None) is None


def test_only_input_needs_failures_all_of_kind_input():
    assert failures.only_input(["input", "input"])
    assert not failures.only_input([])
    assert not failures.only_input(["input", None])
    assert not failures.only_input(["input", "job"])


def test_the_worst_kind_wins_and_an_undeclared_one_is_a_job():
    assert failures.worst([]) is None
    assert failures.worst(["input"]) == "input"
    assert failures.worst(["input", None]) == "job"
    assert failures.worst(["job", "host", "input"]) == "host"
