"""A release across the fleet: its inputs, and its rounds of builds until every wheel is in.

``playbooks/release.yml`` drives a release; this module keeps its state, as a
plain JSON-ready dict, so that the playbook (through the thin action plugins
``release_inputs`` and ``release_round``), the ``wheelfleet`` command and the
report (:mod:`wheelfleet.report`) all read the same thing.

A release:

1. checks its inputs (:func:`check_inputs`) before any host is touched;
2. starts from the fleet's plan (:mod:`wheelfleet.plan`), one job per wheel
   (:func:`start`): round 1 gives each host the jobs the plan assigned it;
3. after each round (:func:`advance`), reads what happened:

   * a job whose wheels were published in the round (the wheelhouse manifest
     has them, under the round's run id), or that was up to date, is **done**;
     it is never built again, whatever happens to its host later;
   * a job that failed on a host that is still healthy **failed**: its build
     is broken (a compile error, a wheel auditwheel cannot repair), and
     building it elsewhere would fail the same way;
   * the unfinished jobs of a host that failed (unreachable, its engine gone
     or restarted mid-job, its images not buildable) are **replanned**: a host
     that no longer answers at the end of the round is left out and its jobs
     move to the remaining capable hosts (:func:`wheelfleet.plan.replan`,
     native first); a host that answers again (its engine came back) keeps
     them and runs them again in the next round, once: a second failure
     leaves it out too (:func:`_excluded_hosts`);

   Whether a host failed, or a job, or the input, is read from structured
   results (:func:`read_outcome`, :mod:`wheelfleet.failures`), never from the
   name of a task.

4. ends when no job is left to run, or after ``max_rounds`` rounds; the jobs
   still unbuilt then fail, naming the hosts that failed under them.

Job names: the plan speaks in build identifiers (``cp311-manylinux_x86_64``),
the wheel_build role in job ids (``yamlcount-cp311-cp311-x86_64``) and
interpreter tags (``cp311-cp311``); every job of the state carries all three.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wheelfleet import (
    failures,
    image_choice,
    job_settings,
    manylinux,
    official_images,
    options,
    qemu_cpu,
    release_matrix,
    requirements,
    source,
)
from wheelfleet import jobs as build_jobs
from wheelfleet import manifest as wheelhouse_manifest
from wheelfleet import mirrors as mirror_urls
from wheelfleet import plan as planning
from wheelfleet.identifiers import Identifier, IdentifierError, split_tag

SCHEMA = 1
"""Version of the state document (``release.json``)."""

STATE_FILE = "release.json"
"""The last release's state, in the wheelhouse next to ``manifest.json``."""

DEFAULT_MAX_ROUNDS = 3
MAX_ROUNDS_LIMIT = 20
"""The most rounds a release may take: each round after the first only follows host failures."""

HOST_FAILURES_FORGIVEN = 1
"""How many failures a host that answers again may have before it is left out."""

# Job statuses.
QUEUED = "queued"
DONE = "done"
UP_TO_DATE = "up-to-date"
FAILED = "failed"
FINISHED = frozenset({DONE, UP_TO_DATE})

_URL = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)


class ReleaseInputError(ValueError):
    """Inputs a release cannot run with; the message names every bad value."""


# ------------------------------------------------------------------------ inputs


def _given(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _as_list(value: Any, name: str, problems: list[str]) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value) if part]
    if isinstance(value, list | tuple):
        return list(value)
    problems.append(f"{name}: expected a list, got {value!r}")
    return None


def check_inputs(
    *,
    project: Any = None,
    wheel_build_project: Any = None,
    architectures: Any = None,
    pythons: Any = None,
    jobs: Any = None,
    wheel_build_jobs: Any = None,
    max_rounds: Any = None,
    emulation_factor: Any = None,
    build_options: Any = None,
    publish: Any = False,
    repository_url: Any = None,
    has_username: bool = False,
    has_password: bool = False,
    policy_floor: Any = None,
    mirrors: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    extra_build_requires: Any = None,
    test_requires: Any = None,
    source_max_bytes: Any = None,
    source_max_members: Any = None,
    source_cache_dir: str | None = None,
    source_excludes: Sequence[str] = (),
    wheelhouse: str | None = None,
    pack: bool = False,
    project_snapshot: Mapping[str, Any] | None = None,
    qemu_cpu_models: Any = None,
) -> dict[str, Any]:
    """Check a release's inputs and return them normalised; raise naming every problem.

    The project is read here once for the whole release (wheelfleet.source.prepare): its
    source is hashed and, with ``pack``, packed into ``source_cache_dir`` (without the
    ``source_excludes``, nor the ``wheelhouse`` or the cache when they lie inside it),
    and the result is returned as ``project_snapshot``, which the plan and the builds use
    instead of reading the project again. Given a ``project_snapshot`` of this project
    (the ``wheelfleet`` command reads the project before ansible-playbook starts), the
    project is not read at all.

    The matrix is ``jobs`` (build identifiers or mappings, see
    :meth:`wheelfleet.plan.Job.from_json`), or else what the project's build
    configuration selects (wheelfleet.release_matrix), with ``architectures``
    as its ``archs`` and ``pythons`` as its ``build`` selector, not both.
    ``build_options`` (``wheelfleet_options``) are cibuildwheel options by
    name, the highest precedence, checked here with the project's own tables.
    ``project`` and ``wheel_build_project`` name the same thing and
    must agree; ``wheel_build_jobs`` is the release's to set. Publishing needs a
    repository URL and credentials, from variables (``has_username`` /
    ``has_password``: the values themselves never come here) or from
    ``TWINE_USERNAME`` / ``TWINE_PASSWORD`` in ``environ``.

    Every requirement the controller's ``pip download`` may get is checked here too: the
    project's (build-system, dependencies, extras, dependency groups, every layer's
    test-requires) and the role's ``extra_build_requires`` and ``test_requires``; an
    option, a URL or a path is refused, naming the entry and where it came from.

    Returns the project, the explicit ``jobs`` (empty when the project's
    configuration selects them), ``options`` (the explicit layer for the plan
    and the builds), ``architectures`` (those worth probing for emulation) and
    the rounds, emulation factor and publishing choice.
    """
    problems: list[str] = []
    env = dict(environ or {})
    # Settings that need no project, reported with the others at the end.
    setting_problems = mirror_urls.check_mirror_settings(mirrors or {})
    floor: str | None = None
    if _given(policy_floor):
        try:
            floor = manylinux.check_policy_floor(policy_floor, "wheelfleet_policy_floor")
        except manylinux.PolicyError as exc:
            setting_problems.append(str(exc))
    if qemu_cpu_models is not None:  # the role's wheel_build_qemu_cpu
        try:
            qemu_cpu.checked(qemu_cpu_models)
        except qemu_cpu.QemuCpuError as exc:
            setting_problems.append(str(exc))
    base = Path(cwd) if cwd is not None else Path.cwd()

    # The project.
    path: str | None = None
    if _given(project) and _given(wheel_build_project) and str(project) != str(wheel_build_project):
        problems.append(
            f"conflicting options: project {project!r} and wheel_build_project"
            f" {wheel_build_project!r} name different projects; give one"
        )
    chosen = project if _given(project) else wheel_build_project
    if not _given(chosen):
        problems.append(
            "no project: give the project to release, for example -e project=examples/yamlcount"
            " (a directory with pyproject.toml or setup.py, or an sdist)"
        )
    elif not isinstance(chosen, str):
        problems.append(f"project: expected a path, got {chosen!r}")
    else:
        resolved = Path(os.path.normpath((base / Path(chosen).expanduser()).absolute()))
        if not resolved.exists():
            problems.append(f"project {chosen!r} does not exist (looked for {str(resolved)!r})")
        path = str(resolved)

    # The matrix.
    release_jobs: list[planning.Job] = []
    if _given(wheel_build_jobs):
        problems.append(
            "conflicting options: wheel_build_jobs is set, but a release gives each host the jobs"
            " its plan assigns; give the matrix as wheelfleet_architectures and"
            " wheelfleet_pythons, or wheelfleet_jobs"
        )
    archs = _as_list(architectures, "wheelfleet_architectures", problems)
    tags = _as_list(pythons, "wheelfleet_pythons", problems)
    if _given(jobs) and (_given(archs) or _given(tags)):
        problems.append(
            "conflicting options: wheelfleet_jobs and wheelfleet_architectures/wheelfleet_pythons"
            " both give the matrix; give it one way"
        )
    elif _given(jobs):
        if not isinstance(jobs, list | tuple):
            problems.append(f"wheelfleet_jobs: expected a list of jobs, got {jobs!r}")
        else:
            for job in jobs:
                try:
                    release_jobs.append(planning.Job.from_json(job))
                except planning.PlanInputError as exc:
                    problems.append(f"wheelfleet_jobs: {exc}")
    else:
        for arch in archs or []:
            if arch in options.ARCH_KEYWORDS:
                continue
            try:
                planning.check_architecture(arch, "wheelfleet_architectures")
            except planning.PlanInputError as exc:
                problems.append(str(exc))
        for tag in tags or []:
            try:
                split_tag(str(tag))
            except IdentifierError as exc:
                problems.append(f"wheelfleet_pythons: {exc}")
    explicit: dict[str, Any] = {}
    probe: list[str] = sorted({job.architecture for job in release_jobs})
    if build_options is not None and not isinstance(build_options, Mapping):
        problems.append(
            f"wheelfleet_options: expected a mapping of cibuildwheel options, got {build_options!r}"
        )
    limits = source.ReadLimits()
    manylinux_images: dict[str, Any] = {}
    snapshot: dict[str, Any] | None = None
    try:
        limits = source.ReadLimits.from_values(source_max_bytes, source_max_members)
    except source.ProjectError as exc:
        problems.append(str(exc))
    if path is not None and not problems:
        try:
            explicit = release_matrix.overrides(
                None if release_jobs else archs,
                None if release_jobs else tags,
                build_options,
                policy_floor=floor,
            )
            snapshot = (
                dict(project_snapshot, changed=False)
                if usable_snapshot(project_snapshot, path, pack)
                else source.prepare(
                    path,
                    source_cache_dir or "~/.cache/wheelfleet",
                    source.excludes_for(
                        path,
                        list(source_excludes or ()),
                        [wheelhouse or "", source_cache_dir or ""],
                    ),
                    write=pack,
                    limits=limits,
                )
            )
            described, config = release_matrix.load_project(
                path, {}, explicit, env, limits, snapshot=snapshot
            )
            if not release_jobs:
                probe = release_matrix.probe_architectures(config)
            release_matrix.check_test_sources(described, config)
            job_settings.check_requirements(config)
            manylinux_images = {
                arch: image_choice.choose(config, arch).to_json()
                for arch in official_images.DEFAULT_POLICIES
            }
        except (
            source.ProjectError,
            options.OptionsError,
            IdentifierError,
            job_settings.JobSettingsError,
            requirements.RequirementRefusedError,
        ) as exc:
            problems.append(str(exc))
    seen: set[str] = set()
    for job in release_jobs:
        if job.identifier in seen:
            problems.append(f"wheelfleet_jobs: job {job.identifier} is listed twice")
        seen.add(job.identifier)

    # The operator's own requirements (role variables) go to the same download.
    for setting, value in (
        ("wheel_build_extra_build_requires", extra_build_requires),
        ("wheel_build_test_requires", test_requires),
    ):
        if not _given(value):
            continue
        entries = value.split() if isinstance(value, str) else value
        if not isinstance(entries, list | tuple):
            problems.append(f"{setting}: expected a list of requirements, got {value!r}")
            continue
        try:
            requirements.check_requirements(entries, setting)
        except requirements.RequirementRefusedError as exc:
            problems.append(str(exc))

    # Rounds and the emulation factor.
    rounds = DEFAULT_MAX_ROUNDS
    if _given(max_rounds):
        try:
            rounds = int(str(max_rounds))
        except ValueError:
            rounds = 0
        if isinstance(max_rounds, bool) or not 1 <= rounds <= MAX_ROUNDS_LIMIT:
            problems.append(
                f"wheelfleet_max_rounds {max_rounds!r}: expected a whole number from 1 to"
                f" {MAX_ROUNDS_LIMIT} (the rounds a release may take when hosts fail)"
            )
    factor: float | None = None
    if _given(emulation_factor):
        try:
            factor = float(str(emulation_factor))
        except ValueError:
            factor = 0.0
        if factor < 1:
            problems.append(
                f"wheelfleet_emulation_factor {emulation_factor!r}: expected a number of 1 or more"
            )

    # Publishing.
    publishing = _truthy(publish)
    if publish not in (None, "") and publishing is None:
        problems.append(f"wheelfleet_publish {publish!r}: expected true or false")
    if publishing:
        if not _given(repository_url):
            problems.append(
                "wheelfleet_publish is true but wheelfleet_publish_repository_url is not set"
                " (for example https://upload.pypi.org/legacy/)"
            )
        elif not isinstance(repository_url, str) or not _URL.match(repository_url):
            problems.append(
                f"wheelfleet_publish_repository_url {repository_url!r}: expected an http(s) URL"
            )
        missing = []
        if not (has_username or env.get("TWINE_USERNAME")):
            missing.append("a user name (wheelfleet_publish_username, or TWINE_USERNAME)")
        if not (has_password or env.get("TWINE_PASSWORD")):
            missing.append("a password or token (wheelfleet_publish_password, or TWINE_PASSWORD)")
        if missing:
            problems.append(
                "publishing needs credentials; missing "
                + " and ".join(missing)
                + ". Keep them in an Ansible vault or in the controller's environment"
            )

    problems.extend(setting_problems)
    if problems:
        raise ReleaseInputError("\n".join(problems))
    return {
        "project": path,
        "project_snapshot": snapshot,
        "jobs": [job.to_json() for job in release_jobs],
        "options": explicit,
        "architectures": probe,
        "max_rounds": rounds,
        "emulation_factor": factor,
        "publish": bool(publishing),
        "policy_floor": floor,
        "manylinux_images": manylinux_images,
    }


def usable_snapshot(snapshot: Mapping[str, Any] | None, path: str, pack: bool) -> bool:
    """Whether ``snapshot`` describes the project at ``path`` as read before, with its
    packed archive (named by its source hash) still in the cache when one is needed."""
    if not isinstance(snapshot, Mapping) or snapshot.get("path") != path:
        return False
    archive = str(snapshot.get("archive") or "")
    named = Path(archive).name == f"{snapshot.get('source_hash')}.tar.gz"
    return named and "paths" in snapshot and (not pack or Path(archive).is_file())


def _truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return False
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    return None


# ---------------------------------------------------------------------- job names


def job_names(identifier: str, project: str) -> dict[str, str]:
    """The names of one release job: build identifier, architecture, CPython tag, the
    interpreter tag of the builder image and the wheel_build job id."""
    parsed = Identifier.parse(identifier)
    return {
        "identifier": str(parsed),
        "architecture": parsed.arch,
        "python": parsed.python,
        "python_tag": parsed.interpreter,
        "job": build_jobs.job_id(project, parsed.interpreter, parsed.arch),
    }


def new_release_id(now: float | None = None, token: str | None = None) -> str:
    """A release identifier that sorts by time: ``20250101T120000-3f9a1c``."""
    return build_jobs.new_run_id(now, token)


def run_id(release_id: str, round_number: int) -> str:
    """The wheel_build run id of one round: every round's containers have their own names."""
    return f"{release_id}-r{round_number}"


# ------------------------------------------------------------------------- state


def _plan_of(state: Mapping[str, Any]) -> planning.Plan:
    return planning.Plan.from_json(state["plan"])


def start(
    plan_document: Mapping[str, Any],
    *,
    release_id: str,
    project: str,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    failed_hosts: Mapping[str, str] | None = None,
    started_at: float | None = None,
) -> dict[str, Any]:
    """A release's state from its plan, with round 1 assigned.

    ``failed_hosts`` are hosts known to have failed before round 1 (their jobs
    are replanned at once). Jobs the plan could not place are failed.
    """
    plan = planning.Plan.from_json(plan_document)
    state: dict[str, Any] = {
        "schema": SCHEMA,
        "release_id": release_id,
        "project": project,
        "max_rounds": int(max_rounds),
        "started_at": time.time() if started_at is None else started_at,
        "finished_at": None,
        "round": 0,
        "initial_plan": plan.to_json(),
        "plan": plan.to_json(),
        # What the project's configuration selected but the fleet cannot build, and why.
        "not_built": not_built(plan_document),
        "jobs": {},
        "failed_hosts": {},
        "host_failures": [],
        "moves": [],
        "rounds": [],
        "assignments": {},
        "complete": False,
    }
    for host_plan in plan.hosts:
        for assignment in host_plan.assignments:
            identifier = assignment.job.identifier
            state["jobs"][identifier] = {
                **job_names(identifier, project),
                "image": assignment.job.image,
                "status": QUEUED,
                "host": host_plan.name,
                "native": assignment.native,
                "reason": None,
                "kind": None,
                "step": None,
                "round": None,
                "wheels": [],
                "seconds": None,
                "attempts": [],
            }
    for unplaced in plan.unschedulable:
        identifier = unplaced.job.identifier
        state["jobs"][identifier] = {
            **job_names(identifier, project),
            "status": FAILED,
            "host": None,
            "native": None,
            "reason": unplaced.reason,
            "kind": failures.INPUT,
            "step": "plan",
            "round": 0,
            "wheels": [],
            "seconds": None,
            "attempts": [],
        }
    return _next_round(state, dict(failed_hosts or {}))


def not_built(plan_document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The plan's selection's unavailable items: ``subject``, ``reason``, ``identifiers``."""
    selection = plan_document.get("selection") or {}
    return [
        {
            "subject": str(item.get("subject")),
            "reason": str(item.get("reason")),
            "identifiers": list(item.get("identifiers") or []),
        }
        for item in selection.get("unavailable") or []
    ]


def _pending(state: Mapping[str, Any]) -> list[str]:
    return sorted(name for name, job in state["jobs"].items() if job["status"] == QUEUED)


def _next_round(state: dict[str, Any], newly_failed: Mapping[str, str]) -> dict[str, Any]:
    """Replan after ``newly_failed`` hosts, then assign the next round (or finish)."""
    for host, reason in newly_failed.items():
        state["failed_hosts"].setdefault(host, reason)
    plan = _plan_of(state)
    finished = [name for name, job in state["jobs"].items() if job["status"] in FINISHED]
    planned = {a.job.identifier for h in plan.hosts for a in h.assignments}
    if state["failed_hosts"]:
        plan = planning.replan(
            plan,
            {h: r for h, r in state["failed_hosts"].items() if h in {x.name for x in plan.hosts}},
            [name for name in finished if name in planned],
        )
        state["plan"] = plan.to_json()
    unplaced = {u.job.identifier: u.reason for u in plan.unschedulable}
    pending = _pending(state)
    next_round = state["round"] + 1
    assignments: dict[str, list[str]] = {}
    for name in pending:
        job = state["jobs"][name]
        if name in unplaced:
            _fail(job, "plan", unplaced[name], state["round"], failures.HOST)
            continue
        where = plan.where(name)
        if where is None:  # not in the plan at all: cannot happen for a state made by start()
            _fail(job, "plan", "the plan has no host for this job", state["round"])
            continue
        host, assignment = where
        if host != job["host"]:
            state["moves"].append(
                {
                    "job": name,
                    "from": job["host"],
                    "to": host,
                    "round": next_round,
                    "reason": state["failed_hosts"].get(job["host"], "its host failed"),
                    "native": assignment.native,
                }
            )
            job["host"] = host
            job["native"] = assignment.native
        assignments.setdefault(host, []).append(name)
    if not assignments:
        state["assignments"] = {}
        return _finish(state)
    if next_round > state["max_rounds"]:
        for names in assignments.values():
            for name in names:
                job = state["jobs"][name]
                failed = ", ".join(sorted(state["failed_hosts"])) or "none"
                _fail(
                    job,
                    "release",
                    f"not built after {state['max_rounds']} round(s) (failed hosts: {failed})",
                    state["round"],
                    failures.HOST,
                )
        state["assignments"] = {}
        return _finish(state)
    state["round"] = next_round
    state["assignments"] = {host: sorted(names) for host, names in sorted(assignments.items())}
    state["rounds"].append(
        {
            "round": next_round,
            "run_id": run_id(state["release_id"], next_round),
            "assignments": state["assignments"],
            "failed_hosts": {},
        }
    )
    return state


def short_reason(text: str, limit: int = 200) -> str:
    """A host's failure in one line: Ansible's ``Task failed:`` prefixes and its advice after
    the first sentence dropped, at most ``limit`` characters."""
    line = " ".join(str(text).split())
    line = re.sub(r"(Task failed: )+", "", line)
    line = re.sub(r"(?<=[a-z0-9)])\. (In some cases|Consider|For more|See ).*$", "", line)
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _fail(
    job: dict[str, Any],
    step: str,
    reason: str,
    round_number: int | None,
    kind: str = failures.JOB,
) -> None:
    job.update(status=FAILED, step=step, reason=reason, round=round_number, kind=kind)


def failure_kind(state: Mapping[str, Any]) -> str | None:
    """The kind of the release's failure (None when no job failed): ``input`` when every
    failed job was refused by an input check, else ``host`` or ``job`` (wheelfleet.failures)."""
    return failures.worst(job.get("kind") for job in failed_jobs(state))


def _finish(state: dict[str, Any]) -> dict[str, Any]:
    state["complete"] = True
    state["finished_at"] = time.time()
    return state


def finish(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state of a release that stops here: jobs still queued fail (not built)."""
    new = _copy(state)
    if new["complete"]:
        return new
    for name in _pending(new):
        failed = ", ".join(sorted(new["failed_hosts"])) or "none"
        _fail(
            new["jobs"][name],
            "release",
            f"not built: the release ended after round {new['round']} (failed hosts: {failed})",
            new["round"],
            failures.HOST,
        )
    new["assignments"] = {}
    return _finish(new)


def host_jobs(state: Mapping[str, Any], host: str) -> list[dict[str, str]]:
    """``wheel_build_jobs`` of ``host`` for the current round: ``{arch, python}`` pairs, with
    the ``image`` that provides the Python when the plan named one."""
    jobs = []
    for name in state.get("assignments", {}).get(host, []):
        job = {
            "arch": state["jobs"][name]["architecture"],
            "python": state["jobs"][name]["python_tag"],
        }
        if state["jobs"][name].get("image"):
            job["image"] = state["jobs"][name]["image"]
        jobs.append(job)
    return jobs


@dataclass(frozen=True)
class HostRound:
    """What one host's round says, read from its outcome fact (see :func:`read_outcome`)."""

    host_failure: str | None
    """Why the host failed in the round (None when it did not): its unfinished jobs are
    planned again."""
    answers: bool
    """Whether the host (its connection and its engine) answered at the end of the round."""
    input_error: str | None = None
    """Why the controller's checks refused the project: its jobs fail as input errors."""
    up_to_date: frozenset[str] = frozenset()
    failed: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Failed jobs by job id: ``message`` (and ``step`` when known)."""
    error: str | None = None
    """The failure that ended the host's round, when no job accounts for it."""


def read_outcome(outcome: Mapping[str, Any] | None) -> HostRound:
    """Read one host's outcome of a round (``wheelfleet_round_outcome``, set by
    playbooks/tasks/release-round.yml), or None when the host reported nothing.

    The outcome holds ``answers`` / ``answer_reason`` (the ping and engine checks at the end
    of the round), ``build`` (the wheel_build role's ``wheel_build_outcome``, or None when the
    role did not get that far) and ``error`` (``msg`` and ``kind`` of the failure that ended
    the host's round, or None). The host failed when it does not answer, when the role says
    so (``host_failure``: the engine went away or restarted mid-job, the connection was
    lost), when jobs were left unfinished, or when its round ended on a failure that is not
    an input error nor the jobs' own (a host-kind failure, or one of no kind that no failed
    job explains, such as its builder images failing). Decided from structured keys only.
    """
    if not outcome:
        return HostRound(
            host_failure="the host reported nothing (it failed or became unreachable)",
            answers=False,
        )
    # A fact may come back as text ("True"): only a true value counts, never a mere string.
    answers = _truthy(outcome.get("answers")) is True
    build = outcome.get("build") if isinstance(outcome.get("build"), Mapping) else {}
    error = outcome.get("error") if isinstance(outcome.get("error"), Mapping) else None
    error_kind = failures.kind_of({failures.KEY: error.get("kind")}) if error else None
    error_text = str(error.get("msg") or "failed without a message") if error else None
    failed = {
        str(item.get("id")): item
        for item in build.get("failed") or []
        if isinstance(item, Mapping) and item.get("id")
    }
    input_error = build.get("input_error") or (error_text if error_kind == failures.INPUT else None)
    unfinished = [str(name) for name in build.get("unfinished") or []]
    host_failure: str | None = None
    if not answers:
        host_failure = str(outcome.get("answer_reason") or "the host stopped answering")
    elif build.get("host_failure"):
        host_failure = str(build["host_failure"])
    elif error is not None and (
        error_kind == failures.HOST or (error_kind is None and not failed and not input_error)
    ):
        host_failure = error_text
    elif unfinished:
        host_failure = "its jobs were left unfinished: " + ", ".join(sorted(unfinished))
    return HostRound(
        host_failure=short_reason(host_failure) if host_failure else None,
        answers=answers,
        input_error=str(input_error) if input_error else None,
        up_to_date=frozenset(str(name) for name in build.get("up_to_date") or []),
        failed=failed,
        error=error_text,
    )


def advance(
    state: Mapping[str, Any],
    outcomes: Mapping[str, Mapping[str, Any] | None],
    manifest_document: Mapping[str, Any],
) -> dict[str, Any]:
    """Fold one round's outcome into the state, then replan and assign the next round.

    ``outcomes`` maps each host that had jobs in the round to its outcome fact (see
    :func:`read_outcome`; None, or no entry, when it reported nothing). A job is done when
    ``manifest_document`` has its wheels under the round's run id, whatever its host did
    afterwards; up to date when the host found it so. The rest of a host that failed in the
    round is planned again (see :func:`_next_round` for where it goes). On a host that did
    not fail, a job the role reports failed has failed for good, with its message: kind
    ``input`` when the controller's checks refused the project, else ``job``.
    """
    new = _copy(state)
    if new["complete"] or not new["assignments"]:
        return new
    number = new["round"]
    current_run = run_id(new["release_id"], number)
    published: dict[str, list[Mapping[str, Any]]] = {}
    for entry in manifest_document.get("wheels", {}).values():
        if entry.get("run_id") == current_run:
            published.setdefault(str(entry.get("job")), []).append(entry)
    host_failures: dict[str, HostRound] = {}
    record = new["rounds"][-1]
    for host, names in new["assignments"].items():
        seen = read_outcome(outcomes.get(host))
        for name in names:
            job = new["jobs"][name]
            entries = published.get(job["job"], [])
            attempt: dict[str, Any] = {"round": number, "host": host}
            if entries:
                job.update(
                    status=DONE,
                    round=number,
                    reason=None,
                    step=None,
                    kind=None,
                    wheels=sorted(str(e["file"]) for e in entries),
                    policies={
                        str(e["file"]): manylinux.policy_of_wheel(str(e["file"])) for e in entries
                    },
                    seconds=round(sum(float(v) for v in entries[0].get("timings", {}).values()), 1),
                    native=not entries[0].get("emulated", False),
                )
                attempt["outcome"] = DONE
            elif job["job"] in seen.up_to_date:
                job.update(status=UP_TO_DATE, round=number, reason=None, step=None, kind=None)
                attempt["outcome"] = UP_TO_DATE
            elif seen.host_failure is not None:
                attempt.update(outcome="host failed", reason=seen.host_failure)
            elif job["job"] in seen.failed:
                failure = seen.failed[job["job"]]
                _fail(
                    job,
                    str(failure.get("step") or "build"),
                    str(failure.get("message") or failure.get("reason") or "failed"),
                    number,
                    failures.JOB,
                )
                # A failed job publishes no wheel: its steps (the report's timeline) come
                # from the host's outcome.
                if failure.get("steps"):
                    job.update(host=host, slot=failure.get("slot"), steps=list(failure["steps"]))
                attempt.update(outcome=FAILED, reason=job["reason"])
            elif seen.input_error is not None:
                _fail(job, "input", seen.input_error, number, failures.INPUT)
                attempt.update(outcome=FAILED, reason=job["reason"])
            else:
                _fail(
                    job,
                    "build",
                    seen.error
                    or "no result: the host finished its round without reporting this job",
                    number,
                    failures.JOB,
                )
                attempt.update(outcome=FAILED, reason=job["reason"])
            job["attempts"].append(attempt)
        if seen.host_failure is not None:
            host_failures[host] = seen
            record["failed_hosts"][host] = seen.host_failure
    return _next_round(new, _excluded_hosts(new, number, host_failures))


def _excluded_hosts(
    state: dict[str, Any], number: int, host_failures: Mapping[str, HostRound]
) -> dict[str, str]:
    """Record the round's host failures; return the hosts to leave out from now on.

    A host that failed and does not answer at the end of the round is left out for the rest
    of the release. One that answers again (its engine restarted, its connection came back)
    keeps its place: its unfinished jobs run again there in the next round, within
    ``max_rounds``. A host that fails a second time in the release is left out even when it
    answers, so that a flapping host cannot use up every round.
    """
    excluded: dict[str, str] = {}
    history = state.setdefault("host_failures", [])
    for host, seen in sorted(host_failures.items()):
        earlier = sum(1 for item in history if item.get("host") == host)
        kept = seen.answers and earlier < HOST_FAILURES_FORGIVEN
        history.append(
            {"host": host, "round": number, "reason": seen.host_failure, "rejoined": kept}
        )
        if not kept:
            reason = str(seen.host_failure)
            if seen.answers:
                reason += f" (its failure number {earlier + 1} in this release)"
            excluded[host] = reason
    return excluded


def _copy(state: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(state))


def finished_wheels(state: Mapping[str, Any], manifest_document: Mapping[str, Any]) -> list[str]:
    """The wheel files of the release's finished jobs: those built in the release, and for
    the jobs that were up to date, their latest build in the manifest."""
    files = {name for job in state["jobs"].values() for name in job.get("wheels") or []}
    skipped = {job["job"] for job in state["jobs"].values() if job["status"] == UP_TO_DATE}
    entries = list(manifest_document.get("wheels", {}).values())
    for job in skipped:
        mine = [entry for entry in entries if entry.get("job") == job]
        latest = max((str(entry.get("run_id", "")) for entry in mine), default="")
        files.update(str(e["file"]) for e in mine if str(e.get("run_id", "")) == latest)
    return sorted(files)


def failed_jobs(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [job for _, job in sorted(state["jobs"].items()) if job["status"] == FAILED]


def counts(state: Mapping[str, Any]) -> dict[str, int]:
    statuses = [job["status"] for job in state["jobs"].values()]
    return {
        "jobs": len(statuses),
        "built": statuses.count(DONE),
        "up_to_date": statuses.count(UP_TO_DATE),
        "failed": statuses.count(FAILED),
        "queued": statuses.count(QUEUED),
        "moved": len(state.get("moves") or []),
    }


def summary_text(state: Mapping[str, Any]) -> str:
    """A few lines for the play's output: what was built, skipped, moved and failed."""
    numbers = counts(state)
    lines = [
        f"release {state['release_id']} of {state['project']}: {numbers['built']} built,"
        f" {numbers['up_to_date']} up to date (not rebuilt), {numbers['failed']} failed,"
        f" in {state['round']} round(s)"
    ]
    if numbers["jobs"] and numbers["built"] == 0 and numbers["up_to_date"] == numbers["jobs"]:
        lines.append("nothing to build: every wheel is up to date in the wheelhouse")
    for failure in state.get("host_failures") or []:
        if failure.get("rejoined"):
            lines.append(
                f"host {failure['host']} failed in round {failure['round']} ({failure['reason']});"
                " it answered again, so its unfinished jobs ran again there"
            )
    for move in state.get("moves") or []:
        lines.append(
            f"replanned {move['job']}: {move['from']} failed ({move['reason']}),"
            f" rebuilt on {move['to']} in round {move['round']}"
        )
    for job in failed_jobs(state):
        where = f" on {job['host']}" if job.get("host") else ""
        lines.append(f"FAILED {job['identifier']}{where} at step {job['step']}:")
        lines.extend(f"    {line}" for line in str(job["reason"]).splitlines())
    return "\n".join(lines)


def job_images(
    recipe: Sequence[Mapping[str, Any]], default: str, jobs: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The ``builder_image_images`` a host needs for its jobs: each image the jobs name (or
    ``default``, the wheel_build image, for a job that names none), restricted to the
    architectures of the jobs that use it, in the recipe's order."""
    wanted: dict[str, list[str]] = {}
    for job in jobs:
        archs = wanted.setdefault(str(job.get("image") or default), [])
        arch = job.get("arch") or job["architecture"]
        if arch not in archs:
            archs.append(arch)
    found = []
    for name, archs in wanted.items():
        found.extend(builder_images(recipe, name, archs))
    order = [entry.get("name") for entry in recipe]
    return sorted(found, key=lambda entry: order.index(entry["name"]))


def builder_images(
    recipe: Sequence[Mapping[str, Any]], image: str, architectures: Iterable[str]
) -> list[dict[str, Any]]:
    """The ``builder_image_images`` a host needs for its jobs: the recipe of ``image`` (the
    wheel_build image name) restricted to ``architectures``. Raises ReleaseInputError when the
    recipe has no image of that name."""
    wanted = sorted({planning.check_architecture(arch) for arch in architectures})
    found = [dict(entry) for entry in recipe if isinstance(entry, Mapping)]
    matching = [entry for entry in found if entry.get("name") == image]
    if not matching:
        names = ", ".join(sorted(str(entry.get("name")) for entry in found)) or "none"
        raise ReleaseInputError(
            f"wheel_build_image {image!r} has no recipe in builder_image_images"
            f" (recipes: {names}); add one, or skip the image step with --skip-tags images"
            " when the images exist on the hosts already"
        )
    return [{**entry, "architectures": wanted} for entry in matching[:1]] if wanted else []


def load_state(wheelhouse: str | Path) -> dict[str, Any] | None:
    """The last release's state written into ``wheelhouse``, or None."""
    try:
        document = json.loads((Path(wheelhouse) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        return None
    return document


def write_state(wheelhouse: str | Path, state: Mapping[str, Any]) -> str:
    """Write ``release.json`` into the wheelhouse: under the wheelhouse lock, from a unique
    synced temporary file, owned by the invoking user."""
    home = Path(wheelhouse)
    ids = wheelhouse_manifest.owner()
    wheelhouse_manifest.make_dirs(home, ids)
    path = home / STATE_FILE
    text = json.dumps(state, indent=2, sort_keys=True) + "\n"
    with wheelhouse_manifest.locked(home):
        wheelhouse_manifest.write_atomic(path, text, ids=ids)
    return str(path)


def outcomes_from_hostvars(
    hosts: Iterable[str], hostvars: Mapping[str, Mapping[str, Any]], fact: str, number: int
) -> dict[str, Mapping[str, Any] | None]:
    """Each host's outcome fact for round ``number``; None when it has none for that round."""
    found: dict[str, Mapping[str, Any] | None] = {}
    for host in hosts:
        value = (hostvars.get(host) or {}).get(fact)
        if isinstance(value, Mapping) and value.get("round") == number:
            found[host] = value
        else:
            found[host] = None
    return found


__all__: Sequence[str] = (
    "ReleaseInputError",
    "advance",
    "builder_images",
    "check_inputs",
    "counts",
    "failed_jobs",
    "finish",
    "finished_wheels",
    "host_jobs",
    "job_images",
    "job_names",
    "load_state",
    "start",
    "summary_text",
    "write_state",
)
