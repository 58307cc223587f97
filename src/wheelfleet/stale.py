"""What a killed run left behind: its build containers and its staging directories.

A run (one ``wheel_build`` role run, a release round) is owned by the
controller's ``ansible-playbook`` process. Its owner is written as
``<machine>/<boot>/<pid>/<start time>``: on the build containers as the label
``org.wheelfleet.owner`` and in the wheelhouse as ``.staging/<run>/.owner``.
A later run removes what belongs to owners that are gone (same machine, and a
different boot or no such process any more). Another controller's runs, and
runs of this one still alive (two releases at once), are left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

OWNER_LABEL = "org.wheelfleet.owner"
OWNER_FILE = ".owner"
STAGING = ".staging"
PROC = Path("/proc")
CLAIM_PREFIX = ".claim-"
# Seconds a claim being made is left alone by other runs' clean-up.
CLAIM_GRACE = 600


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def machine_id(proc: Path = PROC) -> str:
    """This machine, as its machine-id (or its host name where there is none)."""
    for candidate in (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")):
        value = _read(candidate)
        if value:
            return value
    return socket.gethostname() or "unknown"


def boot_id(proc: Path = PROC) -> str:
    return _read(proc / "sys/kernel/random/boot_id") or "unknown"


def _stat(pid: int, proc: Path) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3 onwards)."""
    text = _read(proc / str(pid) / "stat")
    if not text or ")" not in text:
        return None
    return text.rsplit(")", 1)[1].split()


def start_time(pid: int, proc: Path = PROC) -> str | None:
    """When the process started (clock ticks since boot), or None when there is none."""
    fields = _stat(pid, proc)
    if fields is None or len(fields) < 20 or fields[0] == "Z":
        return None
    return fields[19]


def _cmdline(pid: int, proc: Path) -> bytes:
    try:
        return (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def controller_process(pid: int | None = None, proc: Path = PROC) -> int:
    """The ``ansible-playbook`` process this code runs under.

    Ansible runs a task in a worker forked from its main process, with the same
    command line: the owner is the oldest ancestor that still has it.
    """
    current = pid or os.getpid()
    command = _cmdline(current, proc)
    while True:
        fields = _stat(current, proc)
        parent = int(fields[1]) if fields else 0
        if parent <= 1 or not command or _cmdline(parent, proc) != command:
            return current
        current = parent


def owner(pid: int | None = None, proc: Path = PROC) -> str:
    """The owner identity of the current run (see the module's docstring)."""
    process = controller_process(pid, proc)
    return f"{machine_id(proc)}/{boot_id(proc)}/{process}/{start_time(process, proc)}"


def is_gone(identity: str, proc: Path = PROC) -> bool | None:
    """Whether the owner has ended: True or False on its own machine, None on another
    machine (which this one cannot ask) or for an identity of no known form."""
    parts = identity.split("/")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    machine, boot, pid, started = parts
    if machine != machine_id(proc):
        return None
    if boot != boot_id(proc):
        return True  # started before the last reboot
    return start_time(int(pid), proc) != started


def stale_containers(containers: Iterable[Mapping[str, Any]], proc: Path = PROC) -> list[str]:
    """Names of the containers whose owner has ended, from the engine's container list
    (``Names`` or ``Name``, and ``Labels``)."""
    names = []
    for container in containers:
        labels = container.get("Labels") or {}
        identity = labels.get(OWNER_LABEL) if isinstance(labels, Mapping) else None
        if not identity or not is_gone(str(identity), proc):
            continue
        name = container.get("Name") or (container.get("Names") or [None])[0] or container.get("Id")
        if name:
            names.append(str(name).lstrip("/"))
    return sorted(names)


def _run_owner(directory: Path) -> str | None:
    try:
        data = json.loads((directory / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("owner") if isinstance(data, dict) else None


def stale_staging(wheelhouse: str | os.PathLike[str], proc: Path = PROC) -> list[Path]:
    """The staging directories of runs whose owner has ended, or that name no owner
    (left by a version that did not record one, or by a claim cut short)."""
    root = Path(wheelhouse) / STAGING
    if not root.is_dir():
        return []
    stale = []
    for directory in sorted(root.iterdir()):
        if directory.name.startswith(CLAIM_PREFIX) and _younger_than(directory, CLAIM_GRACE):
            continue  # another run is claiming its directory right now
        if not directory.is_dir() or directory.is_symlink():
            if directory.is_symlink() or directory.is_file():
                stale.append(directory)
            continue
        identity = _run_owner(directory)
        if identity is None or is_gone(identity, proc):
            stale.append(directory)
    return stale


def remove_stale_staging(wheelhouse: str | os.PathLike[str], proc: Path = PROC) -> list[str]:
    """Remove the stale staging directories; returns their names."""
    removed = []
    for path in stale_staging(wheelhouse, proc):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        if not path.exists() and not path.is_symlink():
            removed.append(path.name)
    _remove_empty(Path(wheelhouse) / STAGING)
    return removed


def claim_staging(wheelhouse: str | os.PathLike[str], run: str, identity: str) -> Path:
    """Record the owner of a run's staging directory. The directory appears with its
    owner file already in it (made aside, then renamed), so that another run's
    clean-up never sees it without an owner."""
    root = Path(wheelhouse) / STAGING
    root.mkdir(parents=True, exist_ok=True)
    target = root / run
    if (target / OWNER_FILE).is_file() and _run_owner(target) == identity:
        return target
    aside = root / f"{CLAIM_PREFIX}{uuid.uuid4().hex}"
    aside.mkdir()
    record = json.dumps({"owner": identity, "run": run}) + "\n"
    (aside / OWNER_FILE).write_text(record, encoding="utf-8")
    try:
        aside.rename(target)
    except OSError:
        # The run's directory exists already (files fetched before the claim): claim it in place.
        (aside / OWNER_FILE).replace(target / OWNER_FILE)
        aside.rmdir()
    return target


def release_staging(wheelhouse: str | os.PathLike[str], run: str) -> bool:
    """Drop a finished run's claim; its directory goes when nothing else is in it."""
    root = Path(wheelhouse) / STAGING
    target = root / run
    (target / OWNER_FILE).unlink(missing_ok=True)
    _remove_empty(target)
    _remove_empty(root)
    return not target.exists()


def _younger_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.lstat().st_mtime < seconds
    except OSError:
        return True


def _remove_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()
