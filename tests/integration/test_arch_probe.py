"""The arch_probe module on this host: native and emulated architectures, and a missing handler."""

from __future__ import annotations

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils.elf_probe import SUPPORTED

from tests.conftest import binfmt_entry, handler_disabled, run_module

pytestmark = pytest.mark.emulation

MODULE = "wheelfleet.fleet.arch_probe"


def test_native_and_emulated_architectures_run() -> None:
    run = run_module(MODULE, {"architectures": ["x86_64", "aarch64", "x86_64"]})
    assert run.rc == 0
    assert run.result["changed"] is False
    assert run.result["failed_architectures"] == []
    assert run.result["results"] == [
        {"architecture": "x86_64", "runs": True, "exit_status": 42, "error": None},
        {"architecture": "aarch64", "runs": True, "exit_status": 42, "error": None},
    ]


def test_every_supported_architecture_runs_in_check_mode() -> None:
    run = run_module(MODULE, {"architectures": list(SUPPORTED)}, check=True)
    assert run.rc == 0
    assert [r["architecture"] for r in run.result["results"]] == list(SUPPORTED)
    assert all(r["runs"] and r["exit_status"] == 42 for r in run.result["results"])


def test_a_disabled_handler_fails_naming_the_architecture(binfmt_mounted: None) -> None:
    with handler_disabled("qemu-riscv64"):
        assert (binfmt_entry("qemu-riscv64") or "").startswith("disabled")
        failed = run_module(MODULE, {"architectures": ["x86_64", "riscv64", "aarch64"]})
        report = run_module(
            MODULE, {"architectures": ["riscv64", "x86_64"], "fail_on_error": False}
        )
    assert (binfmt_entry("qemu-riscv64") or "").startswith("enabled")

    assert failed.rc != 0
    assert failed.result["failed"] is True
    message = failed.result["msg"]
    assert message.startswith("this host cannot run riscv64 binaries (riscv64: Exec format error)")
    assert "qemu_binfmt role" in message
    assert "aarch64:" not in message
    assert failed.result["failed_architectures"] == ["riscv64"]
    runs = {r["architecture"]: r["runs"] for r in failed.result["results"]}
    assert runs == {"x86_64": True, "riscv64": False, "aarch64": True}

    assert report.rc == 0
    assert report.result["failed_architectures"] == ["riscv64"]
    assert report.result["results"][0] == {
        "architecture": "riscv64",
        "runs": False,
        "exit_status": None,
        "error": "Exec format error",
    }


def test_unknown_architecture_is_rejected_with_the_choices() -> None:
    run = run_module(MODULE, {"architectures": ["arm64"]})
    assert run.rc != 0
    assert "arm64" in run.result["msg"]
    assert "x86_64, i686, aarch64, armv7l, ppc64le, s390x, riscv64" in run.result["msg"]
