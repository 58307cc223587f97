"""The README's main command, offline: the bundled example for several CPythons on two
architectures, from the default bootstrapped images alone (nothing is pulled).

One release of examples/yamlcount on this machine (the embedded localhost inventory), as
scripts/release-localhost runs it, with --skip-provision (scripts/test provisioned the
machine already) and the builder images that scripts/test's images step built
(playbooks/images.yml: wheelfleet/bookworm and wheelfleet/forky for x86_64 and
aarch64). The release's own image step finds them up to date. The example's
[tool.cibuildwheel] selects x86_64 and aarch64; --python keeps three of the CPythons
the images provide: cp311 (bookworm), cp313 and cp314 (forky), so six jobs are built,
the aarch64 ones under QEMU. Each wheel is repaired by auditwheel (libyaml grafted) and
tested in a fresh container of its own image with its own interpreter.

Measured with the CLI on the 2-core development machine while five other sessions
shared its cores (load average 7 to 10): 13 min 57 s for the release (the three
aarch64 jobs 3 min 49 s to 8 min 38 s each under QEMU, the x86_64 ones 40 s to
3 min 51 s), plus about 15 s for the plan. The wall time is printed with pytest -s
and written to .cache/release-timings.json.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, document, wheelfleet
from tests.integration.test_release import record_timing

pytestmark = [pytest.mark.engine, pytest.mark.emulation]

EXAMPLE = REPO / "examples" / "yamlcount"
RUN = f"pytest-offline-{uuid.uuid4().hex[:6]}"
IMAGE_OF = {"cp311": "bookworm", "cp313": "forky", "cp314": "forky"}
MATRIX = {f"{python}-manylinux_{arch}" for python in IMAGE_OF for arch in ("x86_64", "aarch64")}


@pytest.fixture(scope="module")
def offline_release(docker_client, tmp_path_factory) -> dict[str, Any]:
    import docker

    for image in IMAGE_OF.values():
        for arch in ("x86_64", "aarch64"):
            try:
                docker_client.images.get(f"wheelfleet/{image}:{arch}")
            except docker.errors.ImageNotFound:
                pytest.fail(
                    f"wheelfleet/{image}:{arch} is missing: run playbooks/images.yml first"
                    " (scripts/test does)"
                )
    directory = tmp_path_factory.mktemp("offline")
    wheelhouse = directory / "wheelhouse"
    started = time.monotonic()
    try:
        run = wheelfleet(
            *("release", str(EXAMPLE), "--arch", "x86_64", "--arch", "aarch64"),
            # Three CPythons, two images: cp315 (forky too) would add jobs, not proof.
            *("--python", "cp311", "--python", "cp313", "--python", "cp314"),
            *("-w", str(wheelhouse), "--skip-provision", "--json"),
            *("-e", f"wheelfleet_release_id={RUN}"),
            cwd=directory,
            timeout=1800,
        )
    finally:
        for container in docker_client.containers.list(
            all=True, filters={"label": "org.wheelfleet.run"}
        ):
            if container.labels.get("org.wheelfleet.run", "").startswith(RUN):
                container.remove(force=True)
    record_timing(
        "offline release of the example, cp311 cp313 cp314 x x86_64 aarch64 (6 jobs)",
        time.monotonic() - started,
    )
    assert run.returncode == 0, run.stderr[-8000:]
    return {"run": run, "result": document(run), "wheelhouse": wheelhouse}


def test_the_main_command_releases_three_cpythons_on_two_architectures(offline_release) -> None:
    wheelhouse: Path = offline_release["wheelhouse"]
    wheels = json.loads((wheelhouse / "manifest.json").read_text())["wheels"]
    built = {entry["identifier"]: (name, entry) for name, entry in wheels.items()}
    assert set(built) >= MATRIX, sorted(built)
    for identifier in MATRIX:
        name, entry = built[identifier]
        python, arch = entry["python"], entry["architecture"]
        # The wheel's tags and the image that built it are the job's.
        assert name.startswith(f"yamlcount-1.0.0-{python}-{python}-manylinux")
        assert name.endswith(f"_{arch}.whl")
        assert entry["image"] == f"wheelfleet/{IMAGE_OF[python]}:{arch}"
        assert entry["grafted"] and entry["grafted"][0].startswith("libyaml-0-")
        assert entry["tested"] is True
        assert entry["emulated"] is (arch == "aarch64")
        # Tested in a fresh container with the job's own interpreter: pip installs a
        # native job's tests, the host-native uv an accelerated emulated job's.
        log = (wheelhouse / entry["log"]).read_text()
        interpreter = f"/opt/python/{python}-{python}/bin/python"
        if arch == "aarch64":
            assert f"$ {interpreter} -c <wheelfleet.launchers.TEST_INSTALL" in log, log[-3000:]
            assert "the test environment is installed by uv" in log, log[-3000:]
        else:
            assert f"$ {interpreter} -m pip install" in log, log[-3000:]
        assert "step test: exit status 0" in log, log[-3000:]
        # forky's wheels (glibc 2.43) are repaired to a policy auditwheel 6.8 knows.
        platforms = name.removesuffix(".whl").split("-")[4].split(".")
        policies = [re.match(r"manylinux_(\d+)_(\d+)_", tag) for tag in platforms]
        assert all((int(m[1]), int(m[2])) <= (2, 41) for m in policies if m), name


def test_each_job_named_its_image_and_the_plan_reads_the_images(
    offline_release, tmp_path: Path
) -> None:
    state = offline_release["result"]["release"]["state"]
    jobs = {
        job["identifier"]: job for host in state["plan"]["hosts"].values() for job in host["jobs"]
    }
    for identifier in MATRIX:
        assert jobs[identifier]["image"] == IMAGE_OF[identifier.split("-", 1)[0]]
    # wheelfleet plan reads what each image provides from the images on the host (their
    # /opt/python listing, recorded in a label), not from the recipes.
    run = wheelfleet(
        *("plan", str(EXAMPLE), "--arch", "x86_64", "--arch", "aarch64", "--json"),
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    selection = document(run)["plan"]["selection"]
    images = {(item["name"], item["arch"]): item for item in selection["builder_images"]}
    forky = images[("forky", "aarch64")]
    assert forky["origin"] == "image" and forky["hosts"] == ["localhost"]
    assert forky["pythons"] == ["cp313", "cp314", "cp315"] and forky["glibc"] == "2.43"
    assert images[("bookworm", "x86_64")]["pythons"] == ["cp311"]
    not_built = {i for item in selection["unavailable"] for i in item["identifiers"]}
    assert "cp312-manylinux_x86_64" in not_built and "cp311-manylinux_x86_64" not in not_built
    assert "forky aarch64: cp313 cp314 cp315 (read from the image on localhost" in run.stderr
