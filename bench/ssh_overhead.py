"""Ansible's per-task overhead over SSH against the local connection.

    python bench/ssh_overhead.py [--tasks 3,23] [--repeat 2]

One host, a container of wheelfleet-test/debian:bookworm with sshd published on a
127.0.0.1 port and a key made for the run, is reached four ways:

- ``local``: the controller itself (ansible_connection=local), the floor;
- ``ssh``: the project's ansible.cfg as it is (pipelining, ControlMaster/ControlPersist);
- ``ssh-plain``: the same without pipelining nor a persistent connection, which is
  Ansible's behaviour when nothing is configured (ssh_args without ControlPersist);
- ``docker``: the community.docker.docker connection (docker exec), which the
  container fleets of the tests use.

Each way runs a playbook of N ``ansible.builtin.ping`` tasks for two values of N; the
per-task overhead is the difference of the walls over the difference of N, so the fixed
cost of starting ansible-playbook cancels out. The best of ``--repeat`` runs counts. The
results go to bench/results/<date>-ssh-overhead.json and .md. Every container the
benchmark starts is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wheelfleet import bench

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
BIN = Path(sys.executable).parent
IMAGE = "wheelfleet-test/debian:bookworm"
INSTALL_SSHD = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq"
    " --no-install-recommends openssh-server >/dev/null && mkdir -p /run/sshd /root/.ssh"
    " && chmod 700 /root/.ssh"
)
# The host is a new container with new host keys on a reused port: a bench-only setting.
SSH_BENCH_OPTIONS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
WAYS = ("local", "ssh", "ssh-plain", "docker")
METHOD = (
    "ansible.builtin.ping tasks on one container host (sshd on a 127.0.0.1 port), run by"
    " ansible-playbook with N1 and N2 tasks per way, interleaved; per task = (best wall of N2 -"
    " best wall of N1) / (N2 - N1). Ways: local connection; ssh with the project's ansible.cfg"
    " (pipelining, ControlMaster=auto, ControlPersist=60s); ssh-plain (ANSIBLE_PIPELINING=False,"
    " ssh_args -o ControlMaster=no); docker (community.docker.docker)."
)


def docker(*argv: str) -> str:
    done = subprocess.run(["docker", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"docker {' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout.strip()


@contextlib.contextmanager
def ssh_host(directory: Path) -> Iterator[tuple[str, int, Path]]:
    """A container with sshd on 127.0.0.1:<port>; its name, the port and the key."""
    key = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    name = f"wfbench-ssh-{uuid.uuid4().hex[:6]}"
    docker(
        *("run", "-d", "--name", name, "--label", "org.wheelfleet.bench=ssh-overhead"),
        *("-p", "127.0.0.1::22", IMAGE, "sleep", "infinity"),
    )
    try:
        public = (directory / "id_ed25519.pub").read_text().strip()
        setup = (
            f"{INSTALL_SSHD} && printf '%s\\n' {shlex.quote(public)} > /root/.ssh/authorized_keys"
            " && /usr/sbin/sshd"
        )
        docker("exec", name, "sh", "-c", setup)
        port = int(docker("port", name, "22/tcp").splitlines()[0].rsplit(":", 1)[1])
        yield name, port, key
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def inventory(directory: Path, name: str, port: int, key: Path) -> Path:
    ssh = {
        "ansible_connection": "ansible.builtin.ssh",
        "ansible_host": "127.0.0.1",
        "ansible_port": port,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": SSH_BENCH_OPTIONS,
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    hosts = {
        "local": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "ssh": ssh,
        "ssh-plain": ssh,
        "docker": {
            "ansible_connection": "community.docker.docker",
            "ansible_host": name,
            "ansible_python_interpreter": "/usr/bin/python3",
        },
    }
    path = directory / "inventory.json"
    path.write_text(json.dumps({"all": {"hosts": hosts}}, indent=2))
    return path


def playbook(directory: Path, tasks: int) -> Path:
    path = directory / f"ping-{tasks}.yml"
    play = {
        "name": f"{tasks} tasks",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [{"name": f"Ping {n}", "ansible.builtin.ping": {}} for n in range(tasks)],
    }
    path.write_text(json.dumps([play], indent=2))
    return path


def environment(way: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), PATH=f"{BIN}:{env.get('PATH', '')}")
    if way == "ssh-plain":
        env.update(ANSIBLE_PIPELINING="False", ANSIBLE_SSH_ARGS="-o ControlMaster=no")
    return env


def wall(inventory_path: Path, book: Path, way: str) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory_path), "-l", way, str(book)],
        cwd=REPO,
        env=environment(way),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{way}: ansible-playbook failed:\n{done.stdout[-3000:]}{done.stderr}")
    return elapsed


def measure(tasks: tuple[int, int], repeat: int) -> dict[str, Any]:
    low, high = tasks
    with tempfile.TemporaryDirectory(prefix="wfbench-ssh-") as scratch:
        directory = Path(scratch)
        with ssh_host(directory) as (name, port, key):
            path = inventory(directory, name, port, key)
            books = {n: playbook(directory, n) for n in tasks}
            walls: dict[str, dict[int, list[float]]] = {w: {low: [], high: []} for w in WAYS}
            for _ in range(repeat):
                for way in WAYS:  # interleaved: a busy moment slows every way alike
                    for n in tasks:
                        walls[way][n].append(round(wall(path, books[n], way), 3))
    rows = {}
    for way in WAYS:
        best_low, best_high = min(walls[way][low]), min(walls[way][high])
        rows[way] = {
            "per_task_ms": round((best_high - best_low) / (high - low) * 1000, 1),
            "fixed_s": round(best_low - (best_high - best_low) / (high - low) * low, 2),
            "walls": {str(n): walls[way][n] for n in tasks},
        }
    floor = rows["local"]["per_task_ms"]
    for row in rows.values():
        row["over_local_ms"] = round(row["per_task_ms"] - floor, 1)
    return {
        "method": METHOD,
        "tasks": list(tasks),
        "repeat": repeat,
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "loadavg": os.getloadavg()[0],
        },
        "ways": rows,
    }


def markdown(results: dict[str, Any]) -> str:
    low, high = results["tasks"]
    lines = [
        "# Ansible's per-task overhead: SSH against the local connection",
        "",
        f"ansible.builtin.ping tasks, {low} and {high} per playbook, best of"
        f" {results['repeat']}; per task = difference of walls / {high - low}.",
        "",
        "| connection | per task (ms) | over local (ms) | fixed (s) |",
        "|---|---:|---:|---:|",
    ]
    for way, row in results["ways"].items():
        lines.append(
            f"| {way} | {row['per_task_ms']} | {row['over_local_ms']} | {row['fixed_s']} |"
        )
    lines += ["", f"Machine: {results['machine']}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks", default="3,23", help="two task counts (default 3,23)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per way and count")
    args = parser.parse_args(argv)
    low, high = sorted(int(n) for n in args.tasks.split(","))
    if low == high or args.repeat < 1:
        parser.error("--tasks needs two different counts and --repeat at least 1")
    # SIGTERM ends the run like Ctrl-C: the host container is removed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = measure((low, high), args.repeat)
    results["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    text = markdown(results)
    stem = f"{datetime.date.today().isoformat()}-ssh-overhead"
    bench.write_json_and_markdown(RESULTS, stem, results, text, sort_keys=False)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
