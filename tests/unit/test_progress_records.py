"""src/wheelfleet/progress_records.py and the runner's follower: the CLI reads the jobs'
progress records from the file it passes as WHEELFLEET_PROGRESS, whole lines only."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

from wheelfleet import progress_records
from wheelfleet.progress_records import Record, RecordTail, parse_line
from wheelfleet.runner import RecordFollower


def line(**fields) -> str:
    base = {"v": 1, "t": 1.0, "host": "a", "job": "j", "slot": 0, "state": "building"}
    return json.dumps({**base, **fields}) + "\n"


def append(path: Path, text: str) -> None:
    # One write per line with O_APPEND, as the watch action writes them.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(descriptor, text.encode())
    finally:
        os.close(descriptor)


def test_a_record_keeps_its_fields_and_failure():
    record = parse_line(
        line(state="failed", step="test", elapsed=2.5, failure={"kind": "job", "message": "x"})
    )
    assert record == Record(
        host="a",
        state="failed",
        job="j",
        slot=0,
        step="test",
        elapsed=2.5,
        t=1.0,
        failure_kind="job",
        failure_message="x",
    )


def test_lines_that_are_not_records_are_skipped():
    for text in ("not json", "[]", line(v=2), line(state="exploded"), line(host="")):
        assert parse_line(text) is None
    assert parse_line(line(slot=True, elapsed="soon")) == Record(
        host="a", state="building", job="j", t=1.0
    )


def test_the_tail_reads_whole_lines_only(tmp_path):
    path = progress_records.create(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    tail = RecordTail(path)
    assert tail.read() == []
    first, second = line(step="build"), line(state="repairing", step="repair")
    append(path, first + second[:10])  # the second line is still being written
    assert [r.step for r in tail.read()] == ["build"]
    append(path, second[10:] + "garbage\n")
    assert [r.state for r in tail.read()] == ["repairing"]
    assert tail.read() == []


def test_the_follower_passes_records_on_while_they_are_written(tmp_path):
    path = progress_records.create(tmp_path)
    seen: list[Record] = []
    arrived = threading.Event()

    def on_record(record: Record) -> None:
        seen.append(record)
        arrived.set()

    follower = RecordFollower(path, on_record)
    follower.start()
    try:
        append(path, line(step="before_all"))
        # Read by the follower's own thread, before it is stopped.
        assert arrived.wait(5)
        assert [r.step for r in seen] == ["before_all"]
        append(path, line(state="done", step="publish"))
        time.sleep(0.01)
    finally:
        follower.stop()
    # stop() passes on what the file holds at the end.
    assert [r.state for r in seen] == ["building", "done"]
