"""The controller's wheelhouse: repaired wheels, their manifest and the job logs.

Layout of a wheelhouse directory::

    manifest.json       one entry per wheel (see ``entry``), by file name
    SHA256SUMS          ``sha256sum -c`` compatible list of the wheels
    <wheel files>       repaired wheels only
    logs/<job>.log      the last log of each job (also of failed jobs)
    .staging/           fetched files of a running job, moved into place on success

Wheels land atomically: a job's files are fetched into ``.staging/<run>/<job>``
inside the wheelhouse (the same file system), checked against the sha256 the
repair reported, and renamed into place; the manifest is rewritten (temporary
file + rename) under an exclusive lock on the wheelhouse directory, so several
hosts can publish at once. Files belong to the invoking user (``SUDO_UID`` /
``SUDO_GID`` under sudo).

A job is up to date when an entry has the same project, architecture, Python
tag, source hash, image ID and settings hash, and its wheel is present with the
recorded sha256.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
LOGS = "logs"
STAGING = ".staging"
FORMAT_VERSION = 1
# What makes two builds of a job interchangeable.
INPUT_KEYS = ("project", "architecture", "python_tag", "source_hash", "image_id", "settings_hash")


class PublishError(RuntimeError):
    """A staged wheel cannot be published; the message says why."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def empty() -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "wheels": {}}


def load(wheelhouse: str | os.PathLike[str]) -> dict[str, Any]:
    """The wheelhouse's manifest, or an empty one (also for an unreadable file)."""
    try:
        document = json.loads((Path(wheelhouse) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return empty()
    if not isinstance(document, dict) or not isinstance(document.get("wheels"), dict):
        return empty()
    return document


def inputs_match(entry: Mapping[str, Any], inputs: Mapping[str, Any]) -> bool:
    return all(entry.get(key) == inputs.get(key) for key in INPUT_KEYS)


def up_to_date(
    manifest: Mapping[str, Any], wheelhouse: str | os.PathLike[str], inputs: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The manifest entries that make a job unnecessary, or [] when it must run.

    Every wheel the matching build produced must still be present with its
    recorded sha256; one missing or changed file means the job runs again.
    """
    matching = [
        dict(entry)
        for entry in manifest.get("wheels", {}).values()
        if inputs_match(entry, inputs) and inputs.get("image_id")
    ]
    if not matching:
        return []
    # Only the latest build of these inputs counts (a job may produce several wheels).
    latest = max(entry.get("run_id", "") for entry in matching)
    matching = [entry for entry in matching if entry.get("run_id", "") == latest]
    for entry in matching:
        path = Path(wheelhouse) / entry["file"]
        if not path.is_file() or path.stat().st_size != entry.get("size"):
            return []
        if sha256_file(path) != entry.get("sha256"):
            return []
    return sorted(matching, key=lambda entry: entry["file"])


def superseded(manifest: Mapping[str, Any], entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Files of older builds that new entries replace: same project, version, architecture
    and Python tag (a rebuild to another policy, say), other file name."""
    new = list(entries)
    names = {entry["file"] for entry in new}
    jobs = {
        (
            entry.get("project"),
            entry.get("version"),
            entry.get("architecture"),
            entry.get("python_tag"),
        )
        for entry in new
    }
    return sorted(
        name
        for name, old in manifest.get("wheels", {}).items()
        if name not in names
        and (old.get("project"), old.get("version"), old.get("architecture"), old.get("python_tag"))
        in jobs
    )


def merge(
    manifest: Mapping[str, Any],
    entries: Iterable[Mapping[str, Any]],
    present: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A new manifest: ``entries`` replace entries of the same file name and the older builds
    they supersede. When ``present`` is given, entries whose file is not in it are dropped."""
    wheels = {name: dict(entry) for name, entry in manifest.get("wheels", {}).items()}
    new = [dict(entry) for entry in entries]
    for name in superseded(manifest, new):
        wheels.pop(name, None)
    for entry in new:
        wheels[entry["file"]] = entry
    if present is not None:
        keep = set(present)
        wheels = {name: entry for name, entry in wheels.items() if name in keep}
    return {"version": FORMAT_VERSION, "wheels": dict(sorted(wheels.items()))}


def short_python(python_tag: str) -> str:
    """The CPython tag of an interpreter directory: ``cp311-cp311`` -> ``cp311``,
    ``cp313-cp313t`` -> ``cp313t`` (the spelling of build identifiers)."""
    return python_tag.rsplit("-", 1)[-1]


def build_identifier(python_tag: str, arch: str) -> str:
    """The build identifier (cibuildwheel's spelling) of a job: ``cp311-manylinux_x86_64``."""
    return f"{short_python(python_tag)}-manylinux_{arch}"


def entry(
    job: Mapping[str, Any],
    wheel: Mapping[str, Any],
    *,
    host: str,
    timings: Mapping[str, float],
    built_at: str | None = None,
) -> dict[str, Any]:
    """The manifest entry of one repaired wheel of a job."""
    return {
        "file": wheel["file"],
        "sha256": wheel["sha256"],
        "size": wheel["size"],
        "tags": wheel.get("tags") or {},
        "project": job["project"],
        "version": job.get("version") or (wheel.get("tags") or {}).get("version"),
        "architecture": job["arch"],
        "python_tag": job["python_tag"],
        "python": short_python(job["python_tag"]),
        "identifier": build_identifier(job["python_tag"], job["arch"]),
        "plat": wheel.get("plat"),
        "grafted": sorted(wheel.get("grafted") or []),
        "host": host,
        "image": job["image"],
        "image_id": job.get("image_id"),
        "image_digests": list(job.get("image_digests") or []),
        # A registry digest when the image came from one, else the local image ID.
        "image_digest": (list(job.get("image_digests") or []) or [job.get("image_id")])[0],
        "emulated": bool(job.get("emulated")),
        "mode": "emulated" if job.get("emulated") else "native",
        "source_hash": job["source_hash"],
        "settings_hash": job["settings_hash"],
        "tested": bool(job.get("tested")),
        "build_seconds": round(float(timings.get("build", 0.0)), 3),
        "timings": {step: round(float(value), 3) for step, value in timings.items()},
        "job": job["id"],
        "run_id": job["run_id"],
        "built_at": built_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "log": f"{LOGS}/{job['id']}.log",
    }


def owner(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """Who the wheelhouse's files belong to: the sudo caller, else this process's user."""
    env = os.environ if environ is None else environ
    uid, gid = env.get("SUDO_UID"), env.get("SUDO_GID")
    if uid and uid.isdigit():
        return int(uid), int(gid) if gid and gid.isdigit() else os.getgid()
    return os.getuid(), os.getgid()


def _chown(paths: Iterable[Path], ids: tuple[int, int]) -> None:
    if os.getuid() != 0:
        return
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.chown(path, *ids, follow_symlinks=False)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the wheelhouse directory itself (no lock file is left behind)."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(path)


def sums_text(manifest: Mapping[str, Any]) -> str:
    return "".join(
        f"{entry['sha256']}  {name}\n" for name, entry in sorted(manifest["wheels"].items())
    )


def make_dirs(wheelhouse: Path, ids: tuple[int, int]) -> None:
    """Create the wheelhouse (and its logs directory) owned by the invoking user."""
    created = []
    for directory in (wheelhouse, wheelhouse / LOGS):
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            created.append(directory)
    _chown(created, ids)


def publish(
    wheelhouse: str | os.PathLike[str],
    staging: str | os.PathLike[str],
    wheels: Sequence[Mapping[str, Any]],
    new_entries: Sequence[Mapping[str, Any]],
    *,
    log_name: str | None = None,
    log_text: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Move a job's staged wheels into the wheelhouse and record them in the manifest.

    Each staged wheel must have the sha256 the repair reported; if one does
    not, nothing is moved. The staging directory is removed in every case.
    """
    home = Path(wheelhouse).absolute()
    stage = Path(staging).absolute()
    ids = owner(environ)
    try:
        for wheel in wheels:
            staged = stage / wheel["file"]
            if not staged.is_file():
                raise PublishError(f"{wheel['file']} was not fetched into {stage}")
            found = sha256_file(staged)
            if found != wheel["sha256"]:
                raise PublishError(
                    f"{wheel['file']}: fetched file has sha256 {found}, the repair reported "
                    f"{wheel['sha256']}; not publishing a corrupt wheel"
                )
        make_dirs(home, ids)
        placed: list[Path] = []
        with locked(home):
            current = load(home)
            for wheel in wheels:
                final = home / wheel["file"]
                staged = stage / wheel["file"]
                staged.chmod(0o644)
                _chown([staged], ids)
                staged.replace(final)
                placed.append(final)
            for name in superseded(current, new_entries):
                (home / name).unlink(missing_ok=True)
            present = [path.name for path in home.iterdir() if path.name.endswith(".whl")]
            manifest = merge(current, new_entries, present=present)
            _write_atomic(home / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            _write_atomic(home / SUMS, sums_text(manifest))
            _chown([home / MANIFEST, home / SUMS], ids)
        log_path = None
        if log_name and log_text is not None:
            log_path = write_log(home, log_name, log_text, ids)
        return {
            "published": [str(path) for path in placed],
            "manifest": str(home / MANIFEST),
            "log": log_path,
        }
    finally:
        remove_staging(home, stage)


def write_log(home: Path, name: str, text: str, ids: tuple[int, int] | None = None) -> str:
    """Write a job log into ``<wheelhouse>/logs`` (atomically, owned by the invoking user)."""
    ids = ids or owner()
    make_dirs(home, ids)
    path = home / LOGS / name
    _write_atomic(path, text)
    _chown([path], ids)
    return str(path)


def remove_staging(home: Path, stage: Path) -> None:
    """Remove a job's staging directory, and the staging parents it leaves empty."""
    shutil.rmtree(stage, ignore_errors=True)
    root = home / STAGING
    parent = stage.parent
    while parent != home and root in (parent, *parent.parents):
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
