"""``CIBW_*`` variables reach the plan through ``wheelfleet plan`` and through
``ansible-playbook playbooks/plan.yml`` (the release's plan is the same action plugin):
archs and the manylinux image chosen by the environment, each named as its origin.

Runs on localhost only (no container is started), about 15 s per run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import BIN, REPO, WHEELFLEET, ansible_env

EXAMPLE = REPO / "examples" / "yamlcount"
VARIABLES = {
    "CIBW_ARCHS": "x86_64 aarch64",
    "CIBW_MANYLINUX_X86_64_IMAGE": "manylinux2014",
    "CIBW_SKIP": "cp312-*",
}


def without_cibw(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    return {**env, **extra}


def check_selection(selection: dict) -> None:
    assert selection["archs"] == ["x86_64", "aarch64"]
    assert selection["archs_origin"] == "CIBW_ARCHS"
    images = {image["arch"]: image for image in selection["manylinux_images"]}
    assert images["x86_64"]["reference"] == "quay.io/pypa/manylinux2014_x86_64"
    assert images["x86_64"]["origin"] == "CIBW_MANYLINUX_X86_64_IMAGE"
    assert images["aarch64"]["origin"] == "cibuildwheel default"
    selected = {job["identifier"] for job in selection["jobs"]}
    held = {i for item in selection["unavailable"] for i in item["identifiers"]}
    assert "cp312-manylinux_x86_64" not in selected | held  # CIBW_SKIP
    assert "cp38-manylinux_x86_64" not in selected | held
    assert "cp313-manylinux_aarch64" in selected | held


def test_wheelfleet_plan_honours_cibw_variables(tmp_path: Path) -> None:
    run = subprocess.run(
        [str(WHEELFLEET), "plan", str(EXAMPLE), "--json"],
        cwd=tmp_path,
        env=without_cibw(**VARIABLES),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    check_selection(json.loads(run.stdout)["plan"]["selection"])


def test_ansible_playbook_honours_cibw_variables(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "inventory/localhost.yml",
            "playbooks/plan.yml",
            "-e",
            json.dumps({"project": str(EXAMPLE)}),
        ],
        cwd=REPO,
        env=ansible_env(
            **VARIABLES,
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
    plan = json.loads(completed.stdout)["global_custom_stats"]["wheelfleet_plan"]
    check_selection(plan["selection"])


def test_an_unknown_image_short_name_in_the_environment_stops_the_plan(tmp_path: Path) -> None:
    run = subprocess.run(
        [str(WHEELFLEET), "plan", str(EXAMPLE)],
        cwd=tmp_path,
        env=without_cibw(CIBW_MANYLINUX_AARCH64_IMAGE="manylinux_2_30"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    assert "CIBW_MANYLINUX_AARCH64_IMAGE" in run.stderr and "'manylinux_2_30'" in run.stderr
    assert "manylinux2014, manylinux_2_28, manylinux_2_34" in run.stderr
    assert "PLAY" not in run.stdout  # refused before ansible-runner started
