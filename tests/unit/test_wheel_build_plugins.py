"""The wheel_build role's controller-side plugins, imported the way Ansible imports them."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wheelfleet.fleet.plugins.filter import wheel_build as plugin


def test_filter_module_exposes_every_filter_the_role_uses() -> None:
    filters = plugin.FilterModule().filters()
    assert plugin.IMPORT_ERROR is None
    assert set(filters) == {
        "wheel_build_run_id",
        "wheel_build_image_names",
        "wheel_build_passed_env",
        "wheel_build_outcome",
        "wheel_build_summary",
        "wheel_build_failure",
    }


PLANNED = [
    {"id": "p-cp311-x86_64", "status": "build", "python_tag": "cp311", "arch": "x86_64"},
    {"id": "p-cp312-x86_64", "status": "up-to-date", "python_tag": "cp312", "arch": "x86_64",
     "entries": [{"file": "p.whl"}]},
]  # fmt: skip


def test_outcome_reads_the_failed_results_kind() -> None:
    refused = plugin.wheel_build_outcome([], None, {"msg": "no pyproject", "failure_kind": "input"})
    assert refused["input_error"] == "no pyproject" and refused["host_failure"] is None
    lost = plugin.wheel_build_outcome(PLANNED, {}, {"msg": "engine gone", "failure_kind": "host"})
    assert lost["host_failure"] == "engine gone"
    assert lost["unfinished"] == ["p-cp311-x86_64"] and lost["up_to_date"] == ["p-cp312-x86_64"]
    # A failure that declares no kind is not the user's input: the host's jobs are replanned.
    assert plugin.wheel_build_outcome(PLANNED, {}, {"msg": "copy failed"})["host_failure"]


def test_summary_of_a_watched_build() -> None:
    watched = {"jobs": {"p-cp311-x86_64": {"status": "built", "published": ["/wh/p1.whl"]}}}
    summary = plugin.wheel_build_summary(PLANNED, watched, "h1")
    assert summary["text"].startswith("h1: 1 built, 1 up to date (skipped), 0 failed")
    assert summary["built"][0]["wheels"] == ["p1.whl"]


def test_image_names_and_malformed_input() -> None:
    names = plugin.wheel_build_image_names([], ["x86_64"], "wheelfleet", "bookworm")
    assert names == ["wheelfleet/bookworm:x86_64"]
    with pytest.raises(AnsibleFilterError, match="wheel_build: malformed input"):
        plugin.wheel_build_summary([{"status": "build"}], {})


def test_passed_environment_takes_only_the_names_that_are_set(monkeypatch) -> None:
    monkeypatch.setenv("WHEELFLEET_TEST_TOKEN", "s3cret")
    monkeypatch.delenv("WHEELFLEET_TEST_UNSET", raising=False)
    passed = plugin.wheel_build_passed_env(["WHEELFLEET_TEST_TOKEN", "WHEELFLEET_TEST_UNSET"])
    assert passed == {"WHEELFLEET_TEST_TOKEN": "s3cret"}
