"""SOURCE_DATE_EPOCH of a project: the one time that may enter its wheels' bytes.

Read on the controller from the source itself, so that every host and every
later rebuild gets the same value:

- ``environment``: SOURCE_DATE_EPOCH set in the controller's environment wins,
  as the reproducible-builds convention asks (``wheelfleet verify`` sets it to
  the value its manifest recorded);
- ``git``: in a git checkout, the time of the last commit that touched the project
  directory (``git log -1 --format=%ct -- .``, run with hooks, pager and fsmonitor
  turned off and no system configuration: no project code runs);
- ``sdist``: the newest time among the sdist's members;
- ``directory``: otherwise, the newest modification time among the files packed
  (a plain directory: touching a file changes it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

ENV = "SOURCE_DATE_EPOCH"
ORIGINS = ("environment", "git", "sdist", "directory")
GIT_TIMEOUT = 10.0
# Nothing of the repository's configuration may run a program: no hooks, no fsmonitor,
# no pager, no credential or ssh helper (git log needs none of them).
_GIT_SAFE = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.pager=cat",
    "-c",
    "safe.directory=*",
)


class EpochError(ValueError):
    """SOURCE_DATE_EPOCH of the environment is not a whole number of seconds."""


def from_environment(environ: Mapping[str, str]) -> int | None:
    value = environ.get(ENV)
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if not text.isdigit():
        raise EpochError(
            f"{ENV}={value!r} in the environment is not a whole number of seconds since 1970"
        )
    return int(text)


def git_commit_time(directory: Path, timeout: float = GIT_TIMEOUT) -> int | None:
    """The time of the last commit that touched ``directory`` in the git checkout that
    holds it; None when it is in none, no commit touched it, or git cannot tell."""
    git = shutil.which("git")
    if git is None:
        return None
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }
    try:
        done = subprocess.run(
            [git, *_GIT_SAFE, "-C", str(directory), "log", "-1", "--format=%ct", "--", "."],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    return int(value) if done.returncode == 0 and value.isdigit() else None


def newest(times: Iterable[float]) -> int:
    return max((int(value) for value in times), default=0)


def source_date_epoch(
    path: str | os.PathLike[str],
    kind: str,
    member_times: Iterable[float],
    environ: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """SOURCE_DATE_EPOCH of a project and where it came from (one of :data:`ORIGINS`).

    ``kind`` is the project's (``directory`` or ``sdist``) and ``member_times`` the
    modification times of the files packed from it."""
    found = from_environment(os.environ if environ is None else environ)
    if found is not None:
        return found, "environment"
    if kind == "directory":
        committed = git_commit_time(Path(path))
        if committed is not None:
            return committed, "git"
        return newest(member_times), "directory"
    return newest(member_times), "sdist"


def describe(origin: str) -> str:
    """How the report and verify name an origin."""
    return {
        "environment": "SOURCE_DATE_EPOCH of the controller's environment",
        "git": "the git checkout's last commit time",
        "sdist": "the sdist's newest member time",
        "directory": "the newest modification time of the packed files (a plain directory)",
    }.get(origin, origin or "not recorded")
