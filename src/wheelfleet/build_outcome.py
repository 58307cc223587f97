"""What became of one host's planned jobs: the role's ``wheel_build_outcome`` and summary.

The plan says which jobs were to be built, which were up to date and which
could not run on the host; the watch action (``wheel_build_watch``) says, for
each job it watched, whether it was built, failed or left unfinished, and
whether the host itself failed. Both are structured: nothing here reads a
task's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wheelfleet import accelerator, failures


def _message(failure: Any, default: str) -> str:
    if isinstance(failure, Mapping):
        return str(failure.get("message") or default)
    return str(failure or default)


def outcome(
    planned: Iterable[Mapping[str, Any]],
    watched: Mapping[str, Any] | None = None,
    *,
    host_failure: str | None = None,
    input_error: str | None = None,
) -> dict[str, Any]:
    """The role's outcome (``wheel_build_outcome``):
    ``{host_failure, input_error, built, up_to_date, failed: [{id, message, slot, steps}],
    unfinished, failure_kind}``; ``failure_kind`` is None when nothing failed, else the kind the
    role's last task stops with (:mod:`wheelfleet.failures`).

    A job the plan sent to the build that the watch did not report (the launch
    failed, the host went away) is ``unfinished``: a later round replans it. When
    nothing ran and nothing failed (check mode), it is in no list.
    """
    watched = watched or {}
    ran = "jobs" in watched
    results = watched.get("jobs") or {}
    host_failure = host_failure or watched.get("host_failure") or None
    found: dict[str, Any] = {
        "host_failure": host_failure,
        "input_error": input_error or None,
        "built": [],
        "up_to_date": [],
        "failed": [],
        "unfinished": [],
    }
    for job in planned:
        name = str(job["id"])
        if job.get("status") == "up-to-date":
            found["up_to_date"].append(name)
        elif job.get("status") == "failed":
            found["failed"].append({"id": name, "message": str(job.get("reason") or "failed")})
        elif job.get("status") == "build":
            result = results.get(name) or {}
            status = result.get("status")
            if status == "built":
                found["built"].append(name)
            elif status == "failed":
                message = _message(result.get("failure"), "failed")
                # Where and when it ran, for the report's timeline.
                found["failed"].append(
                    {
                        "id": name,
                        "message": message,
                        "slot": result.get("slot"),
                        "steps": list(result.get("steps") or []),
                    }
                )
            elif ran or host_failure:
                found["unfinished"].append(name)
    found["failure_kind"] = failure_kind(found)
    return found


def failure_kind(found: Mapping[str, Any]) -> str | None:
    """The kind of the outcome's failure: an input error, else a host failure (which
    unfinished jobs are part of), else failed jobs; None when nothing failed."""
    if found.get("input_error"):
        return failures.INPUT
    if found.get("host_failure") or found.get("unfinished"):
        return failures.HOST
    if found.get("failed"):
        return failures.JOB
    return None


def summary(
    planned: Iterable[Mapping[str, Any]],
    watched: Mapping[str, Any] | None,
    host: str = "",
    done: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Per job: built, up to date (skipped), failed or unfinished, with a text for the
    play's output; ``done`` is the outcome when already known (:func:`outcome`)."""
    planned = list(planned)
    results = (watched or {}).get("jobs") or {}
    done = done or outcome(planned, watched)
    by_id = {str(job["id"]): job for job in planned}

    def label(name: str) -> str:
        job = by_id[name]
        return f"{job['python_tag']} {job['arch']}"

    built = []
    for name in done["built"]:
        result = results.get(name) or {}
        built.append(
            {
                "job": name,
                "label": label(name),
                "wheels": [path.rsplit("/", 1)[-1] for path in result.get("published") or []],
                "timings": dict(result.get("timings") or {}),
                "emulated": by_id[name].get("emulated"),
                "accelerator": result.get("accelerator"),
            }
        )
    skipped = [
        {
            "job": name,
            "label": label(name),
            "wheels": [entry["file"] for entry in by_id[name].get("entries") or []],
        }
        for name in done["up_to_date"]
    ]
    failed = []
    for item in done["failed"]:
        name = item["id"]
        failure = (results.get(name) or {}).get("failure") or {}
        step = by_id[name].get("step") or (failure.get("step") if failure else None) or "?"
        failed.append({"job": name, "step": step, "reason": item["message"], "label": label(name)})
    unfinished = [{"job": name, "label": label(name)} for name in done["unfinished"]]
    lines = []
    if done.get("input_error"):
        lines.append(f"{host + ': ' if host else ''}the project was refused:")
        lines.extend(f"    {line}" for line in str(done["input_error"]).splitlines())
    elif done.get("host_failure"):
        lines.append(f"{host + ': ' if host else ''}the host failed:")
        lines.extend(f"    {line}" for line in str(done["host_failure"]).splitlines())
    lines += [
        f"{host + ': ' if host else ''}{len(built)} built, {len(skipped)} up to date "
        f"(skipped), {len(failed)} failed"
        + (f", {len(unfinished)} unfinished" if unfinished else "")
    ]
    for item in built:
        steps = ", ".join(f"{name} {secs:.1f}s" for name, secs in item["timings"].items())
        mode = accelerator.describe(bool(item["emulated"]), item.get("accelerator"))
        lines.append(f"built {item['label']} ({mode}): {', '.join(item['wheels'])} [{steps}]")
    for item in skipped:
        lines.append(
            f"up to date {item['label']}: {', '.join(item['wheels'])} "
            "(same source, image and settings; not rebuilt)"
        )
    for item in failed:
        lines.append(f"FAILED {item['label']} ({item['job']}) at step {item['step']}:")
        lines.extend(f"    {line}" for line in str(item["reason"]).splitlines())
    for item in unfinished:
        lines.append(f"UNFINISHED {item['label']} ({item['job']}), to be built again")
    return {
        "built": built,
        "skipped": skipped,
        "failed": failed,
        "unfinished": unfinished,
        "text": "\n".join(lines),
    }
