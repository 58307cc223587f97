"""Releases across a fleet of container build hosts: plan, build, re-release, faults.

The fleet is containers on this machine's engine, in the "shared engine socket"
form: each host is a wheelfleet-test/debian:bookworm container with
/var/run/docker.sock mounted and the Docker SDK (python3-docker) installed, reached
through the community.docker.docker connection. Its builds run as containers on
the one engine, with the builder images playbooks/images.yml made there, so the
releases run with --skip-provision and --skip-images. An arm64 container
(wheelfleet-test/debian:bookworm-arm64, emulated) is a host whose facts say
aarch64: the plan sends the aarch64 jobs to it.

Matrices are tiny (the bundled example, cp311; aarch64 only where it proves
something): the whole module takes a few minutes on two cores. Wall times are
printed (pytest -s) and written to .cache/release-timings.json.

Every container a test starts carries the label org.wheelfleet.test=test_release
and is removed at the end, with the build containers of the releases it ran.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import browser
from tests.conftest import (
    BIN,
    REPO,
    WHEELFLEET,
    ansible_env,
    document,
    parse_recap,
    wheelfleet,
)
from wheelfleet.report import Report

pytestmark = [pytest.mark.engine, pytest.mark.emulation]

EXAMPLE = REPO / "examples" / "yamlcount"
IMAGES = ("wheelfleet/bookworm:x86_64", "wheelfleet/bookworm:aarch64")
LABEL = {"org.wheelfleet.test": "test_release"}
RUN = f"pytest-{uuid.uuid4().hex[:6]}"
TIMINGS = REPO / ".cache" / "release-timings.json"
X86_JOB = "yamlcount-cp311-cp311-x86_64"
CP311 = ("--python", "cp311")
"""bookworm's cp311 alone: this module proves fleets; test_offline_matrix proves the matrix."""
ARM_JOB = "yamlcount-cp311-cp311-aarch64"
BEFORE_ALL = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
    " apt-get install -y -qq --no-install-recommends libyaml-dev >/dev/null"
)
PREPARE = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
    " apt-get install -y -qq --no-install-recommends python3-docker >/dev/null"
)


def record_timing(name: str, seconds: float) -> None:
    print(f"\n[wall time] {name}: {seconds:.1f} s")
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    try:
        timings = json.loads(TIMINGS.read_text())
    except (OSError, ValueError):
        timings = {}
    timings[name] = round(seconds, 1)
    TIMINGS.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")


def manifest(wheelhouse: Path) -> dict[str, Any]:
    return json.loads((wheelhouse / "manifest.json").read_text())["wheels"]


def wheels_in(wheelhouse: Path) -> list[str]:
    return sorted(p.name for p in wheelhouse.glob("*.whl")) if wheelhouse.exists() else []


def release_args(inventory: Path, wheelhouse: Path, name: str, *more: str) -> list[str]:
    return [
        "release",
        str(EXAMPLE),
        *("-i", str(inventory), "-w", str(wheelhouse)),
        *("--skip-provision", "--skip-images", "--json"),
        *("-e", f"wheelfleet_release_id={RUN}-{name}"),
        *more,
    ]


def write_inventory(path: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    group = {
        "vars": {
            "ansible_connection": "community.docker.docker",
            "ansible_python_interpreter": "/usr/bin/python3",
        },
        "hosts": hosts,
    }
    path.write_text(yaml.safe_dump({"all": {"children": {"build_hosts": group}}}))
    return path


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def builder_images(docker_client) -> None:
    import docker

    missing = []
    for name in IMAGES:
        try:
            docker_client.images.get(name)
        except docker.errors.ImageNotFound:
            missing.append(name)
    if missing:
        subprocess.run(
            [
                str(BIN / "ansible-playbook"),
                "-i",
                "inventory/localhost.yml",
                "playbooks/images.yml",
            ],
            cwd=REPO,
            env=ansible_env(),
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        for name in missing:
            docker_client.images.get(name)  # raises when images.yml did not make it


def _remove_release_containers(docker_client) -> None:
    """Build containers of this module's releases (their run labels start with RUN)."""
    for container in docker_client.containers.list(
        all=True, filters={"label": "org.wheelfleet.run"}
    ):
        if container.labels.get("org.wheelfleet.run", "").startswith(RUN):
            container.remove(force=True)


@pytest.fixture(scope="module")
def fleet(docker_client, base_images, builder_images, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """Two x86_64 build hosts sharing this machine's engine, ready for wheel_build."""
    names = [f"wf-release-{RUN}-a", f"wf-release-{RUN}-b"]
    started = time.monotonic()
    containers = []
    try:
        for name in names:
            containers.append(
                docker_client.containers.run(
                    "wheelfleet-test/debian:bookworm",
                    ["sleep", "infinity"],
                    name=name,
                    detach=True,
                    labels=LABEL,
                    volumes={
                        "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}
                    },
                )
            )

        def prepare(container) -> tuple[int, str]:
            result = container.exec_run(["sh", "-c", PREPARE])
            return result.exit_code, result.output.decode(errors="replace")

        with ThreadPoolExecutor(len(containers)) as pool:
            for code, output in pool.map(prepare, containers):
                assert code == 0, output
        record_timing(
            "fleet of 2 container hosts ready (python3-docker from apt)", time.monotonic() - started
        )
        directory = tmp_path_factory.mktemp("fleet")
        yield {"names": names, "dir": directory, "containers": containers}
    finally:
        for container in containers:
            container.remove(force=True)
        _remove_release_containers(docker_client)


@pytest.fixture(scope="module")
def inventory(fleet) -> Path:
    """Both hosts with one build slot each, so that two jobs spread over them."""
    hosts = {name: {"wheelfleet_capacity": 1} for name in fleet["names"]}
    return write_inventory(fleet["dir"] / "fleet.yml", hosts)


def playbook_release(inventory: Path, wheelhouse: Path, name: str) -> subprocess.Popen[str]:
    """``ansible-playbook playbooks/release.yml`` of the example, x86_64 cp311, started."""
    extra = {
        "project": str(EXAMPLE),
        "wheel_build_wheelhouse": str(wheelhouse),
        "wheelfleet_architectures": ["x86_64"],
        "wheelfleet_pythons": ["cp311"],
        "wheelfleet_release_id": f"{RUN}-{name}",
    }
    return subprocess.Popen(
        [
            str(BIN / "ansible-playbook"),
            *("-i", str(inventory), "playbooks/release.yml"),
            *("--skip-tags", "provision,images", "-e", json.dumps(extra)),
        ],
        cwd=REPO,
        env=ansible_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def released(fleet, inventory) -> dict[str, Any]:
    """The first release of the example on the fleet (x86_64, cp311), twice at once: through
    the CLI, and with ansible-playbook into another wheelhouse (their run ids differ, so the
    two share the hosts without meeting)."""
    wheelhouse = fleet["dir"] / "wheelhouse-cli"
    other = fleet["dir"] / "wheelhouse-playbook"
    started = time.monotonic()
    playbook = playbook_release(inventory, other, "playbook")
    try:
        run = wheelfleet(
            *release_args(inventory, wheelhouse, "first", "--arch", "x86_64", *CP311),
            cwd=fleet["dir"],
        )
        stdout, stderr = playbook.communicate(timeout=900)
    finally:
        if playbook.poll() is None:
            playbook.kill()
    record_timing(
        "fleet release via wheelfleet and via ansible-playbook at once, x86_64 cp311",
        time.monotonic() - started,
    )
    result = document(run)
    assert run.returncode == 0, run.stderr[-6000:]
    return {
        "run": run,
        "result": result,
        "wheelhouse": wheelhouse,
        "playbook": {
            "rc": playbook.returncode,
            "stdout": stdout,
            "stderr": stderr,
            "wheelhouse": other,
        },
    }


# --- hosts build at once ------------------------------------------------------------------

WAIT_SECONDS = 15
WAITING_PROJECT = {
    "pyproject.toml": (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "waitlong"\nversion = "1.0.0"\nrequires-python = ">=3.8"\n\n'
        "[tool.setuptools]\npackages = []\n\n"
        f'[tool.cibuildwheel]\nbefore-build = "sleep {WAIT_SECONDS}"\n'
    ),
    "setup.py": (
        "from setuptools import Extension, setup\n\n"
        'setup(ext_modules=[Extension("waitlong", ["waitlong.c"])])\n'
    ),
    "waitlong.c": (
        "#include <Python.h>\n"
        'static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "waitlong", NULL, -1, NULL};\n'
        "PyMODINIT_FUNC PyInit_waitlong(void) { return PyModule_Create(&mod); }\n"
    ),
}


def build_interval(entry: dict[str, Any]) -> tuple[float, float]:
    """When a job's before_build and build ran (epoch seconds, from the manifest's steps)."""
    steps = [s for s in entry["steps"] if s["step"] in ("before_build", "build")]
    assert [s["step"] for s in steps] == ["before_build", "build"], entry["steps"]
    return steps[0]["start"], steps[-1]["end"]


def test_two_hosts_build_at_the_same_time(fleet) -> None:
    """wheel_build runs one task list for every host: the engines of both hosts build at
    once, so two wait-dominated jobs, one per host, overlap in time."""
    project = fleet["dir"] / "waitlong"
    project.mkdir()
    for name, text in WAITING_PROJECT.items():
        (project / name).write_text(text)
    wheelhouse = fleet["dir"] / "wheelhouse-concurrent"
    jobs = {"a": {"arch": "x86_64", "python": "cp311"}, "b": {"arch": "aarch64", "python": "cp311"}}
    hosts = {
        name: {"wheel_build_jobs": [jobs[name[-1]]], "wheel_build_concurrency": 1}
        for name in fleet["names"]
    }
    inventory = write_inventory(fleet["dir"] / "concurrent.yml", hosts)
    extra = {
        "wheel_build_project": str(project),
        "wheel_build_wheelhouse": str(wheelhouse),
        "wheel_build_run_id": f"{RUN}-concurrent",
    }
    started = time.monotonic()
    completed = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            *("-i", str(inventory), "playbooks/build.yml", "-e", json.dumps(extra)),
        ],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    wall = time.monotonic() - started
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-6000:]
    record_timing("two hosts, one wait-dominated job each (sleep 15)", wall)
    entries = list(manifest(wheelhouse).values())
    assert sorted(e["host"] for e in entries) == sorted(fleet["names"])
    assert sorted(e["architecture"] for e in entries) == ["aarch64", "x86_64"]
    (first_start, first_end), (second_start, second_end) = map(build_interval, entries)
    assert first_end - first_start >= WAIT_SECONDS and second_end - second_start >= WAIT_SECONDS
    # The intervals overlap: each began before the other ended (one after the other, the
    # later would begin after the earlier ended).
    overlap = min(first_end, second_end) - max(first_start, second_start)
    assert overlap > WAIT_SECONDS / 2, entries
    # Both publish their slot, and the timeline's steps are absolute and ordered.
    for entry in entries:
        assert entry["slot"] == 0
        starts = [step["start"] for step in entry["steps"]]
        assert starts == sorted(starts)


# --- wheelfleet images --------------------------------------------------------------------


def test_wheelfleet_images_finds_the_builder_images_up_to_date(builder_images, tmp_path) -> None:
    run = wheelfleet("images", "--check", "--json", cwd=tmp_path, timeout=600)
    result = document(run)
    assert run.returncode == 0, run.stderr[-3000:]
    assert result["command"] == "images" and result["hosts"]["localhost"]["changed"] == 0
    assert "builder_image" in run.stderr


# --- the plan ----------------------------------------------------------------------------


def test_plan_goes_native_first_and_balances_by_capacity(docker_client, fleet) -> None:
    """A real aarch64 host (an arm64 container: its facts say aarch64) takes the aarch64
    jobs natively; the x86_64 jobs spread over the x86_64 hosts by their capacity."""
    arm = docker_client.containers.run(
        "wheelfleet-test/debian:bookworm-arm64",
        ["sleep", "infinity"],
        name=f"wf-release-{RUN}-arm",
        detach=True,
        labels=LABEL,
        platform="linux/arm64",
    )
    try:
        a, b = fleet["names"]
        inventory = write_inventory(
            fleet["dir"] / "plan.yml",
            {a: {"wheelfleet_capacity": 2}, b: {"wheelfleet_capacity": 1}, arm.name: {}},
        )
        started = time.monotonic()
        run = wheelfleet(
            "plan",
            *("-i", str(inventory), "--json", "--arch", "x86_64", "--arch", "aarch64"),
            *("--python", "cp311", "--python", "cp312", "--python", "cp313"),
            cwd=fleet["dir"],
        )
        record_timing("plan on 3 container hosts (one arm64, emulated)", time.monotonic() - started)
    finally:
        arm.remove(force=True)
    result = document(run)
    assert run.returncode == 0, run.stderr[-3000:]
    plan = result["plan"]
    hosts = plan["hosts"]
    assert hosts[arm.name]["architecture"] == "aarch64"  # from its facts, not the inventory
    assert {job["architecture"] for job in hosts[arm.name]["jobs"]} == {"aarch64"}
    assert all(job["native"] for job in hosts[arm.name]["jobs"])
    assert len(hosts[arm.name]["jobs"]) == 3
    assert [len(hosts[a]["jobs"]), len(hosts[b]["jobs"])] == [2, 1]
    assert plan["counts"]["native"] == 6 and plan["counts"]["emulated"] == 0


# --- a release, again, and the same with ansible-playbook ---------------------------------


def test_a_release_builds_every_wheel_with_its_manifest_and_report(released, fleet) -> None:
    wheelhouse, result = released["wheelhouse"], released["result"]
    [name] = wheels_in(wheelhouse)
    entry = manifest(wheelhouse)[name]
    assert entry["identifier"] == "cp311-manylinux_x86_64" and entry["python"] == "cp311"
    assert entry["host"] in fleet["names"]
    assert entry["mode"] == "native" and entry["emulated"] is False
    assert entry["image_digest"].startswith("sha256:")
    assert entry["grafted"] and entry["grafted"][0].startswith("libyaml-0-")
    assert entry["build_seconds"] > 0 and entry["size"] > 0 and len(entry["sha256"]) == 64
    assert all(tag.endswith("_x86_64") for tag in entry["tags"]["platform"])
    report = result["release"]["report"]
    assert report["counts"] == {"jobs": 1, "built": 1, "up_to_date": 0, "failed": 0, "wheels": 1}
    assert report["matrix"]["cp311"]["x86_64"]["status"] == "built"
    markdown = (wheelhouse / "report.md").read_text()
    assert "| Python | x86_64 |" in markdown and "| cp311 | built on " in markdown
    assert '<table class="matrix">' in (wheelhouse / "report.html").read_text()
    assert json.loads((wheelhouse / "release.json").read_text())["complete"] is True
    # Live progress, per job, on stderr; where the wheelhouse and report are.
    err = released["run"].stderr
    for phase in ("queued", "building", "repairing", "testing", "done"):
        assert f"cp311-manylinux_x86_64  {entry['host']}  {phase}" in err, phase
    assert f"wheelhouse: {wheelhouse}" in err
    assert f"report: {wheelhouse}/report.md, {wheelhouse}/report.html" in err


def test_the_release_report_renders_in_chromium(released, tmp_path) -> None:
    """The real report.html of the release, in headless Chromium: nothing overflows, and the
    timeline draws every job that has step records with one rect per kind of its steps."""
    wheelhouse = released["wheelhouse"]
    page = wheelhouse / "report.html"
    found = browser.measure(page, tmp_path)
    assert found["title"] == "Release report: yamlcount 1.0.0"
    assert found["overflow"] == [] and found["scroll_width"] <= found["viewport"]
    built = Report.from_wheelhouse(wheelhouse)
    drawn = built.timeline()
    # Every built job is on the timeline, or listed as a job without step records.
    assert len(drawn.bars) + len(drawn.left_off) == built.counts()["built"]
    assert [job["job"] for job in found["jobs"]] == [bar.job for bar in drawn.bars]
    for job, bar in zip(found["jobs"], drawn.bars, strict=True):
        assert job["rects"] == job["steps"] == len(bar.segments)
    browser.screenshot(page, tmp_path / "report.png")


def test_wheelfleet_report_shows_the_release_without_running_anything(released) -> None:
    run = wheelfleet("report", str(released["wheelhouse"]), cwd=REPO, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("# Release report: yamlcount 1.0.0")


def test_an_unchanged_release_builds_nothing_and_says_so(released, inventory, fleet) -> None:
    wheelhouse = released["wheelhouse"]
    before = (wheelhouse / "manifest.json").read_text()
    started = time.monotonic()
    run = wheelfleet(
        *release_args(inventory, wheelhouse, "again", "--arch", "x86_64", *CP311), cwd=fleet["dir"]
    )
    record_timing("unchanged fleet re-release via wheelfleet", time.monotonic() - started)
    result = document(run)
    assert run.returncode == 0, run.stderr[-6000:]
    report = result["release"]["report"]
    assert report["counts"]["built"] == 0 and report["counts"]["up_to_date"] == 1
    assert "nothing was built: every wheel was already up to date" in report["headline"]
    assert "up to date" in run.stderr
    assert (wheelhouse / "manifest.json").read_text() == before


def test_ansible_playbook_gives_the_same_wheelhouse(released) -> None:
    playbook = released["playbook"]
    assert playbook["rc"] == 0, playbook["stdout"][-6000:] + playbook["stderr"][-2000:]
    recap = parse_recap(playbook["stdout"])
    assert all(counts["failed"] == 0 for counts in recap.values())
    wheelhouse = playbook["wheelhouse"]

    def content(home: Path) -> dict[str, Any]:
        return {name: entry["tags"] for name, entry in manifest(home).items()}

    assert wheels_in(wheelhouse) == wheels_in(released["wheelhouse"])
    assert content(wheelhouse) == content(released["wheelhouse"])
    assert (wheelhouse / "report.md").is_file() and (wheelhouse / "report.html").is_file()


# --- publishing: only the pre-flight (no package index is reachable from here) ------------


def test_publishing_checks_the_wheels_and_never_shows_the_credentials(released) -> None:
    secret = f"pypi-{uuid.uuid4().hex}"
    extra = {
        "wheelfleet_publish": True,
        # Nothing listens on port 9: the upload fails after twine check passed.
        "wheelfleet_publish_repository_url": "http://127.0.0.1:9/legacy/",
        "wheelfleet_publish_username": "__token__",
        "wheelfleet_publish_password": secret,
        "wheel_build_wheelhouse": str(released["wheelhouse"]),
    }
    completed = subprocess.run(
        [str(BIN / "ansible-playbook"), "-v", "playbooks/publish.yml", "-e", json.dumps(extra)],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert "TASK [Check the wheels with twine before uploading]" in output
    check = output.split("TASK [Check the wheels with twine before uploading]")[1].split("\n", 1)[1]
    assert check.lstrip().startswith("ok: [localhost]"), check[:2000]
    assert "PASSED" in check.split("TASK [")[0]
    assert "twine upload to http://127.0.0.1:9/legacy/ failed" in output
    assert secret not in output


def test_publishing_without_credentials_is_refused_before_any_host(tmp_path, monkeypatch) -> None:
    env = {k: v for k, v in ansible_env().items() if not k.startswith("TWINE_")}
    completed = subprocess.run(
        [
            str(WHEELFLEET),
            *("release", str(EXAMPLE), "--json", "--arch", "x86_64"),
            *("--publish", "https://upload.example.org/legacy/"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "publishing needs credentials; missing a user name" in completed.stderr


# --- Ctrl-C -------------------------------------------------------------------------------


def test_ctrl_c_cancels_and_leaves_no_partial_wheel(docker_client, inventory, fleet) -> None:
    wheelhouse = fleet["dir"] / "wheelhouse-cancelled"
    process = subprocess.Popen(
        [
            str(WHEELFLEET),
            *release_args(inventory, wheelhouse, "cancel", "--arch", "x86_64", *CP311),
        ],
        cwd=fleet["dir"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # wait until the job builds
        seen.append(line)
        if "cp311-manylinux_x86_64" in line and "building" in line:
            break
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    stdout, stderr = process.communicate(timeout=120)
    try:
        assert process.returncode == 130, "".join(seen) + stderr
        assert time.monotonic() - sent < 30
        assert json.loads(stdout)["status"] == "canceled"
        assert "cancelled: no wheel of an unfinished job reached" in stderr
        assert wheels_in(wheelhouse) == []
        assert not (wheelhouse / ".staging").exists()
        leftovers = [p for p in wheelhouse.rglob("*.whl")] if wheelhouse.exists() else []
        assert leftovers == []
        if (wheelhouse / "manifest.json").exists():
            assert manifest(wheelhouse) == {}
    finally:
        _remove_release_containers(docker_client)


# --- a job that cannot be built ------------------------------------------------------------


def test_a_failed_job_is_named_with_its_reason_and_exits_1(released, inventory, fleet) -> None:
    """cp312 is not in the builder image: that job, given explicitly (selected from the
    project's configuration it would be listed as not buildable, not planned), fails on its
    (healthy) host, is not replanned, and the report names it and why. (In the first
    release's wheelhouse, where the cp311 wheel is up to date: the manifest does not change.)"""
    wheelhouse = released["wheelhouse"]
    before = (wheelhouse / "manifest.json").read_text()
    started = time.monotonic()
    explicit = {"wheelfleet_jobs": ["cp311-manylinux_x86_64", "cp312-manylinux_x86_64"]}
    run = wheelfleet(
        *release_args(inventory, wheelhouse, "failed", "-e", json.dumps(explicit)),
        cwd=fleet["dir"],
    )
    record_timing(
        "fleet re-release with a job that fails (x86_64, cp311 up to date + cp312)",
        time.monotonic() - started,
    )
    result = document(run)
    assert run.returncode == 1, run.stderr[-6000:]
    report = result["release"]["report"]
    assert report["counts"]["failed"] == 1 and report["counts"]["up_to_date"] == 1
    [failure] = report["failures"]
    assert failure["identifier"] == "cp312-manylinux_x86_64"
    assert "Python tag cp312-cp312 is not in image wheelfleet/bookworm:x86_64" in failure["reason"]
    assert "the image has: cp311-cp311" in failure["reason"]
    assert result["release"]["state"]["moves"] == []
    assert (wheelhouse / "manifest.json").read_text() == before
    assert [entry["python"] for entry in manifest(wheelhouse).values()] == ["cp311"]
    markdown = (wheelhouse / "report.md").read_text()
    assert "## Failures" in markdown and "### cp312-manylinux_x86_64 on " in markdown
    assert "FAILED cp312-manylinux_x86_64" in run.stderr


# --- a host lost in the middle of a release -----------------------------------------------


class HostStopper(threading.Thread):
    """Stops a build host once its first job's build container runs, and removes the build
    containers that host started (on a real fleet they die with the host's engine)."""

    def __init__(self, docker_client, host: str, job: str, run_label: str) -> None:
        super().__init__(daemon=True)
        self.docker = docker_client
        self.host, self.job, self.run_label = host, job, run_label
        self.stopped_at: float | None = None
        self.done = threading.Event()

    def run(self) -> None:
        filters = {
            "label": [f"org.wheelfleet.job={self.job}", f"org.wheelfleet.run={self.run_label}"]
        }
        deadline = time.monotonic() + 600
        while not self.done.is_set() and time.monotonic() < deadline:
            found = self.docker.containers.list(filters=filters)
            if found:
                time.sleep(2)
                self.docker.containers.get(self.host).kill()
                for container in found:
                    container.remove(force=True)
                self.stopped_at = time.monotonic()
                return
            time.sleep(0.5)


def test_a_host_stopped_mid_release_still_gives_every_wheel(
    docker_client, inventory, fleet
) -> None:
    """Jobs x86_64 and aarch64 with one slot per host: the aarch64 job (8x the cost) goes to
    host a, x86_64 to host b. Host a is stopped once its build started: its job is replanned
    onto b in round 2; b's x86_64 wheel from round 1 stays as it is."""
    a, b = fleet["names"]
    wheelhouse = fleet["dir"] / "wheelhouse-fault"
    stopper = HostStopper(docker_client, a, ARM_JOB, f"{RUN}-fault-r1")
    stopper.start()
    started = time.monotonic()
    try:
        run = wheelfleet(
            *release_args(
                inventory, wheelhouse, "fault", "--arch", "x86_64", "--arch", "aarch64", *CP311
            ),
            # The project's own settings but its test: the emulated test step is not what
            # this proves, and it costs about 20 s.
            *("-e", '{"wheel_build_use_project_config": false}'),
            *("-e", json.dumps({"wheel_build_before_all": BEFORE_ALL})),
            cwd=fleet["dir"],
        )
    finally:
        stopper.done.set()
        stopper.join(10)
    record_timing(
        "fleet release with host a stopped mid-release (x86_64 + aarch64)",
        time.monotonic() - started,
    )
    assert stopper.stopped_at is not None, "host a never started its aarch64 build"
    result = document(run)
    assert run.returncode == 0, run.stderr[-8000:]
    assert result["exit_code"] == 0 and result["failures"] == []
    entries = manifest(wheelhouse)
    by_arch = {entry["architecture"]: entry for entry in entries.values()}
    assert sorted(by_arch) == ["aarch64", "x86_64"]
    assert wheels_in(wheelhouse) == sorted(entries)
    # The x86_64 wheel was built once, on b, in round 1; aarch64 on b in round 2.
    assert (by_arch["x86_64"]["host"], by_arch["x86_64"]["run_id"]) == (b, f"{RUN}-fault-r1")
    assert (by_arch["aarch64"]["host"], by_arch["aarch64"]["run_id"]) == (b, f"{RUN}-fault-r2")
    # Emulated, with the host-native compiler (accelerated mode is the default).
    assert by_arch["aarch64"]["emulated"] is True
    assert by_arch["aarch64"]["mode"] == "accelerated"
    state = json.loads((wheelhouse / "release.json").read_text())
    assert list(state["failed_hosts"]) == [a]
    [move] = state["moves"]
    assert (move["job"], move["from"], move["to"], move["round"]) == (
        "cp311-manylinux_aarch64",
        a,
        b,
        2,
    )
    assert state["jobs"]["cp311-manylinux_x86_64"]["attempts"] == [
        {"round": 1, "host": b, "outcome": "done"}
    ]
    # The report says what was replanned, and the progress showed the move.
    markdown = (wheelhouse / "report.md").read_text()
    assert f"cp311-manylinux\\_aarch64 moved from {a} to {b} in round 2" in markdown
    assert f"Host {a} failed" in markdown
    assert f"cp311-manylinux_aarch64  {b}  queued (moved from {a}, which failed)" in run.stderr
    report = result["release"]["report"]
    assert report["complete"] and report["counts"]["built"] == 2
