"""playbooks/release.yml and ``wheelfleet release`` refuse bad input before any host is touched.

The inventory's host sits at an address reserved for documentation (RFC 5737) and
is described by wheelfleet_architecture / wheelfleet_emulates, so it is never
contacted: a check that reached it would hang on SSH and fail as unreachable. No
engine is needed.
"""

from __future__ import annotations

import json
import subprocess
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, REPO, ansible_env, parse_recap

WHEELFLEET = Path(sysconfig.get_path("scripts")) / "wheelfleet"
EXAMPLE = REPO / "examples" / "yamlcount"


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    host = {
        "ansible_host": "192.0.2.10",
        "wheelfleet_architecture": "x86_64",
        # Provisioning would register no emulator here.
        "wheelfleet_emulates": [],
        "wheelfleet_capacity": 2,
    }
    path = tmp_path / "fleet.yml"
    path.write_text(
        yaml.safe_dump({"all": {"children": {"build_hosts": {"hosts": {"builder-x86-01": host}}}}})
    )
    return path


def release(inventory: Path, extra: dict) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(str(BIN / "ansible-playbook"), "-i", str(inventory), "playbooks/release.yml"),
            *("-e", json.dumps(extra)),
        ],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "no project: give the project to release, for example -e project="),
        ({"project": "examples/nothing"}, "project 'examples/nothing' does not exist"),
        (
            {"project": str(EXAMPLE), "wheelfleet_architectures": ["sparc"]},
            "wheelfleet_architectures: unknown architecture 'sparc'; valid names: x86_64",
        ),
        (
            {"project": str(EXAMPLE), "wheelfleet_pythons": ["cp2"]},
            "wheelfleet_pythons: 'cp2' is not a CPython tag",
        ),
        (
            {
                "project": str(EXAMPLE),
                "wheelfleet_jobs": ["cp311-manylinux_x86_64"],
                "wheelfleet_pythons": ["cp311"],
            },
            "conflicting options: wheelfleet_jobs and wheelfleet_architectures/wheelfleet_pythons",
        ),
        (
            {"project": str(EXAMPLE), "wheelfleet_publish": True},
            "wheelfleet_publish is true but wheelfleet_publish_repository_url is not set",
        ),
        (
            {"project": str(EXAMPLE), "wheelfleet_architectures": ["x86_64", "aarch64"]},
            "cp311-manylinux_aarch64: no host runs aarch64 natively and none emulates it;"
            " provision one with qemu_binfmt_architectures including aarch64",
        ),
        (
            {"project": str(REPO / "roles"), "wheelfleet_architectures": ["x86_64"]},
            "pyproject.toml",
        ),
    ],
)
def test_bad_input_stops_the_release_before_any_host(inventory, extra, message) -> None:
    run = release(inventory, extra)
    assert run.returncode == 2, run.stdout[-3000:]
    assert message in " ".join(run.stdout.split()), run.stdout[-3000:]
    recap = parse_recap(run.stdout)["builder-x86-01"]
    assert recap["unreachable"] == 0 and recap["changed"] == 0
    assert "PLAY [Provision build hosts]" not in run.stdout


def test_wheelfleet_release_exits_2_when_no_host_can_build_an_architecture(
    inventory, tmp_path
) -> None:
    run = subprocess.run(
        [
            str(WHEELFLEET),
            *("release", str(EXAMPLE), "-i", str(inventory), "--json"),
            *("--arch", "x86_64", "--arch", "aarch64"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["exit_code"] == 2
    [failure] = result["failures"]
    assert "no host runs aarch64 natively and none emulates it" in failure["msg"]
    assert result["hosts"]["builder-x86-01"]["changed"] == 0
    assert not (tmp_path / "wheelhouse").exists()
