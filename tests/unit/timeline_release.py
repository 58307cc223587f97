"""A finished multi-host release with step times, for the timeline and report tests.

The state comes from wheelfleet.release.start (the plan, its hosts and their slots); its
one round is then written in as the release rounds leave it in release.json. Step times
are what the build engine records: each host runs its jobs on its slots, a slot's first
job starts the container, copies the inputs in and runs before-all, aarch64 builds take
longer, and the controller publishes each job's wheels after it. One job fails in its
test: release.json keeps its host, slot and steps up to the failure.
"""

from __future__ import annotations

from typing import Any

from wheelfleet import release
from wheelfleet.plan import Host, make_plan, matrix_jobs

PROJECT = "yamlcount"
STEP_KINDS = {
    "container_start": "start",
    "copy_in": "start",
    "before_all": "before_all",
    "before_build": "build",
    "build": "build",
    "repair": "repair",
    "copy_out": "repair",
    "test_start": "test",
    "test": "test",
    "publish": "copy",
}
"""The kind of bar each engine step is drawn as, written out from the issue's contract
(not read from wheelfleet.timeline, whose table the tests check)."""
STARTED = 1_765_000_000.0
"""The release's start (epoch seconds)."""
PREPARATION = 14.0
"""Provisioning, image checks and planning before the first job starts."""
FAILING = "cp313-manylinux_x86_64"
"""The job whose test fails."""

HOSTS = (
    Host("fleet-amd64-1", "x86_64", 2, frozenset({"aarch64"})),
    Host("fleet-amd64-2", "x86_64", 2, frozenset({"aarch64"})),
    Host("fleet-arm64", "aarch64", 2),
)


def job_steps(identifier: str, start: float, first_on_slot: bool) -> list[dict[str, Any]]:
    """The engine's step records of one job starting at ``start``."""
    emulated_or_arm = identifier.endswith("aarch64")
    durations = []
    if first_on_slot:
        durations += [("container_start", 0.4), ("copy_in", 0.3), ("before_all", 6.5)]
    durations += [
        ("before_build", 0.6),
        ("build", 21.0 if emulated_or_arm else 9.0),
        ("repair", 1.6),
        ("copy_out", 0.2),
        ("test_start", 0.5),
        ("test", 4.2 if emulated_or_arm else 2.4),
    ]
    if identifier == FAILING:
        durations[-1] = ("test", 1.1)  # the failing test stops early
    else:
        durations.append(("publish", 0.7))
    steps, now = [], start
    for name, seconds in durations:
        steps.append({"step": name, "start": round(now, 3), "end": round(now + seconds, 3)})
        now += seconds
    return steps


def _entry(state: dict[str, Any], identifier: str, host: str, slot: int, steps: list) -> dict:
    job = state["jobs"][identifier]
    arch, python_tag = job["architecture"], job["python_tag"]
    file = f"{PROJECT}-1.0.0-{python_tag}-manylinux_2_17_{arch}.whl"
    return {
        "file": file,
        "sha256": "ab" * 32,
        "size": 68499,
        "tags": {"platform": [f"manylinux_2_17_{arch}"]},
        "project": PROJECT,
        "version": "1.0.0",
        "architecture": arch,
        "python_tag": python_tag,
        "python": job["python"],
        "identifier": identifier,
        "grafted": ["libyaml-0-8ec1a697.so.2.0.9"],
        "host": host,
        "slot": slot,
        "image": f"wheelfleet/forky:{arch}",
        "image_digest": "sha256:" + "cd" * 32,
        "emulated": not job["native"],
        "build_seconds": next(s["end"] - s["start"] for s in steps if s["step"] == "build"),
        "timings": {s["step"]: round(s["end"] - s["start"], 3) for s in steps},
        "steps": steps,
        "job": job["job"],
        "run_id": release.run_id(state["release_id"], 1),
    }


def multi_host_release(
    hosts: tuple[Host, ...] = HOSTS, pythons: tuple[str, ...] = ("cp311", "cp312", "cp313", "cp314")
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(release state, manifest): by default 8 jobs (x86_64 and aarch64 x cp311..cp314) on
    three hosts of two slots each, one round, one job failed in its test."""
    plan = make_plan(matrix_jobs(["x86_64", "aarch64"], pythons), hosts).to_json()
    state = release.start(plan, release_id="20251206T101500-3f9a1c", project=PROJECT)
    state["started_at"] = STARTED
    entries: list[dict[str, Any]] = []
    for host, names in state["assignments"].items():
        capacity = plan["hosts"][host]["capacity"]
        free = [STARTED + PREPARATION + 0.3 * slot for slot in range(capacity)]
        used = [False] * capacity
        for name in names:
            slot = min(range(capacity), key=lambda s: free[s])
            steps = job_steps(name, free[slot], not used[slot])
            used[slot] = True
            free[slot] = steps[-1]["end"] + 0.2
            job = state["jobs"][name]
            # The job as the release rounds leave it in release.json, with where and when
            # it ran.
            job.update(host=host, slot=slot, steps=steps, round=1)
            if name == FAILING:
                job.update(
                    status=release.FAILED,
                    step="test",
                    reason="E   AssertionError: count('a: 1') == 2 <yaml & friends>",
                )
            else:
                entry = _entry(state, name, host, slot, steps)
                entries.append(entry)
                job.update(
                    status=release.DONE,
                    wheels=[entry["file"]],
                    seconds=round(sum(entry["timings"].values()), 1),
                )
            job["attempts"].append({"round": 1, "host": host, "outcome": job["status"]})
    document = {"version": 1, "wheels": {e["file"]: e for e in entries}}
    last = max(s["end"] for job in state["jobs"].values() for s in job["steps"])
    state.update(complete=True, assignments={}, finished_at=round(last + 3.0, 3))
    return state, document
