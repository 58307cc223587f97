"""plugins/module_utils/native_userland: what the build host keeps of exported roots, and
how it reads the probe (the export, mount and setup run in tests/integration)."""

from __future__ import annotations

import os
from pathlib import Path

from ansible_collections.wheelfleet.fleet.plugins.module_utils import native_userland as host
from ansible_collections.wheelfleet.fleet.plugins.module_utils.atomic_file import replace

MARKER = ".wheelfleet-native-root"


def exported(directory: Path, image_id: str, used: float) -> Path:
    root = Path(host.root_dir(str(directory), image_id))
    (root / "usr").mkdir(parents=True)
    (root / MARKER).write_text(f"{image_id}\n")
    os.utime(root / MARKER, (used, used))
    return root


def test_roots_of_other_images_unused_for_days_are_pruned(tmp_path: Path):
    now = 1_000_000_000.0
    wanted = exported(tmp_path, "sha256:aaaa", now - 10 * host.PRUNE_AFTER)
    stale = exported(tmp_path, "sha256:bbbb", now - host.PRUNE_AFTER - 60)
    recent = exported(tmp_path, "sha256:cccc", now - 60)
    unfinished = Path(host.root_dir(str(tmp_path), "sha256:dddd"))
    unfinished.mkdir()  # an export under way: no marker yet
    (tmp_path / "toolchain-zig.tar").write_text("")
    removed = host.prune_roots(str(tmp_path), keep=str(wanted), marker=MARKER, now=now)
    assert removed == [str(stale)]
    assert not stale.exists()
    # The one the run wants, one in use by another run, and one being made all stay.
    assert wanted.is_dir() and recent.is_dir() and unfinished.is_dir()
    assert (tmp_path / "toolchain-zig.tar").exists()


def test_the_probe_must_show_the_targets_suffix_and_platform():
    plan = {
        "python_version": "3.11",
        "ext_suffix": ".cpython-311-aarch64-linux-gnu.so",
        "platform": "linux-aarch64",
    }
    good = ".cpython-311-aarch64-linux-gnu.so\nlinux-aarch64\n"
    assert host.probe_problem(plan, 0, good) is None
    host_view = ".cpython-311-x86_64-linux-gnu.so\nlinux-x86_64\n"
    assert "builds for .cpython-311-x86_64-linux-gnu.so linux-x86_64" in host.probe_problem(
        plan, 0, host_view
    )
    failed = host.probe_problem(plan, 127, "exec format error\n")
    assert failed.startswith("the host's python3.11 does not run: exec format error")


def test_a_replaced_file_is_whole_with_its_mode_and_leaves_nothing_beside_it(tmp_path: Path):
    target = tmp_path / "sitecustomize.py"
    target.write_text("old")
    replace(str(target), b"new text\n")
    assert target.read_bytes() == b"new text\n"
    assert target.stat().st_mode & 0o777 == 0o644
    assert [path.name for path in tmp_path.iterdir()] == ["sitecustomize.py"]
