# Copyright: wheelfleet developers
# Apache License 2.0
"""The build engine's progress records: JSON lines in ``<workdir>/progress.jsonl``.

The engine appends one record per line, each with one write and a flush, under
a lock shared by its threads; readers take only complete lines, from a byte
offset, so they can follow the file while it grows.
"""

from __future__ import annotations

import json
import os
import threading
import time

PROGRESS_FILE = "progress.jsonl"
ENGINE_FILE = "engine.json"
VERSION = 1

# The state a job is in while a step runs.
STATE_OF_STEP = {
    "container_start": "building",
    "copy_in": "building",
    "before_all": "building",
    "before_build": "building",
    "build": "building",
    "repair": "repairing",
    "copy_out": "repairing",
    "test_start": "testing",
    "test": "testing",
}


def state_of_step(step: str) -> str:
    """The progress state of a step (a step of a project's own name counts as building)."""
    return STATE_OF_STEP.get(step, "building")


class ProgressLog:
    """Appends records to the progress file; safe to share between threads."""

    def __init__(self, workdir: str, host: str) -> None:
        self.path = os.path.join(workdir, PROGRESS_FILE)
        self.host = host
        self.count = 0
        # Reentrant: a signal handler in the main thread may write while it holds it.
        self._lock = threading.RLock()

    def write(
        self,
        state: str,
        job: str | None = None,
        slot: int | None = None,
        step: str | None = None,
        elapsed: float | None = None,
        failure: dict | None = None,
    ) -> dict:
        record = {
            "v": VERSION,
            "t": round(time.time(), 3),
            "host": self.host,
            "job": job,
            "slot": slot,
            "state": state,
            "step": step,
            "elapsed": None if elapsed is None else round(elapsed, 3),
            "failure": failure,
        }
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        with self._lock:
            # O_APPEND and one write per line: a reader never sees half a record from us.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
            self.count += 1
        return record


def read_records(path: str, offset: int) -> tuple[list, int]:
    """The complete records after ``offset`` bytes, and the offset after the last of them.

    A line still being written (no newline yet) is left for the next read; a line that is
    not JSON (which the engine never writes) is skipped.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    records = []
    for line in data[:end].splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records, offset + end


def write_engine_file(workdir: str) -> None:
    """Who runs the engine (its pid), so a reader can tell it died without a word."""
    path = os.path.join(workdir, ENGINE_FILE)
    with open(path + ".tmp", "w") as handle:
        json.dump({"pid": os.getpid(), "started": time.time()}, handle)
    os.replace(path + ".tmp", path)


def engine_alive(workdir: str) -> bool | None:
    """Whether the engine process of ``workdir`` still runs (None: it never started)."""
    try:
        with open(os.path.join(workdir, ENGINE_FILE)) as handle:
            pid = int(json.load(handle)["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by the async wrapper) is not running.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
