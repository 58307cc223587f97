"""The architecture filters as playbooks use them: FQCN, templated by Ansible itself."""

from __future__ import annotations

from tests.conftest import run_module


def test_emulation_targets_in_a_template() -> None:
    run = run_module(
        "ansible.builtin.debug",
        {
            "msg": "{{ ['arm64', 'x86_64', 'i686', 'armhf', 'aarch64'] "
            "| wheelfleet.fleet.emulation_targets(ansible_architecture | default('x86_64')) }}"
        },
    )
    assert run.rc == 0
    assert run.result["msg"] == [
        {"name": "aarch64", "qemu": "aarch64"},
        {"name": "armv7l", "qemu": "arm"},
    ]


def test_unknown_architecture_error_reaches_the_user() -> None:
    run = run_module(
        "ansible.builtin.debug",
        {"msg": "{{ ['aarch64', 'sparc99'] | wheelfleet.fleet.emulation_targets('x86_64') }}"},
    )
    assert run.rc != 0
    assert run.result["failed"] is True
    assert "unknown architecture 'sparc99'" in run.result["msg"]
    assert "valid names: x86_64, i686, aarch64" in run.result["msg"]
