"""A real registry on loopback: the fleet_registry role, the fleet registry mode of
builder_image, and releases through the official-image (registry) source.

The registry is Debian's docker-registry, started on 127.0.0.1:<free port> by the
fleet_registry role itself (standalone supervision, every path under one
directory of this module) and stopped at the end. It holds manylinux-layout
stand-ins: the bootstrapped builder images (which have /opt/python/cp311-cp311,
AUDITWHEEL_PLAT and auditwheel) pushed as <registry>/pypa/manylinux_2_28_<arch>,
and wheelfleet_registry_mirror points the official references there.

The fleet is two x86_64 container hosts sharing this machine's engine (as in
test_release.py); the engine pulls from 127.0.0.1, which is this machine. The
releases use their own builder image repository, so nothing of the other tests'
images changes. Runtime on the development machine (2 cores, shared with other
runs): 605 s for the module. The first release (x86_64 and an emulated aarch64
build, one per host) is 234 s, the new-digest rebuild 134 s, the unchanged
re-release 50 s, pushing the two ~550 MB stand-ins 51 s, the rest 15-40 s each.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from tests.conftest import REPO, document, run_playbook, wheelfleet

pytestmark = [pytest.mark.engine, pytest.mark.emulation]

EXAMPLE = REPO / "examples" / "yamlcount"
RUN = uuid.uuid4().hex[:6]
REPOSITORY = f"wfreg{RUN}"
"""The builder image repository of this module's releases."""
LABEL = {"org.wheelfleet.test": "test_registry"}
STAND_INS = {"x86_64": "wheelfleet/bookworm:x86_64", "aarch64": "wheelfleet/bookworm:aarch64"}
PREPARE = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq"
    " --no-install-recommends python3-docker python3-requests debootstrap tar >/dev/null"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Registry:
    address: str
    directory: Path
    supervisor: Path
    log: Path

    def push(self, docker_client: Any, image: str, repository: str, tag: str = "latest") -> str:
        """Push ``image`` as <address>/<repository>:<tag>; the pushed manifest's digest."""
        target = f"{self.address}/{repository}"
        docker_client.images.get(image).tag(target, tag)
        digest = None
        for line in docker_client.images.push(target, tag, stream=True, decode=True):
            assert "error" not in line, line
            digest = (line.get("aux") or {}).get("Digest") or digest
        # Only the registry holds it now: the release's pull is a real pull.
        docker_client.images.remove(f"{target}:{tag}")
        assert digest and digest.startswith("sha256:")
        return digest

    def requests(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def registry(docker_client) -> Iterator[Registry]:
    """The fleet_registry role run on this machine with every path in one directory."""
    # Not under pytest's 0700 tmp directory: the registry runs as docker-registry.
    directory = Path("/var/tmp") / f"wheelfleet-test-registry-{RUN}"
    directory.mkdir(mode=0o755)
    port = free_port()
    settings = {
        "fleet_registry_address": "127.0.0.1",
        "fleet_registry_port": port,
        "fleet_registry_storage_dir": str(directory / "storage"),
        "fleet_registry_config": str(directory / "config.yml"),
        "fleet_registry_service_manager": "standalone",
        "fleet_registry_standalone_pidfile": str(directory / "supervisor.pid"),
        "fleet_registry_standalone_log": str(directory / "registry.log"),
        "fleet_registry_standalone_supervisor": str(directory / "wheelfleet-registry"),
    }
    playbook = directory / "registry.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Run the fleet registry",
                    "hosts": "localhost",
                    "gather_facts": True,
                    "roles": [{"role": "wheelfleet.fleet.fleet_registry"}],
                }
            ]
        )
    )
    found = Registry(
        f"127.0.0.1:{port}",
        directory,
        directory / "wheelfleet-registry",
        directory / "registry.log",
    )
    try:
        started = time.monotonic()
        first = run_playbook(str(playbook), extra_vars=settings)
        assert first.rc == 0, first.output[-4000:]
        # Idempotence and check mode: molecule/fleet_registry.
        print(f"fleet registry up: {time.monotonic() - started:.1f} s")
        yield found
    finally:
        if found.supervisor.exists():
            subprocess.run([str(found.supervisor), "stop"], check=False, timeout=60)
        # Tags and pulled digests of this module's repository, then of its registry,
        # only: children before their bases; an image that other tags still name (the
        # builder images) only loses these references.
        for prefix in (REPOSITORY + "/", found.address + "/"):
            for image in docker_client.images.list():
                references = [*image.tags, *(image.attrs.get("RepoDigests") or [])]
                for reference in references:
                    if reference.startswith(prefix):
                        # Gone already, or still used by a container of another test.
                        with contextlib.suppress(docker.errors.APIError):
                            docker_client.images.remove(reference)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def stand_ins(registry, docker_client) -> dict[str, str]:
    """The builder images pushed as the official manylinux_2_28 images; arch -> digest."""
    started = time.monotonic()
    digests = {
        arch: registry.push(docker_client, image, f"pypa/manylinux_2_28_{arch}")
        for arch, image in STAND_INS.items()
    }
    print(f"stand-ins pushed: {time.monotonic() - started:.1f} s")
    return digests


@pytest.fixture(scope="module")
def fleet(docker_client, base_images, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """Two x86_64 build hosts sharing this machine's engine."""
    names = [f"wf-registry-{RUN}-a", f"wf-registry-{RUN}-b"]
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
        directory = tmp_path_factory.mktemp("registry-fleet")
        group = {
            "vars": {
                "ansible_connection": "community.docker.docker",
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            "hosts": {name: {"wheelfleet_capacity": 1} for name in names},
        }
        inventory = directory / "fleet.yml"
        inventory.write_text(yaml.safe_dump({"all": {"children": {"build_hosts": group}}}))
        yield {"names": names, "dir": directory, "inventory": inventory}
    finally:
        for container in containers:
            container.remove(force=True)
        for container in docker_client.containers.list(
            all=True, filters={"label": "org.wheelfleet.run"}
        ):
            if container.labels.get("org.wheelfleet.run", "").startswith(f"reg-{RUN}"):
                container.remove(force=True)


def release(
    fleet: dict[str, Any],
    wheelhouse: Path,
    name: str,
    mirror: str,
    *archs: str,
    rounds: int = 3,
    project: Path = EXAMPLE,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], float]:
    extra = {
        "wheelfleet_images": "auto",
        "wheelfleet_registry_mirror": mirror,
        "wheel_build_image_repository": REPOSITORY,
        "wheelfleet_release_id": f"reg-{RUN}-{name}",
    }
    started = time.monotonic()
    run = wheelfleet(
        "release",
        str(project),
        *("-i", str(fleet["inventory"]), "-w", str(wheelhouse)),
        *("--skip-provision", "--json", "--python", "cp311", "--max-rounds", str(rounds)),
        *(arg for arch in archs for arg in ("--arch", arch)),
        *("-e", json.dumps(extra)),
        cwd=fleet["dir"],
    )
    elapsed = time.monotonic() - started
    print(f"release {name}: {elapsed:.1f} s")
    return run, document(run), elapsed


def manifest_entries(wheelhouse: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((wheelhouse / "manifest.json").read_text())
    entries = manifest["wheels"] if isinstance(manifest, dict) else manifest
    if isinstance(entries, dict):
        entries = list(entries.values())
    return {entry["architecture"]: entry for entry in entries}


@pytest.fixture(scope="module")
def released(registry, stand_ins, fleet) -> dict[str, Any]:
    wheelhouse = fleet["dir"] / "wheelhouse"
    mirror = f"http://{registry.address}/pypa"
    run, result, _elapsed = release(fleet, wheelhouse, "first", mirror, "x86_64", "aarch64")
    assert run.returncode == 0, run.stderr[-8000:]
    return {"run": run, "result": result, "wheelhouse": wheelhouse, "mirror": mirror}


# --- the role --------------------------------------------------------------------------------


def test_the_fleet_registry_serves_pushes_and_pulls_by_digest(registry, docker_client) -> None:
    with urllib.request.urlopen(f"http://{registry.address}/v2/", timeout=5) as answer:
        assert answer.status == 200
    status = subprocess.run(
        [str(registry.supervisor), "status"], capture_output=True, text=True, check=False
    )
    assert status.returncode == 0 and "running (pid" in status.stdout
    # A tiny image of its own (one file), pushed, dropped locally and pulled back by digest.
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as archive:
        content = f"wheelfleet registry test {RUN}\n".encode()
        info = tarfile.TarInfo("hello")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    repository = f"{registry.address}/{REPOSITORY}/tiny"
    docker_client.api.import_image_from_data(payload.getvalue(), repository=repository, tag="one")
    digest = registry.push(docker_client, f"{repository}:one", f"{REPOSITORY}/tiny")
    image_id = docker_client.images.get(f"{registry.address}/{REPOSITORY}/tiny@{digest}").id
    docker_client.images.remove(image_id, force=True)
    pulled = docker_client.images.pull(f"{registry.address}/{REPOSITORY}/tiny@{digest}")
    assert f"{registry.address}/{REPOSITORY}/tiny@{digest}" in pulled.attrs["RepoDigests"]
    assert f'"GET /v2/{REPOSITORY}/tiny/manifests/{digest} HTTP/1.1" 200' in registry.requests()
    stored = registry.directory / "storage" / "docker" / "registry" / "v2" / "repositories"
    assert (stored / REPOSITORY / "tiny").is_dir()
    docker_client.images.remove(pulled.id, force=True)


# --- releases through the registry source ----------------------------------------------------


def test_a_release_pulls_the_official_images_by_digest_on_two_hosts(
    released, registry, stand_ins, fleet
) -> None:
    result, run = released["result"], released["run"]
    report = result["release"]["report"]
    assert report["counts"]["built"] == 2, report
    # The plan says which images and why.
    assert f"{registry.address}/pypa answers" in run.stderr + run.stdout
    assert "using the official images" in run.stderr + run.stdout
    entries = manifest_entries(released["wheelhouse"])
    for arch, digest in stand_ins.items():
        reference = f"{registry.address}/pypa/manylinux_2_28_{arch}@{digest}"
        # The manifest pins each wheel to the registry digest of its image...
        assert entries[arch]["image_digest"] == reference, entries[arch]
        # ...which each host pulled by digest.
        assert (
            f'"GET /v2/pypa/manylinux_2_28_{arch}/manifests/{digest} HTTP/1.1" 200'
            in registry.requests()
        )
    hosts = {entry.get("host") for entry in entries.values()}
    assert hosts == set(fleet["names"]), entries


def test_an_unchanged_release_builds_nothing(released, fleet) -> None:
    wheelhouse = released["wheelhouse"]
    before = (wheelhouse / "manifest.json").read_text()
    run, result, _ = release(fleet, wheelhouse, "again", released["mirror"], "x86_64", "aarch64")
    assert run.returncode == 0, run.stderr[-8000:]
    counts = result["release"]["report"]["counts"]
    assert counts["built"] == 0 and counts["up_to_date"] == 2, counts
    assert (wheelhouse / "manifest.json").read_text() == before


def test_a_new_digest_rebuilds(released, registry, stand_ins, fleet, docker_client) -> None:
    # Same content, one more label: another image, another digest under the same tag.
    docker_client.images.pull(
        f"{registry.address}/pypa/manylinux_2_28_x86_64@{stand_ins['x86_64']}"
    )
    changed, _ = docker_client.images.build(
        fileobj=io.BytesIO(
            f"FROM {registry.address}/pypa/manylinux_2_28_x86_64@{stand_ins['x86_64']}\n"
            f"LABEL org.wheelfleet.test.revision={RUN}-2\n".encode()
        ),
        labels=LABEL,
        rm=True,
    )
    digest = registry.push(docker_client, changed.id, "pypa/manylinux_2_28_x86_64")
    assert digest != stand_ins["x86_64"]
    wheelhouse = released["wheelhouse"]
    run, result, _ = release(fleet, wheelhouse, "new-digest", released["mirror"], "x86_64")
    assert run.returncode == 0, run.stderr[-8000:]
    counts = result["release"]["report"]["counts"]
    assert counts["built"] == 1 and counts["up_to_date"] == 0, counts
    entry = manifest_entries(wheelhouse)["x86_64"]
    assert entry["image_digest"] == f"{registry.address}/pypa/manylinux_2_28_x86_64@{digest}"


def test_a_projects_manylinux_image_chooses_the_official_image(
    registry, stand_ins, fleet, docker_client
) -> None:
    # The project asks for manylinux2014 on x86_64, in cibuildwheel's own table: the release
    # pulls <mirror>/manylinux2014_x86_64 by digest instead of cibuildwheel's default.
    digest = registry.push(docker_client, STAND_INS["x86_64"], "pypa/manylinux2014_x86_64")
    project = fleet["dir"] / "yamlcount-manylinux2014"
    shutil.copytree(EXAMPLE, project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.cibuildwheel]\n",
            '[tool.cibuildwheel]\nmanylinux-x86_64-image = "manylinux2014"\n',
            1,
        )
    )
    wheelhouse = fleet["dir"] / "wheelhouse-manylinux2014"
    mirror = f"http://{registry.address}/pypa"
    run, result, _ = release(fleet, wheelhouse, "m2014", mirror, "x86_64", project=project)
    assert run.returncode == 0, run.stderr[-8000:]
    output = run.stdout + run.stderr
    assert (
        "the project's choice: x86_64: quay.io/pypa/manylinux2014_x86_64"
        " (from project manylinux-x86_64-image)" in output
    )
    assert result["release"]["report"]["counts"]["built"] == 1
    entry = manifest_entries(wheelhouse)["x86_64"]
    assert entry["image_digest"] == f"{registry.address}/pypa/manylinux2014_x86_64@{digest}"
    assert (
        f'"GET /v2/pypa/manylinux2014_x86_64/manifests/{digest} HTTP/1.1" 200'
        in registry.requests()
    )


def test_an_image_without_opt_python_is_refused_before_any_build(
    registry, fleet, docker_client
) -> None:
    # A plain Debian image: no /opt/python, no AUDITWHEEL_PLAT, no auditwheel.
    registry.push(docker_client, "wheelfleet-test/debian:bookworm", "broken/manylinux_2_28_x86_64")
    wheelhouse = fleet["dir"] / "wheelhouse-broken"
    run, _result, _ = release(
        fleet, wheelhouse, "broken", f"http://{registry.address}/broken", "x86_64", rounds=1
    )
    assert run.returncode == 1, run.stderr[-8000:]
    output = run.stdout + run.stderr
    assert "breaks the image contract" in output
    assert "no interpreter at /opt/python/<tag>/bin/python" in output
    assert "auditwheel --version does not work in the image" in output
    assert "AUDITWHEEL_PLAT not set in the image" in output
    assert not list(wheelhouse.glob("*.whl"))
    # No build container was started: the refusal came first.
    builds = docker_client.containers.list(all=True, filters={"label": "org.wheelfleet.run"})
    assert not [
        c for c in builds if c.labels.get("org.wheelfleet.run", "").startswith(f"reg-{RUN}-broken")
    ]


# --- docker load, for hosts that reach no registry -------------------------------------------


def test_a_base_loaded_from_a_tarball_is_used_without_any_registry(docker_client, tmp_path) -> None:
    # An image of our own (the stand-in plus a label), saved to a tarball and
    # removed, then loaded back as a host without a registry would.
    base = f"{REPOSITORY}-loaded/manylinux_2_28_x86_64:offline"
    built, _ = docker_client.images.build(
        fileobj=io.BytesIO(
            f"FROM {STAND_INS['x86_64']}\nLABEL org.wheelfleet.test.loaded={RUN}\n".encode()
        ),
        tag=base,
        labels=LABEL,
        rm=True,
    )
    tarball = tmp_path / "base.tar"
    with tarball.open("wb") as out:
        for chunk in built.save(named=True):
            out.write(chunk)
    docker_client.images.remove(built.id, force=True)
    started = time.monotonic()
    try:
        loaded = docker_client.images.load(tarball.read_bytes())
        assert base in loaded[0].tags
        images = [
            {
                "name": "loaded",
                "source": "registry",
                "base": base,
                "pull": "missing",
                "architectures": ["x86_64"],
            }
        ]
        run = run_playbook(
            "playbooks/images.yml",
            extra_vars={"builder_image_images": images, "builder_image_repository": REPOSITORY},
        )
        assert run.rc == 0, run.output[-6000:]
        print(f"images.yml from a loaded base: {time.monotonic() - started:.1f} s")
        image = docker_client.images.get(f"{REPOSITORY}/loaded:x86_64")
        labels = image.labels
        # Loaded without a registry digest: the base's image ID is its pin.
        assert labels["org.wheelfleet.image.base-digest"] == loaded[0].id
        assert labels["org.wheelfleet.image.base"] == base
        # No registry was asked.
        assert (
            "skipping: [localhost]"
            in run.stdout.split("Ask the registry for the current digest of the base")[1].split(
                "TASK ["
            )[0]
        )
    finally:
        for tag in (f"{REPOSITORY}/loaded:x86_64", base):
            # Already gone when the test failed before making it.
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag, force=True)


# --- the fleet registry mode of builder_image -------------------------------------------------


def test_the_first_host_pushes_and_the_other_pulls_by_digest(
    registry, fleet, docker_client
) -> None:
    # The bootstrapped x86_64 image under this module's repository: up to date for its
    # recipe on the first host, which pushes it; the second host has no such tag.
    tag = f"{REPOSITORY}/bookworm:x86_64"
    docker_client.images.get(STAND_INS["x86_64"]).tag(tag)
    images = [
        {
            "name": "bookworm",
            "source": "bootstrap",
            "suite": "bookworm",
            "architectures": ["x86_64"],
        }
    ]
    extra = {
        "builder_image_images": images,
        "builder_image_repository": REPOSITORY,
        "builder_image_registry": registry.address,
    }
    first_host, second_host = fleet["names"]
    started = time.monotonic()
    # The first play (first host) pushes; before the second play the tag is dropped
    # locally, as on a host of its own: the limit runs the plays one host at a time.
    first = run_playbook(
        "playbooks/images.yml",
        "-l",
        first_host,
        inventory=str(fleet["inventory"]),
        extra_vars=extra,
    )
    assert first.rc == 0, first.output[-6000:]
    assert "Push to the fleet registry the image" in " ".join(first.changed_tasks())
    assert "Bootstrap the Debian rootfs" not in first.stdout
    pushed = [
        d
        for d in docker_client.images.get(tag).attrs["RepoDigests"]
        if d.startswith(f"{registry.address}/{REPOSITORY}/bookworm@")
    ]
    assert len(pushed) == 1
    docker_client.images.remove(tag)
    second = run_playbook(
        "playbooks/images.yml",
        "-l",
        second_host,
        inventory=str(fleet["inventory"]),
        extra_vars=extra,
    )
    print(f"fleet registry mode, push then pull: {time.monotonic() - started:.1f} s")
    assert second.rc == 0, second.output[-6000:]
    changed = " ".join(second.changed_tasks())
    assert "Tag the pulled image as" in changed
    assert "Bootstrap the Debian rootfs" not in second.stdout
    assert "Push to the fleet registry" not in second.stdout
    assert f"Pull {pushed[0]}" in second.stdout
    assert pushed[0] in docker_client.images.get(tag).attrs["RepoDigests"]
    # Both hosts again: everything is where it should be, nothing changes.
    again = run_playbook(
        "playbooks/images.yml", inventory=str(fleet["inventory"]), extra_vars=extra
    )
    assert again.rc == 0, again.output[-6000:]
    assert all(counts["changed"] == 0 for counts in again.recap.values()), again.changed_tasks()
    assert set(again.recap) == set(fleet["names"])
