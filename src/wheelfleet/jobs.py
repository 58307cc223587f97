"""Build jobs of one host: planning the matrix into fully resolved jobs.

A job builds one project for one (Python tag, architecture) in a container of
the builder image ``<repository>:<arch>``. This module decides which jobs run
(the others are up to date in the wheelhouse manifest) and resolves each one
completely: its group (jobs that share one build container, before-all once),
its output directories, the steps it runs in its build and test containers,
its requirements wheelhouse, how auditwheel repairs it, its networking and its
resource limits. The role and the host's build engine use a job as given.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wheelfleet import (
    accelerator,
    architectures,
    confinement,
    job_settings,
    launchers,
    manifest,
    manylinux,
    native_userland,
    options,
    placeholders,
    qemu_cpu,
    requirements,
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
TEST_INSTALLER_MARK = f"{LOGS}/test-installer"
"""Where the test install records what installed the test environment (launchers)."""
TMP = f"{WORK}/tmp"
"""A job's TMPDIR is ``<TMP>/<job id>``: the same path in every run and on every host."""
WHEELS_TOKEN = "{wheels}"
"""In an argv element of a test step, the engine repeats that element once per repaired
wheel, with the wheel's path in place of the token."""
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


PYTHON_TAGS_LABEL = "org.wheelfleet.image.python-tags"
"""The builder images' label that lists their interpreters (``cp311-cp311 cp313-cp313``)."""


def image_pythons(facts: Mapping[str, Any], wanted: str) -> list[str]:
    """The interpreters an image's label says it has; ``[wanted]`` when it has no such
    label (an image not made by builder_image: the engine finds out)."""
    label = (facts.get("labels") or {}).get(PYTHON_TAGS_LABEL)
    if label is None:
        return [wanted]
    return str(label).split()


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
    before_all_network: bool = True,
    limits: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One job per (architecture, Python tag), each with its effective ``settings``
    (:func:`wheelfleet.job_settings.for_job`) and ``status``:

    - ``build``: to be built;
    - ``up-to-date``: the manifest has its wheels for the same inputs (``entries``);
    - ``failed``: it cannot run on this host (``reason``), e.g. its image is missing.

    Python tags may be spelt ``cp311`` or ``cp311-cp311``. ``matrix``
    (``wheel_build_jobs``), when not empty, lists the jobs explicitly as
    ``{"arch": ..., "python": ...}`` pairs and replaces architectures x Python tags.

    Each job is resolved (:func:`resolve`): ``before_all_network`` is the role's
    ``wheel_build_before_all_network``, ``limits`` the containers' checked limits
    (``confinement.container_limits``).
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
                # Which compiler makes the bytes: this host's CPU or its CPU emulated.
                "toolchain_mode": (
                    "native"
                    if architectures.runs_natively(host_canonical, arch.name)
                    else "emulated"
                ),
                "host": host,
                "plat": repair_plat(
                    role.get("plat"), settings.get("policy_floor"), facts.get("plat"), arch.name
                ),
                "policy_floor": settings.get("policy_floor"),
                "run_id": run_id,
                "container": container_name(run_id, identifier),
                "test_container": container_name(run_id, identifier, "test"),
                "source_hash": project["source_hash"],
                # The controller's packed source: publishing keeps a copy in the wheelhouse.
                "source_archive": project.get("archive"),
                "source_date_epoch": project.get("source_date_epoch"),
                "source_date_epoch_origin": project.get("source_date_epoch_origin"),
                "build_backend": project.get("build_backend"),
                "settings": settings,
                "settings_hash": hashed,
                "tested": bool(settings["test_command"]),
                "status": "build",
                "entries": [],
            }
            job["qemu_cpu"] = qemu_cpu.for_job(arch.name, job["emulated"], role.get("qemu_cpu"))
            job["accelerator"] = accelerator.for_job(
                arch.name,
                settings.get("accelerator"),
                job["emulated"],
                host_canonical,
                settings,
                WHEELHOUSE,
            )
            if job["accelerator"] and settings.get("native_userland"):
                add_native_userland(job, images, image_repository, named, host_canonical)
            if not facts:
                job["status"] = "failed"
                job["step"] = "image"
                job["reason"] = (
                    f"image {reference} is not on {host}'s engine; build it with "
                    "playbooks/images.yml (or set wheel_build_image to a repository that has "
                    f"one tag per architecture, like {image_repository}:{arch.name})"
                )
            elif tag not in image_pythons(facts, tag):
                job["status"] = "failed"
                job["step"] = "image"
                job["reason"] = (
                    f"Python tag {tag} is not in image {reference} on {host}; the image has: "
                    f"{', '.join(image_pythons(facts, tag)) or 'no /opt/python at all'}"
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
            jobs.append(resolve(job, before_all_network, limits))
    return jobs


def add_native_userland(
    job: dict[str, Any],
    images: Sequence[Mapping[str, Any]],
    repository: str,
    named: Mapping[tuple[str, str], str],
    host_arch: str,
) -> None:
    """An accelerated job's ``accelerator.userland`` (the host-architecture image of the
    job's repository, whose userland its build runs), or ``userland_skipped``: why not."""
    tag = job["python_tag"]
    counterpart = image_reference(repository, named.get((job["arch"], tag)), host_arch)
    facts = image_facts(find_image(images, counterpart))
    plan, why = native_userland.for_job(
        arch=job["arch"],
        python_tag=tag,
        host_arch=host_arch,
        accelerator=job["accelerator"],
        counterpart=counterpart,
        counterpart_facts=facts,
        counterpart_pythons=image_pythons(facts, tag) if facts else [],
    )
    if plan:
        # The host interpreter's build requirements: wheels for the host's platform, put
        # beside the target's in the container's wheelhouse (uv picks the ones it can run).
        glibc = facts.get("glibc") or job["glibc"]
        host_job = {"arch": host_arch, "python_tag": tag, "glibc": glibc}
        plan.update(glibc=glibc, requirements_key=requirements_key(host_job))
        job["accelerator"]["userland"] = plan
    elif why:
        job["accelerator"]["userland_skipped"] = why


def resolve(
    job: Mapping[str, Any],
    before_all_network: bool = True,
    limits: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The job with everything its build needs decided: ``group``, ``dist``,
    ``repaired``, ``before_all``, ``steps``, ``test_steps`` (with the ``{wheels}``
    token), ``requirements_key``, ``repair``, ``network`` and ``limits``."""
    settings = job["settings"]
    networking = confinement.network_plan(dict(settings), bool(before_all_network))
    network = {
        "before_all_online": "before_all" in (networking["online_steps"] or []),
        "build_network_mode": networking["build_network_mode"],
        "test_network_mode": networking["test_network_mode"],
    }
    resolved = dict(job)
    resolved.update(
        dist=f"{DIST}/{job['id']}",
        repaired=f"{REPAIRED}/{job['id']}",
        requirements_key=requirements_key(job),
        repair={
            "plat": job.get("plat"),
            "exclude": list(settings.get("repair_exclude") or []),
            "strip": bool(settings.get("repair_strip")),
            "only_plat": bool(settings.get("repair_only_plat")),
            "lib_sdir": settings.get("repair_lib_sdir") or ".libs",
            "pure": settings.get("repair_pure") or "fail",
            "env": epoch_environment(job),
        },
        network=network,
        limits={
            "memory": (limits or {}).get("memory"),
            "pids_limit": (limits or {}).get("pids_limit"),
            "cpus": (limits or {}).get("cpus"),
        },
    )
    resolved["before_all"] = before_all_step(resolved)
    resolved["steps"] = build_steps(resolved)
    resolved["test_steps"] = test_steps(resolved) if resolved["tested"] else []
    resolved["group"] = group_key(resolved)
    return resolved


def requirements_key(job: Mapping[str, Any]) -> str:
    """The name of the job's requirements wheelhouse on the build host
    (``requirements-<key>.tar``): one per (architecture, Python tag, glibc), as
    :func:`wheelhouse_requests` groups them."""
    return safe_name(f"{job['arch']}-{job['python_tag']}-glibc{job['glibc']}")


def group_key(job: Mapping[str, Any]) -> str:
    """Jobs with the same key can share one build container and its before-all: the
    same image and platform, before-all script, environment and networking."""
    before_all = job.get("before_all") or {}
    document = {
        "image": job["image"],
        "platform": job["platform"],
        "before_all": before_all.get("argv"),
        "before_all_env": before_all.get("env"),
        "environment": job["settings"].get("environment") or "",
        "network": job["network"],
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


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


def image_names(
    matrix: Sequence[Mapping[str, str]],
    wanted: Sequence[str],
    repository: str,
    image: str,
    host_arch: str | None = None,
) -> list[str]:
    """Every builder image the host's jobs may use: the default image of each architecture
    (of ``wheel_build_jobs``, else of ``wheel_build_architectures``) and each image a job
    names; with ``host_arch``, each of those for the host's architecture too (whose
    userland accelerated jobs run: :func:`add_native_userland`)."""
    default = f"{repository}/{image}"
    if matrix:
        pairs = explicit_pairs(matrix)
        named = explicit_images(matrix)
        arches = list(dict.fromkeys(arch for arch, _ in pairs))
    else:
        named = {}
        arches = []
        for name in wanted:
            try:
                arches.append(architectures.resolve(name).name)
            except architectures.UnknownArchitectureError as exc:
                raise PlanError(f"wheel_build_architectures: {exc}") from None
    names = [image_reference(default, None, arch) for arch in dict.fromkeys(arches)]
    names += [image_reference(default, chosen, arch) for (arch, _), chosen in named.items()]
    if host_arch:
        host = architectures.resolve(host_arch).name
        names += [image_reference(default, None, host)] if arches else []
        names += [image_reference(default, chosen, host) for chosen in named.values()]
    return list(dict.fromkeys(names))


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

    def add(target: Mapping[str, Any], wanted: list[str], job_id: str, key: str) -> None:
        request = requests.setdefault(
            (target["arch"], target["python_tag"], target["glibc"]),
            {
                "arch": target["arch"],
                "python_tag": target["python_tag"],
                "glibc": target["glibc"],
                "requirements": [],
                "jobs": [],
            },
        )
        request["requirements"] = requirements.requirement_set(request["requirements"], wanted)
        request["jobs"].append(job_id)
        request["key"] = key

    for job in jobs:
        if job.get("status") != "build":
            continue
        settings = job["settings"]
        build_requires = list(project.get("build_requires") or [])
        build_requires += list(settings.get("extra_build_requires") or [])
        wanted = list(build_requires)
        if settings.get("test_command"):
            wanted += list(settings.get("test_requires") or [])
            wanted += list(project.get("dependencies") or [])
        add(job, wanted, job["id"], job.get("requirements_key") or requirements_key(job))
        userland = (job.get("accelerator") or {}).get("userland")
        if userland:  # the host interpreter's build environment
            host = {**userland, "arch": userland["host_arch"]}
            add(host, build_requires, job["id"], userland["requirements_key"])
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


def frontend_argv(python: str, settings: Mapping[str, Any], outdir: str = DIST) -> list[str]:
    """The PEP 517 build into ``outdir``: ``python -m build`` or ``pip wheel`` (each run
    through :data:`launchers.STABLE_NAMES`), with config-settings and the frontend's own
    arguments."""
    config = [f"{key}={value}" for key, value in settings.get("config_settings") or []]
    extra = list(settings.get("frontend_args") or [])
    if settings.get("frontend", "build") == "build":
        argv = [python, "-c", launchers.STABLE_NAMES, "build", "--wheel", "--outdir", outdir]
        argv += [f"--config-setting={item}" for item in config]
        return [*argv, *extra, SRC]
    argv = [python, "-c", launchers.STABLE_NAMES, "pip", "wheel", "--no-deps", "--use-pep517", "-v"]
    argv += [f"--config-settings={item}" for item in config]
    return [*argv, *extra, "--wheel-dir", outdir, SRC]


def before_all_step(job: Mapping[str, Any]) -> dict[str, Any] | None:
    """The before-all step, run once in each build container of the job's group."""
    settings = job["settings"]
    if not settings.get("before_all"):
        return None
    bindir = job["python"].rsplit("/", 1)[0]
    argv = ["sh", "-c", substitute(settings["before_all"])]
    env = pip_environment(settings)
    return _step("before_all", argv, env, SRC, bindir, settings.get("environment") or "")


def epoch_environment(job: Mapping[str, Any]) -> dict[str, str]:
    """``SOURCE_DATE_EPOCH`` for the build and auditwheel (none when the project has none)."""
    epoch = job.get("source_date_epoch")
    return {} if epoch is None else {"SOURCE_DATE_EPOCH": str(int(epoch))}


def build_steps(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The job's own steps in its build container: before_build, then the PEP 517 build
    into the job's ``dist`` directory (before-all is the group's: :func:`before_all_step`),
    under the source's SOURCE_DATE_EPOCH."""
    settings = job["settings"]
    python = job["python"]
    bindir = python.rsplit("/", 1)[0]
    env = {**pip_environment(settings), **epoch_environment(job)}
    tmpdir = {"TMPDIR": f"{TMP}/{job['id']}"}
    shell_env = settings.get("environment") or ""
    steps: list[dict[str, Any]] = []
    if settings.get("before_build"):
        argv = ["sh", "-c", substitute(settings["before_build"])]
        steps.append(_step("before_build", argv, env, SRC, bindir, shell_env))
    argv = frontend_argv(python, settings, job.get("dist") or DIST)
    step = _step("build", argv, {**env, **tmpdir}, SRC, bindir, shell_env)
    # The step whose interpreter (argv[0]) the engine may replace by the host's own.
    step["frontend"] = True
    steps.append(step)
    return steps


def test_steps(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The steps of a fresh test container: test-sources copied into the test directory,
    before_test, the repaired wheels (the ``{wheels}`` token, one argv element per wheel)
    installed with test-extras and test-requires, then the test command, under the
    environment and test-environment."""
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
    # The engine puts each repaired wheel where the token is (with the extras after it).
    wanted = [f"{WHEELS_TOKEN}[{extras}]" if extras else WHEELS_TOKEN]
    wanted += list(settings.get("test_requires") or [])
    if (job.get("accelerator") or {}).get("test_installer") == accelerator.INSTALLER:
        # The host-native uv installs them (pip when it cannot): launchers.TEST_INSTALL.
        install = [python, "-c", launchers.TEST_INSTALL, "install", *wanted]
        uv_env = accelerator.installer_environment(WHEELHOUSE)
        install_env = {**env, **uv_env, "WHEELFLEET_INSTALLER_MARK": TEST_INSTALLER_MARK}
    else:
        install, install_env = [python, "-m", "pip", "install", *wanted], env
    steps.append(_step("install", install, install_env, TEST_CWD, bindir, shell_env))
    argv = ["sh", "-c", substitute(settings["test_command"])]
    steps.append(_step("test", argv, env, TEST_CWD, bindir, shell_env))
    return steps


# --- results, as the engine and the watch action report them --------------------------


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
