"""SOURCE_DATE_EPOCH read from real sdists, a real git checkout and plain directories."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from wheelfleet import source, source_epoch

PYPROJECT = b'[project]\nname = "demo"\nversion = "1.0"\n'
NO_ENV: dict[str, str] = {}


def write_sdist(path: Path, times: dict[str, int]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, mtime in times.items():
            data = PYPROJECT if name.endswith("pyproject.toml") else b"x = 1\n"
            info = tarfile.TarInfo(f"demo-1.0/{name}")
            info.size, info.mtime = len(data), mtime
            archive.addfile(info, io.BytesIO(data))
    return path


def epoch_of(path: Path, environ: dict[str, str] | None = None) -> tuple[int, str]:
    kind, files = source.load_files(path)
    return source_epoch.source_date_epoch(path, kind, (f.mtime for f in files), environ or {})


def test_an_sdist_gives_its_newest_member_time(tmp_path: Path) -> None:
    sdist = write_sdist(
        tmp_path / "demo-1.0.tar.gz", {"pyproject.toml": 1_600_000_000, "a.py": 1_650_000_000}
    )
    assert epoch_of(sdist) == (1_650_000_000, "sdist")


def test_a_zip_sdist_gives_its_newest_member_time_read_as_utc(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            zipfile.ZipInfo("demo-1.0/pyproject.toml", (2023, 11, 14, 22, 13, 20)), PYPROJECT
        )
        archive.writestr(zipfile.ZipInfo("demo-1.0/a.py", (2020, 1, 1, 0, 0, 0)), b"")
    assert epoch_of(path) == (1_700_000_000, "sdist")


def test_a_plain_directory_gives_its_newest_packed_file_time(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    (project / "build").mkdir(parents=True)
    (project / "pyproject.toml").write_bytes(PYPROJECT)
    (project / "a.py").write_text("x = 1\n")
    os.utime(project / "pyproject.toml", (1_500_000_000, 1_500_000_000))
    os.utime(project / "a.py", (1_600_000_000, 1_600_000_000))
    (project / "build" / "newer.o").write_text("not packed: excluded")  # its time is now
    assert epoch_of(project) == (1_600_000_000, "directory")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_git_checkout_gives_the_last_commit_time_of_the_project(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    project = repo / "demo"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_bytes(PYPROJECT)
    (repo / "other.txt").write_text("elsewhere\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@e", GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp_path))  # fmt: skip

    def git(*args: str, when: int | None = None) -> None:
        stamp = {"GIT_COMMITTER_DATE": f"@{when} +0000", "GIT_AUTHOR_DATE": f"@{when} +0000"}
        subprocess.run(["git", "-C", str(repo), *args], env=dict(env, **(stamp if when else {})),
                       check=True, capture_output=True)  # fmt: skip

    git("init", "-q")
    git("add", "demo")
    git("commit", "-q", "-m", "project", when=1_600_000_000)
    git("add", "other.txt")
    git("commit", "-q", "-m", "not the project", when=1_700_000_000)
    # A hook would run project code: wheelfleet's git never runs one.
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {tmp_path}/hook-ran\n")
    hook.chmod(0o755)
    assert epoch_of(project) == (1_600_000_000, "git")
    assert not (tmp_path / "hook-ran").exists()
    untracked = repo / "untracked"
    untracked.mkdir()
    (untracked / "pyproject.toml").write_bytes(PYPROJECT)
    os.utime(untracked / "pyproject.toml", (1_400_000_000, 1_400_000_000))
    assert epoch_of(untracked) == (1_400_000_000, "directory")


def test_the_environment_wins_and_a_bad_value_is_refused(tmp_path: Path) -> None:
    sdist = write_sdist(tmp_path / "demo-1.0.tar.gz", {"pyproject.toml": 1_600_000_000})
    assert epoch_of(sdist, {"SOURCE_DATE_EPOCH": "1234"}) == (1234, "environment")
    assert epoch_of(sdist, {"SOURCE_DATE_EPOCH": ""}) == (1_600_000_000, "sdist")
    with pytest.raises(source_epoch.EpochError, match="SOURCE_DATE_EPOCH='yesterday'"):
        epoch_of(sdist, {"SOURCE_DATE_EPOCH": "yesterday"})


def test_prepare_returns_the_epoch_with_its_origin(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    sdist = write_sdist(tmp_path / "demo-1.0.tar.gz", {"pyproject.toml": 1_600_000_000})
    prepared = source.prepare(sdist, tmp_path / "cache")
    assert (prepared["source_date_epoch"], prepared["source_date_epoch_origin"]) == (
        1_600_000_000,
        "sdist",
    )
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "soon")
    with pytest.raises(source.ProjectError, match="not a whole number"):
        source.prepare(sdist, tmp_path / "cache")
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    # The packed archive carries no time: the same source packs to the same bytes.
    again = write_sdist(tmp_path / "again-1.0.tar.gz", {"pyproject.toml": 1_700_000_000})
    assert source.prepare(again, tmp_path / "cache2")["source_hash"] == prepared["source_hash"]
