# Copyright: wheelfleet developers
# Apache License 2.0
"""Where a command runs: on this host, or inside a container of this host's engine.

Modules that work on files inside build containers (auditwheel) use one
interface for both, so that the same module serves a wheel on a host and a
wheel in a container on a remote build host. The container side uses the
Docker SDK (``docker`` package) through the engine's API: nothing is mounted.
"""

from __future__ import annotations

import os
import subprocess
import traceback

try:
    import docker
    from docker.errors import DockerException, NotFound
except ImportError:
    docker = None
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None


class TargetError(Exception):
    """The target cannot be reached or used; the message says why."""


class HostTarget:
    """Runs commands on the host the module runs on."""

    def __init__(self, timeout: int) -> None:
        self.timeout = timeout

    def describe(self) -> str:
        return "this host"

    def getenv(self, name: str) -> str | None:
        return os.environ.get(name)

    def run(self, argv: list, env: dict | None = None) -> tuple:
        full_env = dict(os.environ, **(env or {}))
        try:
            done = subprocess.run(
                argv, capture_output=True, env=full_env, timeout=self.timeout, check=False
            )
        except FileNotFoundError:
            return 127, "", f"{argv[0]}: command not found"
        except subprocess.TimeoutExpired:
            return 124, "", f"{argv[0]} did not finish within {self.timeout} s"
        return (
            done.returncode,
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
        )


class ContainerTarget:
    """Runs commands in a running container, through the engine API (docker exec)."""

    def __init__(self, name: str, docker_host: str | None, timeout: int) -> None:
        if docker is None:
            raise ImportError("docker")
        self.name = name
        try:
            client = (
                docker.DockerClient(base_url=docker_host, timeout=timeout)
                if docker_host
                else docker.from_env(timeout=timeout)
            )
            self.container = client.containers.get(name)
        except NotFound:
            raise TargetError(f"no container named {name!r} on this host's engine") from None
        except DockerException as exc:
            raise TargetError(
                f"cannot reach the Docker engine to use container {name!r}: {exc}"
            ) from None
        if self.container.status != "running":
            raise TargetError(f"container {name!r} is {self.container.status}, not running")
        self._env = dict(
            item.split("=", 1)
            for item in self.container.attrs["Config"].get("Env") or []
            if "=" in item
        )

    def describe(self) -> str:
        return f"container {self.name}"

    def getenv(self, name: str) -> str | None:
        return self._env.get(name)

    def run(self, argv: list, env: dict | None = None) -> tuple:
        try:
            result = self.container.exec_run(argv, environment=env, demux=True)
        except DockerException as exc:
            raise TargetError(
                f"running {argv[0]} in container {self.name!r} failed: {exc}"
            ) from None
        stdout, stderr = result.output or (None, None)
        return (
            result.exit_code,
            (stdout or b"").decode("utf-8", "replace"),
            (stderr or b"").decode("utf-8", "replace"),
        )
