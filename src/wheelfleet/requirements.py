"""The wheelhouse of build and test requirements for one (architecture, Python tag).

Build containers cannot reach PyPI, so the controller downloads, for the
target platform, every wheel that the isolated build environment and the test
step need (``pip download --only-binary=:all: --platform ...``). The result is
cached under ``<cache>/requirements/<key>/`` where the key covers the
requirement set and the target; a second run downloads nothing. Each
wheelhouse is also packed as ``<key>.tar`` (members under ``wheelhouse/``) to
be copied into containers.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from wheelfleet import architectures

# The oldest glibc of a manylinux policy (manylinux2014 = manylinux_2_17).
OLDEST_GLIBC_MINOR = 17
# Legacy aliases pip also understands, by the glibc they stand for.
_LEGACY_ALIASES = {17: "manylinux2014"}
_TAG = re.compile(r"^(?P<impl>cp|pp)(?P<major>\d)(?P<minor>\d+)-(?P<abi>[a-z0-9_]+)$")
_PLAT_GLIBC = re.compile(r"^manylinux_(?P<major>\d+)_(?P<minor>\d+)_")
ARCHIVE_PREFIX = "wheelhouse"


class RequirementsError(RuntimeError):
    """The wheelhouse cannot be prepared; the message says why and what to do."""


class RequirementRefusedError(RequirementsError, ValueError):
    """A requirement that must not reach pip: an option, a URL, a path, not PEP 508."""


def python_target(tag: str) -> dict[str, str]:
    """pip's ``--implementation``, ``--python-version`` and ``--abi`` for an interpreter tag.

    ``cp311-cp311`` -> cp, 3.11, cp311; ``cp313-cp313t`` -> cp, 3.13, cp313t.
    """
    match = _TAG.match(tag)
    if match is None:
        raise RequirementsError(
            f"{tag!r} is not an interpreter tag of the form cp311-cp311 (or cp313-cp313t, "
            "pp310-pypy310_pp73), as in the builder image's /opt/python"
        )
    return {
        "implementation": match["impl"],
        "python_version": f"{match['major']}.{match['minor']}",
        "abi": match["abi"],
    }


def glibc_from_plat(plat: str | None) -> str | None:
    """The glibc version of a ``manylinux_X_Y_arch`` tag (an image's AUDITWHEEL_PLAT)."""
    if not plat:
        return None
    if plat.startswith("manylinux2014_"):
        return "2.17"
    match = _PLAT_GLIBC.match(plat)
    return f"{match['major']}.{match['minor']}" if match else None


def pip_platforms(arch: str, glibc: str) -> list[str]:
    """Every manylinux platform a container with this glibc can install, newest first.

    pip does not expand ``manylinux_2_36_x86_64`` to older policies, so each is listed.
    """
    name = architectures.resolve(arch).name
    major, _, minor = glibc.partition(".")
    if major != "2" or not minor.isdigit():
        raise RequirementsError(f"glibc version {glibc!r} is not of the form 2.NN")
    platforms: list[str] = []
    for level in range(int(minor), OLDEST_GLIBC_MINOR - 1, -1):
        platforms.append(f"manylinux_2_{level}_{name}")
        if level in _LEGACY_ALIASES:
            platforms.append(f"{_LEGACY_ALIASES[level]}_{name}")
    return platforms


# What pip would take for a local file rather than a project name (a wheel or an sdist in
# the working directory): a PEP 508 name may end this way, pip then reads the file.
_ARCHIVE_ENDINGS = (".whl", ".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^file:", re.IGNORECASE)


def requirement_problem(text: Any) -> str | None:
    """Why ``text`` cannot go to the controller's ``pip download``, or None when it can.

    Only a plain PEP 508 requirement (a name, extras, a version specifier, a
    marker) is accepted: an option would override the download's fixed flags
    (``--no-binary`` makes pip run sdists' build backends on the controller), and
    a URL or a path would make pip fetch or build something that is not a wheel of
    the index.
    """
    if not isinstance(text, str):
        return f"expected a string, got {type(text).__name__}"
    entry = text.strip()
    if not entry:
        return "it is empty"
    if entry.split("=", 1)[0] in ("-r", "--requirement", "-c", "--constraint"):
        return (
            "it is a pip option, not a requirement: requirement files are not read on the"
            " controller; list the requirements themselves (wheelfleet_options or"
            " [tool.wheelfleet] test-requires take precedence over [tool.cibuildwheel])"
        )
    if entry.startswith("-"):
        return "it is a pip option, not a requirement"
    if _URL_SCHEME.match(entry):
        return "it is a URL; only requirements by name (and version) are downloaded"
    try:
        parsed = Requirement(entry)
    except InvalidRequirement as exc:
        if entry.startswith((".", "/", "~")) or "/" in entry or "\\" in entry:
            return "it is a path; only requirements by name (and version) are downloaded"
        return f"it is not a PEP 508 requirement ({' '.join(str(exc).split())})"
    if parsed.url:
        return (
            f"it is a direct reference to {parsed.url}; only requirements by name (and version)"
            " are downloaded"
        )
    if parsed.name.lower().endswith(_ARCHIVE_ENDINGS):
        return "its name ends like an archive, which pip would read as a local file"
    return None


def check_requirements(entries: Iterable[Any], origin: str) -> list[str]:
    """The entries stripped, or RequirementsError naming the first bad one and ``origin``
    (the file and key, or the setting, it came from)."""
    checked: list[str] = []
    for entry in entries:
        problem = requirement_problem(entry)
        if problem is not None:
            raise RequirementRefusedError(
                f"{origin}: refused requirement {entry!r}: {problem}. Build and test"
                " requirements must be PEP 508 requirements such as 'cython>=3' or"
                " 'numpy; python_version >= \"3.11\"'"
            )
        checked.append(entry.strip())
    return checked


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
REDACTED = "***"


def has_credentials(url: Any) -> bool:
    """Whether a URL carries credentials (``https://user:password@host/...``)."""
    return isinstance(url, str) and _URL_CREDENTIALS.search(url) is not None


def redact_url(text: Any) -> Any:
    """``text`` with the credentials of every URL in it replaced by ``***`` (anything that is
    not a string is returned as is): what may be shown, hashed or logged."""
    if not isinstance(text, str):
        return text
    return _URL_CREDENTIALS.sub(lambda match: f"{match['scheme']}{REDACTED}@", text)


def requirement_set(*groups: Iterable[str]) -> list[str]:
    """The requirements of all groups, stripped, without duplicates, sorted."""
    return sorted({item.strip() for group in groups for item in group if item and item.strip()})


def cache_key(
    requirements: Sequence[str],
    arch: str,
    tag: str,
    glibc: str,
    source: str = "wheelhouse",
    pip_args: Sequence[str] = (),
) -> str:
    """Names a wheelhouse: the requirement set, the target and how it is obtained."""
    document = {
        "version": 1,
        "requirements": requirement_set(requirements),
        "arch": architectures.resolve(arch).name,
        "tag": tag,
        "glibc": glibc,
        "source": source,
        "pip_args": list(pip_args),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:24]


def download_command(
    requirements: Sequence[str],
    arch: str,
    tag: str,
    glibc: str,
    dest: str,
    python: str = sys.executable,
    pip_args: Sequence[str] = (),
) -> list[str]:
    """The controller's ``pip download`` for the target platform (wheels only).

    The operator's ``pip_args`` come before the fixed flags that keep the download
    safe: ``--dest``, then ``--only-binary=:all:`` (the last word on binaries
    wins in pip), then ``--`` so that no requirement is ever read as an option.
    """
    wanted = check_requirements(requirement_set(requirements), "pip download")
    target = python_target(tag)
    argv = [
        python,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--implementation",
        target["implementation"],
        "--python-version",
        target["python_version"],
        "--abi",
        target["abi"],
    ]
    for platform in pip_platforms(arch, glibc):
        argv += ["--platform", platform]
    argv += [*pip_args, "--dest", dest, "--only-binary=:all:", "--", *wanted]
    return argv


_INDEX_OPTIONS = {
    "--index-url": "PIP_INDEX_URL",
    "-i": "PIP_INDEX_URL",
    "--extra-index-url": "PIP_EXTRA_INDEX_URL",
}


def secret_pip_args(pip_args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """``pip_args`` without the index URLs that carry credentials, and those URLs as pip's
    environment variables: a process's command line is readable by every user."""
    kept: list[str] = []
    env: dict[str, list[str]] = {}
    items = list(pip_args)
    index = 0
    while index < len(items):
        item = str(items[index])
        option, equals, value = item.partition("=")
        if option in _INDEX_OPTIONS and not equals and index + 1 < len(items):
            value, used = str(items[index + 1]), 2
        else:
            used = 1
        if option in _INDEX_OPTIONS and (equals or used == 2) and has_credentials(value):
            env.setdefault(_INDEX_OPTIONS[option], []).append(value)
        else:
            kept.extend(str(x) for x in items[index : index + used])
        index += used
    return kept, {name: " ".join(values) for name, values in env.items()}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pack(directory: Path, archive: Path) -> None:
    tmp = archive.with_name(f".{archive.name}.{os.getpid()}.tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as packed:
        root = tarfile.TarInfo(ARCHIVE_PREFIX)
        root.type, root.mode, root.mtime = tarfile.DIRTYPE, 0o755, 0
        packed.addfile(root)
        for entry in sorted(directory.iterdir()):
            if entry.is_file():
                info = packed.gettarinfo(str(entry), f"{ARCHIVE_PREFIX}/{entry.name}")
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
                info.mode = 0o644
                with entry.open("rb") as handle:
                    packed.addfile(info, handle)
    tmp.replace(archive)


def failure_message(arch: str, tag: str, output: str, requirements: Sequence[str]) -> str:
    """Explains a failed ``pip download``, with the lines of pip's output that say why."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    reason = "\n".join(lines[-8:])
    return (
        f"cannot download the build/test requirements ({', '.join(requirements)}) for "
        f"{tag} on {arch}: every one must exist as a wheel for that platform (or as a pure "
        "wheel) on the controller's index. Use wheel_build_requirements_source: index to let "
        f"the containers install from an index instead. pip said:\n{reason}"
    )


def ensure(
    requirements: Sequence[str],
    arch: str,
    tag: str,
    glibc: str,
    cache_dir: str | os.PathLike[str],
    *,
    source: str = "wheelhouse",
    python: str = sys.executable,
    pip_args: Sequence[str] = (),
    download: bool = True,
    timeout: float = 1800,
) -> dict[str, Any]:
    """Make sure the wheelhouse for the target exists; download it when it does not.

    With ``source='index'`` the wheelhouse is empty (containers install from
    the index). With ``download=False`` (check mode) nothing is written and
    ``changed`` says whether a download would happen.
    """
    wanted = check_requirements(
        requirement_set(requirements), f"the build/test requirements of {tag} on {arch}"
    )
    shown_args = [redact_url(str(arg)) for arg in pip_args]
    key = cache_key(wanted, arch, tag, glibc, source, shown_args)
    base = Path(cache_dir).expanduser().absolute() / "requirements"
    directory, archive = base / key, base / f"{key}.tar"
    result: dict[str, Any] = {
        "key": key,
        "path": str(directory),
        "archive": str(archive),
        "requirements": wanted,
        "arch": arch,
        "tag": tag,
        "glibc": glibc,
        "source": source,
    }
    if archive.is_file() and directory.is_dir():
        return dict(result, changed=False, files=sorted(p.name for p in directory.iterdir()))
    if not download:
        return dict(result, changed=True, files=[])
    with _locked(base / f"{key}.lock"):
        # Someone else may have finished it while this process waited for the lock.
        if archive.is_file() and directory.is_dir():
            return dict(result, changed=False, files=sorted(p.name for p in directory.iterdir()))
        scratch = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=base))
        try:
            if wanted and source == "wheelhouse":
                public_args, secret_env = secret_pip_args(pip_args)
                argv = download_command(
                    wanted, arch, tag, glibc, str(scratch), python=python, pip_args=public_args
                )
                try:
                    done = subprocess.run(
                        argv,
                        capture_output=True,
                        text=True,
                        timeout=timeout,
                        check=False,
                        env={**os.environ, **secret_env} if secret_env else None,
                    )
                except subprocess.TimeoutExpired:
                    raise RequirementsError(
                        f"pip download for {tag} on {arch} did not finish in {timeout} s"
                    ) from None
                if done.returncode != 0:
                    output = redact_url(done.stdout + done.stderr)
                    raise RequirementsError(failure_message(arch, tag, output, wanted))
            if directory.exists():
                shutil.rmtree(directory)
            scratch.replace(directory)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
        _pack(directory, archive)
    return dict(result, changed=True, files=sorted(p.name for p in directory.iterdir()))
