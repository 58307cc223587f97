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
        "wheel_build_steps",
        "wheel_build_passed_env",
        "wheel_build_record",
        "wheel_build_record_async",
        "wheel_build_active",
        "wheel_build_summary",
        "wheel_build_step_name",
        "wheel_build_failure",
        "wheel_build_repaired_wheels",
        "wheel_build_refused_wheels",
        "wheel_build_log_header",
    }


def test_record_keeps_the_failure_and_extra_data() -> None:
    state = plugin.wheel_build_record({}, "job", "repair", "0.25", wheels=[{"file": "a.whl"}])
    state = plugin.wheel_build_record(state, "job", "copy_out", error="disk full")
    assert state["job"]["timings"] == {"repair": 0.25}
    assert state["job"]["wheels"] == [{"file": "a.whl"}]
    assert (state["job"]["status"], state["job"]["step"]) == ("failed", "copy_out")


def test_test_steps_need_the_wheels() -> None:
    job = {"python": "/opt/python/cp311-cp311/bin/python", "settings": {"test_command": "true"}}
    steps = plugin.wheel_build_steps(job, "test", ["/work/a.whl"])
    assert [step["name"] for step in steps] == ["install", "test"]
    assert "/work/a.whl" in steps[0]["argv"]


def test_malformed_input_is_a_filter_error() -> None:
    with pytest.raises(AnsibleFilterError, match="wheel_build: malformed input"):
        plugin.wheel_build_steps({})


def test_passed_environment_takes_only_the_names_that_are_set(monkeypatch) -> None:
    monkeypatch.setenv("WHEELFLEET_TEST_TOKEN", "s3cret")
    monkeypatch.delenv("WHEELFLEET_TEST_UNSET", raising=False)
    passed = plugin.wheel_build_passed_env(["WHEELFLEET_TEST_TOKEN", "WHEELFLEET_TEST_UNSET"])
    assert passed == {"WHEELFLEET_TEST_TOKEN": "s3cret"}
