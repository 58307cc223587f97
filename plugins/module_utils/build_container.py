# Copyright: wheelfleet developers
# Apache License 2.0
"""One build or test container of this host's engine, through the Docker SDK.

Files go in and out as tar streams through the engine API (nothing is
mounted, so the engine may be remote). Every failure of the engine API raises
:class:`HostFailure`: the host failed (engine gone or restarted, container
vanished or killed), which is not the job's fault. A step that runs and exits
non-zero is not an error here; its caller decides (a job failure).
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import tempfile
import time
import traceback
from typing import Any, Iterable

try:
    import docker
    from docker.errors import DockerException, NotFound
    from requests.exceptions import ReadTimeout, RequestException
except ImportError:
    docker = None
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None

# Exit statuses of a command killed by a signal (SIGKILL, SIGTERM), as a removed container's
# commands end; and how long such a container may still show as running.
KILLED = (137, 143, -1)
KILL_SETTLE = 3.0
# A file name that is safe on the host: no path, no hidden file, no shell or glob specials.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


class HostFailure(Exception):
    """The build host failed (engine API error, container gone): not the job's fault."""


class StepTimeout(Exception):
    """A command did not return within its time (the engine still answers)."""


def client_for(docker_host: str | None, timeout: float, pool: int = 10) -> Any:
    """A Docker SDK client; ``timeout`` bounds each API call (an exec waits that long);
    ``pool`` connections at once (each running exec holds one)."""
    if docker is None:
        raise ImportError("docker")
    try:
        if docker_host:
            return docker.DockerClient(base_url=docker_host, timeout=timeout, max_pool_size=pool)
        return docker.from_env(timeout=timeout, max_pool_size=pool)
    except DockerException as exc:
        raise HostFailure(f"cannot reach the Docker engine: {exc}") from None


def _api_errors() -> tuple:
    return (DockerException, RequestException, OSError) if docker else (OSError,)


class BuildContainer:
    """A running container: start it, put files in, run commands, take files out, remove it."""

    def __init__(self, container: Any, name: str) -> None:
        self.container = container
        self.name = name
        self._env: dict | None = None
        # What callers learnt about this container and reuse (auditwheel's interpreter).
        self.facts: dict = {}
        # Environment every command gets, under its own (the emulated CPU model).
        self.exec_env: dict = {}

    # --- life cycle -------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        client: Any,
        *,
        name: str,
        image: str,
        platform: str | None,
        labels: dict,
        limits: dict | None = None,
        network_mode: str | None = None,
        mounts: list | None = None,
    ) -> BuildContainer:
        """Create and start ``sleep infinity`` (with an init) in /work, confined: limits, no
        privileges, no mounts but the given read-only ones (the host's userland), the given
        network mode (None: the engine's default)."""
        limits = limits or {}
        options: dict = {
            "image": image,
            "command": ["sleep", "infinity"],
            "name": name,
            "init": True,
            "working_dir": "/work",
            "labels": {str(k): str(v) for k, v in labels.items()},
            "privileged": False,
        }
        if platform:
            options["platform"] = platform
        if network_mode:
            options["network_mode"] = network_mode
        if mounts:
            if not all(getattr(m, "get", lambda _: None)("ReadOnly") for m in mounts):
                raise HostFailure(f"refused: a writable mount into {name}")
            options["mounts"] = list(mounts)
        if limits.get("memory"):
            options["mem_limit"] = int(limits["memory"])
        if limits.get("pids_limit"):
            options["pids_limit"] = int(limits["pids_limit"])
        if limits.get("cpus"):
            options["nano_cpus"] = int(float(limits["cpus"]) * 1e9)
        try:
            # create + start, never run: run pulls a missing image, and no image is pulled here.
            try:
                container = client.containers.create(**options)
            except TypeError:
                if "platform" not in options:
                    raise
                # Docker SDK < 6 (Debian bookworm's 5.0) has no platform for create; the
                # image is a local tag, never pulled, so the tag alone selects it.
                options.pop("platform")
                container = client.containers.create(**options)
            container.start()
        except _api_errors() as exc:
            # The half-created container (if any) must not stay behind.
            cls(None, name)._remove_by_name(client)
            raise HostFailure(f"cannot start container {name} from {image}: {exc}") from None
        return cls(container, name)

    @classmethod
    def attach(cls, client: Any, name: str) -> BuildContainer:
        """An existing running container (container_steps runs in one the role started)."""
        try:
            container = client.containers.get(name)
        except NotFound:
            raise HostFailure(f"no container named {name!r} on this host's engine") from None
        except _api_errors() as exc:
            raise HostFailure(f"cannot reach the Docker engine to use {name!r}: {exc}") from None
        if container.status != "running":
            raise HostFailure(f"container {name!r} is {container.status}, not running")
        return cls(container, name)

    def remove(self) -> None:
        """Remove the container, killing what runs in it; gone already is fine."""
        if self.container is None:
            return
        try:
            self.container.remove(force=True)
        except NotFound:
            pass
        except _api_errors():
            # An engine that is gone has no container left to remove; the caller
            # already reports the host failure that got us here, if any.
            pass

    def _remove_by_name(self, client: Any) -> None:
        try:
            client.containers.get(self.name).remove(force=True)
        except _api_errors():
            pass

    def describe(self) -> str:
        return f"container {self.name}"

    def check_alive(self, settle: float = 0.0) -> None:
        """HostFailure unless the container still exists and runs, for ``settle`` seconds:
        a container being killed still shows as running for a moment after its processes
        died."""
        deadline = time.monotonic() + settle
        while True:
            try:
                self.container.reload()
            except NotFound:
                raise HostFailure(f"{self.describe()} vanished (removed from outside)") from None
            except _api_errors() as exc:
                raise HostFailure(f"the Docker engine stopped answering: {exc}") from None
            if self.container.status != "running":
                raise HostFailure(
                    f"{self.describe()} vanished: it is {self.container.status}"
                    " (stopped or removed from outside)"
                )
            if time.monotonic() >= deadline:
                return
            time.sleep(0.25)

    # --- commands ---------------------------------------------------------------------------

    def getenv(self, name: str) -> str | None:
        """A variable of the image's environment (AUDITWHEEL_PLAT)."""
        if self._env is None:
            try:
                items = self.container.attrs["Config"].get("Env") or []
            except (KeyError, AttributeError):
                items = []
            self._env = dict(item.split("=", 1) for item in items if "=" in item)
        return self._env.get(name)

    def exec(
        self, argv: list, env: dict | None = None, workdir: str | None = None
    ) -> tuple[int, bytes, bytes]:
        """Run a command; its exit status and output. HostFailure if the engine fails or the
        container is gone afterwards; StepTimeout when the engine's answer does not come."""
        try:
            environment = {**self.exec_env, **(env or {})}
            result = self.container.exec_run(
                argv, environment=environment or None, workdir=workdir, demux=True
            )
        except ReadTimeout:
            raise StepTimeout(f"{argv[0]} in {self.describe()} did not return in time") from None
        except NotFound:
            raise HostFailure(f"{self.describe()} vanished (removed from outside)") from None
        except _api_errors() as exc:
            self.check_alive()  # "vanished" says more than the API error it caused
            raise HostFailure(
                f"running {argv[0]} in {self.describe()} failed: {type(exc).__name__}: {exc}"
            ) from None
        rc = result.exit_code
        if rc != 0:
            # A killed or removed container ends its exec with a status too (SIGKILL's 137,
            # or none): tell that from the command's own failure.
            self.check_alive(settle=KILL_SETTLE if rc in KILLED or rc is None else 0.0)
        stdout, stderr = result.output or (None, None)
        return (rc if rc is not None else -1), (stdout or b""), (stderr or b"")

    def run(self, argv: list, env: dict | None = None) -> tuple[int, str, str]:
        """:meth:`exec` with text output (the interface of exec_target's targets)."""
        rc, out, err = self.exec(argv, env)
        return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def disconnect_networks(self) -> list:
        """Take the container off every network, then check none is left (fail closed)."""
        names = []
        try:
            self.container.reload()
            networks = self.container.attrs["NetworkSettings"].get("Networks") or {}
            for name, settings in networks.items():
                if name == "none":
                    continue
                self.container.client.api.disconnect_container_from_network(
                    self.container.id, settings.get("NetworkID") or name, force=True
                )
                names.append(name)
            self.container.reload()
            left = [
                name
                for name in self.container.attrs["NetworkSettings"].get("Networks") or {}
                if name != "none"
            ]
        except _api_errors() as exc:
            raise HostFailure(
                f"cannot take {self.describe()} off its networks: {type(exc).__name__}: {exc}"
            ) from None
        if left:
            raise HostFailure(f"{self.describe()} is still on networks {left} after disconnecting")
        return names

    # --- files ------------------------------------------------------------------------------

    def put_archive(self, directory: str, data: Any) -> None:
        """Unpack a tar stream (plain or gzip) into a directory of the container."""
        try:
            ok = self.container.put_archive(directory, data)
        except NotFound:
            self.check_alive()
            raise HostFailure(
                f"cannot copy into {directory} of {self.describe()}: no such directory"
            ) from None
        except _api_errors() as exc:
            raise HostFailure(f"copying into {self.describe()} failed: {exc}") from None
        if not ok:
            raise HostFailure(f"the engine refused the copy into {directory} of {self.describe()}")

    def put_file(self, path: str, directory: str) -> None:
        """Unpack a tar or .tar.gz file of this host into a container directory."""
        with open(path, "rb") as handle:
            self.put_archive(directory, handle)

    def put_files(self, files: Iterable[str], directory: str) -> list:
        """Copy host files, by their base names, into a container directory (created when
        missing), in one tar stream; their paths in the container."""
        inside = directory.strip("/")
        buffer = io.BytesIO()
        names = []
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            folder = tarfile.TarInfo(inside)
            folder.type, folder.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(folder)
            for path in files:
                name = os.path.basename(path)
                info = archive.gettarinfo(path, f"{inside}/{name}")
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode = 0o644
                with open(path, "rb") as handle:
                    archive.addfile(info, handle)
                names.append(f"/{inside}/{name}")
        buffer.seek(0)
        self.put_archive("/", buffer)
        return names

    def get_file(self, path: str, dest_dir: str) -> str | None:
        """Copy one regular file out to ``dest_dir`` (atomically); None when it does not exist.

        Raises UnsafeFile for anything but one regular file with a safe name: the
        container is where the project's code ran.
        """
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if not SAFE_NAME.match(name):
            raise UnsafeFile(f"{path} in {self.describe()} has an unsafe name")
        os.makedirs(dest_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=dest_dir) as spool:
            try:
                stream, _ = self.container.get_archive(path)
                for chunk in stream:
                    spool.write(chunk)
            except NotFound:
                self.check_alive()
                return None
            except _api_errors() as exc:
                raise HostFailure(
                    f"copying {path} out of {self.describe()} failed: {exc}"
                ) from None
            spool.seek(0)
            with tarfile.open(fileobj=spool) as archive:
                members = archive.getmembers()
                if len(members) != 1 or not members[0].isfile():
                    raise UnsafeFile(f"{path} in {self.describe()} is not a regular file")
                return _write_atomically(archive, members[0], dest_dir, name)

    def get_files(self, paths: Iterable[str], dest_dir: str) -> list:
        """Copy regular files out to ``dest_dir``; their host paths. Missing ones raise."""
        copied = []
        for path in paths:
            got = self.get_file(path, dest_dir)
            if got is None:
                raise UnsafeFile(f"{path} is not in {self.describe()}")
            copied.append(got)
        return copied


class UnsafeFile(Exception):
    """A file the container offers is not one regular file with a safe name (or is missing)."""


def _write_atomically(
    archive: tarfile.TarFile, member: tarfile.TarInfo, dest: str, name: str
) -> str:
    source = archive.extractfile(member)
    handle, tmp = tempfile.mkstemp(prefix=".copy-", dir=dest)
    try:
        with os.fdopen(handle, "wb") as out:
            while True:
                block = source.read(1 << 20)
                if not block:
                    break
                out.write(block)
        os.chmod(tmp, 0o644)
        final = os.path.join(dest, name)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return final
