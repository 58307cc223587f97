"""Build jobs of one host: planning the matrix, naming, the commands each runs, results.

A job builds one project for one (Python tag, architecture) in its own
container of the builder image ``<repository>:<arch>``. This module decides
which jobs run (the others are up to date in the wheelhouse manifest), names
their containers, lists the steps each runs inside its containers, and keeps
each job's state as the role's tasks report results, so that one failing job
never stops the others and the end of the run can name every failure.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wheelfleet import (
    architectures,
    job_settings,
    manifest,
    manylinux,
    options,
    placeholders,
    requirements,
    wheel_names,
)
from wheelfleet.identifiers import Identifier, IdentifierError, split_tag

WORK = "/work"
SRC = f"{WORK}/src"
DIST = f"{WORK}/dist"
REPAIRED = f"{WORK}/repaired"
WHEELHOUSE = f"{WORK}/wheelhouse"
LOGS = f"{WORK}/logs"
BUILD_LOG = f"{LOGS}/build.log"
TEST_LOG = f"{LOGS}/test.log"
TEST_CWD = f"{WORK}/test-cwd"
REQUIREMENTS_SOURCES = ("wheelhouse", "index")
_UNSAFE = re.compile(r"[^a-z0-9_.-]+")


class PlanError(ValueError):
    """The matrix cannot be planned; the message names the bad value."""


def new_run_id(now: float | None = None, token: str | None = None) -> str:
    """A run identifier that sorts by time and is unique: ``20250101T120000-3f9a1c``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{token or secrets.token_hex(3)}"


def safe_name(text: str) -> str:
    """Lowercase letters, digits, ``_``, ``.`` and ``-`` only (container names, file names)."""
    cleaned = _UNSAFE.sub("-", text.lower()).strip("-.")
    return cleaned or "project"


def job_id(project: str, python_tag: str, arch: str) -> str:
    return f"{safe_name(project)}-{python_tag}-{arch}"


def container_name(run_id: str, job: str, purpose: str = "build") -> str:
    """``wheelfleet-<run>-<job>`` for the build container, with ``-test`` for the test one."""
    suffix = "" if purpose == "build" else f"-{purpose}"
    return f"wheelfleet-{safe_name(run_id)}-{job}{suffix}"


def check_role_settings(role: Mapping[str, Any]) -> None:
    """The role-only settings that have a fixed set of values."""
    if role.get("requirements_source", "wheelhouse") not in REQUIREMENTS_SOURCES:
        raise PlanError(
            f"requirements_source {role['requirements_source']!r} is not one of "
            f"{', '.join(REQUIREMENTS_SOURCES)}"
        )


def job_plat(plat: str | None, arch: str) -> str | None:
    """The platform tag to repair to: None keeps the image's AUDITWHEEL_PLAT; a policy name
    (``manylinux_2_28``, ``manylinux2014``) gets the architecture appended."""
    if not plat:
        return None
    if plat == "auto" or plat.endswith(f"_{arch}"):
        return plat
    return f"{plat}_{arch}"


def repair_plat(
    plat: str | None, floor: str | None, image_plat: str | None, arch: str
) -> str | None:
    """The platform tag a job repairs to. With a policy floor, the floor itself: auditwheel
    then refuses a wheel that needs a newer glibc (naming the too-recent symbols) and still
    gives a wheel that qualifies for an older policy its most portable tag. A floor above
    the image's own policy changes nothing (no wheel built there needs more), so the image's
    AUDITWHEEL_PLAT stays. A floor and ``plat`` together are refused: they disagree."""
    if not floor:
        return job_plat(plat, arch)
    if plat:
        raise PlanError(
            f"wheel_build_plat {plat!r} and the policy floor {floor!r} both set the repair"
            " target; give one (the floor repairs to the most portable policy it allows)"
        )
    image_policy = manylinux.policy_of_tag(image_plat or "")
    if image_policy and manylinux.above_floor(floor, image_policy):
        return None
    return manylinux.platform_tag(floor, arch)


def image_facts(image: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a job needs from ``docker image inspect``: ID, digests, policy, glibc, arch."""
    if not image:
        return {}
    config = image.get("Config") or {}
    env = dict(
        item.split("=", 1)
        for item in config.get("Env") or []
        if isinstance(item, str) and "=" in item
    )
    plat = env.get("AUDITWHEEL_PLAT")
    labels = dict(config.get("Labels") or {})
    # A builder image made from a registry base is a local image (no RepoDigests of its
    # own); the base's registry digest it was made from is what pins it.
    base_digest = labels.get("org.wheelfleet.image.base-digest")
    return {
        "id": image.get("Id"),
        "digests": list(image.get("RepoDigests") or []) or ([base_digest] if base_digest else []),
        "tags": list(image.get("RepoTags") or []),
        "architecture": image.get("Architecture"),
        "plat": plat,
        "glibc": requirements.glibc_from_plat(plat),
        "labels": dict(config.get("Labels") or {}),
    }


def find_image(images: Iterable[Mapping[str, Any]], reference: str) -> Mapping[str, Any] | None:
    for image in images:
        if reference in (image.get("RepoTags") or []):
            return image
    return None


def plan(
    *,
    project: Mapping[str, Any],
    config: options.ProjectConfig,
    role: Mapping[str, Any],
    architectures_wanted: Sequence[str],
    python_tags: Sequence[str],
    images: Iterable[Mapping[str, Any]],
    image_repository: str,
    host: str,
    host_arch: str,
    wheelhouse_manifest: Mapping[str, Any],
    wheelhouse: str,
    run_id: str,
    force: bool = False,
    default_glibc: str = "2.17",
    matrix: Sequence[Mapping[str, str]] | None = None,
    present: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """One job per (architecture, Python tag), each with its effective ``settings``
    (:func:`wheelfleet.job_settings.for_job`) and ``status``:

    - ``build``: to be built;
    - ``up-to-date``: the manifest has its wheels for the same inputs (``entries``);
    - ``failed``: it cannot run on this host (``reason``), e.g. its image is missing.

    Python tags may be spelt ``cp311`` or ``cp311-cp311``. ``matrix``
    (``wheel_build_jobs``), when not empty, lists the jobs explicitly as
    ``{"arch": ..., "python": ...}`` pairs and replaces architectures x Python tags.
    """
    check_role_settings(role)
    pairs = explicit_pairs(matrix) if matrix else None
    named = explicit_images(matrix) if matrix else {}
    if pairs is None:
        if not architectures_wanted:
            raise PlanError("no architectures to build (wheel_build_architectures is empty)")
        if not python_tags:
            raise PlanError("no Python tags to build (wheel_build_python_tags is empty)")
        pairs = []
        for wanted in architectures_wanted:
            try:
                arch_name = architectures.resolve(wanted).name
            except architectures.UnknownArchitectureError as exc:
                raise PlanError(f"wheel_build_architectures: {exc}") from None
            pairs.extend(
                (arch_name, _interpreter(tag, "wheel_build_python_tags")) for tag in python_tags
            )
    images = list(images)
    document = project.get("build_config") or {}
    host_canonical = architectures.resolve(host_arch).name
    jobs: list[dict[str, Any]] = []
    seen: set[str] = set()
    by_arch: dict[str, list[str]] = {}
    for wanted, tag in pairs:
        by_arch.setdefault(wanted, []).append(tag)
    for wanted, tags in by_arch.items():
        arch = architectures.resolve(wanted)
        for tag in tags:
            reference = image_reference(image_repository, named.get((arch.name, tag)), arch.name)
            facts = image_facts(find_image(images, reference))
            identifier = job_id(project["name"], tag, arch.name)
            if identifier in seen:
                continue
            seen.add(identifier)
            short, _ = split_tag(tag)
            build = Identifier(short, arch.name)
            try:
                settings = job_settings.for_job(
                    config, build, role, document, reference, present=present
                )
            except job_settings.JobSettingsError as exc:
                raise PlanError(str(exc)) from None
            hashed = settings["settings_hash"]
            job: dict[str, Any] = {
                "id": identifier,
                "identifier": str(build),
                "project": project["name"],
                "version": project.get("version"),
                "arch": arch.name,
                "platform": arch.docker_platform,
                "python_tag": tag,
                "python": f"/opt/python/{tag}/bin/python",
                "image": reference,
                "image_id": facts.get("id"),
                "image_digests": facts.get("digests", []),
                "image_plat": facts.get("plat"),
                "glibc": facts.get("glibc") or default_glibc,
                "emulated": not architectures.runs_natively(host_canonical, arch.name),
                "host": host,
                "plat": repair_plat(
                    role.get("plat"), settings.get("policy_floor"), facts.get("plat"), arch.name
                ),
                "policy_floor": settings.get("policy_floor"),
                "run_id": run_id,
                "container": container_name(run_id, identifier),
                "test_container": container_name(run_id, identifier, "test"),
                "source_hash": project["source_hash"],
                "settings": settings,
                "settings_hash": hashed,
                "tested": bool(settings["test_command"]),
                "status": "build",
                "entries": [],
            }
            if not facts:
                job["status"] = "failed"
                job["step"] = "image"
                job["reason"] = (
                    f"image {reference} is not on {host}'s engine; build it with "
                    "playbooks/images.yml (or set wheel_build_image to a repository that has "
                    f"one tag per architecture, like {image_repository}:{arch.name})"
                )
            elif not force:
                inputs = {
                    "project": job["project"],
                    "architecture": job["arch"],
                    "python_tag": tag,
                    "source_hash": job["source_hash"],
                    "image_id": job["image_id"],
                    "settings_hash": hashed,
                }
                entries = manifest.up_to_date(wheelhouse_manifest, wheelhouse, inputs)
                if entries:
                    job["status"] = "up-to-date"
                    job["entries"] = entries
            jobs.append(job)
    return jobs


def _interpreter(tag: object, where: str) -> str:
    """The ``/opt/python`` spelling of a Python tag given either way; PlanError if neither."""
    try:
        return split_tag(str(tag))[1]
    except IdentifierError as exc:
        raise PlanError(
            f"{where}: {exc}; the /opt/python spelling (cp311-cp311) works too"
        ) from None


def image_reference(default: str, image: str | None, arch: str) -> str:
    """The builder image of a job: ``<repository>/<image>:<arch>`` when the job names its
    image (a release plan does), else the default ``<repository>/<name>`` with ``:<arch>``."""
    if not image:
        return f"{default}:{arch}"
    return f"{default.rsplit('/', 1)[0]}/{image}:{arch}" if "/" in default else f"{image}:{arch}"


def explicit_images(matrix: Sequence[Mapping[str, str]]) -> dict[tuple[str, str], str]:
    """(architecture, interpreter tag) -> the image a ``wheel_build_jobs`` entry names."""
    found: dict[tuple[str, str], str] = {}
    for item in matrix:
        if isinstance(item, Mapping) and item.get("image"):
            (pair,) = explicit_pairs([item])
            found.setdefault(pair, str(item["image"]))
    return found


def explicit_pairs(matrix: Sequence[Mapping[str, str]]) -> list[tuple[str, str]]:
    """``wheel_build_jobs`` as (architecture, interpreter tag) pairs, in order, without
    duplicates; raises PlanError naming a malformed entry."""
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(matrix):
        if not isinstance(item, Mapping) or not item.get("arch") or not item.get("python"):
            raise PlanError(
                f"wheel_build_jobs[{index}]: expected a mapping with arch and python"
                f" (such as {{arch: aarch64, python: cp311}}), got {item!r}"
            )
        try:
            arch = architectures.resolve(str(item["arch"])).name
        except architectures.UnknownArchitectureError as exc:
            raise PlanError(f"wheel_build_jobs[{index}]: {exc}") from None
        pair = (arch, _interpreter(item["python"], f"wheel_build_jobs[{index}]"))
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def wheelhouse_requests(
    jobs: Iterable[Mapping[str, Any]], project: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One requirements wheelhouse per distinct (architecture, Python tag, glibc) to build,
    holding what every such job's build and test need."""
    requests: dict[tuple[str, str, str], dict[str, Any]] = {}
    for job in jobs:
        if job.get("status") != "build":
            continue
        settings = job["settings"]
        wanted = list(project.get("build_requires") or [])
        wanted += list(settings.get("extra_build_requires") or [])
        if settings.get("test_command"):
            wanted += list(settings.get("test_requires") or [])
            wanted += list(project.get("dependencies") or [])
        key = (job["arch"], job["python_tag"], job["glibc"])
        request = requests.setdefault(
            key,
            {
                "arch": job["arch"],
                "python_tag": job["python_tag"],
                "glibc": job["glibc"],
                "requirements": [],
                "jobs": [],
            },
        )
        request["requirements"] = requirements.requirement_set(request["requirements"], wanted)
        request["jobs"].append(job["id"])
    return list(requests.values())


def substitute(command: str) -> str:
    """cibuildwheel's placeholders: ``{project}`` and ``{package}`` are the project's
    directory in the container (wheelfleet builds the project root)."""
    return placeholders.substitute(command, {"project": SRC, "package": SRC})


def pip_environment(settings: Mapping[str, Any]) -> dict[str, str]:
    """Environment that points pip (and the isolated build environment it creates, which
    inherits it) at the wheelhouse copied into the container, or at the index."""
    env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_ROOT_USER_ACTION": "ignore"}
    if settings.get("requirements_source", "wheelhouse") == "index":
        index = settings.get("index_url") or "https://pypi.org/simple"
        if not requirements.has_credentials(index):  # else it comes as a no_log passed_env
            env["PIP_INDEX_URL"] = index
    else:
        env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=WHEELHOUSE)
    return env


def _step(
    name: str, argv: list[str], env: dict[str, str], workdir: str, bindir: str, shell_env: str
) -> dict[str, Any]:
    """A container_steps step; ``shell_env`` (``export`` lines, cibuildwheel's
    environment syntax) is evaluated by the container's shell before the command."""
    return {
        "name": name,
        "argv": argv,
        "env": env,
        "workdir": workdir,
        "path_prepend": [bindir],
        "shell_env": shell_env,
    }


def frontend_argv(python: str, settings: Mapping[str, Any]) -> list[str]:
    """The PEP 517 build: ``python -m build`` or ``pip wheel``, with config-settings and
    the frontend's own arguments."""
    config = [f"{key}={value}" for key, value in settings.get("config_settings") or []]
    extra = list(settings.get("frontend_args") or [])
    if settings.get("frontend", "build") == "build":
        argv = [python, "-m", "build", "--wheel", "--outdir", DIST]
        argv += [f"--config-setting={item}" for item in config]
        return [*argv, *extra, SRC]
    argv = [python, "-m", "pip", "wheel", "--no-deps", "--use-pep517", "-v"]
    argv += [f"--config-settings={item}" for item in config]
    return [*argv, *extra, "--wheel-dir", DIST, SRC]


def build_steps(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The steps of a build container: before_all, before_build, then the PEP 517 build."""
    settings = job["settings"]
    python = job["python"]
    bindir = python.rsplit("/", 1)[0]
    env = pip_environment(settings)
    shell_env = settings.get("environment") or ""
    steps: list[dict[str, Any]] = []
    for name in ("before_all", "before_build"):
        if settings.get(name):
            argv = ["sh", "-c", substitute(settings[name])]
            steps.append(_step(name, argv, env, SRC, bindir, shell_env))
    steps.append(_step("build", frontend_argv(python, settings), env, SRC, bindir, shell_env))
    return steps


def test_steps(job: Mapping[str, Any], wheels: Sequence[str]) -> list[dict[str, Any]]:
    """The steps of a fresh test container: test-sources copied into the test directory,
    before_test, the repaired wheels installed (with test-extras) with test-requires,
    then the test command, under the environment and test-environment."""
    settings = job["settings"]
    python = job["python"]
    bindir = python.rsplit("/", 1)[0]
    env = pip_environment(settings)
    shell_env = (settings.get("environment") or "") + (settings.get("test_environment") or "")
    steps: list[dict[str, Any]] = []
    for source in settings.get("test_sources") or []:
        relative = source.strip("/")
        argv = ["sh", "-c", 'mkdir -p "$(dirname "$2")" && cp -a "$1" "$2"', "copy"]
        argv += [f"{SRC}/{relative}", f"{TEST_CWD}/{relative}"]
        steps.append(_step("test_sources", argv, env, TEST_CWD, bindir, ""))
    if settings.get("before_test"):
        argv = ["sh", "-c", substitute(settings["before_test"])]
        steps.append(_step("before_test", argv, env, TEST_CWD, bindir, shell_env))
    extras = ",".join(settings.get("test_extras") or [])
    install = [python, "-m", "pip", "install"]
    install += [f"{wheel}[{extras}]" if extras else wheel for wheel in wheels]
    install += list(settings.get("test_requires") or [])
    steps.append(_step("install", install, env, TEST_CWD, bindir, shell_env))
    argv = ["sh", "-c", substitute(settings["test_command"])]
    steps.append(_step("test", argv, env, TEST_CWD, bindir, shell_env))
    return steps


# --- job state, as the role's tasks report results ---------------------------------------


def record(
    state: Mapping[str, Any],
    job: str,
    step: str,
    seconds: float | None = None,
    error: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    """A new state with one step of one job recorded; ``error`` marks the job failed."""
    new = {name: dict(value) for name, value in state.items()}
    current = new.setdefault(job, {"status": "running", "timings": {}})
    current["timings"] = dict(current.get("timings") or {})
    if seconds is not None:
        current["timings"][step] = round(
            float(current["timings"].get(step, 0.0)) + float(seconds), 3
        )
    if current.get("status") == "failed":
        return new
    current["step"] = step
    current.update(data)
    if error:
        current["status"] = "failed"
        current["error"] = error
    return new


def step_failure(result: Mapping[str, Any], step: str, tail_lines: int = 40) -> str:
    """The message for a failed ``container_steps`` result: which step, its status, the tail
    of the job's log."""
    failed_step = result.get("failed_step") or step
    message = str(result.get("msg") or f"{failed_step} failed").strip()
    tail = str(result.get("log_tail") or "").rstrip()
    if tail:
        lines = tail.splitlines()[-tail_lines:]
        message += f"\n--- last {len(lines)} lines of the job log ---\n" + "\n".join(lines)
    return message


def record_async(
    state: Mapping[str, Any],
    results: Iterable[Mapping[str, Any]],
    step: str,
    tail_lines: int = 40,
) -> dict[str, Any]:
    """Record the results of ``async_status`` over launched ``container_steps`` jobs.

    Each result's ``item`` is the launch result, whose ``item`` is the job.
    Step seconds come from the module's ``steps``; a result without ``files``
    (which the module returns only on success) is a failure.
    """
    new = dict(state)
    for result in results:
        launch = result.get("item") or {}
        job = launch.get("item") or {}
        name = job.get("id")
        if not name:
            continue
        steps = result.get("steps") or []
        for done in steps:
            new = record(new, name, done["name"], seconds=done.get("seconds"))
        # The role polls with failed_when: false (one failing job must not stop the others),
        # which resets "failed"; container_steps returns "files" only when every step succeeded.
        if result.get("failed") or not result.get("finished") or "files" not in result:
            if not result.get("finished"):
                error = f"{step} did not finish in time (async job {result.get('ansible_job_id')})"
            else:
                error = step_failure(result, step, tail_lines)
            new = record(new, name, result.get("failed_step") or step, error=error)
        else:
            new = record(new, name, step, files=result.get("files") or {})
    return new


def active(jobs: Iterable[Mapping[str, Any]], state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The jobs that have not failed (yet)."""
    return [
        dict(job)
        for job in jobs
        if (state.get(job["id"]) or {}).get("status") != "failed" and job["status"] == "build"
    ]


def summary(
    jobs: Iterable[Mapping[str, Any]], state: Mapping[str, Any], host: str = ""
) -> dict[str, Any]:
    """Per job: built, up to date (skipped) or failed, with a text for the play's output."""
    built, skipped, failed = [], [], []
    for job in jobs:
        current = state.get(job["id"]) or {}
        label = f"{job['python_tag']} {job['arch']}"
        if job["status"] == "failed" or current.get("status") == "failed":
            reason = job.get("reason") or current.get("error") or "failed"
            step = job.get("step") or current.get("step") or "?"
            failed.append({"job": job["id"], "step": step, "reason": reason, "label": label})
        elif job["status"] == "up-to-date":
            skipped.append(
                {"job": job["id"], "label": label, "wheels": [e["file"] for e in job["entries"]]}
            )
        else:
            built.append(
                {
                    "job": job["id"],
                    "label": label,
                    "wheels": [wheel["file"] for wheel in current.get("wheels") or []],
                    "timings": current.get("timings") or {},
                    "emulated": job.get("emulated"),
                }
            )
    lines = [
        f"{host + ': ' if host else ''}{len(built)} built, {len(skipped)} up to date "
        f"(skipped), {len(failed)} failed"
    ]
    for item in built:
        steps = ", ".join(f"{name} {secs:.1f}s" for name, secs in item["timings"].items())
        mode = "emulated" if item["emulated"] else "native"
        lines.append(f"built {item['label']} ({mode}): {', '.join(item['wheels'])} [{steps}]")
    for item in skipped:
        lines.append(
            f"up to date {item['label']}: {', '.join(item['wheels'])} "
            "(same source, image and settings; not rebuilt)"
        )
    for item in failed:
        lines.append(f"FAILED {item['label']} ({item['job']}) at step {item['step']}:")
        lines.extend(f"    {line}" for line in str(item["reason"]).splitlines())
    return {"built": built, "skipped": skipped, "failed": failed, "text": "\n".join(lines)}


def step_name(task_name: str) -> str:
    """The step part of a job task's name (``"Start the build container: <job>"``)."""
    return str(task_name or "?").split(":", 1)[0].strip() or "?"


def _one_failure(result: Mapping[str, Any]) -> str:
    message = str(result.get("msg") or "").strip()
    details = []
    if result.get("error_kind"):
        details.append(f"auditwheel: {result['error_kind']}")
    offending = result.get("offending_versions")
    if offending:
        details.append(
            "too-recent symbol versions: "
            + "; ".join(f"{lib}: {', '.join(versions)}" for lib, versions in offending.items())
        )
    if result.get("missing_libraries"):
        details.append(f"missing libraries: {', '.join(result['missing_libraries'])}")
    for stream in ("stderr", "stdout"):
        text = str(result.get(stream) or "").strip()
        if text and result.get("rc") not in (None, 0):
            details.append(f"{stream}: {text[-1500:]}")
            break
    if result.get("log_tail"):
        return step_failure(result, result.get("failed_step") or "step")
    return "\n".join([message or "failed", *details]) if details else (message or "failed")


def failure_message(result: Mapping[str, Any] | None) -> str:
    """What went wrong in a failed task's result (``ansible_failed_result``), loop or not."""
    if not result:
        return "failed (no result)"
    items = result.get("results")
    if isinstance(items, list) and items:
        failed = [item for item in items if isinstance(item, Mapping) and item.get("failed")]
        if failed:
            return "\n".join(_one_failure(item) for item in failed)
    return _one_failure(result)


def refused_wheels(
    results: Iterable[Mapping[str, Any]], job: Mapping[str, Any], allow_pure: bool = False
) -> list[str]:
    """Why the controller refuses wheels of the auditwheel module's loop results, one
    message per refused name ([] when every name is one the job may publish).

    The names come from the build container, where the project's code ran: each
    becomes a path in the wheelhouse, so it must be a wheel of this job
    (:func:`wheelfleet.wheel_names.check`), and no name may come twice.
    """
    refused = []
    seen: set[str] = set()
    for wheel in repaired_wheels(results):
        name = wheel["file"]
        try:
            wheel_names.check(name, job, allow_pure=allow_pure)
        except wheel_names.WheelNameError as exc:
            refused.append(str(exc))
            continue
        if name in seen:
            refused.append(f"the build returned the wheel {name!r} twice")
        seen.add(name)
    return refused


def repaired_wheels(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The repaired wheels from the auditwheel module's loop results, as reported by the
    build host (names checked by :func:`refused_wheels`; sha256 and size are checked
    and recomputed by the controller when it publishes)."""
    wheels = []
    for result in results:
        path = result.get("wheel")
        if not path:
            continue
        wheels.append(
            {
                "file": str(path).rsplit("/", 1)[-1],
                "path": path,
                "sha256": result.get("sha256"),
                "size": result.get("size"),
                "tags": result.get("tags") or {},
                "grafted": list(result.get("grafted") or []),
                "plat": result.get("plat"),
                "input": str(result.get("item") or "").rsplit("/", 1)[-1],
            }
        )
    return wheels


def log_header(job: Mapping[str, Any], state: Mapping[str, Any], host: str) -> str:
    """The top of a job's log in the wheelhouse: what ran where, how long, how it ended."""
    current = state.get(job["id"]) or {}
    failed = current.get("status") == "failed"
    lines = [
        f"# wheelfleet job {job['id']} (run {job['run_id']})",
        f"# project {job['project']} {job.get('version') or ''}, source {job['source_hash']}",
        f"# {job['python_tag']} on {job['arch']} "
        f"({'emulated' if job.get('emulated') else 'native'}) on host {host}",
        f"# image {job['image']} {job.get('image_id') or ''}",
        f"# settings {job['settings_hash']}",
    ]
    for wheel in current.get("wheels") or []:
        grafted = ", ".join(wheel.get("grafted") or []) or "nothing"
        lines.append(f"# repaired {wheel['file']} (sha256 {wheel['sha256']}; grafted {grafted})")
    timings = current.get("timings") or {}
    if timings:
        lines.append("# seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    if failed:
        lines.append(f"# FAILED at step {current.get('step')}:")
        lines.extend(f"#   {line}" for line in str(current.get("error")).splitlines())
    else:
        lines.append("# result: success")
    return "\n".join(lines) + "\n"
