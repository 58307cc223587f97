"""playbooks/provision.yml on this machine, which is already provisioned.

A second provisioning changes nothing, a dry run reports nothing to change, and
bad input stops the run in the validation play, before any host is touched.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import binfmt_snapshot, run_playbook

pytestmark = [pytest.mark.engine, pytest.mark.emulation]

PLAYBOOK = "playbooks/provision.yml"
DAEMON_JSON = Path("/etc/docker/daemon.json")
VALID_ARCHS = "x86_64, i686, aarch64, armv7l, ppc64le, s390x, riscv64"


def host_state() -> tuple[str, dict[str, str]]:
    """What provisioning would change: the engine configuration and the binfmt handlers."""
    digest = hashlib.sha256(DAEMON_JSON.read_bytes()).hexdigest() if DAEMON_JSON.exists() else ""
    return digest, binfmt_snapshot()


@pytest.mark.parametrize("check", [False, True], ids=["apply", "check"])
def test_provisioning_a_provisioned_host_changes_nothing(
    check: bool, docker_client, binfmt_mounted: None
) -> None:
    before = host_state()
    run = run_playbook(PLAYBOOK, check=check)
    assert run.rc == 0, run.output[-3000:]
    assert set(run.recap) == {"localhost"}
    stats = run.recap["localhost"]
    assert stats["changed"] == 0, run.changed_tasks()
    assert stats["failed"] == stats["unreachable"] == 0
    assert stats["ok"] > 10
    assert "TASK [wheelfleet.fleet.qemu_binfmt : Prove that every requested architecture runs]" in (
        run.stdout
    )
    assert "Invalid inputs" not in run.stdout
    assert host_state() == before
    assert docker_client.ping()


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        (
            {"qemu_binfmt_architectures": ["aarch64", "sparc99"]},
            ["qemu_binfmt_architectures", "sparc99", VALID_ARCHS],
        ),
        (
            {"docker_engine_daemon_options": {"log-level": "warn", "wheelfleet-bogus": True}},
            ["docker_engine_daemon_options.wheelfleet-bogus", "storage-driver", "log-level"],
        ),
        (
            {"docker_engine_source": "snap"},
            ["docker_engine_source", "got: snap", "distribution, upstream"],
        ),
    ],
    ids=["architecture", "daemon-option", "source"],
)
def test_bad_input_fails_before_any_change(
    extra_vars: dict[str, object], expected: list[str], binfmt_mounted: None
) -> None:
    before = host_state()
    run = run_playbook(PLAYBOOK, extra_vars=extra_vars)
    assert run.rc != 0
    assert run.recap == {
        "localhost": {
            "ok": 0,
            "changed": 0,
            "unreachable": 0,
            "failed": 1,
            "skipped": 0,
            "rescued": 0,
            "ignored": 0,
        }
    }
    assert "TASK [Validate role inputs against their argument specs]" in run.stdout
    assert "Invalid inputs:" in run.output
    for text in expected:
        assert text in run.output
    # The provisioning play never started: no facts gathered, no role task ran.
    assert "PLAY [Provision build hosts]" not in run.stdout
    assert "Gathering Facts" not in run.stdout
    assert "wheelfleet.fleet.docker_engine :" not in run.stdout
    assert host_state() == before
