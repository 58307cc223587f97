"""The controller-side filters, imported the way Ansible imports them (through the collection)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wheelfleet.fleet.plugins.filter import architectures as plugin


def test_filter_module_exposes_emulation_targets() -> None:
    filters = plugin.FilterModule().filters()
    assert filters["emulation_targets"] is plugin.emulation_targets


def test_plugin_uses_the_installed_wheelfleet_package() -> None:
    assert plugin.IMPORT_ERROR is None


def test_emulation_targets_on_x86_64() -> None:
    targets = plugin.emulation_targets(
        ["aarch64", "x86_64", "i686", "armv7l", "arm64", "riscv64"], "x86_64"
    )
    assert targets == [
        {"name": "aarch64", "qemu": "aarch64"},
        {"name": "armv7l", "qemu": "arm"},
        {"name": "riscv64", "qemu": "riscv64"},
    ]


def test_emulation_targets_accepts_an_aliased_host() -> None:
    assert plugin.emulation_targets(["x86_64", "arm64"], "arm64") == [
        {"name": "x86_64", "qemu": "x86_64"}
    ]


def test_emulation_targets_of_the_role_default_list() -> None:
    # roles/qemu_binfmt/defaults/main.yml on an x86_64 host: every entry is foreign.
    defaults = ["aarch64", "ppc64le", "s390x", "armv7l", "riscv64"]
    assert [t["qemu"] for t in plugin.emulation_targets(defaults, "x86_64")] == [
        "aarch64",
        "ppc64le",
        "s390x",
        "arm",
        "riscv64",
    ]


@pytest.mark.parametrize(
    ("targets", "host", "bad"),
    [(["aarch64", "sparc99"], "x86_64", "sparc99"), (["aarch64"], "pdp11", "pdp11")],
)
def test_emulation_targets_raises_a_filter_error_naming_valid_names(
    targets: list[str], host: str, bad: str
) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        plugin.emulation_targets(targets, host)
    assert f"unknown architecture {bad!r}" in str(caught.value)
    assert "valid names: x86_64, i686, aarch64, armv7l, ppc64le, s390x, riscv64" in str(
        caught.value
    )
