"""Shared helpers for wheelfleet's tests.

The repository root is the Ansible collection ``wheelfleet.fleet``; putting
``collections/`` on ``sys.path`` makes its plugins importable as
``ansible_collections.wheelfleet.fleet.plugins...``, the way Ansible imports them.

Ansible runs go through the real ``ansible`` and ``ansible-playbook`` of the
interpreter running pytest, from the repository root (so ansible.cfg applies).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / "collections"
BIN = Path(sys.executable).parent
BINFMT = Path("/proc/sys/fs/binfmt_misc")
TEST_IMAGES = ("wheelfleet-test/debian:bookworm", "wheelfleet-test/debian:bookworm-arm64")

for _path in (COLLECTIONS, REPO / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

_RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


# Releases in tests use the offline builder images and probe no registry off this
# machine; the registry tests choose the official images on a loopback mirror.
os.environ.setdefault("WHEELFLEET_IMAGES", "offline")

# A suite started in the background by a shell without job control (`cmd &`, nohup)
# inherits SIGINT ignored, and so would every wheelfleet it starts: the Ctrl-C tests
# need Ctrl-C to work as in a terminal. A handler (unlike SIG_IGN) is reset to the
# default when a child execs.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

WHEELFLEET = Path(sys.executable).parent / "wheelfleet"
"""The CLI installed in the test environment."""


def wheelfleet(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run the wheelfleet CLI as a user would, from ``cwd``; never raises on its exit code."""
    return subprocess.run(
        [str(WHEELFLEET), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def document(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The --json document: all of stdout, nothing else."""
    try:
        return json.loads(run.stdout)
    except ValueError as exc:
        raise AssertionError(
            f"stdout is not one JSON document (exit {run.returncode}):\n{run.stdout}\n"
            f"{run.stderr[-6000:]}"
        ) from exc


def parse_recap(stdout: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of ansible-playbook's output, per host: {'localhost': {'ok': 22, ...}}."""
    _, found, tail = stdout.rpartition("PLAY RECAP")
    if not found:
        return {}
    recap: dict[str, dict[str, int]] = {}
    for line in tail.splitlines()[1:]:
        match = _RECAP_LINE.match(line.strip())
        if match:
            recap[match["host"]] = {
                key: int(value)
                for key, value in (pair.split("=") for pair in match["counts"].split())
            }
    return recap


def ansible_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported a change, for assertion messages."""
        changed, task = [], ""
        for line in self.stdout.splitlines():
            if line.startswith("TASK ["):
                task = line[len("TASK [") :].rstrip("* ").removesuffix("]")
            elif line.startswith("changed: ["):
                changed.append(task)
        return changed


def run_playbook(
    playbook: str,
    *args: str,
    extra_vars: dict[str, Any] | None = None,
    check: bool = False,
    inventory: str = "inventory/localhost.yml",
    timeout: float = 600,
) -> PlaybookRun:
    """Run ansible-playbook from the repository root and parse its recap."""
    command = [str(BIN / "ansible-playbook"), "-i", inventory, playbook, *args]
    if extra_vars is not None:
        command += ["-e", json.dumps(extra_vars)]
    if check:
        command.append("--check")
    completed = subprocess.run(
        command,
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return PlaybookRun(
        completed.returncode, completed.stdout, completed.stderr, parse_recap(completed.stdout)
    )


@dataclass
class ModuleRun:
    rc: int
    result: dict[str, Any]
    """The module's result for localhost, as the json callback reports it."""
    stderr: str


def run_module(
    module: str,
    args: dict[str, Any],
    *,
    check: bool = False,
    diff: bool = False,
    extra_args: Sequence[str] = (),
) -> ModuleRun:
    """Run one module ad hoc on localhost (``ansible localhost -m ...``) and return its result."""
    command = [str(BIN / "ansible"), "localhost", "-m", module, "-a", json.dumps(args), *extra_args]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    completed = subprocess.run(
        command,
        cwd=REPO,
        env=ansible_env(
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json"
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        report = json.loads(completed.stdout)
        result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, LookupError) as exc:
        raise AssertionError(
            f"no JSON result from {command} (rc={completed.returncode}):\n"
            f"{completed.stdout}\n{completed.stderr}"
        ) from exc
    return ModuleRun(completed.returncode, result, completed.stderr)


def binfmt_entry(name: str) -> str | None:
    """The kernel's text for a registered handler, or None."""
    try:
        return (BINFMT / name).read_text(encoding="latin-1")
    except FileNotFoundError:
        return None


def binfmt_write(name: str, value: str) -> None:
    """Write a control value to a handler: 1 enable, 0 disable, -1 remove."""
    (BINFMT / name).write_text(value, encoding="latin-1")


def binfmt_snapshot() -> dict[str, str]:
    """Every registered handler's kernel text, by name."""
    return {
        entry.name: entry.read_text(encoding="latin-1")
        for entry in sorted(BINFMT.iterdir())
        if entry.name not in ("register", "status")
    }


@pytest.fixture(scope="session")
def binfmt_mounted() -> None:
    if not (BINFMT / "register").exists():
        pytest.fail(
            f"binfmt_misc is not mounted at {BINFMT}; provision with playbooks/provision.yml"
        )


@contextmanager
def handler_disabled(name: str) -> Iterator[None]:
    """Disable a registered handler for the duration of the block, then restore its state."""
    text = binfmt_entry(name)
    if text is None:
        pytest.fail(f"binfmt_misc handler {name} is not registered; provision this machine")
    was_enabled = text.startswith("enabled")
    binfmt_write(name, "0")
    try:
        yield
    finally:
        binfmt_write(name, "1" if was_enabled else "0")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"no Docker engine answers ({exc}); provision with playbooks/provision.yml")
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_images(docker_client: Any) -> Sequence[str]:
    """The base images of tests/images/base-images.yml, waiting while a build is running."""
    import docker

    deadline = time.monotonic() + float(os.environ.get("WHEELFLEET_IMAGE_WAIT", "300"))
    missing = list(TEST_IMAGES)
    while missing:
        for name in list(missing):
            try:
                docker_client.images.get(name)
                missing.remove(name)
            except docker.errors.ImageNotFound:
                pass
        if missing and time.monotonic() > deadline:
            pytest.fail(
                f"images {', '.join(missing)} are missing; build them with "
                "ansible-playbook -i inventory/localhost.yml tests/images/base-images.yml"
            )
        if missing:
            time.sleep(5)
    return TEST_IMAGES
