"""What a killed run leaves behind, found by its owner (src/wheelfleet/stale.py).

Owners are real processes: a child started by the test (alive), the same child
after it has been killed and reaped (gone), and this very process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from wheelfleet import stale


@pytest.fixture
def ended_owner() -> str:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    identity = stale.owner(child.pid)
    child.kill()
    child.wait()
    return identity


@pytest.fixture
def live_owner():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield stale.owner(child.pid)
    child.kill()
    child.wait()


def test_owner_names_machine_boot_process_and_start(live_owner):
    machine, boot, pid, started = live_owner.split("/")
    assert machine == stale.machine_id()
    assert boot == stale.boot_id()
    assert pid.isdigit() and started.isdigit()
    assert stale.is_gone(live_owner) is False


def test_an_ended_process_is_gone(ended_owner):
    assert stale.is_gone(ended_owner) is True


def test_a_reused_pid_with_another_start_time_is_gone(live_owner):
    machine, boot, pid, started = live_owner.split("/")
    assert stale.is_gone(f"{machine}/{boot}/{pid}/{int(started) - 1}") is True


def test_an_earlier_boot_is_gone(live_owner):
    machine, _, pid, started = live_owner.split("/")
    assert stale.is_gone(f"{machine}/another-boot/{pid}/{started}") is True


def test_another_machine_or_an_unknown_form_is_not_decided(live_owner):
    _, boot, pid, started = live_owner.split("/")
    assert stale.is_gone(f"another-machine/{boot}/{pid}/{started}") is None
    assert stale.is_gone("hand-made") is None


def test_forked_workers_belong_to_the_process_they_were_forked_from():
    # Ansible forks its workers from the main process: same command line.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        os.close(read)
        os.write(write, str(stale.controller_process()).encode())
        os._exit(0)
    os.close(write)
    found = int(os.read(read, 64))
    os.waitpid(pid, 0)
    assert found == stale.controller_process() == stale.controller_process(os.getpid())


def test_a_child_with_another_command_is_its_own_owner(live_owner):
    pid = int(live_owner.split("/")[2])
    assert stale.controller_process(pid) == pid


def test_stale_containers_are_those_of_ended_owners(live_owner, ended_owner):
    containers = [
        {"Names": ["/wheelfleet-old-job"], "Labels": {stale.OWNER_LABEL: ended_owner}},
        {"Names": ["/wheelfleet-running-job"], "Labels": {stale.OWNER_LABEL: live_owner}},
        {"Names": ["/elsewhere"], "Labels": {stale.OWNER_LABEL: "other/b/1/2"}},
        {"Names": ["/unlabelled"], "Labels": {}},
        {"Name": "/old-by-name", "Labels": {stale.OWNER_LABEL: ended_owner}},
    ]
    assert stale.stale_containers(containers) == ["old-by-name", "wheelfleet-old-job"]


def test_claimed_staging_is_kept_while_its_owner_runs(tmp_path, live_owner, ended_owner):
    stale.claim_staging(tmp_path, "live-r1", live_owner)
    killed = stale.claim_staging(tmp_path, "killed-r1", ended_owner)
    (killed / "host" / "job").mkdir(parents=True)
    (killed / "host" / "job" / "x.whl").write_bytes(b"partial")
    unowned = tmp_path / ".staging" / "old-version-run" / "host" / "job"
    unowned.mkdir(parents=True)

    assert sorted(stale.remove_stale_staging(tmp_path)) == ["killed-r1", "old-version-run"]
    assert sorted(p.name for p in (tmp_path / ".staging").iterdir()) == ["live-r1"]
    owner_file = tmp_path / ".staging" / "live-r1" / stale.OWNER_FILE
    assert json.loads(owner_file.read_text())["owner"] == live_owner


def test_a_claim_being_made_is_left_alone(tmp_path):
    aside = tmp_path / ".staging" / f"{stale.CLAIM_PREFIX}abc"
    aside.mkdir(parents=True)
    assert stale.stale_staging(tmp_path) == []
    os.utime(aside, (0, 0))  # an old, abandoned claim
    assert stale.stale_staging(tmp_path) == [aside]


def test_claiming_a_directory_that_has_files_already(tmp_path, live_owner):
    (tmp_path / ".staging" / "run-r1" / "host").mkdir(parents=True)
    stale.claim_staging(tmp_path, "run-r1", live_owner)
    assert (tmp_path / ".staging" / "run-r1" / "host").is_dir()
    assert stale.stale_staging(tmp_path) == []
    assert [p.name for p in (tmp_path / ".staging").iterdir()] == ["run-r1"]


def test_a_finished_run_leaves_no_staging(tmp_path, live_owner):
    stale.claim_staging(tmp_path, "run-r1", live_owner)
    assert stale.release_staging(tmp_path, "run-r1") is True
    assert not (tmp_path / ".staging").exists()


def test_a_released_run_keeps_files_still_in_its_directory(tmp_path, live_owner):
    stale.claim_staging(tmp_path, "run-r1", live_owner)
    (tmp_path / ".staging" / "run-r1" / "host").mkdir()
    assert stale.release_staging(tmp_path, "run-r1") is False
    # Without an owner now, the next run removes it.
    assert stale.remove_stale_staging(tmp_path) == ["run-r1"]
    assert not (tmp_path / ".staging").exists()


def test_no_staging_at_all(tmp_path):
    assert stale.remove_stale_staging(tmp_path) == []
