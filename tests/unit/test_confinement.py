"""Limits and networking of build and test containers (src/wheelfleet/confinement.py)."""

from __future__ import annotations

import pytest

from wheelfleet import confinement


@pytest.mark.parametrize(
    ("value", "expected"),
    [("8g", 8 * 1024**3), ("512m", 512 * 1024**2), ("8GiB", 8 * 1024**3), (2**30, 2**30), ("0", 0)],
)
def test_memory_sizes(value, expected):
    assert confinement.memory_bytes(value) == expected


@pytest.mark.parametrize("value", ["lots", "-1g", "8x", "", True, "1m", "1.5.2g"])
def test_bad_memory_is_refused_naming_the_value(value):
    with pytest.raises(confinement.LimitError) as error:
        confinement.memory_bytes(value)
    assert repr(value) in str(error.value)
    assert "wheel_build_container_memory" in str(error.value)
    assert "8g" in str(error.value)  # the valid form


@pytest.mark.parametrize("value", ["many", -5, 10, True, "1.5"])
def test_bad_pids_limit_is_refused_naming_the_value(value):
    with pytest.raises(confinement.LimitError, match="wheel_build_container_pids_limit") as error:
        confinement.pids_limit(value)
    assert repr(value) in str(error.value)


@pytest.mark.parametrize("value", ["fast", -1, "0.001", True, "nan"])
def test_bad_cpus_are_refused_naming_the_value(value):
    with pytest.raises(confinement.LimitError, match="wheel_build_container_cpus") as error:
        confinement.cpus(value)
    assert repr(value) in str(error.value)


def test_more_cpus_than_the_engine_has_are_refused():
    with pytest.raises(confinement.LimitError, match=r"more than the engine's 2 CPUs.*0\.01 to 2"):
        confinement.cpus(3, engine_cpus=2)


def test_defaults_bound_every_container():
    limits = confinement.container_limits("8g", 4096, 0, engine_cpus=2)
    assert limits == {"memory": str(8 * 1024**3), "pids_limit": 4096, "cpus": 2.0}


def test_none_means_the_default_and_zero_means_no_limit():
    assert confinement.container_limits(None, None, None, 4) == {
        "memory": str(8 * 1024**3),
        "pids_limit": 4096,
        "cpus": 4.0,
    }
    unlimited = {"memory": None, "pids_limit": None, "cpus": 1.5}
    assert confinement.container_limits(0, 0, 1.5) == unlimited
    # Before the engine is asked, 0 CPUs (all of them) is not resolved yet.
    assert confinement.container_limits("1g", 64, 0)["cpus"] is None


def test_wheelhouse_builds_run_offline_after_before_all():
    settings = {"requirements_source": "wheelhouse", "before_all": "apt-get install x"}
    assert confinement.network_plan(settings) == {
        "build_network_mode": None,
        "test_network_mode": "none",
        "online_steps": ["before_all"],
    }


def test_without_before_all_the_build_container_has_no_network():
    for settings in ({}, {"before_all": ""}, {"requirements_source": "wheelhouse"}):
        assert confinement.network_plan(settings) == {
            "build_network_mode": "none",
            "test_network_mode": "none",
            "online_steps": None,
        }


def test_before_all_can_be_kept_offline_too():
    plan = confinement.network_plan({"before_all": "make libs"}, before_all_network=False)
    assert plan["build_network_mode"] == "none"
    assert plan["online_steps"] is None


def test_index_builds_keep_the_default_network():
    plan = confinement.network_plan({"requirements_source": "index", "before_all": "x"})
    assert plan == {"build_network_mode": None, "test_network_mode": None, "online_steps": None}
