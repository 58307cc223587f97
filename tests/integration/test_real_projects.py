"""Real projects from PyPI that configure cibuildwheel, planned and built with their own settings.

Each sdist is downloaded from PyPI at test time (pinned versions, sha256 checked
against PyPI's, cached under .cache/pypi-sdists) and given to wheelfleet
unchanged. The plan is compared with cibuildwheel's own answer: what
``cibuildwheel --print-build-identifiers --platform linux`` selects for the
same sdist on this machine, CPython manylinux builds only (wheelfleet builds no
PyPy, GraalPy or musllinux wheels). What the fleet cannot build (here: every
Python but the images' cp311, and architectures without a builder image) must
be listed as not built, with a reason, so selected + not built = cibuildwheel's
selection.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, document, run_playbook, wheelfleet
from wheelfleet.identifiers import KNOWN_PYTHON_TAGS

CACHE = REPO / ".cache" / "pypi-sdists"
PYPI_JSON = "https://pypi.org/pypi/{name}/json"

PROJECTS = {
    # test-sources (a string), test-command; archs default (auto)
    "coverage": "7.17.3",
    # build list with PyPy and cp315, enable pypy, test-sources naming a file the sdist lacks
    "ciso8601": "2.4.1",
    # build-frontend build[uv], archs beyond the fleet (armv7l, ppc64le, riscv64), overrides
    "markupsafe": "3.0.4",
    # archs auto + auto32, test-requires -r file, before-all for three package managers
    "multidict": "7.2.1",
    # all seven Linux architectures, enable pypy
    "websockets": "17.4",
    # archs auto + aarch64, skip pp*, overrides selecting musllinux
    "cmarkgfm": "2025.10.22",
}
OPERATOR_ARGS: dict[str, tuple[str, ...]] = {
    # multidict's test-requires is "-r requirements/pytest.txt": requirement files are not
    # read on the controller (refused up front), so the operator names the requirements.
    "multidict": ("-e", json.dumps({"wheelfleet_options": {"test-requires": ["pytest"]}})),
}
FLEET_PYTHONS = {"cp311", "cp313", "cp314", "cp315"}
"""The interpreters of the default builder images: bookworm's cp311, forky's cp313-cp315."""
FLEET_ARCHS = {"x86_64", "aarch64"}
"""The architectures with a builder image recipe (emulation of others is registered too)."""
COMPARED = set(KNOWN_PYTHON_TAGS) - {"cp313t"}
"""Tags compared with cibuildwheel: those wheelfleet selects from, but cp313t, which only
wheelfleet's legacy cpython-freethreading group selects (cibuildwheel 4 refuses it)."""


def fetch_sdist(name: str, version: str) -> Path:
    """The project's sdist from PyPI, checked against the sha256 PyPI publishes."""
    url = PYPI_JSON.format(name=name)
    with urllib.request.urlopen(url, timeout=60) as response:
        files = json.load(response)["releases"][version]
    (sdist,) = [item for item in files if item["packagetype"] == "sdist"]
    target = CACHE / sdist["filename"]
    wanted = sdist["digests"]["sha256"]
    if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != wanted:
        CACHE.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(urllib.parse.urljoin(url, sdist["url"]), timeout=120) as r:
            data = r.read()
        assert hashlib.sha256(data).hexdigest() == wanted, f"{sdist['filename']}: bad sha256"
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(target)
    return target


@pytest.fixture(scope="module")
def sdists() -> dict[str, Path]:
    try:
        return {name: fetch_sdist(name, version) for name, version in PROJECTS.items()}
    except OSError as exc:
        pytest.fail(f"cannot download the projects' sdists from PyPI: {exc}")


def cibuildwheel_selects(sdist: Path, scratch: Path) -> set[str]:
    """What cibuildwheel itself would build on Linux from this sdist, CPython manylinux only."""
    with tarfile.open(sdist) as archive:
        archive.extractall(scratch, filter="data")
    (project,) = [path for path in scratch.iterdir() if path.is_dir()]
    environ = {key: value for key, value in os.environ.items() if not key.startswith("CIBW_")}
    command = [sys.executable, "-m", "cibuildwheel", "--print-build-identifiers"]
    run = subprocess.run(
        [*command, "--platform", "linux", str(project)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return {
        line.strip()
        for line in run.stdout.splitlines()
        if line.startswith("cp") and "-manylinux_" in line
    }


def python_of(identifier: str) -> str:
    return identifier.split("-", 1)[0]


def arch_of(identifier: str) -> str:
    return identifier.split("-manylinux_", 1)[1]


def compared(identifiers: set[str]) -> set[str]:
    return {i for i in identifiers if python_of(i) in COMPARED}


@pytest.mark.engine
@pytest.mark.emulation
@pytest.mark.parametrize("name", [name for name in PROJECTS if name != "ciso8601"])
def test_the_plan_is_what_cibuildwheel_selects_for_linux(
    name: str, sdists: dict[str, Path], tmp_path: Path
) -> None:
    expected = cibuildwheel_selects(sdists[name], tmp_path / "unpacked")
    run = wheelfleet(
        "plan", str(sdists[name]), "--json", *OPERATOR_ARGS.get(name, ()), cwd=tmp_path, timeout=300
    )
    assert run.returncode == 0, run.stderr[-4000:]
    selection: dict[str, Any] = document(run)["plan"]["selection"]
    planned = {job["identifier"] for job in selection["jobs"]}
    not_built = {i for item in selection["unavailable"] for i in item["identifiers"]}
    assert not planned & not_built
    # Nothing cibuildwheel selects is forgotten, and nothing else is added.
    assert compared(planned | not_built) == compared(expected)
    # What the fleet can build is built: the images' Pythons on the architectures with images.
    assert planned == {
        i for i in expected if python_of(i) in FLEET_PYTHONS and arch_of(i) in FLEET_ARCHS
    }
    for item in selection["unavailable"]:
        assert item["reason"], item
    for job in selection["jobs"]:
        assert (
            len(job["settings_hash"]) == 64
            and job["settings_hash"] == job["settings"]["settings_hash"]
        )


def test_a_requirement_file_in_test_requires_is_refused_naming_it(
    sdists: dict[str, Path], tmp_path: Path
) -> None:
    run = wheelfleet("plan", str(sdists["multidict"]), "--json", cwd=tmp_path, timeout=300)
    assert run.returncode == 2, run.stderr[-4000:]
    assert "[tool.cibuildwheel]: test-requires: refused requirement '-r'" in run.stderr
    assert "requirement files are not read on the controller" in run.stderr


@pytest.mark.engine
@pytest.mark.emulation
def test_markupsafe_plan_names_the_architectures_the_fleet_lacks(
    sdists: dict[str, Path], tmp_path: Path
) -> None:
    run = wheelfleet("plan", str(sdists["markupsafe"]), "--json", cwd=tmp_path, timeout=300)
    selection = document(run)["plan"]["selection"]
    lacking = {item["subject"]: item for item in selection["unavailable"] if item["kind"] == "arch"}
    assert set(lacking) == {"armv7l", "ppc64le", "riscv64"}
    for arch, item in lacking.items():
        assert "[tool.cibuildwheel.linux]" in item["reason"]
        assert "no build host or image provides it" in item["reason"]
        assert f"cp311-manylinux_{arch}" in item["identifiers"]
    # build[uv] is read, and built with build, which the images have; the plan says so.
    assert any("build-frontend build[uv]" in warning for warning in selection["warnings"])
    assert all(job["settings"]["frontend"] == "build" for job in selection["jobs"])


@pytest.mark.engine
@pytest.mark.emulation
def test_a_test_source_the_sdist_lacks_stops_the_release_before_any_host(
    sdists: dict[str, Path], tmp_path: Path
) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    run = wheelfleet(
        "release", str(sdists["ciso8601"]), "--json", "-w", str(wheelhouse), cwd=tmp_path
    )
    assert run.returncode == 2, run.stderr[-4000:]
    assert run.stdout == ""  # stopped by the CLI's own checks: ansible-runner never started
    assert "'generate_test_timestamps.py'" in run.stderr and "test-sources" in run.stderr
    assert not wheelhouse.exists()
    # ansible-playbook stops it in the same words, in release.yml's first task.
    playbook = run_playbook(
        "playbooks/release.yml",
        extra_vars={"project": str(sdists["ciso8601"]), "wheel_build_wheelhouse": str(wheelhouse)},
        timeout=300,
    )
    assert playbook.rc == 2, playbook.stdout[-4000:]
    assert "'generate_test_timestamps.py'" in playbook.stdout
    assert playbook.recap["localhost"]["changed"] == 0 and not wheelhouse.exists()


@pytest.mark.engine
def test_coverage_is_built_and_smoke_tested_with_its_own_settings(
    sdists: dict[str, Path], tmp_path: Path
) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    run = wheelfleet(
        *("release", str(sdists["coverage"]), "--json", "-w", str(wheelhouse)),
        # One job is enough to prove its settings (the fleet's images provide more Pythons).
        *("--skip-provision", "--python", "cp311"),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-6000:]
    wheels = json.loads((wheelhouse / "manifest.json").read_text())["wheels"]
    (entry,) = wheels.values()
    assert entry["identifier"] == "cp311-manylinux_x86_64"  # archs: auto, this host's own
    assert entry["tested"] is True
    log = (wheelhouse / entry["log"]).read_text()
    # test-sources copied tests/smoke.py into the test directory; test-command ran it there.
    assert "step test_sources: exit status 0" in log
    assert "CTracer OK!" in log
    # The plan's settings hash is the one the manifest records for incremental releases.
    plan = wheelfleet(
        *("plan", str(sdists["coverage"]), "--json", "--python", "cp311"), cwd=tmp_path, timeout=300
    )
    (planned,) = document(plan)["plan"]["selection"]["jobs"]
    assert planned["settings_hash"] == entry["settings_hash"]
    assert planned["settings"]["test_sources"] == ["tests/smoke.py"]
