"""The thin Ansible plugins over wheelfleet.plan, imported the way Ansible imports them."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wheelfleet.fleet.plugins.action import plan_release as action
from ansible_collections.wheelfleet.fleet.plugins.filter import release_jobs as filters

from wheelfleet.plan import Host, host_from_vars


def test_plugins_use_the_installed_wheelfleet_package():
    assert filters.IMPORT_ERROR is None
    assert action.IMPORT_ERROR is None


def test_filter_module_exposes_both_filters():
    assert filters.FilterModule().filters() == {
        "matrix_jobs": filters.matrix_jobs,
        "release_jobs": filters.release_jobs,
    }


def test_matrix_jobs_filter():
    jobs = filters.matrix_jobs(["arm64"], ["cp312"])
    assert jobs == [
        {
            "identifier": "cp312-manylinux_aarch64",
            "architecture": "aarch64",
            "python": "cp312",
            "weight": 1.0,
            "settings_hash": "",
            "image": "",
        }
    ]


def test_filters_name_bad_values():
    with pytest.raises(AnsibleFilterError, match="unknown architecture 'sparc'; valid names"):
        filters.matrix_jobs(["sparc"], ["cp312"])
    with pytest.raises(AnsibleFilterError, match="'cp2' is not a CPython tag"):
        filters.release_jobs(["cp2-manylinux_x86_64"])
    with pytest.raises(AnsibleFilterError, match="expects a list of jobs"):
        filters.release_jobs("cp312-manylinux_x86_64")


def test_release_jobs_keeps_weight_and_settings_hash():
    [job] = filters.release_jobs(
        [{"identifier": "cp312-manylinux_x86_64", "weight": 3, "settings_hash": "ab"}]
    )
    assert (job["weight"], job["settings_hash"]) == (3.0, "ab")


def test_action_reads_only_what_planning_needs_from_hostvars():
    hostvars = {
        "ansible_host": "192.0.2.1",
        "ansible_facts": {
            "architecture": "aarch64",
            "processor_nproc": 8,
            "processor_vcpus": 8,
            "mounts": ["..."],
        },
        "wheelfleet_emulated_architectures": ["x86_64"],
        "wheelfleet_capacity": 3,
        "docker_engine_users": ["builder"],
    }
    picked = action.host_variables(hostvars)
    assert picked == {
        "ansible_facts": {"architecture": "aarch64", "processor_nproc": 8, "processor_vcpus": 8},
        "wheelfleet_emulated_architectures": ["x86_64"],
        "wheelfleet_capacity": 3,
    }
    assert host_from_vars("arm", picked) == Host("arm", "aarch64", 3, frozenset({"x86_64"}))


def test_action_spec_matches_its_documentation():
    import yaml
    from ansible_collections.wheelfleet.fleet.plugins.modules import plan_release as doc

    options = yaml.safe_load(doc.DOCUMENTATION)["options"]
    assert set(options) == set(action.ARGUMENT_SPEC)
    for name, spec in action.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
