"""A release reads its project once (issue: one job model from plan to manifest).

The project is untrusted input and may be large: the controller reads and packs it once,
in the first input check, and every later step (the plan passes, each host's round, the
role's own plan) takes that snapshot. Proven on a real release of the example under
strace, which records every file the controller's processes open: the project's
directory is listed once, and each of its files is opened once, by one process."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REPO, WHEELFLEET

EXAMPLE = REPO / "examples" / "yamlcount"
OPEN = re.compile(r'^(?P<pid>\d+)\s+openat\(AT_FDCWD, "(?P<path>[^"]+)", (?P<flags>[A-Z_|]+)')


@pytest.mark.skipif(
    shutil.which("strace") is None, reason="needs strace (scripts/test installs it)"
)
def test_a_release_reads_its_project_once(docker_client, tmp_path: Path) -> None:
    # The builder image the suite's setup made (playbooks/images.yml); --skip-images.
    docker_client.images.get("wheelfleet/bookworm:x86_64")
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    trace = tmp_path / "openat.trace"
    run = subprocess.run(
        [
            *("strace", "--follow-forks", "--quiet=all", "--trace=openat", "--signal=none"),
            *("--output", str(trace)),
            *(str(WHEELFLEET), "release", str(project), "--arch", "x86_64", "--python", "cp311"),
            *("--skip-provision", "--skip-images", "--wheelhouse", str(tmp_path / "wheelhouse")),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert list((tmp_path / "wheelhouse").glob("yamlcount-*manylinux*x86_64.whl"))

    listings: list[str] = []
    opened: Counter[str] = Counter()
    readers: set[str] = set()
    for line in trace.read_text().splitlines():
        found = OPEN.match(line)
        if found is None or found["flags"].startswith("O_RDONLY|O_CLOEXEC|O_PATH"):
            continue
        path = found["path"]
        if path == str(project) and "O_DIRECTORY" in found["flags"]:
            listings.append(found["pid"])
        elif (
            path.startswith(f"{project}/")
            and "O_DIRECTORY" not in found["flags"]
            and "ENOENT" not in line
        ):
            opened[path] += 1
            readers.add(found["pid"])
    assert len(listings) == 1, f"the project's directory was listed {len(listings)} times"
    assert readers == {listings[0]}, f"processes that read the project: {sorted(readers)}"
    assert opened[f"{project}/pyproject.toml"] == 1
    assert set(opened.values()) == {1}, {path: n for path, n in opened.items() if n > 1}
