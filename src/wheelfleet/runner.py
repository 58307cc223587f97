"""Run one of the project's playbooks through the ansible-runner Python API.

The playbooks, ``ansible.cfg`` and the embedded inventory live in the project
root (the checkout this package is installed from, ``src/wheelfleet/../..``).
Every path handed to ansible-runner is absolute and ``ANSIBLE_CONFIG`` points at
the project's ``ansible.cfg``, whose relative paths (``./collections``,
``./roles``) ansible-core resolves against the file's own directory, so a run
behaves the same from any working directory. ansible-runner's files go to a
private temporary directory (mode 0700) that is removed afterwards, after a
failure or a Ctrl-C as well.

Extra variables never appear on ansible-playbook's command line (which any user
reads in /proc/PID/cmdline, and ansible-runner records in its artifacts'
``command`` file): each layer is written to a 0600 file in the private directory
and given as ``-e @FILE``, in order; a user's own ``-e @FILE`` is given as is.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import ansible_runner

from wheelfleet import progress_records
from wheelfleet.progress_records import Record, RecordTail

EventHandler = Callable[[Mapping[str, Any]], None]

# How often (seconds) ansible-runner polls the cancel callback while ansible is quiet.
_CANCEL_POLL = 0.5


class ProjectNotFoundError(RuntimeError):
    """The playbooks and ansible.cfg are not where the package expects them."""


@dataclass(frozen=True)
class Project:
    """The wheelfleet checkout: the collection root holding ansible.cfg and playbooks/."""

    root: Path

    @classmethod
    def locate(cls) -> Project:
        root = Path(__file__).resolve().parents[2]
        project = cls(root)
        if not project.config.is_file() or not (root / "playbooks").is_dir():
            raise ProjectNotFoundError(
                f"no ansible.cfg and playbooks/ in {root}: wheelfleet runs from a source"
                " checkout (pip install -e .)"
            )
        return project

    @property
    def config(self) -> Path:
        return self.root / "ansible.cfg"

    @property
    def default_inventory(self) -> Path:
        return self.root / "inventory" / "localhost.yml"

    def playbook(self, name: str) -> Path:
        return self.root / "playbooks" / name


@dataclass(frozen=True)
class RunRequest:
    """One ansible-playbook run, with every path absolute."""

    playbook: Path
    inventories: tuple[Path, ...]
    extravars: dict[str, Any] = field(default_factory=dict)
    limit: str | None = None
    check: bool = False
    diff: bool = False
    verbosity: int = 0
    skip_tags: tuple[str, ...] = ()
    vault_password_file: Path | None = None
    extravar_layers: tuple[Path | dict[str, Any], ...] = ()
    """What ansible-playbook gets as ``-e``, in order: the user's ``@FILE`` paths, and
    mappings (written to private files). Empty: ``extravars`` as one mapping."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Variables added to ansible-playbook's environment (verify's SOURCE_DATE_EPOCH)."""

    def layers(self) -> tuple[Path | dict[str, Any], ...]:
        if self.extravar_layers:
            return self.extravar_layers
        return (self.extravars,) if self.extravars else ()

    def cmdline(self) -> str | None:
        flags = [flag for flag, on in (("--check", self.check), ("--diff", self.diff)) if on]
        if self.vault_password_file is not None:
            flags += ["--vault-password-file", shlex.quote(str(self.vault_password_file))]
        return " ".join(flags) or None


@dataclass(frozen=True)
class RunResult:
    status: str
    rc: int | None
    stats: dict[str, dict[str, int]] | None
    elapsed: float


class Cancellation:
    """Ctrl-C handling: the first SIGINT (or SIGTERM) asks ansible-runner to stop.

    ansible-runner polls the instance as its ``cancel_callback`` and, once it returns
    True, kills ansible-playbook's process group. ``on_request`` is called once, from
    that poll (not from the signal handler), so it may print. A second signal kills
    ansible-playbook at once and raises KeyboardInterrupt.
    """

    def __init__(self, on_request: Callable[[], None] | None = None) -> None:
        self.requested = False
        self._reported = False
        self._on_request = on_request
        self.pid: int | None = None
        """ansible-playbook's pid, for the second signal."""

    def __call__(self) -> bool:
        if self.requested and not self._reported:
            self._reported = True
            if self._on_request is not None:
                self._on_request()
        return self.requested

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.requested:
            self.requested = True
            return
        if self.pid is not None:
            with suppress(OSError):
                os.killpg(os.getpgid(self.pid), signal.SIGKILL)
        raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[Cancellation]:
        """Install the signal handlers for the duration of a run."""
        previous = {
            sig: signal.signal(sig, self._handle)
            for sig in (signal.SIGINT, signal.SIGTERM)
            if signal.getsignal(sig) is not signal.SIG_IGN  # respect nohup and the like
        }
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _environment(project: Project) -> dict[str, str]:
    # ansible-playbook from this interpreter's environment, even when the venv
    # is not activated (the console script may be called by its full path).
    scripts = sysconfig.get_path("scripts")
    path = os.pathsep.join(p for p in (scripts, os.environ.get("PATH", "")) if p)
    return {"ANSIBLE_CONFIG": str(project.config), "PATH": path}


def write_private(path: Path, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as JSON to a new file only its owner can read (0600 from the start)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle, default=str)
    return path


def extravars_arguments(request: RunRequest, directory: Path) -> list[str]:
    """``-e @FILE`` for each layer of extra variables, mappings written under ``directory``."""
    arguments: list[str] = []
    for index, layer in enumerate(request.layers()):
        path = (
            layer
            if isinstance(layer, Path)
            else write_private(directory / f"extravars-{index}.json", layer)
        )
        arguments += ["-e", shlex.quote(f"@{path}")]
    return arguments


def run_playbook(
    project: Project,
    request: RunRequest,
    *,
    on_event: EventHandler,
    on_status: Callable[[str], None] | None = None,
    on_record: Callable[[Record], None] | None = None,
    cancellation: Cancellation,
) -> RunResult:
    """Run ``request`` and return its outcome; events reach ``on_event`` as they come.

    With ``on_record``, the playbook gets ``WHEELFLEET_PROGRESS``: a file in the private
    run directory where the wheel_build role appends its jobs' progress records; they reach
    ``on_record`` as they are written (from another thread), and the last ones before this
    returns.
    """

    def event_handler(event: Mapping[str, Any]) -> bool:
        if isinstance(event.get("pid"), int):
            cancellation.pid = event["pid"]
        on_event(event)
        return True  # keep the event, so runner.stats can read playbook_on_stats

    def status_handler(data: Mapping[str, Any], runner_config: object = None) -> None:
        if on_status is not None:
            on_status(str(data.get("status", "")))

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wheelfleet-") as private_data_dir:
        env_dir = Path(private_data_dir, "env")
        env_dir.mkdir()
        # Passed as a file: ansible-runner 2.4 drops a `settings` argument when
        # env/settings does not exist.
        (env_dir / "settings").write_text(json.dumps({"pexpect_timeout": _CANCEL_POLL}))
        variables = Path(private_data_dir, "vars")
        variables.mkdir(mode=0o700)
        arguments = [request.cmdline(), *extravars_arguments(request, variables)]
        cmdline = " ".join(filter(None, arguments))
        envvars = {**_environment(project), **request.environment}
        tail: RecordFollower | None = None
        if on_record is not None:
            path = progress_records.create(private_data_dir)
            envvars[progress_records.ENV] = str(path)
            tail = RecordFollower(path, on_record)
            tail.start()
        try:
            runner = _run(
                private_data_dir,
                request,
                envvars,
                cmdline,
                event_handler,
                status_handler,
                cancellation,
            )
        finally:
            if tail is not None:
                tail.stop()
        stats = runner.stats  # read from the artifacts before they are removed
        return RunResult(
            status=str(runner.status),
            rc=runner.rc,
            stats=stats,
            elapsed=time.monotonic() - started,
        )


def _run(
    private_data_dir: str,
    request: RunRequest,
    envvars: dict[str, str],
    cmdline: str,
    event_handler: Callable[[Mapping[str, Any]], bool],
    status_handler: Callable[..., None],
    cancellation: Cancellation,
) -> Any:
    return ansible_runner.run(
        private_data_dir=private_data_dir,
        playbook=str(request.playbook),
        inventory=[str(path) for path in request.inventories],
        envvars=envvars,
        limit=request.limit,
        skip_tags=",".join(request.skip_tags) or None,
        cmdline=cmdline or None,
        verbosity=request.verbosity or None,
        event_handler=event_handler,
        status_handler=status_handler,
        cancel_callback=cancellation,
        quiet=True,
    )


class RecordFollower:
    """Follows a progress file from a thread, passing each new record to ``on_record``."""

    INTERVAL = 0.25
    """Seconds between reads: often enough for a live view, cheap for the controller."""

    def __init__(self, path: Path, on_record: Callable[[Record], None]) -> None:
        self._tail = RecordTail(path)
        self._on_record = on_record
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._follow, name="wheelfleet-progress", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop following, after passing on what the file holds now."""
        self._stopping.set()
        self._thread.join()
        self._pass_on()

    def _follow(self) -> None:
        while not self._stopping.wait(self.INTERVAL):
            self._pass_on()

    def _pass_on(self) -> None:
        for record in self._tail.read():
            # A display error must not stop the release: the records are only shown.
            with suppress(Exception):
                self._on_record(record)
