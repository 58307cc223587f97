"""The progress records of a release's jobs, read from the file the CLI passes as
``WHEELFLEET_PROGRESS``.

The wheel_build role's watch action appends one JSON object per line to that file for
every record the build engine writes on a host (queued, building, repairing, testing,
built, done, failed, host_failed, finished: see the issue 18 contract, section 3), one
write per line. :class:`RecordTail` reads the lines completed since its last read, so
the CLI can show each job's state while the playbook runs; nothing here looks at a task.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV = "WHEELFLEET_PROGRESS"
"""The environment variable naming the progress file on the controller."""

SCHEMA = 1
STATES = frozenset(
    {
        "queued",
        "building",
        "repairing",
        "testing",
        "built",
        "done",
        "failed",
        "host_failed",
        "finished",
    }
)


@dataclass(frozen=True)
class Record:
    """One progress record: a job (or, for ``host_failed`` and ``finished``, its host)."""

    host: str
    state: str
    job: str | None = None
    slot: int | None = None
    step: str | None = None
    elapsed: float | None = None
    t: float | None = None
    """When the engine wrote it (epoch seconds)."""
    failure_kind: str | None = None
    failure_message: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Record | None:
        """The record of a decoded line, or None when it is not a record this CLI reads."""
        if not isinstance(data, Mapping) or data.get("v") != SCHEMA:
            return None
        state, host = data.get("state"), data.get("host")
        if state not in STATES or not isinstance(host, str) or not host:
            return None
        failure = data.get("failure") if isinstance(data.get("failure"), Mapping) else {}
        job = data.get("job")
        return cls(
            host=host,
            state=str(state),
            job=str(job) if job else None,
            slot=_number(data.get("slot"), int),
            step=str(data["step"]) if data.get("step") else None,
            elapsed=_number(data.get("elapsed"), float),
            t=_number(data.get("t"), float),
            failure_kind=str(failure["kind"]) if failure.get("kind") else None,
            failure_message=str(failure["message"]) if failure.get("message") else None,
        )


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return kind(value)


def parse_line(line: str | bytes) -> Record | None:
    """One line of the file as a record; None for a line that is not one (never raises)."""
    try:
        return Record.from_json(json.loads(line))
    except ValueError:
        return None


class RecordTail:
    """Reads the records appended to a file since the last read, whole lines only."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.offset = 0
        self._partial = b""

    def read(self) -> list[Record]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return []
        self.offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        # The last piece has no newline yet: a line still being written.
        self._partial = lines.pop()
        return [record for line in lines if line.strip() if (record := parse_line(line))]


def create(directory: str | os.PathLike[str]) -> Path:
    """An empty progress file in ``directory`` that only its owner can read."""
    path = Path(directory) / "progress.jsonl"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(descriptor)
    return path
