"""release.json and the reports are written under the wheelhouse lock, from unique synced
temporary files (src/wheelfleet/release.py, report.py over manifest.write_atomic)."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from wheelfleet import manifest, release, report


def waits_for_the_lock(home: Path, write: Callable[[], object], produced: list[Path]) -> None:
    """``write`` must not touch the wheelhouse while another holder has its lock."""
    home.mkdir(exist_ok=True)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (write(), done.set()))
    with manifest.locked(home):
        worker.start()
        assert not done.wait(0.3), "wrote while another process held the wheelhouse lock"
        assert not any(path.exists() for path in produced)
    worker.join(10)
    assert done.is_set()
    for path in produced:
        assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o644
    # Nothing but the results (and the logs directory) is left: no temporary file.
    assert sorted(p.name for p in home.iterdir()) == sorted([*(p.name for p in produced), "logs"])


def test_release_json_is_written_under_the_lock(tmp_path: Path) -> None:
    home = tmp_path / "wh"
    state = {"schema": release.SCHEMA, "release_id": "rel"}
    waits_for_the_lock(home, lambda: release.write_state(home, state), [home / "release.json"])
    assert json.loads((home / "release.json").read_text()) == state


def test_the_reports_are_written_under_the_lock(tmp_path: Path) -> None:
    home = tmp_path / "wh"
    built = report.Report.build(manifest.empty(), None, str(home))
    waits_for_the_lock(
        home, lambda: built.write(home), [home / report.MARKDOWN, home / report.HTML]
    )


def test_a_corrupt_manifest_is_no_empty_report(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("")
    with pytest.raises(manifest.ManifestError, match="is not valid JSON"):
        report.Report.from_wheelhouse(tmp_path)


def test_wheelfleet_report_names_a_corrupt_manifest(tmp_path: Path, capsys) -> None:
    from wheelfleet import cli

    (tmp_path / "manifest.json").write_text('{"version": 1, "wheels": [')
    assert cli.main(["report", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert f"the wheelhouse manifest {tmp_path / 'manifest.json'} is not valid JSON" in error
    assert not (tmp_path / "report.md").exists()
