"""An engine that restarts mid-job is a host failure: the job is planned again, not failed.

The build host is a container (the "shared engine socket" form of test_release.py) that
reaches Docker through its own engine socket: a forwarder this test runs, bound into the
host at /run/wf-engine/docker.sock, in front of this machine's engine. Restarting that
host's engine does to the host what a real restart (without live-restore) does, and
nothing to anyone else: every connection to the engine drops (the running step's exec
stream with them), the engine refuses connections for a few seconds, and the host's
running containers are killed. This machine's engine itself is never restarted, so other
tests that use it go on undisturbed.

Expected: round 1 ends with the host's build engine reporting a host failure; at the end
of the round the host and its engine answer again, so (release.read_outcome and
_excluded_hosts) the host keeps its unfinished job for round 2, which builds the wheel.
The release exits 0 with every wheel, the job's attempts say "host failed" then "done".
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, document, wheelfleet

pytestmark = [pytest.mark.engine]

EXAMPLE = REPO / "examples" / "yamlcount"
ENGINE = "/var/run/docker.sock"
RUN = f"pytest-restart-{uuid.uuid4().hex[:6]}"
LABEL = {"org.wheelfleet.test": "test_engine_restart"}
JOB = "yamlcount-cp311-cp311-x86_64"
PREPARE = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
    " apt-get install -y -qq --no-install-recommends python3-docker >/dev/null"
)
BUILD_WAIT = 20
"""Seconds the job's before-build waits: the restart lands inside the job, not around it."""


class EngineSocket(threading.Thread):
    """A build host's own engine socket: forwards each connection to this machine's engine.

    ``restart()`` takes the host's engine down and up again as a restart would: open
    connections are cut, new ones refused for ``down`` seconds, the host's running build
    containers killed."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self._server: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._listen()

    def _listen(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.path))
        self.path.chmod(0o660)
        server.listen(64)
        # accept() wakes up now and then: closing a socket does not wake a blocked accept().
        server.settimeout(0.2)
        self._server = server

    def run(self) -> None:
        while not self._closing.is_set():
            server = self._server
            if server is None:
                time.sleep(0.1)
                continue
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by restart() or close()
                time.sleep(0.05)
                continue
            client.settimeout(None)
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(ENGINE)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections.update((client, upstream))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            # Half-close like a real peer, so HTTP keep-alive and hijacked streams end cleanly.
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def restart(self, docker_client: Any, owner_filter: dict[str, Any], down: float = 4) -> None:
        self._cut()
        for container in docker_client.containers.list(filters=owner_filter):
            with contextlib.suppress(Exception):
                container.kill()
        time.sleep(down)
        self._listen()

    def close(self) -> None:
        self._closing.set()
        self._cut()


class RestartWhenBuilding(threading.Thread):
    """Restarts the host's engine once the job's build container has run a few seconds."""

    def __init__(self, docker_client: Any, engine: EngineSocket, run_label: str) -> None:
        super().__init__(daemon=True)
        self.docker, self.engine, self.run_label = docker_client, engine, run_label
        self.restarted_at: float | None = None
        self.done = threading.Event()

    def run(self) -> None:
        filters = {"label": [f"org.wheelfleet.run={self.run_label}"]}
        deadline = time.monotonic() + 900
        while not self.done.is_set() and time.monotonic() < deadline:
            if self.docker.containers.list(filters=filters):
                # Inside before-build's wait: the job is mid-step.
                time.sleep(BUILD_WAIT / 2)
                self.engine.restart(self.docker, filters)
                self.restarted_at = time.monotonic()
                return
            time.sleep(0.5)


@pytest.fixture
def host_with_own_engine(docker_client, base_images, tmp_path) -> Iterator[dict[str, Any]]:
    """One x86_64 build host whose engine socket this test controls."""
    directory = tmp_path / "engine"
    directory.mkdir()
    engine = EngineSocket(directory / "docker.sock")
    engine.start()
    name = f"wf-{RUN}"
    container = docker_client.containers.run(
        "wheelfleet-test/debian:bookworm",
        ["sleep", "infinity"],
        name=name,
        detach=True,
        labels=LABEL,
        volumes={str(directory): {"bind": "/run/wf-engine", "mode": "rw"}},
    )
    try:
        result = container.exec_run(["sh", "-c", PREPARE])
        assert result.exit_code == 0, result.output.decode(errors="replace")
        inventory = tmp_path / "fleet.yml"
        group = {
            "vars": {
                "ansible_connection": "community.docker.docker",
                "ansible_python_interpreter": "/usr/bin/python3",
                "wheel_build_docker_host": "unix:///run/wf-engine/docker.sock",
            },
            "hosts": {name: {"wheelfleet_capacity": 1}},
        }
        inventory.write_text(yaml.safe_dump({"all": {"children": {"build_hosts": group}}}))
        yield {"name": name, "engine": engine, "inventory": inventory, "dir": tmp_path}
    finally:
        container.remove(force=True)
        engine.close()
        for leftover in docker_client.containers.list(
            all=True, filters={"label": "org.wheelfleet.run"}
        ):
            if leftover.labels.get("org.wheelfleet.run", "").startswith(RUN):
                leftover.remove(force=True)


def test_an_engine_restarted_mid_job_is_replanned_and_the_release_gives_every_wheel(
    docker_client, host_with_own_engine
) -> None:
    host = host_with_own_engine["name"]
    wheelhouse = host_with_own_engine["dir"] / "wheelhouse"
    restarter = RestartWhenBuilding(docker_client, host_with_own_engine["engine"], f"{RUN}-r1")
    restarter.start()
    try:
        run = wheelfleet(
            "release",
            str(EXAMPLE),
            *("-i", str(host_with_own_engine["inventory"]), "-w", str(wheelhouse)),
            *("--skip-provision", "--skip-images", "--json"),
            *("--arch", "x86_64", "--python", "cp311"),
            *("-e", f"wheelfleet_release_id={RUN}"),
            # Long enough a step for the restart to land in it; the project's test is not
            # what this proves.
            *(
                "-e",
                json.dumps(
                    {
                        "wheelfleet_options": {
                            "before-build": f"sleep {BUILD_WAIT}",
                            "test-skip": "*",
                        }
                    }
                ),
            ),
            cwd=host_with_own_engine["dir"],
        )
    finally:
        restarter.done.set()
        restarter.join(30)
    assert restarter.restarted_at is not None, (
        "the job's build container never started:\n" + run.stdout[-3000:] + run.stderr[-6000:]
    )
    result = document(run)
    assert run.returncode == 0, run.stderr[-8000:]
    assert result["exit_code"] == 0 and result["failures"] == []
    # Every wheel: the job's wheel, built in round 2 on the same host.
    entries = json.loads((wheelhouse / "manifest.json").read_text())["wheels"]
    [entry] = entries.values()
    assert (entry["job"], entry["host"], entry["run_id"]) == (JOB, host, f"{RUN}-r2")
    assert sorted(p.name for p in wheelhouse.glob("*.whl")) == [entry["file"]]
    state = json.loads((wheelhouse / "release.json").read_text())
    job = state["jobs"]["cp311-manylinux_x86_64"]
    # Replanned as a host failure, not failed for good.
    assert [(a["round"], a["outcome"]) for a in job["attempts"]] == [
        (1, "host failed"),
        (2, "done"),
    ]
    assert job["status"] == "done" and job.get("kind") is None
    [failure] = state["host_failures"]
    assert (failure["host"], failure["round"], failure["rejoined"]) == (host, 1, True)
    assert state["failed_hosts"] == {} and state["moves"] == []
    assert list(state["rounds"][0]["failed_hosts"]) == [host]
    # Nothing of round 1 runs on after the restart. (Its killed build container remains,
    # stopped: the engine could not remove it while the engine was down; the role removes the
    # containers of ended runs at the start of a later build, the fixture here.)
    running = docker_client.containers.list(filters={"label": f"org.wheelfleet.run={RUN}-r1"})
    assert [(c.name, c.status) for c in running] == []
