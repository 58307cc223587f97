"""The example fleet inventory (inventory/example-fleet) says what the README says it does:
SSH settings, per-host slots, an x86_64 and an aarch64 host, and a fleet registry that the
build hosts use and trust. Its addresses reach nothing: no host is contacted here."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.conftest import BIN, REPO, ansible_env, run_playbook

INVENTORY = "inventory/example-fleet"


@pytest.fixture(scope="module")
def hostvars() -> dict[str, dict[str, Any]]:
    listed = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", INVENTORY, "--list"],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    document = json.loads(listed.stdout)
    assert sorted(document["build_hosts"]["hosts"]) == ["builder-arm-01", "builder-x86-01"]
    assert document["registry"]["hosts"] == ["builder-x86-01"]
    return document["_meta"]["hostvars"]


def test_every_build_host_is_reached_over_ssh_with_a_key_and_has_its_slots(hostvars) -> None:
    for name, values in hostvars.items():
        assert values["ansible_connection"] == "ansible.builtin.ssh", name
        assert values["ansible_host"] and values["ansible_user"], name
        assert values["ansible_ssh_private_key_file"].endswith("_ed25519"), name
        assert isinstance(values["wheelfleet_capacity"], int) and values["wheelfleet_capacity"] > 0
    assert hostvars["builder-arm-01"]["ansible_port"] == 2222
    # The aarch64 host runs aarch64 natively and emulates the x86 architectures.
    assert hostvars["builder-arm-01"]["qemu_binfmt_architectures"][0] == "aarch64"


def test_the_build_hosts_use_and_trust_the_fleet_registry(hostvars) -> None:
    registry = hostvars["builder-x86-01"]
    address = f"{registry['fleet_registry_address']}:{registry['fleet_registry_port']}"
    assert registry["ansible_host"] == registry["fleet_registry_address"]
    for name, values in hostvars.items():
        assert values["builder_image_registry"] == address, name
        assert values["docker_engine_insecure_registries"] == [address], name


def test_the_example_passes_every_role_input_check() -> None:
    roles = ["docker_engine", "qemu_binfmt", "builder_image"]
    run = run_playbook(
        "playbooks/validate.yml",
        inventory=INVENTORY,
        extra_vars={"wheelfleet_validate_roles": roles},
        timeout=120,
    )
    assert run.rc == 0, run.output[-3000:]
    assert sorted(run.recap) == ["builder-arm-01", "builder-x86-01"]
    assert all(counts["failed"] == counts["unreachable"] == 0 for counts in run.recap.values())
