"""A release whose controller is killed (SIGKILL, no chance to tidy up) mid-build leaves
its build container and its staging directory behind; the next release removes them and
completes, and no earlier wheel leaves the manifest.

On test_release's fleet (two container hosts sharing this machine's engine), with the
example, x86_64 cp311 only: a first release, a forced release killed with kill -9 (the
`wheelfleet release` process and every process under it, ansible-playbook included) while
its job builds, then the same forced release again. About 3 minutes on two cores.

Only leftovers of dead controller processes are removed: test_release's `released`
fixture runs two releases at once on the same hosts, which both complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import WHEELFLEET, document, wheelfleet
from tests.integration.test_release import (  # noqa: F401 (fixtures)
    CP311,
    RUN,
    _remove_release_containers,
    builder_images,
    fleet,
    inventory,
    manifest,
    release_args,
    wheels_in,
)

pytestmark = [pytest.mark.engine]


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (children, their children...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def release_containers(docker_client, release: str) -> list[str]:
    return sorted(
        container.name
        for container in docker_client.containers.list(
            all=True, filters={"label": "org.wheelfleet.run"}
        )
        if container.labels["org.wheelfleet.run"].startswith(f"{release}-r")
    )


def test_a_release_killed_with_sigkill_is_tidied_by_the_next(docker_client, inventory, fleet):  # noqa: F811
    wheelhouse = fleet["dir"] / "wheelhouse-killed"
    started = time.monotonic()
    first = wheelfleet(
        *release_args(inventory, wheelhouse, "before-kill", "--arch", "x86_64", *CP311),
        cwd=fleet["dir"],
    )
    assert first.returncode == 0, first.stderr[-6000:]
    earlier = wheels_in(wheelhouse)
    assert len(earlier) == 1 and sorted(manifest(wheelhouse)) == earlier

    killed = f"{RUN}-killed"
    process = subprocess.Popen(
        [
            str(WHEELFLEET),
            *release_args(inventory, wheelhouse, "killed", "--arch", "x86_64", "--force", *CP311),
        ],
        cwd=fleet["dir"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stderr is not None
    seen = []
    try:
        for line in process.stderr:  # wait until the job builds
            seen.append(line)
            if "cp311-manylinux_x86_64" in line and "building" in line:
                break
        time.sleep(3)
        # kill -9 of the whole tree: the CLI, ansible-runner's ansible-playbook (in a
        # session of its own) and its workers. Nothing of it can clean up.
        # Frozen first (SIGSTOP), so that none forks a new process in between.
        victims: set[int] = set()
        while found := {process.pid, *descendants(process.pid)} - victims:
            for pid in found:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            victims |= found
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL, "".join(seen)

        stale_containers = release_containers(docker_client, killed)
        assert stale_containers, "".join(seen)
        staging = wheelhouse / ".staging"
        stale_staging = sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []
        assert any(name.startswith(killed) for name in stale_staging), stale_staging
        assert wheels_in(wheelhouse) == earlier

        rerun = wheelfleet(
            *release_args(
                inventory, wheelhouse, "after-kill", "--arch", "x86_64", "--force", *CP311
            ),
            cwd=fleet["dir"],
        )
        seconds = time.monotonic() - started
        print(f"\n[wall time] release, killed release, re-run (x86_64 cp311): {seconds:.1f} s")
        assert rerun.returncode == 0, rerun.stderr[-6000:]
        assert document(rerun)["status"] == "successful"
        assert release_containers(docker_client, killed) == []
        assert not staging.exists(), sorted(p.name for p in staging.rglob("*"))
        entries = manifest(wheelhouse)
        assert set(earlier) <= set(entries), (earlier, sorted(entries))
        assert wheels_in(wheelhouse) == sorted(entries)
        # Nothing of any of this test's releases is left on the engine.
        assert release_containers(docker_client, f"{RUN}-after-kill") == []
        assert json.loads((wheelhouse / "release.json").read_text())
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        _remove_release_containers(docker_client)
