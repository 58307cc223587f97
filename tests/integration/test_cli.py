"""The wheelfleet command on this machine, which is already provisioned.

Each test runs the installed console script, from a directory outside the
repository, the way a user would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import WHEELFLEET, document, wheelfleet


@pytest.mark.engine
def test_provisioning_again_changes_nothing(tmp_path: Path) -> None:
    run = wheelfleet("provision", "--json", cwd=tmp_path)
    result = document(run)
    assert run.returncode == 0, run.stderr[-3000:]
    assert result["status"] == "successful"
    assert result["rc"] == 0
    assert result["exit_code"] == 0
    assert result["failures"] == []
    localhost = result["hosts"]["localhost"]
    assert localhost["changed"] == 0, run.stderr
    assert localhost["failed"] == localhost["unreachable"] == 0
    assert localhost["ok"] > 10
    # The progress went to stderr, one line per task result.
    assert "PLAY [Provision build hosts]" in run.stderr
    assert "qemu_binfmt : Register the binfmt_misc handlers" in run.stderr


@pytest.mark.engine
def test_bad_architecture_fails_in_validation(tmp_path: Path) -> None:
    run = wheelfleet(
        "provision", "-e", '{"qemu_binfmt_architectures": ["sparc99"]}', "--json", cwd=tmp_path
    )
    result = document(run)
    # An input check refused (failure_kind input), before any host changed: exit code 2.
    assert run.returncode == 2, run.stderr
    assert result["status"] == "failed"
    assert result["exit_code"] == 2
    assert result["hosts"]["localhost"]["changed"] == 0
    [failure] = result["failures"]
    assert failure["host"] == "localhost"
    assert failure["kind"] == "input"
    assert failure["task"] == "Validate role inputs against their argument specs"
    assert "sparc99" in failure["msg"]
    assert "qemu_binfmt_architectures" in failure["msg"]
    # The plain progress on stderr names the host, the task and the message too.
    assert "failed       localhost  Validate role inputs" in run.stderr
    assert "Got no match for: sparc99" in run.stderr


@pytest.mark.engine
def test_ctrl_c_cancels_the_run(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [str(WHEELFLEET), "provision", "--check", "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # wait until the provisioning play is under way
        seen.append(line)
        if "PLAY [Provision build hosts]" in line:
            break
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + stderr
    assert time.monotonic() - sent < 10
    assert "Cancelling" in stderr
    result = json.loads(stdout)
    assert result["status"] == "canceled"
    assert result["exit_code"] == 130


def test_missing_inventory_is_a_usage_error(tmp_path: Path) -> None:
    run = wheelfleet("provision", "-i", "nowhere.yml", "--json", cwd=tmp_path, timeout=60)
    assert run.returncode == 2
    assert run.stdout == ""
    assert f"inventory 'nowhere.yml' not found (looked for '{tmp_path}/nowhere.yml')" in run.stderr


def test_limit_matching_no_host_is_a_usage_error(tmp_path: Path) -> None:
    run = wheelfleet("provision", "--limit", "no-such-host", "--json", cwd=tmp_path, timeout=120)
    result = document(run)
    assert run.returncode == 2, run.stderr
    assert result["hosts"] == {}
    assert any("no hosts to target" in error for error in result["errors"])
