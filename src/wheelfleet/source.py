"""The project to build: where it is, what it needs, its content hash and its source archive.

A project is a directory holding ``pyproject.toml`` or ``setup.py``, or an sdist
(``.tar.gz``, ``.tgz``, ``.tar`` or ``.zip``) whose top directory holds one. The
controller checks it before any build host is touched, hashes its content and
packs it into a normalised archive that build containers extract into
``/work/src``.

The content hash covers sorted relative paths, the executable bit, symlink
targets and file contents, never timestamps or owners: the same source always
hashes the same, whether it comes as a directory or was touched since.
"""

from __future__ import annotations

import ast
import calendar
import configparser
import fnmatch
import gzip
import hashlib
import io
import os
import re
import stat
import tarfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from wheelfleet import options, requirements, source_epoch

# Never part of a project's source: VCS data, build output, caches, virtualenvs.
# A leading "/" anchors a pattern at the project root; other patterns match any
# path component at any depth.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    "/build",
    "/dist",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".venv",
    ".tox",
    ".nox",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "/wheelhouse",
)

SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
PROJECT_FILES = ("pyproject.toml", "setup.py")
# PEP 517/518: a project without [build-system] is built with setuptools.
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")
DEFAULT_BUILD_BACKEND = "setuptools.build_meta:__legacy__"
ARCHIVE_PREFIX = "src"


# An sdist is read whole into the controller's memory (and packed again from there), so its
# uncompressed size is bounded: 1 GiB is ten times the largest sdists of common native
# projects (about 100 MB unpacked) and keeps the controller's peak memory to a few GiB.
# 100,000 members is several times the file count of the largest of them.
DEFAULT_MAX_BYTES = 1 << 30
DEFAULT_MAX_MEMBERS = 100_000
_CHUNK = 1 << 20


class ProjectError(ValueError):
    """The project path is not something wheelfleet can build; the message says why."""


class SdistLimitError(ProjectError):
    """An sdist breaks a size limit (an archive bomb, or a genuinely huge project)."""


@dataclass(frozen=True)
class ReadLimits:
    """How much of an sdist the controller reads: its total uncompressed size and its
    member count (``--max-source-bytes`` / ``wheel_build_source_max_bytes`` and
    ``--max-source-members`` / ``wheel_build_source_max_members``)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_members: int = DEFAULT_MAX_MEMBERS

    @classmethod
    def from_values(cls, max_bytes: Any = None, max_members: Any = None) -> ReadLimits:
        """Limits from user values (None or empty: the default); ProjectError when not a
        positive whole number."""
        chosen = []
        for value, default, name in (
            (max_bytes, DEFAULT_MAX_BYTES, "wheel_build_source_max_bytes"),
            (max_members, DEFAULT_MAX_MEMBERS, "wheel_build_source_max_members"),
        ):
            if value is None or value == "":
                chosen.append(default)
                continue
            try:
                number = int(str(value))
            except ValueError:
                number = 0
            if isinstance(value, bool) or number < 1:
                raise ProjectError(f"{name} {value!r}: expected a whole number of 1 or more")
            chosen.append(number)
        return cls(chosen[0], chosen[1])


class _Budget:
    """Counts members and bytes actually read from one sdist against its limits."""

    def __init__(self, path: Path, limits: ReadLimits) -> None:
        self.path, self.limits = path, limits
        self.members = 0
        self.declared = 0
        self.read = 0

    def _too_big(self, what: str) -> SdistLimitError:
        return SdistLimitError(
            f"{self.path}: refused, {what} more than {self.limits.max_bytes} bytes uncompressed,"
            " the limit for reading an sdist on the controller (an archive bomb?). If the sdist"
            " is genuine, raise the limit: --max-source-bytes N, or -e"
            " wheel_build_source_max_bytes=N"
        )

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise SdistLimitError(
                f"{self.path}: refused, it has more than {self.limits.max_members} members, the"
                " limit for reading an sdist on the controller (an archive bomb?). If the sdist"
                " is genuine, raise the limit: --max-source-members N, or -e"
                " wheel_build_source_max_members=N"
            )

    def declare(self, size: int) -> None:
        """A member's size as its header says, before reading it."""
        self.declared += max(size, 0)
        if self.declared > self.limits.max_bytes:
            raise self._too_big("its headers declare")

    def take(self, handle: IO[bytes]) -> bytes:
        """Read a member in chunks, counting what really comes out (a header may lie)."""
        chunks = []
        while chunk := handle.read(_CHUNK):
            self.read += len(chunk)
            if self.read > self.limits.max_bytes:
                raise self._too_big("its members unpack to")
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass(frozen=True)
class SourceFile:
    """One member of a project's source, relative to its root."""

    path: str
    """POSIX path relative to the project root."""
    kind: str
    """``file``, ``symlink``."""
    executable: bool
    data: bytes
    """File content, or the symlink's target."""
    mtime: float = 0.0
    """Modification time (never hashed nor packed: SOURCE_DATE_EPOCH is read from it)."""


@dataclass
class Project:
    """What the controller knows about the project before any host is touched."""

    path: str
    kind: str
    """``directory`` or ``sdist``."""
    name: str
    version: str | None
    build_requires: list[str]
    build_backend: str
    build_config: dict[str, Any] = field(default_factory=dict)
    """The parts of pyproject.toml the build options come from (see :func:`build_config`)."""
    requires_python: tuple[str, str] | None = None
    """The Python versions the project supports when ``[project]`` does not say, and where
    that was read: setup.cfg, a literal ``python_requires`` in setup.py, or PKG-INFO."""
    pyproject_label: str = ""
    """How messages name the project's pyproject.toml."""
    dependencies: list[str] = field(default_factory=list)
    """``[project].dependencies``: what the test step installs with the wheel."""
    source_hash: str = ""
    files: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "build_requires": list(self.build_requires),
            "build_backend": self.build_backend,
            "build_config": dict(self.build_config),
            "requires_python": list(self.requires_python) if self.requires_python else None,
            "pyproject_label": self.pyproject_label,
            "dependencies": list(self.dependencies),
            "source_hash": self.source_hash,
            "files": self.files,
        }


def _excluded(relative: PurePosixPath, patterns: Sequence[str]) -> bool:
    parts = relative.parts
    for pattern in patterns:
        if pattern.startswith("/"):
            anchored = pattern.strip("/").split("/")
            if len(parts) >= len(anchored) and all(
                fnmatch.fnmatchcase(part, want) for part, want in zip(parts, anchored, strict=False)
            ):
                return True
        elif any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False


def iter_directory(root: Path, excludes: Sequence[str] = DEFAULT_EXCLUDES) -> Iterator[SourceFile]:
    """The files of a project directory, in sorted path order, without the excluded ones."""
    found: list[tuple[str, Path]] = []
    for current, dirs, files in os.walk(root, followlinks=False):
        base = Path(current)
        kept = []
        for name in dirs:
            relative = PurePosixPath((base / name).relative_to(root).as_posix())
            if _excluded(relative, excludes):
                continue
            if (base / name).is_symlink():
                found.append((relative.as_posix(), base / name))
            else:
                kept.append(name)
        dirs[:] = kept
        for name in files:
            relative = PurePosixPath((base / name).relative_to(root).as_posix())
            if not _excluded(relative, excludes):
                found.append((relative.as_posix(), base / name))
    for relative, full in sorted(found):
        info = full.lstat()
        mode = info.st_mode
        if stat.S_ISLNK(mode):
            target = str(full.readlink()).encode()
            yield SourceFile(relative, "symlink", False, target, info.st_mtime)
        elif stat.S_ISREG(mode):
            data = full.read_bytes()
            yield SourceFile(relative, "file", bool(mode & 0o111), data, info.st_mtime)


def _strip_top(name: str) -> str | None:
    parts = PurePosixPath(name).parts
    if len(parts) < 2 or parts[0] in ("/", "..") or ".." in parts:
        return None
    return PurePosixPath(*parts[1:]).as_posix()


def iter_sdist(
    path: Path, excludes: Sequence[str] = DEFAULT_EXCLUDES, limits: ReadLimits | None = None
) -> Iterator[SourceFile]:
    """The files of an sdist, with its top directory stripped, in sorted path order.

    Reading stops with SdistLimitError as soon as the member count or the
    uncompressed size breaks ``limits``: checked against the headers before a
    member is read, and against the bytes actually read while reading.
    """
    budget = _Budget(path, limits or ReadLimits())
    members: list[SourceFile] = []
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            for info in infos:
                budget.member()
                if not info.is_dir():
                    budget.declare(info.file_size)
            for info in infos:
                relative = _strip_top(info.filename)
                if relative is None or info.is_dir():
                    continue
                if _excluded(PurePosixPath(relative), excludes):
                    continue
                mode = (info.external_attr >> 16) & 0o7777
                with archive.open(info) as handle:
                    data = budget.take(handle)
                # Zip times have no zone: read as UTC, as SOURCE_DATE_EPOCH is.
                when = calendar.timegm((*info.date_time, 0, 0, 0))
                members.append(SourceFile(relative, "file", bool(mode & 0o111), data, when))
    else:
        with tarfile.open(path) as archive:
            # Member by member (not getmembers()): the limits stop the reading early.
            for info in archive:
                budget.member()
                if info.isfile():
                    budget.declare(info.size)
                relative = _strip_top(info.name)
                if relative is None or _excluded(PurePosixPath(relative), excludes):
                    continue
                if info.issym():
                    link = info.linkname.encode()
                    members.append(SourceFile(relative, "symlink", False, link, info.mtime))
                elif info.isfile():
                    handle = archive.extractfile(info)
                    data = budget.take(handle) if handle else b""
                    executable = bool(info.mode & 0o111)
                    members.append(SourceFile(relative, "file", executable, data, info.mtime))
    seen: dict[str, SourceFile] = {member.path: member for member in members}
    yield from (seen[name] for name in sorted(seen))


def member_paths(files: Iterable[SourceFile]) -> frozenset[str]:
    """Every file of the project and every directory holding one, relative to its root."""
    paths: set[str] = set()
    for member in files:
        parts = PurePosixPath(member.path).parts
        paths.update("/".join(parts[:end]) for end in range(1, len(parts) + 1))
    return frozenset(paths)


def content_hash(files: Iterable[SourceFile]) -> str:
    """sha256 over sorted paths, kinds, executable bits and contents (no times, no owners)."""
    digest = hashlib.sha256(b"wheelfleet-source-v1\0")
    for member in sorted(files, key=lambda item: item.path):
        digest.update(member.path.encode() + b"\0")
        digest.update(f"{member.kind}:{int(member.executable)}:{len(member.data)}\0".encode())
        digest.update(member.data)
    return digest.hexdigest()


def _read_pyproject(data: bytes | None, where: str) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{where}: pyproject.toml is not valid TOML: {exc}") from None


def read_build_system(pyproject: dict[str, Any], where: str) -> tuple[list[str], str]:
    """``[build-system]`` requires and build-backend, with PEP 517/518's defaults."""
    build_system = pyproject.get("build-system")
    if build_system is None:
        return list(DEFAULT_BUILD_REQUIRES), DEFAULT_BUILD_BACKEND
    if not isinstance(build_system, dict):
        raise ProjectError(f"{where}: [build-system] in pyproject.toml must be a table")
    requires = build_system.get("requires", list(DEFAULT_BUILD_REQUIRES))
    if not isinstance(requires, list) or not all(isinstance(item, str) for item in requires):
        raise ProjectError(
            f"{where}: [build-system].requires in pyproject.toml must be a list of strings"
        )
    backend = build_system.get("build-backend", DEFAULT_BUILD_BACKEND)
    if not isinstance(backend, str):
        raise ProjectError(f"{where}: [build-system].build-backend must be a string")
    entries = [item for item in requires if item.strip()]
    return _checked(entries, f"{where}/pyproject.toml [build-system].requires"), backend


def _checked(entries: Sequence[Any], origin: str) -> list[str]:
    """Requirements the controller's pip download may get (see requirements.check_requirements)."""
    try:
        return requirements.check_requirements(entries, origin)
    except requirements.RequirementsError as exc:
        raise ProjectError(str(exc)) from None


def check_declared_requirements(pyproject: dict[str, Any], where: str) -> None:
    """Every requirement pyproject.toml declares that a job may download on the controller:
    ``[project].dependencies``, each ``[project.optional-dependencies]`` extra (test-extras)
    and each ``[dependency-groups]`` group (test-groups); a bad entry names its table."""
    label = f"{where}/pyproject.toml"
    project = pyproject.get("project") or {}
    if isinstance(project, dict):
        dependencies = project.get("dependencies")
        if isinstance(dependencies, list):
            _checked(dependencies, f"{label} [project].dependencies")
        extras = project.get("optional-dependencies")
        if isinstance(extras, dict):
            for extra, items in extras.items():
                if isinstance(items, list):
                    _checked(items, f"{label} [project.optional-dependencies].{extra}")
    groups = pyproject.get("dependency-groups")
    if isinstance(groups, dict):
        for group, items in groups.items():
            if isinstance(items, list):
                strings = [item for item in items if not isinstance(item, dict)]
                _checked(strings, f"{label} [dependency-groups].{group}")


def build_config(pyproject: dict[str, Any]) -> dict[str, Any]:
    """The tables the build options are read from: ``[tool.cibuildwheel]``,
    ``[tool.wheelfleet]``, ``[project]``'s requires-python and optional
    dependencies, and ``[dependency-groups]`` (for test-groups)."""
    tool = pyproject.get("tool") or {}
    project = pyproject.get("project") or {}
    config: dict[str, Any] = {}
    tables = {
        k: tool[k] for k in ("cibuildwheel", "wheelfleet") if isinstance(tool, dict) and k in tool
    }
    if tables:
        config["tool"] = tables
    if isinstance(project, dict):
        kept = {k: project[k] for k in ("requires-python", "optional-dependencies") if k in project}
        if kept:
            config["project"] = kept
    if "dependency-groups" in pyproject:
        config["dependency-groups"] = pyproject["dependency-groups"]
    return config


def _fallback_requires_python(data: bytes) -> str | None:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(data.decode("utf-8", "replace"))
    except configparser.Error:
        return None
    return parser.get("options", "python_requires", fallback=None)


def _setup_py_requires(data: bytes) -> str | None:
    """A string literal given as ``python_requires=`` to a call in setup.py (never run)."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                value = keyword.value
                if (
                    keyword.arg == "python_requires"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    return value.value
    return None


def _pkg_info_requires(data: bytes) -> str | None:
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(": ")
        if key == "Requires-Python" and value.strip():
            return value.strip()
    return None


def requires_python_fallback(
    by_path: Mapping[str, SourceFile], where: str
) -> tuple[str, str] | None:
    """Where cibuildwheel looks when ``[project]`` has no requires-python (setup.cfg, then
    setup.py), then an sdist's PKG-INFO; the value and the file it came from."""
    readers = (
        ("setup.cfg", _fallback_requires_python),
        ("setup.py", _setup_py_requires),
        ("PKG-INFO", _pkg_info_requires),
    )
    for name, read in readers:
        member = by_path.get(name)
        found = read(member.data) if member is not None and member.kind == "file" else None
        if found:
            return found, f"{where}/{name}"
    return None


def read_dependencies(pyproject: dict[str, Any]) -> list[str]:
    """``[project].dependencies`` when declared statically, else []."""
    project = pyproject.get("project") or {}
    found = project.get("dependencies") if isinstance(project, dict) else None
    if not isinstance(found, list):
        return []
    return [str(item).strip() for item in found if str(item).strip()]


_SDIST_NAME = re.compile(r"^(?P<name>.+?)-(?P<version>\d[^-]*)$")


def _name_version(
    pyproject: dict[str, Any], pkg_info: bytes | None, fallback: str
) -> tuple[str, str | None]:
    project = pyproject.get("project") or {}
    name = project.get("name") if isinstance(project, dict) else None
    version = project.get("version") if isinstance(project, dict) else None
    if pkg_info and not (name and version):
        for line in pkg_info.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(": ")
            if key == "Name" and not name:
                name = value.strip()
            elif key == "Version" and not version:
                version = value.strip()
            elif not line.strip():
                break
    if not name:
        match = _SDIST_NAME.match(fallback)
        name, version = (match["name"], version or match["version"]) if match else (fallback, None)
    return str(name), (str(version) if version else None)


def sdist_stem(path: Path) -> str:
    for suffix in SDIST_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


def load_files(
    path: str | os.PathLike[str],
    excludes: Sequence[str] = DEFAULT_EXCLUDES,
    limits: ReadLimits | None = None,
) -> tuple[str, list[SourceFile]]:
    """The project's kind (directory or sdist) and files; ProjectError when it is not a project."""
    where = Path(path)
    if not where.exists():
        raise ProjectError(
            f"project path {str(path)!r} does not exist (resolved to {where.absolute()}); "
            "give a project directory or an sdist on the controller"
        )
    if where.is_dir():
        if not any((where / name).is_file() for name in PROJECT_FILES):
            raise ProjectError(
                f"{where} is not a Python project: it has neither pyproject.toml nor setup.py"
            )
        return "directory", list(iter_directory(where, excludes))
    if not where.name.endswith(SDIST_SUFFIXES):
        raise ProjectError(
            f"{where} is neither a project directory nor an sdist "
            f"(expected a directory or a file ending in {', '.join(SDIST_SUFFIXES)})"
        )
    try:
        files = list(iter_sdist(where, excludes, limits))
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ProjectError(f"{where} is not a readable sdist: {exc}") from None
    if not any(member.path in PROJECT_FILES for member in files):
        raise ProjectError(
            f"{where} is not a Python sdist: its top directory has neither pyproject.toml "
            "nor setup.py"
        )
    return "sdist", files


def inspect(
    path: str | os.PathLike[str],
    excludes: Sequence[str] = DEFAULT_EXCLUDES,
    limits: ReadLimits | None = None,
) -> tuple[Project, list[SourceFile]]:
    """Check and describe a project; returns it with its files (for packing)."""
    kind, files = load_files(path, excludes, limits)
    by_path = {member.path: member for member in files}
    where = str(Path(path).absolute())
    pyproject_file = by_path.get("pyproject.toml")
    pyproject = _read_pyproject(pyproject_file.data if pyproject_file else None, where)
    requires, backend = read_build_system(pyproject, where)
    check_declared_requirements(pyproject, where)
    pkg_info = by_path.get("PKG-INFO")
    fallback = Path(path).absolute().name if kind == "directory" else sdist_stem(Path(path))
    name, version = _name_version(pyproject, pkg_info.data if pkg_info else None, fallback)
    project = Project(
        path=where,
        kind=kind,
        name=name,
        version=version,
        build_requires=requires,
        build_backend=backend,
        build_config=build_config(pyproject),
        requires_python=requires_python_fallback(by_path, where),
        pyproject_label=f"{where}/pyproject.toml",
        dependencies=read_dependencies(pyproject),
        source_hash=content_hash(files),
        files=len(files),
    )
    try:  # a bad build option stops the run here, before any host is touched
        options.from_document(
            project.build_config,
            label=project.pyproject_label,
            fallback_requires_python=project.requires_python,
        )
    except options.OptionsError as exc:
        raise ProjectError(str(exc)) from None
    return project, files


def write_archive(files: Iterable[SourceFile], dest: str | os.PathLike[str]) -> None:
    """A reproducible .tar.gz of the files under ``src/`` (no times, owners: root, sorted)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        directories: set[str] = set()
        for member in sorted(files, key=lambda item: item.path):
            parents = PurePosixPath(member.path).parents
            for parent in reversed(list(parents)[:-1]):
                name = f"{ARCHIVE_PREFIX}/{parent.as_posix()}"
                if name not in directories:
                    directories.add(name)
                    archive.addfile(_tarinfo(name, tarfile.DIRTYPE, 0o755))
            name = f"{ARCHIVE_PREFIX}/{member.path}"
            if member.kind == "symlink":
                info = _tarinfo(name, tarfile.SYMTYPE, 0o777)
                info.linkname = member.data.decode()
                archive.addfile(info)
            else:
                info = _tarinfo(name, tarfile.REGTYPE, 0o755 if member.executable else 0o644)
                info.size = len(member.data)
                archive.addfile(info, io.BytesIO(member.data))
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
        packed.write(buffer.getvalue())
    tmp.replace(target)


def _tarinfo(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def prepare(
    path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    excludes: Sequence[str] = DEFAULT_EXCLUDES,
    write: bool = True,
    limits: ReadLimits | None = None,
) -> dict[str, Any]:
    """Inspect the project and make sure its archive ``<cache>/sources/<hash>.tar.gz`` exists.

    Returns the project's description plus ``archive``, ``changed`` (the
    archive was, or with ``write=False`` would be, written), ``paths`` (the
    archive's files and directories, sorted): everything a release needs of the
    project, so that it reads the project this once; and ``source_date_epoch`` with
    its ``source_date_epoch_origin`` (:mod:`wheelfleet.source_epoch`).
    """
    project, files = inspect(path, excludes, limits)
    try:
        epoch, origin = source_epoch.source_date_epoch(
            path, project.kind, (member.mtime for member in files)
        )
    except source_epoch.EpochError as exc:
        raise ProjectError(str(exc)) from None
    archive = Path(cache_dir).expanduser().absolute() / "sources" / f"{project.source_hash}.tar.gz"
    changed = not archive.is_file()
    if changed and write:
        write_archive(files, archive)
    return dict(
        project.as_dict(),
        archive=str(archive),
        changed=changed,
        paths=sorted(member_paths(files)),
        source_date_epoch=epoch,
        source_date_epoch_origin=origin,
    )


def excludes_for(
    project: str | os.PathLike[str], extra: Iterable[str], inside: Iterable[str] = ()
) -> list[str]:
    """The exclude patterns for a project: the defaults, the user's, and directories of
    wheelfleet's own (wheelhouse, cache) that happen to lie inside the project."""
    patterns = list(DEFAULT_EXCLUDES) + [pattern for pattern in extra if pattern]
    root = Path(project).absolute()
    for directory in inside:
        if not directory:
            continue
        candidate = Path(directory).expanduser().absolute()
        try:
            relative = candidate.relative_to(root)
        except ValueError:
            continue
        if relative.parts:
            patterns.append("/" + relative.as_posix())
    return patterns
