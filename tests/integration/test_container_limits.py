"""Build and test containers are confined: resource limits, no network for the project's
code, never privileged, no host mounts (roles/wheel_build, README: Confinement).

Real builds of examples/yamlcount, x86_64 only (native), with playbooks/build.yml:

- a build whose before_all installs libyaml-dev from the Debian mirror (so it has the
  network), whose before_build then tries to reach that mirror by name and by the address
  before_all resolved, and whose test command tries again: both fail, the wheel is built
  and tested, and the containers' HostConfig (inspected while they run) carries the limits;
- a fork bomb in before_build (bounded: 500 children that sleep 20 s, under `timeout`) meets
  the process limit and fails its job, with the fork error in the log, and the host is fine.

About 60 s on two cores (mostly before_all's apt-get).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_build import EXAMPLE, builder_images, run_build  # noqa: F401

pytestmark = [pytest.mark.engine]

RUN = f"pytest-limits-{uuid.uuid4().hex[:6]}"
JOB = "yamlcount-cp311-cp311-x86_64"
MIRROR = "deb.debian.org"
MEMORY = 3 * 1024**3
PIDS = 512
CPUS = 1.5

BEFORE_ALL = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq"
    f" --no-install-recommends libyaml-dev >/dev/null && getent ahostsv4 {MIRROR}"
    " | awk 'NR==1 {print $1}' > /work/mirror-address && echo before_all reached the mirror"
)
# Exits 0 only when neither the mirror's name nor its address can be reached.
PROBE = r"""
import socket, sys
address = open("/work/mirror-address").read().strip() if len(sys.argv) > 1 else None
for target in [x for x in ("{mirror}", address) if x]:
    try:
        socket.create_connection((target, 80), timeout=5).close()
    except OSError as exc:
        print("offline:", target, type(exc).__name__, exc)
    else:
        print("REACHED", target)
        sys.exit(1)
interfaces = [line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:]]
print("interfaces:", interfaces)
sys.exit(interfaces != ["lo"])
""".replace("{mirror}", MIRROR)
BEFORE_BUILD = (
    "cat > /tmp/probe.py <<'EOF'\n" + PROBE + "EOF\n"
    "python /tmp/probe.py with-address"
    " && echo pids.max=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null"
    " || cat /sys/fs/cgroup/pids.max)"
    " && echo memory.max=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null"
    " || cat /sys/fs/cgroup/memory.max)"
)
TEST_COMMAND = (
    "cat > /tmp/probe.py <<'EOF'\n" + PROBE + "EOF\n"
    "python /tmp/probe.py && python -m pytest -q -p no:cacheprovider {project}/tests"
)
FORK_BOMB = (
    "timeout 60 python -c 'import os, time\n"
    "for n in range(500):\n"
    "    if os.fork() == 0:\n"
    "        time.sleep(20)\n"
    "        os._exit(0)\n"
    'print("FORKED ALL", n + 1)\''
)


class HostConfigs(threading.Thread):
    """Inspects the run's containers while they exist (they are removed at the end)."""

    def __init__(self, docker_client, run_id: str) -> None:
        super().__init__(daemon=True)
        self.client = docker_client
        self.run_id = run_id
        self.seen: dict[str, dict[str, Any]] = {}
        self.networks: dict[str, set[str]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                found = self.client.containers.list(
                    all=True, filters={"label": f"org.wheelfleet.run={self.run_id}"}
                )
            except Exception:  # the engine is busy; try again
                found = []
            for container in found:
                attrs = container.attrs
                purpose = attrs["Config"]["Labels"].get("org.wheelfleet.purpose", "?")
                self.seen.setdefault(purpose, attrs)
                networks = set((attrs["NetworkSettings"].get("Networks") or {}).keys())
                self.networks.setdefault(purpose, set()).update(networks or {"<none>"})
            time.sleep(0.3)


def log_of(wheelhouse: Path) -> str:
    return (wheelhouse / "logs" / f"{JOB}.log").read_text()


@pytest.fixture(scope="module")
def confined(builder_images, docker_client, tmp_path_factory) -> dict[str, Any]:  # noqa: F811
    wheelhouse = tmp_path_factory.mktemp("limits") / "wheelhouse"
    run_id = f"{RUN}-net"
    watcher = HostConfigs(docker_client, run_id)
    watcher.start()
    started = time.monotonic()
    try:
        run = run_build(
            {
                "wheel_build_project": str(EXAMPLE),
                "wheel_build_wheelhouse": str(wheelhouse),
                "wheel_build_architectures": ["x86_64"],
                "wheel_build_run_id": run_id,
                "wheel_build_before_all": BEFORE_ALL,
                "wheel_build_before_build": BEFORE_BUILD,
                "wheel_build_test_command": TEST_COMMAND,
                "wheel_build_container_memory": "3g",
                "wheel_build_container_pids_limit": PIDS,
                "wheel_build_container_cpus": CPUS,
            }
        )
    finally:
        watcher.stop.set()
        watcher.join()
    print(f"\n[wall time] confined build and test, x86_64: {time.monotonic() - started:.1f} s")
    return {"run": run, "wheelhouse": wheelhouse, "watcher": watcher}


def test_the_build_and_its_test_pass_offline(confined) -> None:
    run = confined["run"]
    assert run.rc == 0, run.output[-6000:]
    log = log_of(confined["wheelhouse"])
    assert "before_all reached the mirror" in log
    # before_build ran offline: neither the mirror's name nor its address answered.
    assert not re.search(r"^REACHED ", log, re.MULTILINE), log[-3000:]
    assert log.count(f"offline: {MIRROR}") == 2, log  # before_build, then the test
    assert "interfaces: ['lo']" in log
    assert "3 passed" in log and "# result: success" in log


def test_the_limits_reach_the_containers(confined) -> None:
    log = log_of(confined["wheelhouse"])
    assert f"pids.max={PIDS}" in log
    assert f"memory.max={MEMORY}" in log
    seen = confined["watcher"].seen
    assert set(seen) == {"build", "test"}, sorted(seen)
    for purpose, attrs in seen.items():
        host = attrs["HostConfig"]
        assert host["Memory"] == MEMORY, purpose
        assert host["PidsLimit"] == PIDS, purpose
        assert host["NanoCpus"] == int(CPUS * 1e9), purpose
        assert host["Privileged"] is False, purpose
        assert not host.get("Binds"), purpose
        assert attrs["Mounts"] == [], purpose
        assert not host.get("CapAdd"), purpose
    assert seen["test"]["HostConfig"]["NetworkMode"] == "none"
    # The build container started on the default network (for before_all) and was
    # taken off it before before_build.
    assert seen["build"]["HostConfig"]["NetworkMode"] in ("default", "bridge")
    assert {"bridge", "<none>"} <= confined["watcher"].networks["build"]


def test_bad_limits_are_refused_before_anything_runs(tmp_path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    for name, value, valid in (
        ("wheel_build_container_memory", "lots", "at least 64m"),
        ("wheel_build_container_pids_limit", 3, "at least 32"),
    ):
        run = run_build(
            {
                "wheel_build_project": str(EXAMPLE),
                "wheel_build_wheelhouse": str(wheelhouse),
                "wheel_build_architectures": ["x86_64"],
                name: value,
            }
        )
        assert run.rc != 0
        assert f"{name} {value!r}" in run.output and valid in run.output, run.output[-3000:]
        assert not wheelhouse.exists()


def test_a_fork_bomb_fails_its_job_not_the_host(builder_images, docker_client, tmp_path) -> None:  # noqa: F811
    wheelhouse = tmp_path / "wheelhouse"
    run_id = f"{RUN}-fork"
    started = time.monotonic()
    run = run_build(
        {
            "wheel_build_project": str(EXAMPLE),
            "wheel_build_wheelhouse": str(wheelhouse),
            "wheel_build_architectures": ["x86_64"],
            "wheel_build_run_id": run_id,
            "wheel_build_before_all": "",
            "wheel_build_before_build": FORK_BOMB,
            "wheel_build_container_pids_limit": 64,
        }
    )
    seconds = time.monotonic() - started
    print(f"\n[wall time] fork bomb job: {seconds:.1f} s")
    assert run.rc != 0
    assert "before_build failed" in run.output, run.output[-4000:]
    log = log_of(wheelhouse)
    assert "FORKED ALL 500" not in log
    assert "BlockingIOError" in log or "Resource temporarily unavailable" in log, log[-3000:]
    assert list(wheelhouse.glob("*.whl")) == []
    # The host forks as before, and the job's container (with its sleepers) is gone.
    child = os.fork()
    if child == 0:
        os._exit(0)
    assert os.waitpid(child, 0)[1] == 0
    assert (
        docker_client.containers.list(all=True, filters={"label": f"org.wheelfleet.run={run_id}"})
        == []
    )
    manifest = wheelhouse / "manifest.json"
    assert not manifest.exists() or json.loads(manifest.read_text()).get("wheels", {}) == {}
