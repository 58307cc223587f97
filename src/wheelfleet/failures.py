"""Failure kinds: what every failure that reaches the CLI or a release round says it is.

A failed wheelfleet module or action returns ``failure_kind`` in its result; the
release rounds (:mod:`wheelfleet.release`) and the CLI's exit code read that
key, never the name of the task that failed:

* ``input``: an input check refused (the project, the matrix, a role input);
  nothing would change by running again on other hosts. Exit code 2.
* ``host``: the host could not do its work (unreachable, its engine gone or
  restarted mid-job); its unfinished jobs are planned again. Exit code 1.
* ``job``: one job's build, repair or test failed; the others go on. Exit code 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

KEY = "failure_kind"
"""The result key that carries the kind."""

INPUT = "input"
HOST = "host"
JOB = "job"
KINDS = (INPUT, HOST, JOB)


def kind_of(result: Mapping[str, Any] | None) -> str | None:
    """The kind a failed result declares, or None when it declares none (or a bad one)."""
    if not isinstance(result, Mapping):
        return None
    value = result.get(KEY)
    return value if value in KINDS else None


def only_input(kinds: Iterable[str | None]) -> bool:
    """Whether there were failures and every one of them was an input check's refusal."""
    seen = list(kinds)
    return bool(seen) and all(kind == INPUT for kind in seen)


def worst(kinds: Iterable[str | None]) -> str | None:
    """One kind for several failures: ``host`` over ``job`` over ``input``; None for none.

    A failure of no declared kind counts as ``job``: it is not the user's input."""
    seen = [kind or JOB for kind in kinds]
    for kind in (HOST, JOB, INPUT):
        if kind in seen:
            return kind
    return None
