"""A fleet of hosts that behave like machines: reached over SSH, each with its own engine.

Each build host is a Docker-in-Docker container (the options of molecule/provision: a
capability list instead of --privileged, seccomp and apparmor unconfined, tmpfs at
/var/lib/docker, the host's cgroups) running sshd, published on a 127.0.0.1 port. The
controller reaches it only there, with Ansible's ssh connection and a key this module
generates. Nothing else is preinstalled: the first release provisions each host's Docker
engine with the project's roles (docker_engine, supervised by its standalone supervisor:
no systemd). binfmt_misc is the kernel's, shared by every host as on any machine.

Images reach the hosts through the fleet registry of test_registry (Debian's
docker-registry on this machine's loopback): the forky x86_64 builder image is pushed
there once, under the tag builder_image's fleet mode looks for, and every host pulls it
by digest in the release's image step instead of bootstrapping it. A host's engine
reaches the registry at the same 127.0.0.1:<port> address through an SSH reverse
forward of the controller's connection to that host (the host's loopback is its own).

The releases build cp313 and cp314 for x86_64 (one forky image, one job per host and
slot): the whole release, then one host's sshd stopped, one host's engine killed, and
one host unreachable from the start. Every case ends with both wheels, each built once,
and the report naming the lost host. All hosts are shared by the module and removed,
with their volumes, at its end. Runtime on the development machine (2 cores, shared):
324 s for the module (registry 12 s, hosts 10 s, push 30 s, the whole release 71 s, sshd
stopped 57 s, engine killed 98 s, unreachable 44 s); 490 s under heavier load. pytest -s
prints each.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, document, wheelfleet
from tests.integration import test_registry
from wheelfleet.report import Report

pytestmark = [pytest.mark.engine]

registry = test_registry.registry
"""The fleet registry on this machine's loopback (test_registry's fixture)."""

EXAMPLE = REPO / "examples" / "yamlcount"
RUN = f"sshfleet-{uuid.uuid4().hex[:6]}"
LABEL = {"org.wheelfleet.test": "test_ssh_fleet"}
IMAGE = "wheelfleet/forky:x86_64"
"""The builder image of cp313..cp315 on x86_64: every job of these releases uses it."""
PYTHONS = ("--python", "cp313", "--python", "cp314")
JOBS = ("cp313-manylinux_x86_64", "cp314-manylinux_x86_64")
BUILD_WAIT = 12
"""Seconds each job's before-build waits: long enough for a fault to land inside it."""
# The molecule provision scenario's capability set: every capability but
# SYS_RESOURCE, which this machine's root lacks (so --privileged is refused).
CAPABILITIES = [
    "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "CHOWN", "DAC_OVERRIDE",
    "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
    "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE",
    "NET_BROADCAST", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYSLOG", "SYS_ADMIN",
    "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO",
    "SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM",
]  # fmt: skip
INSTALL_SSHD = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq"
    " --no-install-recommends openssh-server >/dev/null && mkdir -p /run/sshd /root/.ssh"
    " && chmod 700 /root/.ssh"
)
SSH_TEST_OPTIONS = (
    "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    " -o ConnectTimeout=10"
)
"""Test only: every host is a new container with new host keys on a reused port."""


def timed(name: str, started: float) -> None:
    print(f"\n[wall time] {name}: {time.monotonic() - started:.1f} s")


@dataclass
class Host:
    """One build host: its container (reached by the test through the engine) and the
    127.0.0.1 port of its sshd (the only way the controller reaches it)."""

    name: str
    container: Any
    port: int

    def run(self, command: str) -> tuple[int, str]:
        result = self.container.exec_run(["sh", "-c", command])
        return result.exit_code, result.output.decode(errors="replace")

    def must(self, command: str) -> str:
        code, output = self.run(command)
        assert code == 0, f"{self.name}: {command}: {output}"
        return output

    def start_sshd(self) -> None:
        self.must("mkdir -p /run/sshd && /usr/sbin/sshd")

    def stop_sshd(self) -> None:
        """sshd and every connection it serves, as a host whose SSH service dies."""
        self.must("kill -9 $(pidof sshd)")

    def kill_engine(self) -> None:
        """The supervisor first (it would restart the engine), then dockerd and containerd."""
        self.must(
            "kill -9 $(cat /run/wheelfleet/dockerd-supervisor.pid) && kill -9 $(pidof dockerd)"
            " && (kill -9 $(pidof containerd) || true)"
        )

    def start_engine(self) -> None:
        self.must("/usr/local/sbin/wheelfleet-dockerd start")
        deadline = time.monotonic() + 60
        while self.run("docker version")[0] != 0:
            log = "tail -n 30 /var/log/wheelfleet/dockerd.log"
            assert time.monotonic() < deadline, self.must(log)
            time.sleep(0.5)

    def build_containers(self, run_label: str) -> list[str]:
        code, output = self.run(
            f"docker ps -q --filter label=org.wheelfleet.run={shlex.quote(run_label)}"
        )
        return output.split() if code == 0 else []


@dataclass
class Fleet:
    hosts: list[Host]
    key: Path
    directory: Path
    registry: str
    """host:port of the fleet registry, the same on the controller and on every host."""
    tunnels: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    pushed: str = ""
    """The builder image's reference in the registry, by digest."""

    def ssh(self, host: Host, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", *self.options(host), "root@127.0.0.1", *command],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def options(self, host: Host) -> list[str]:
        return [*shlex.split(SSH_TEST_OPTIONS), "-i", str(self.key), "-p", str(host.port)]

    def inventory(self, name: str, extra_hosts: dict[str, dict[str, Any]] | None = None) -> Path:
        hosts: dict[str, dict[str, Any]] = {
            host.name: {"ansible_port": host.port, "wheelfleet_capacity": 1} for host in self.hosts
        }
        hosts.update(extra_hosts or {})
        group = {
            "vars": {
                "ansible_connection": "ansible.builtin.ssh",
                "ansible_host": "127.0.0.1",
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(self.key),
                "ansible_ssh_common_args": SSH_TEST_OPTIONS,
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            "hosts": hosts,
        }
        path = self.directory / f"{name}.yml"
        path.write_text(yaml.safe_dump({"all": {"children": {"build_hosts": group}}}))
        return path

    def reverse_forward(self, host: Host) -> None:
        """The registry's port on the host's loopback, forwarded to this machine's registry
        over an SSH connection of the controller's (the host's loopback is its own). Every
        round's image step asks the registry, so a host whose SSH died needs it again."""
        self.stop_forward(host)
        port = self.registry.rsplit(":", 1)[1]
        tunnel = subprocess.Popen(
            [
                "ssh",
                *self.options(host),
                *("-N", "-o", "ExitOnForwardFailure=yes", "-o", "ControlMaster=no"),
                *("-R", f"127.0.0.1:{port}:127.0.0.1:{port}"),
                "root@127.0.0.1",
            ],
            stdin=subprocess.DEVNULL,
        )
        self.tunnels[host.name] = tunnel
        probe = (
            f"python3 -c 'import urllib.request as u; u.urlopen(\"http://{self.registry}/v2/\")'"
        )
        deadline = time.monotonic() + 30
        while host.run(probe)[0] != 0:
            assert tunnel.poll() is None, f"{host.name}: the reverse forward ended"
            assert time.monotonic() < deadline, f"{host.name}: the registry does not answer"
            time.sleep(0.5)

    def stop_forward(self, host: Host) -> None:
        tunnel = self.tunnels.pop(host.name, None)
        if tunnel is not None:
            tunnel.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                tunnel.wait(10)


def wait_for_ssh(fleet: Fleet, host: Host, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        answer = fleet.ssh(host, "true")
        if answer.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{host.name}: no SSH on 127.0.0.1:{host.port}: {answer.stderr}")
        time.sleep(0.5)


def start_host(docker_client: Any, name: str, public_key: str) -> Host:
    container = docker_client.containers.run(
        "wheelfleet-test/debian:bookworm",
        ["sleep", "infinity"],
        name=name,
        hostname=name,
        detach=True,
        # An init that reaps, as on a machine: a killed dockerd must not stay a zombie
        # whose PID still holds its pidfile.
        init=True,
        labels=LABEL,
        cap_add=CAPABILITIES,
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        tmpfs={"/var/lib/docker": "rw,exec,dev,suid", "/run": "rw,exec"},
        volumes={
            "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
            f"{name}-apt": {"bind": "/var/cache/apt/archives", "mode": "rw"},
        },
        cgroupns="host",
        ports={"22/tcp": ("127.0.0.1", None)},
    )
    container.reload()
    port = int(container.attrs["NetworkSettings"]["Ports"]["22/tcp"][0]["HostPort"])
    host = Host(name, container, port)
    # A machine without an engine: the release's provisioning installs it.
    host.must("! command -v dockerd")
    host.must(INSTALL_SSHD)
    host.must(f"printf '%s\\n' {shlex.quote(public_key)} > /root/.ssh/authorized_keys")
    host.start_sshd()
    return host


@pytest.fixture(scope="module")
def ssh_fleet(docker_client, base_images, registry, tmp_path_factory) -> Iterator[Fleet]:
    """Two DinD hosts with sshd on 127.0.0.1 ports, the builder image in the registry."""
    directory = tmp_path_factory.mktemp("ssh-fleet")
    key = directory / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", RUN, "-f", str(key)], check=True
    )
    names = [f"wf-ssh-{RUN}-a", f"wf-ssh-{RUN}-b"]
    fleet = Fleet([], key, directory, registry.address)
    started = time.monotonic()
    try:
        public_key = (directory / "id_ed25519.pub").read_text().strip()
        with ThreadPoolExecutor(len(names)) as pool:
            futures = [pool.submit(start_host, docker_client, n, public_key) for n in names]
            fleet.hosts = [future.result() for future in futures]
        for host in fleet.hosts:
            wait_for_ssh(fleet, host)
            fleet.reverse_forward(host)
        timed("2 DinD hosts with sshd", started)
        # The builder image, once, under the tag the fleet mode of builder_image asks for.
        started = time.monotonic()
        labels = docker_client.images.get(IMAGE).labels
        recipe = labels["org.wheelfleet.image.recipe"].removeprefix("sha256:")
        digest = registry.push(docker_client, IMAGE, "wheelfleet/forky", f"x86_64-{recipe}")
        timed(f"{IMAGE} pushed to the fleet registry", started)
        fleet.pushed = f"{registry.address}/wheelfleet/forky@{digest}"
        yield fleet
    finally:
        for host in fleet.hosts:
            fleet.stop_forward(host)
        for host in fleet.hosts:
            host.container.remove(force=True, v=True)
        for name in names:
            with contextlib.suppress(Exception):
                docker_client.containers.get(name).remove(force=True, v=True)
            with contextlib.suppress(Exception):
                docker_client.volumes.get(f"{name}-apt").remove(force=True)


def release(
    fleet: Fleet, inventory: Path, name: str, *more: str, wait: int = BUILD_WAIT
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Path]:
    """The example's cp313 and cp314 x86_64 jobs; each job's before-build waits ``wait``
    seconds, and its test is skipped (the tests prove the fleet, not the project)."""
    wheelhouse = fleet.directory / f"wheelhouse-{name}"
    options: dict[str, str] = {"test-skip": "*"}
    if wait:
        options["before-build"] = f"sleep {wait}"
    extra = {
        "wheelfleet_release_id": f"{RUN}-{name}",
        "builder_image_registry": fleet.registry,
        "wheelfleet_options": options,
    }
    started = time.monotonic()
    run = wheelfleet(
        "release",
        str(EXAMPLE),
        *("-i", str(inventory), "-w", str(wheelhouse), "--json"),
        *("--arch", "x86_64", *PYTHONS),
        *("-e", json.dumps(extra)),
        *more,
        cwd=fleet.directory,
    )
    timed(f"release {name}", started)
    (fleet.directory / f"release-{name}.stderr").write_text(run.stderr)
    return run, document(run), wheelhouse


def manifest(wheelhouse: Path) -> dict[str, Any]:
    return json.loads((wheelhouse / "manifest.json").read_text())["wheels"]


def wheels_in(wheelhouse: Path) -> list[str]:
    return sorted(p.name for p in wheelhouse.glob("*.whl"))


def build_interval(entry: dict[str, Any]) -> tuple[float, float]:
    steps = [s for s in entry["steps"] if s["step"] in ("before_build", "build")]
    return steps[0]["start"], steps[-1]["end"]


def every_wheel_once(wheelhouse: Path, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Both jobs' wheels, each published once; the entries by job identifier."""
    entries = manifest(wheelhouse)
    assert wheels_in(wheelhouse) == sorted(entries)
    by_job = {entry["identifier"]: entry for entry in entries.values()}
    assert sorted(by_job) == sorted(JOBS), entries
    for job in JOBS:
        done = [a for a in state["jobs"][job]["attempts"] if a["outcome"] == "done"]
        assert len(done) == 1, state["jobs"][job]
    return by_job


class FaultWhenBuilding(threading.Thread):
    """Does ``fault`` to a host once one of its build containers has run a while."""

    def __init__(self, host: Host, run_label: str, fault: str) -> None:
        super().__init__(daemon=True)
        self.host, self.run_label, self.fault = host, run_label, fault
        self.done = threading.Event()
        self.at: float | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 600
        while not self.done.is_set() and time.monotonic() < deadline:
            if self.host.build_containers(self.run_label):
                time.sleep(BUILD_WAIT / 3)  # inside before-build's wait
                getattr(self.host, self.fault)()
                self.at = time.monotonic()
                return
            time.sleep(0.5)


@pytest.fixture(scope="module")
def released(ssh_fleet) -> dict[str, Any]:
    """The whole release: provisioning each host's engine, images by digest, builds."""
    inventory = ssh_fleet.inventory("fleet")
    run, result, wheelhouse = release(ssh_fleet, inventory, "whole")
    assert run.returncode == 0, run.stderr[-8000:]
    return {"run": run, "result": result, "wheelhouse": wheelhouse, "inventory": inventory}


# --- the fleet ---------------------------------------------------------------------------


def test_the_controller_reaches_each_host_over_ssh_on_a_loopback_port(ssh_fleet) -> None:
    for host in ssh_fleet.hosts:
        answer = ssh_fleet.ssh(host, "hostname")
        assert answer.returncode == 0 and answer.stdout.strip() == host.name, answer.stderr


def test_a_whole_release_builds_on_both_hosts_at_once(released, ssh_fleet, registry) -> None:
    run, result, wheelhouse = released["run"], released["result"], released["wheelhouse"]
    output = run.stdout + run.stderr
    report = result["release"]["report"]
    assert report["counts"]["built"] == 2 and report["counts"]["failed"] == 0, report
    names = {host.name for host in ssh_fleet.hosts}
    by_job = {entry["identifier"]: entry for entry in manifest(wheelhouse).values()}
    assert sorted(by_job) == sorted(JOBS)
    assert {entry["host"] for entry in by_job.values()} == names
    # Both hosts built at once: the jobs' build intervals overlap...
    (a_start, a_end), (b_start, b_end) = (build_interval(e) for e in by_job.values())
    assert min(a_end, b_end) - max(a_start, b_start) > BUILD_WAIT / 2, by_job
    # ...and so do their bars on the report's timeline, one row per host.
    bars = Report.from_wheelhouse(wheelhouse).timeline().bars
    assert sorted(bar.host for bar in bars) == sorted(names)
    first, second = bars
    assert first.y != second.y
    assert min(first.x + first.width, second.x + second.width) > max(first.x, second.x)
    # Each host's own engine came from the provisioning roles, under their supervisor.
    for host in ssh_fleet.hosts:
        status = host.must("/usr/local/sbin/wheelfleet-dockerd status")
        assert "running (pid" in status
    # Every host pulled the image by digest from the fleet registry; none bootstrapped it.
    pushed = ssh_fleet.pushed
    for host in ssh_fleet.hosts:
        assert f"changed      {host.name}  builder_image : Pull {pushed}" in output
    assert not [
        line
        for line in output.splitlines()
        if "Bootstrap the Debian rootfs" in line and line.startswith(("changed", "ok"))
    ]
    digest = pushed.split("@", 1)[1]
    for host in ssh_fleet.hosts:
        digests = host.must(f"docker image inspect --format '{{{{json .RepoDigests}}}}' {IMAGE}")
        assert pushed in json.loads(digests), digests
    request = f'"GET /v2/wheelfleet/forky/manifests/{digest} HTTP/1.1" 200'
    served = registry.requests().count(request)
    assert served >= len(ssh_fleet.hosts)


# --- a host lost mid-release ---------------------------------------------------------------


def lose_a_host_mid_release(ssh_fleet: Fleet, name: str, fault: str) -> dict[str, Any]:
    """A release whose host a meets ``fault`` while its round-1 job builds: that job moves
    to host b in round 2, b's own job is built once in round 1, and the report names a."""
    a, b = ssh_fleet.hosts
    faulty = FaultWhenBuilding(a, f"{RUN}-{name}-r1", fault)
    faulty.start()
    try:
        run, result, wheelhouse = release(
            ssh_fleet, ssh_fleet.inventory(name), name, "--skip-provision"
        )
    finally:
        faulty.done.set()
        faulty.join(30)
    assert faulty.at is not None, "host a never built:\n" + run.stderr[-6000:]
    assert run.returncode == 0, run.stderr[-8000:]
    assert result["exit_code"] == 0 and result["failures"] == []
    state = json.loads((wheelhouse / "release.json").read_text())
    by_job = every_wheel_once(wheelhouse, state)
    assert {entry["host"] for entry in by_job.values()} == {b.name}
    [move] = state["moves"]
    assert (move["from"], move["to"], move["round"]) == (a.name, b.name, 2), state["moves"]
    moved, stayed = by_job[move["job"]], next(e for j, e in by_job.items() if j != move["job"])
    assert moved["run_id"] == f"{RUN}-{name}-r2" and stayed["run_id"] == f"{RUN}-{name}-r1"
    assert list(state["failed_hosts"]) == [a.name]
    markdown = (wheelhouse / "report.md").read_text()
    assert f"Host {a.name} failed" in markdown
    assert f"moved from {a.name} to {b.name} in round 2" in markdown.replace("\\_", "_")
    assert result["release"]["report"]["complete"]
    return {"run": run, "result": result, "state": state, "wheelhouse": wheelhouse}


def test_a_hosts_sshd_stopped_mid_release_still_gives_every_wheel_once(released, ssh_fleet) -> None:
    a = ssh_fleet.hosts[0]
    try:
        lost = lose_a_host_mid_release(ssh_fleet, "sshd", "stop_sshd")
        # SSH, not the build, failed.
        reason = lost["state"]["failed_hosts"][a.name]
        assert reason.startswith("the host stopped answering: ") and "ssh" in reason, reason
    finally:
        a.start_sshd()
        wait_for_ssh(ssh_fleet, a)
        ssh_fleet.reverse_forward(a)


def test_a_hosts_engine_killed_mid_release_still_gives_every_wheel_once(
    released, ssh_fleet
) -> None:
    a = ssh_fleet.hosts[0]
    try:
        lost = lose_a_host_mid_release(ssh_fleet, "engine", "kill_engine")
        # The host answered over SSH; its engine did not.
        assert "engine" in json.dumps(lost["state"]["failed_hosts"][a.name]).lower()
    finally:
        a.start_engine()


def test_a_host_unreachable_from_the_start_is_left_out_with_the_reason(released, ssh_fleet) -> None:
    gone = f"wf-ssh-{RUN}-gone"
    # A port of this machine's loopback with nothing behind it: refused at once.
    port = test_registry.free_port()
    inventory = ssh_fleet.inventory(
        "gone", {gone: {"ansible_port": port, "wheelfleet_capacity": 4}}
    )
    run, result, wheelhouse = release(ssh_fleet, inventory, "gone", "--skip-provision", wait=0)
    assert run.returncode == 0, run.stderr[-8000:]
    # The plan says so...
    assert f"{gone} is left out: unreachable" in run.stderr
    state = json.loads((wheelhouse / "release.json").read_text())
    planned = state["initial_plan"]["hosts"][gone]
    assert not planned["healthy"] and planned["jobs"] == []
    assert planned["note"].startswith("unreachable: ") and "Connection refused" in planned["note"]
    # ...the two others build every wheel, once each...
    by_job = every_wheel_once(wheelhouse, state)
    assert {entry["host"] for entry in by_job.values()} == {h.name for h in ssh_fleet.hosts}
    assert state["moves"] == [] and state["failed_hosts"] == {}
    # ...and the report names the host left out, with the reason.
    left_out = result["release"]["report"]["left_out"]
    assert list(left_out) == [gone] and left_out[gone] == planned["note"]
    markdown = (wheelhouse / "report.md").read_text()
    assert f"Host {gone} was left out of the plan: unreachable: " in markdown
    assert f"host {gone} left out of the plan: unreachable" in run.stderr
