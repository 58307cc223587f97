"""The controller's wheelhouse: repaired wheels, their manifest and the job logs.

Layout of a wheelhouse directory::

    manifest.json       one entry per wheel (see ``entry``), by file name
    SHA256SUMS          ``sha256sum -c`` compatible list of the wheels
    <wheel files>       repaired wheels only
    logs/<job>.log      the last log of each job (also of failed jobs)
    .staging/           fetched files of a running job, moved into place on success
    .sources/<hash>.tar.gz  the packed source of the published wheels, by source hash,
                        kept before a job's wheels land (``wheelfleet verify``
                        rebuilds from it)

Wheels land atomically: a job's files are fetched into ``.staging/<run>/<job>``
inside the wheelhouse (the same file system). Each wheel's name is checked
against the job (``wheel_names``: a name from the build container is
untrusted) and its sha256 and size are computed here from the fetched bytes.
Under an exclusive lock on the wheelhouse directory (several hosts publish at
once) the new manifest, SHA256SUMS and the job's log are first written to
unique temporary files and synced; only when all of them are written are the
wheels and then those files renamed into place. A full disk therefore fails the
job before any wheel lands, and never leaves a wheel outside the manifest.
Files belong to the invoking user (``SUDO_UID`` / ``SUDO_GID`` under sudo);
job logs are 0640 in a ``logs`` directory that others cannot read.

A missing manifest is an empty wheelhouse; an unreadable or malformed one is an
error (``ManifestError``), never an empty manifest that the next publish would
write over every earlier entry.

A job is up to date when an entry has the same project, architecture, Python
tag, source hash, image ID and settings hash, and its wheel is present with the
recorded sha256.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from wheelfleet import wheel_names
from wheelfleet.accelerator import accelerated_toolchain, build_mode

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
LOGS = "logs"
STAGING = ".staging"
SOURCES = ".sources"
FORMAT_VERSION = 1
LOG_MODE = 0o640
LOGS_MODE = 0o750
# What makes two builds of a job interchangeable.
INPUT_KEYS = ("project", "architecture", "python_tag", "source_hash", "image_id", "settings_hash")


class PublishError(RuntimeError):
    """A staged wheel cannot be published; the message says why."""


class ManifestError(PublishError):
    """The wheelhouse's manifest.json cannot be read; the message says how to recover."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def empty() -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "wheels": {}}


def _corrupt(path: Path, problem: str) -> ManifestError:
    return ManifestError(
        f"the wheelhouse manifest {path} {problem}. wheelfleet does not treat it as empty: "
        "the next publish would drop every wheel it lists. Restore it (from a backup, or "
        "the previous release), or move it away together with the wheels next to it to "
        "start a new wheelhouse; nothing was changed"
    )


def load(wheelhouse: str | os.PathLike[str]) -> dict[str, Any]:
    """The wheelhouse's manifest; an empty one when there is none yet.

    ManifestError when it exists but cannot be read or is not a manifest.
    """
    path = Path(wheelhouse).absolute() / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return empty()
    except OSError as exc:
        raise _corrupt(path, f"cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise _corrupt(path, f"is not UTF-8 text ({exc})") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise _corrupt(path, f"is not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise _corrupt(path, f"holds a JSON {type(document).__name__}, not an object")
    if document.get("version") != FORMAT_VERSION:
        raise _corrupt(
            path, f"has format version {document.get('version')!r}, expected {FORMAT_VERSION}"
        )
    wheels = document.get("wheels")
    if not isinstance(wheels, dict):
        raise _corrupt(path, 'has no "wheels" object')
    for name, item in wheels.items():
        if not isinstance(item, dict) or item.get("file") != name:
            raise _corrupt(path, f'has a malformed entry for "{name}"')
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
    accelerator: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest entry of one repaired wheel of a job. ``mode`` is native, emulated,
    accelerated (emulated, with the host-native compiler) or fallback (an accelerated build
    that failed, rebuilt under plain emulation); ``accelerator`` (the engine's record:
    toolchain, target, and after a fallback the failed step and why) when one was used."""
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
        "mode": build_mode(bool(job.get("emulated")), accelerator),
        "accelerator": dict(accelerator) if accelerator else None,
        "source_hash": job["source_hash"],
        "settings_hash": job["settings_hash"],
        **reproducibility(job, wheel),
        # The host-native compiler made the bytes of an accelerated job.
        **accelerated_toolchain(accelerator),
        "tested": bool(job.get("tested")),
        "build_seconds": round(float(timings.get("build", 0.0)), 3),
        "timings": {step: round(float(value), 3) for step, value in timings.items()},
        "job": job["id"],
        "run_id": job["run_id"],
        "built_at": built_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "log": f"{LOGS}/{job['id']}.log",
    }


def kept_source(wheelhouse: str | os.PathLike[str], source_hash: str) -> Path:
    """Where the wheelhouse keeps the packed source of ``source_hash``."""
    if not source_hash or not all(c in "0123456789abcdef" for c in source_hash):
        raise PublishError(f"{source_hash!r} is not a source hash")
    return Path(wheelhouse).absolute() / SOURCES / f"{source_hash}.tar.gz"


def keep_source(
    wheelhouse: str | os.PathLike[str], archive: str | os.PathLike[str], source_hash: str
) -> Path:
    """Keep the packed source a release builds from in the wheelhouse (once per hash), so
    that its wheels can be rebuilt from exactly those bytes later."""
    kept = kept_source(wheelhouse, source_hash)
    if kept.is_file():
        return kept
    kept.parent.mkdir(parents=True, exist_ok=True)
    ids = owner()
    _chown([kept.parent], ids)
    tmp = write_temporary(kept, Path(archive).read_bytes(), 0o644, ids)
    try:
        tmp.replace(kept)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return kept


REPRODUCIBILITY_KEYS = (
    "source_date_epoch",
    "source_date_epoch_origin",
    "toolchain_mode",
    "normalized",
    "tools",
    "reproducibility_notes",
)
"""What an entry records, besides the source, image and settings hashes, of what entered its
bytes. Entries of older releases have none of these (they still load)."""


def reproducibility(job: Mapping[str, Any], wheel: Mapping[str, Any]) -> dict[str, Any]:
    """SOURCE_DATE_EPOCH and its origin, the toolchain mode (native or emulated), whether the
    archive was normalized, and the tools' versions (auditwheel, patchelf, zlib, the build
    backend and the requirement wheels)."""
    found = wheel.get("reproducibility") or {}
    epoch = found.get("source_date_epoch", job.get("source_date_epoch"))
    notes = []
    if job.get("source_date_epoch_origin") == "directory":
        notes.append(
            "SOURCE_DATE_EPOCH is the newest file time of a plain directory: another copy of"
            " the source may give another one (wheelfleet verify uses the recorded value)"
        )
    if not found.get("normalized"):
        notes.append("the archive was not normalized (a build host without wheel_normalize)")
    return {
        "source_date_epoch": None if epoch is None else int(epoch),
        "source_date_epoch_origin": job.get("source_date_epoch_origin"),
        "toolchain_mode": job.get("toolchain_mode")
        or ("emulated" if job.get("emulated") else "native"),
        "normalized": bool(found.get("normalized")),
        "tools": dict(found.get("tools") or {}),
        "reproducibility_notes": notes,
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
    """An exclusive lock on the wheelhouse directory itself (no lock file is left behind).

    flock belongs to an open file description: do not nest two ``locked`` of one
    directory in one process, the inner one would wait for the outer forever.
    """
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def fsync_directory(directory: Path) -> None:
    """Make the renames inside ``directory`` durable."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_temporary(
    path: Path, data: bytes, mode: int = 0o644, ids: tuple[int, int] | None = None
) -> Path:
    """``data`` in a new, synced temporary file next to ``path``, ready to be renamed over it.

    Its name is unique (two writers never share one); it is removed again when
    writing fails, so a full disk leaves no partial file behind.
    """
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if ids is not None:
            _chown([tmp], ids)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(
    path: Path, text: str, *, mode: int = 0o644, ids: tuple[int, int] | None = None
) -> None:
    """Replace ``path`` by ``text``: unique temporary file, fsync, rename, fsync of the
    directory. Readers see the old file or the new one, never a part."""
    tmp = write_temporary(path, text.encode("utf-8"), mode, ids)
    try:
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def sums_text(manifest: Mapping[str, Any]) -> str:
    return "".join(
        f"{entry['sha256']}  {name}\n" for name, entry in sorted(manifest["wheels"].items())
    )


def make_dirs(wheelhouse: Path, ids: tuple[int, int]) -> None:
    """Create the wheelhouse (and its logs directory) owned by the invoking user.

    Job logs carry a project's build output: the logs directory is not readable
    by others (an existing one loses the permissions of others).
    """
    created = []
    for directory in (wheelhouse, wheelhouse / LOGS):
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            created.append(directory)
    logs = wheelhouse / LOGS
    if logs in created:
        logs.chmod(LOGS_MODE)
    else:
        current = stat.S_IMODE(logs.stat().st_mode)
        if current & 0o007:
            with contextlib.suppress(PermissionError):  # someone else's directory: leave it
                logs.chmod(current & ~0o007)
    _chown(created, ids)


def _digest_and_sync(path: Path) -> tuple[str, int]:
    """sha256 and size of a fetched file, computed here; the file is synced to disk too."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
        os.fsync(handle.fileno())
    return digest.hexdigest(), size


def verify_staged(
    stage: Path,
    wheels: Sequence[Mapping[str, Any]],
    job: Mapping[str, Any],
    *,
    allow_pure: bool = False,
) -> dict[str, dict[str, Any]]:
    """The sha256 and size, computed on the controller, of each staged wheel by file name.

    Each name must be one the job may publish (``wheel_names.check``) and each
    staged file a regular file whose bytes have the sha256 the repair reported
    (else the transfer corrupted it); PublishError otherwise.
    """
    found: dict[str, dict[str, Any]] = {}
    for wheel in wheels:
        name = wheel.get("file")
        try:
            wheel_names.check(name, job, allow_pure=allow_pure)  # type: ignore[arg-type]
        except wheel_names.WheelNameError as exc:
            raise PublishError(str(exc)) from None
        if name in found:
            raise PublishError(f"{name} is listed twice among the job's wheels")
        staged = stage / name
        try:
            info = staged.lstat()
        except FileNotFoundError:
            raise PublishError(f"{name} was not fetched into {stage}") from None
        if not stat.S_ISREG(info.st_mode):
            raise PublishError(f"{name} in {stage} is not a regular file; not publishing it")
        digest, size = _digest_and_sync(staged)
        if digest != wheel.get("sha256"):
            raise PublishError(
                f"{name}: fetched file has sha256 {digest}, the repair reported "
                f"{wheel.get('sha256')}; not publishing a corrupt wheel"
            )
        found[name] = {"sha256": digest, "size": size}
    return found


def _write_failed(home: Path, what: str, job: Mapping[str, Any], exc: OSError) -> PublishError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        cause = f"the file system of the wheelhouse {home} is full ({exc.strerror})"
        advice = f"; free space in {home} and run the release again"
    else:
        cause = f"cannot write into the wheelhouse {home} ({exc.strerror or exc})"
        advice = ""
    return PublishError(
        f"{cause} while writing {what}: nothing of job {job.get('id', '?')} was published "
        f"and the manifest is unchanged{advice}"
    )


def _check_log_name(name: str) -> None:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise PublishError(f"{name!r} is not a plain log file name")


def publish(
    wheelhouse: str | os.PathLike[str],
    staging: str | os.PathLike[str],
    wheels: Sequence[Mapping[str, Any]],
    new_entries: Sequence[Mapping[str, Any]],
    *,
    job: Mapping[str, Any],
    allow_pure: bool = False,
    log_name: str | None = None,
    log_text: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Move a job's staged wheels into the wheelhouse and record them in the manifest.

    Names, files and hashes are checked first (:func:`verify_staged`); the
    entries get the sha256 and size computed here, whatever the build host
    reported. Either every wheel lands with its manifest entry or none does.
    The staging directory is removed in every case.
    """
    home = Path(wheelhouse).absolute()
    stage = Path(staging).absolute()
    ids = owner(environ)
    try:
        if log_name is not None:
            _check_log_name(log_name)
        digests = verify_staged(stage, wheels, job, allow_pure=allow_pure)
        entries = []
        for new in new_entries:
            if new.get("file") not in digests:
                raise PublishError(f"the manifest entry for {new.get('file')!r} has no wheel")
            entries.append({**new, **digests[new["file"]]})
        make_dirs(home, ids)
        if job.get("source_archive") and job.get("source_hash"):
            # Before any wheel lands: every wheel's source stays rebuildable (verify).
            try:
                keep_source(home, job["source_archive"], job["source_hash"])
            except OSError as exc:
                raise _write_failed(home, f"{SOURCES}/", job, exc) from None
        with locked(home):
            current = load(home)
            return _land(home, stage, current, entries, job, ids, log_name, log_text)
    finally:
        remove_staging(home, stage)


def _land(
    home: Path,
    stage: Path,
    current: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
    job: Mapping[str, Any],
    ids: tuple[int, int],
    log_name: str | None,
    log_text: str | None,
) -> dict[str, Any]:
    """Under the lock: write every new file aside first, then rename (which needs no space)."""
    names = [entry["file"] for entry in entries]
    gone = superseded(current, entries)
    present = {path.name for path in home.iterdir() if path.name.endswith(".whl")}
    present = (present - set(gone)) | set(names)
    manifest = merge(current, entries, present=present)
    outputs = [
        (home / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n", 0o644),
        (home / SUMS, sums_text(manifest), 0o644),
    ]
    if log_name and log_text is not None:
        outputs.insert(0, (home / LOGS / log_name, log_text, LOG_MODE))
    written: list[tuple[Path, Path]] = []
    try:
        for final, text, mode in outputs:
            written.append((write_temporary(final, text.encode("utf-8"), mode, ids), final))
    except OSError as exc:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        raise _write_failed(home, final.name, job, exc) from None
    placed: list[str] = []
    try:
        for name in names:
            staged = stage / name
            staged.chmod(0o644)
            _chown([staged], ids)
            staged.replace(home / name)
            placed.append(name)
    except OSError as exc:
        for name in placed:  # put them back: the manifest does not list them
            with contextlib.suppress(OSError):
                (home / name).replace(stage / name)
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        raise _write_failed(home, name, job, exc) from None
    # The log, SHA256SUMS, then the manifest: a wheel is in place before its entry.
    for tmp, final in written:
        tmp.replace(final)
    fsync_directory(home / LOGS)
    fsync_directory(home)
    for name in gone:
        (home / name).unlink(missing_ok=True)
    log_path = str(home / LOGS / log_name) if log_name and log_text is not None else None
    return {
        "published": [str(home / name) for name in names],
        "manifest": str(home / MANIFEST),
        "log": log_path,
        "entries": [dict(entry) for entry in entries],
    }


def write_log(home: Path, name: str, text: str, ids: tuple[int, int] | None = None) -> str:
    """Write a job log into ``<wheelhouse>/logs`` (atomically, 0640, owned by the invoking
    user)."""
    _check_log_name(name)
    ids = ids or owner()
    make_dirs(home, ids)
    path = home / LOGS / name
    try:
        write_atomic(path, text, mode=LOG_MODE, ids=ids)
    except OSError as exc:
        raise _write_failed(
            home, f"{LOGS}/{name}", {"id": name.removesuffix(".log")}, exc
        ) from None
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
