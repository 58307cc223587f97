"""The policy floor on a real wheel: a C extension that needs glibc 2.34, built natively in
the bookworm builder image (glibc 2.36) and repaired by the real auditwheel.

- floor manylinux_2_28: the job fails at the repair, carrying auditwheel's reason (the
  too-recent GLIBC_2.34 symbol version), and nothing lands in the wheelhouse;
- floor manylinux_2_36: the wheel lands, with its most portable tag (manylinux_2_34,
  besides the floor's 2_36).

Two native x86_64 builds of the example: 86 s and 90 s on the development machine, shared
with other work (most of it the before-all apt-get in the container).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_build import (
    IMAGES,
    LIBYAML,
    RUN_PREFIX,
    assert_nothing_half_built,
    broken_copy,
    run_build,
    wheels_in,
)
from wheelfleet import manylinux

pytestmark = [pytest.mark.engine]

# closefrom is new in glibc 2.34: its address makes the extension need GLIBC_2.34.
NEEDS_GLIBC_234 = (
    "    return PyUnicode_FromString(yaml_get_version_string());",
    "    void *volatile keep = (void *)&closefrom;\n    (void)keep;\n"
    "    return PyUnicode_FromString(yaml_get_version_string());",
)


def build_with_floor(project: Path, wheelhouse: Path, floor: str, name: str):
    return run_build(
        {
            "wheel_build_project": str(project),
            "wheel_build_wheelhouse": str(wheelhouse),
            "wheel_build_architectures": ["x86_64"],
            "wheel_build_use_project_config": False,
            "wheel_build_before_all": LIBYAML,
            "wheel_build_options": {"policy-floor": floor},
            "wheel_build_run_id": f"{RUN_PREFIX}-{name}",
        }
    )


@pytest.fixture(scope="module")
def project(docker_client, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example, made to need glibc 2.34. Only the x86_64 builder image is needed (made by
    playbooks/images.yml, as test_build's fixture does when it is missing)."""
    import docker

    try:
        docker_client.images.get(IMAGES["x86_64"])
    except docker.errors.ImageNotFound:
        pytest.fail(f"{IMAGES['x86_64']} is missing: run playbooks/images.yml first")
    return broken_copy(tmp_path_factory.mktemp("floor"), "recent", *NEEDS_GLIBC_234)


def test_a_wheel_above_the_floor_fails_its_job_with_auditwheels_reason(
    project: Path, tmp_path: Path
) -> None:
    wheelhouse = tmp_path / "wh"
    run = build_with_floor(project, wheelhouse, "manylinux_2_28", "floor-228")
    assert run.rc != 0
    assert "at step repair" in run.stdout
    assert "cannot repair to manylinux_2_28_x86_64" in run.stdout
    assert "GLIBC_2.34" in run.stdout and "too-recent" in run.stdout
    assert wheels_in(wheelhouse) == []
    assert not (wheelhouse / "manifest.json").exists()
    assert_nothing_half_built(wheelhouse)


def test_a_wheel_under_the_floor_lands_with_its_most_portable_tag(
    project: Path, tmp_path: Path
) -> None:
    wheelhouse = tmp_path / "wh"
    run = build_with_floor(project, wheelhouse, "manylinux_2_36", "floor-236")
    assert run.rc == 0, run.output[-6000:]
    (wheel,) = wheels_in(wheelhouse)
    # auditwheel tags it for the floor and for the more portable policy it qualifies for.
    assert "-manylinux_2_34_x86_64." in wheel, wheel
    assert manylinux.policy_of_wheel(wheel) == "manylinux_2_34"
    manifest = json.loads((wheelhouse / "manifest.json").read_text())
    (entry,) = manifest["wheels"].values()
    assert Path(entry["file"]).name == wheel
