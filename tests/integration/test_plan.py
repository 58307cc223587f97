"""``wheelfleet plan`` and ``playbooks/plan.yml`` for real: ansible-runner, facts, probes.

The localhost test reads this machine (x86_64, with QEMU handlers registered by
provisioning). The others describe their hosts in a written inventory with
wheelfleet_architecture / wheelfleet_emulates / wheelfleet_capacity, at
addresses reserved for documentation (RFC 5737): a host that were contacted
would be unreachable and left out, so a plan that uses them proves it was made
without contacting them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BIN, REPO, ansible_env, document, wheelfleet


def write_inventory(path: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    path.write_text(
        yaml.safe_dump({"all": {"children": {"build_hosts": {"hosts": hosts}}}}), encoding="utf-8"
    )
    return path


MIXED = {
    "builder-arm-01": {
        "ansible_host": "198.51.100.20",
        "wheelfleet_architecture": "aarch64",
        "wheelfleet_emulates": [],
        "wheelfleet_capacity": 2,
    },
    "builder-x86-01": {
        "ansible_host": "192.0.2.10",
        "wheelfleet_architecture": "x86_64",
        "wheelfleet_emulates": ["aarch64"],
        "wheelfleet_capacity": 2,
    },
}
PYTHONS = ("--python", "cp311", "--python", "cp312", "--python", "cp313")


def by_arch(host: dict[str, Any]) -> dict[str, list[bool]]:
    found: dict[str, list[bool]] = {}
    for job in host["jobs"]:
        found.setdefault(job["architecture"], []).append(job["native"])
    return found


@pytest.mark.engine
@pytest.mark.emulation
def test_plan_on_localhost_marks_aarch64_emulated(tmp_path: Path, binfmt_mounted: None) -> None:
    run = wheelfleet(
        "plan", "--json", "--arch", "aarch64", "--arch", "x86_64", *PYTHONS, cwd=tmp_path
    )
    result = document(run)
    assert run.returncode == 0, run.stderr[-3000:]
    assert result["exit_code"] == 0
    assert result["hosts"]["localhost"]["changed"] == 0
    plan = result["plan"]
    assert plan["unschedulable"] == []
    localhost = plan["hosts"]["localhost"]
    assert localhost["architecture"] == "x86_64"
    assert localhost["healthy"]
    # Gathered: the processor count, and aarch64 proved to run through QEMU.
    assert localhost["capacity"] == len(os.sched_getaffinity(0))
    assert "aarch64" in localhost["emulates"]
    assert by_arch(localhost) == {"aarch64": [False] * 3, "x86_64": [True] * 3}
    # Emulated jobs cost 8x and go first (longest first).
    assert [job["cost"] for job in localhost["jobs"]] == [8.0] * 3 + [1.0] * 3
    # The table went to stderr with the progress, with the image each job names.
    assert re.search(r"cp311-manylinux_aarch64\s+bookworm\s+emulated", run.stderr), run.stderr


def test_mixed_fleet_sends_aarch64_to_the_aarch64_host(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "fleet.yml", MIXED)
    started = time.monotonic()
    run = wheelfleet(
        "plan",
        "-i",
        str(inventory),
        "--json",
        "--arch",
        "x86_64",
        "--arch",
        "arm64",
        *PYTHONS,
        cwd=tmp_path,
    )
    result = document(run)
    assert run.returncode == 0, run.stderr[-3000:]
    # Nobody was contacted: no SSH timeout, no unreachable host.
    assert time.monotonic() - started < 60
    assert all(h["unreachable"] == 0 and h["ignored"] == 0 for h in result["hosts"].values())
    plan = result["plan"]
    assert plan["unschedulable"] == []
    assert by_arch(plan["hosts"]["builder-arm-01"]) == {"aarch64": [True] * 3}
    assert by_arch(plan["hosts"]["builder-x86-01"]) == {"x86_64": [True] * 3}
    assert plan["counts"] == {
        "jobs": 6,
        "native": 6,
        "emulated": 0,
        "finished": 0,
        "unschedulable": 0,
    }
    assert plan["estimated_finish"] == 2.0  # three unit jobs on two slots per host


def test_table_without_json(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "fleet.yml", MIXED)
    run = wheelfleet(
        "plan", "-i", str(inventory), "--arch", "aarch64", "--python", "cp312", cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout[-3000:]
    lines = run.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("host "))
    assert lines[header + 1].split() == [
        "builder-arm-01",
        "aarch64",
        "2",
        "cp312-manylinux_aarch64",
        "native",
        "1",
    ]
    assert lines[header + 2].split() == ["builder-x86-01", "x86_64", "2", "-", "no", "jobs"]
    assert "plan: successful" in run.stdout


def test_no_host_for_an_architecture_exits_2_naming_it(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "fleet.yml", MIXED)
    run = wheelfleet(
        "plan",
        "-i",
        str(inventory),
        "--json",
        "--arch",
        "s390x",
        "--arch",
        "x86_64",
        "--python",
        "cp312",
        cwd=tmp_path,
    )
    result = document(run)
    assert run.returncode == 2, run.stderr[-3000:]
    assert result["exit_code"] == 2
    [problem] = result["plan"]["unschedulable"]
    assert problem["identifier"] == "cp312-manylinux_s390x"
    assert problem["reason"] == (
        "no host runs s390x natively and none emulates it;"
        " provision one with qemu_binfmt_architectures including s390x"
    )
    [failure] = result["failures"]
    assert "cp312-manylinux_s390x: no host runs s390x natively" in failure["msg"]
    # The other jobs are still planned, and shown.
    assert result["plan"]["hosts"]["builder-x86-01"]["jobs"][0]["identifier"] == (
        "cp312-manylinux_x86_64"
    )


def test_an_unreachable_host_is_left_out_with_the_reason(tmp_path: Path) -> None:
    hosts = {
        **MIXED,
        # Port 1 on the loopback refuses at once (no timeout).
        "builder-down": {"ansible_host": "127.0.0.1", "ansible_port": 1},
    }
    inventory = write_inventory(tmp_path / "fleet.yml", hosts)
    run = wheelfleet(
        "plan",
        "-i",
        str(inventory),
        "--json",
        "--arch",
        "aarch64",
        "--python",
        "cp312",
        cwd=tmp_path,
    )
    result = document(run)
    assert run.returncode == 0, run.stderr[-3000:]
    down = result["plan"]["hosts"]["builder-down"]
    assert not down["healthy"]
    assert down["note"].startswith("unreachable: ")
    assert "Connection refused" in down["note"]
    assert down["jobs"] == []
    assert result["plan"]["hosts"]["builder-arm-01"]["jobs"][0]["native"]
    assert "builder-down is left out: unreachable" in run.stderr


def test_the_playbook_makes_the_same_plan_as_the_cli(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "fleet.yml", MIXED)
    matrix = {"wheelfleet_architectures": ["x86_64", "aarch64"], "wheelfleet_pythons": ["cp312"]}
    completed = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            "playbooks/plan.yml",
            "-e",
            json.dumps(matrix),
        ],
        cwd=REPO,
        env=ansible_env(
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_SHOW_CUSTOM_STATS="1",
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr
    from_playbook = json.loads(completed.stdout)["global_custom_stats"]["wheelfleet_plan"]
    run = wheelfleet(
        "plan",
        "-i",
        str(inventory),
        "--json",
        "--arch",
        "x86_64",
        "--arch",
        "aarch64",
        "--python",
        "cp312",
        cwd=tmp_path,
    )
    assert document(run)["plan"] == from_playbook


def test_the_playbook_refuses_an_unknown_python_before_contacting_hosts(tmp_path: Path) -> None:
    hosts = {"builder-down": {"ansible_host": "127.0.0.1", "ansible_port": 1}}
    inventory = write_inventory(tmp_path / "fleet.yml", hosts)
    completed = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            "playbooks/plan.yml",
            "-e",
            json.dumps({"wheelfleet_architectures": ["x86_64"], "wheelfleet_pythons": ["cp27"]}),
        ],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 2, output
    assert "'cp27' is not a CPython tag" in output
    assert "UNREACHABLE" not in output  # the check ran on the controller first


REPLAN_PLAYBOOK = """
- name: Plan, lose a host, replan
  hosts: build_hosts
  gather_facts: false
  tasks:
    - name: Plan
      wheelfleet.fleet.plan_release:
        architectures: [x86_64, aarch64]
        pythons: [cp311, cp312]
      run_once: true
      register: first
    - name: Replan without builder-arm-01
      wheelfleet.fleet.plan_release:
        previous: "{{ first.plan }}"
        failed_hosts: {builder-arm-01: "unreachable: stopped"}
        finished_jobs: [cp311-manylinux_aarch64]
      run_once: true
      register: second
    - name: Publish both
      ansible.builtin.set_stats:
        data: {first: "{{ first.plan }}", second: "{{ second.plan }}"}
        per_host: false
      run_once: true
"""


def test_the_action_replans_after_a_host_failure(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "fleet.yml", MIXED)
    playbook = tmp_path / "replan.yml"
    playbook.write_text(REPLAN_PLAYBOOK, encoding="utf-8")
    completed = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)],
        cwd=REPO,
        env=ansible_env(
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_SHOW_CUSTOM_STATS="1",
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr
    stats = json.loads(completed.stdout)["global_custom_stats"]
    first, second = stats["first"], stats["second"]
    assert [j["identifier"] for j in first["hosts"]["builder-arm-01"]["jobs"]] == [
        "cp311-manylinux_aarch64",
        "cp312-manylinux_aarch64",
    ]
    arm = second["hosts"]["builder-arm-01"]
    assert (arm["healthy"], arm["note"]) == (False, "unreachable: stopped")
    # The finished wheel stays where it was built; the other job moves, emulated.
    assert [(j["identifier"], j["finished"]) for j in arm["jobs"]] == [
        ("cp311-manylinux_aarch64", True)
    ]
    moved = second["hosts"]["builder-x86-01"]["jobs"][-1]
    assert moved["identifier"] == "cp312-manylinux_aarch64"
    assert (moved["native"], moved["moved_from"], moved["cost"]) == (False, "builder-arm-01", 8.0)
