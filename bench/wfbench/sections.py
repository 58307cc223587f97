"""The five benchmarks: per-job split, orchestration overhead, scaling, re-provisioning,
controller cost. Each returns its part of the results; every figure comes from a run in
this benchmark (see bench/README.md for what each one measures and how).
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfbench import harness
from wfbench.harness import Context, Measured
from wheelfleet import bench, bench_goals

PYTHON = "cp311"
PYTHON_TAG = "cp311-cp311"
BUILDER = "wheelfleet/bookworm"
FLEET_BASE = "wheelfleet-test/debian:bookworm"
FLEET_PREPARE = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
    " apt-get install -y -qq --no-install-recommends python3-docker >/dev/null"
)
LIBYAML = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
    " apt-get install -y -qq --no-install-recommends libyaml-dev >/dev/null"
)
PYYAML_TEST = (
    "python -c \"import yaml; assert yaml.__with_libyaml__, 'built without libyaml';"
    " print(yaml.load('a: [1, 2]', Loader=yaml.CSafeLoader))\""
)
DOCKER_PLATFORMS = {"x86_64": "linux/amd64", "i686": "linux/386", "aarch64": "linux/arm64"}

# The hand run: one `docker run` of the builder image, fed a tar of the source and the
# requirements wheelhouse on stdin, printing the repaired wheels as a tar on stdout.
HAND_SCRIPT = r"""
set -e
mark() { echo "@@bench $1 $(date +%s.%N)" >&2; }
mark started
mkdir -p /hand
tar -x -C /hand
mark copy_in
cd /hand/src
if [ -n "$BEFORE_ALL" ]; then sh -c "$BEFORE_ALL" >&2; fi
mark before_all
PIP_NO_INDEX=1 PIP_FIND_LINKS=/hand/wheelhouse PIP_DISABLE_PIP_VERSION_CHECK=1 \
  PIP_ROOT_USER_ACTION=ignore /opt/python/cp311-cp311/bin/python -m pip wheel \
  --no-deps --use-pep517 -v --wheel-dir /hand/dist /hand/src >&2
mark build
auditwheel repair --plat "$AUDITWHEEL_PLAT" -w /hand/repaired /hand/dist/*.whl >&2
mark repair
tar -c -C /hand/repaired .
"""


class SectionError(RuntimeError):
    """A section could not measure its figures; the message says why."""


@dataclass
class Project:
    """A project the benchmark builds: the bundled example, or an sdist from PyPI."""

    key: str
    label: str
    path: Path
    extravars: dict[str, Any] = field(default_factory=dict)
    before_all: str = ""
    build_requires: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)


@dataclass
class Bench:
    """The state of one benchmark run, shared by the sections."""

    ctx: Context
    quick: bool
    repeat: int
    matrix: list[str]
    pyyaml_version: str
    hand_emulated: bool
    wait_pythons: list[str] = field(default_factory=lambda: ["cp311", "cp313", "cp314", "cp315"])
    """The jobs of the wait-bound fleet: x86_64 for each of these CPythons."""
    wait_seconds: int = 20
    """The wait-bound project's before-build sleep."""
    measurements: list[Measured] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    projects: dict[str, Project] = field(default_factory=dict)
    fleet: list[str] = field(default_factory=list)
    prepared: dict[str, Any] = field(default_factory=dict)

    def record(self, measured: Measured, kind: str) -> Measured:
        self.measurements.append(measured)
        if kind == "release":
            self.releases.append({"name": measured.name, **measured.summary()})
        return measured


# ----------------------------------------------------------------------------- inputs


def example(b: Bench) -> Project:
    """examples/yamlcount of the measured code, with its [tool.wheelfleet] settings."""
    if "yamlcount" not in b.projects:
        path = b.ctx.root / "examples" / "yamlcount"
        config = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))
        b.projects["yamlcount"] = Project(
            key="yamlcount",
            label="yamlcount",
            path=path,
            before_all=config.get("tool", {}).get("wheelfleet", {}).get("before-all", ""),
            build_requires=list(config.get("build-system", {}).get("requires", [])),
            source={"from": "examples/yamlcount of the measured commit"},
        )
    return b.projects["yamlcount"]


def pyyaml(b: Bench) -> Project:
    """PyYAML's sdist, downloaded from PyPI now (the controller's pip), built with libyaml."""
    return _sdist_project(
        b,
        "pyyaml",
        f"PyYAML=={b.pyyaml_version}",
        f"PyYAML {b.pyyaml_version}",
        before_all=LIBYAML,
        environment={"PYYAML_FORCE_LIBYAML": "1"},
        test_command=PYYAML_TEST,
    )


MURMURHASH_VERSION = "1.0.15"
MURMURHASH_TEST = (
    "python -c \"from murmurhash import hash; h = hash('wheelfleet');"
    " assert isinstance(h, int) and h == hash('wheelfleet'); print(h)\""
)


def murmurhash(b: Bench) -> Project:
    """murmurhash's sdist from PyPI: Cython and C++ (the accelerator's C++ figure)."""
    return _sdist_project(
        b,
        "murmurhash",
        f"murmurhash=={MURMURHASH_VERSION}",
        f"murmurhash {MURMURHASH_VERSION}",
        test_command=MURMURHASH_TEST,
    )


def _sdist_project(
    b: Bench,
    key: str,
    requirement: str,
    label: str,
    *,
    before_all: str = "",
    environment: Mapping[str, str] | None = None,
    test_command: str = "",
) -> Project:
    """An sdist downloaded from PyPI now (the controller's pip)."""
    if key in b.projects:
        return b.projects[key]
    directory = b.ctx.scratch / f"sdist-{key}"
    directory.mkdir(exist_ok=True)
    b.ctx.say(f"  downloading the sdist of {requirement} with pip")
    started = time.monotonic()
    done = harness.run(
        [
            str(b.ctx.python),
            *("-m", "pip", "download", "--disable-pip-version-check", "--no-deps"),
            *("--no-binary", ":all:", "-d", str(directory), requirement),
        ],
        timeout=600,
    )
    seconds = time.monotonic() - started
    found = sorted(directory.glob("*.tar.gz"))
    if done.returncode != 0 or not found:
        raise SectionError(f"cannot download the sdist of {requirement}:\n{done.stderr[-2000:]}")
    sdist = found[0]
    with tarfile.open(sdist) as packed:
        member = next(m for m in packed.getmembers() if m.name.endswith("/pyproject.toml"))
        handle = packed.extractfile(member)
        config = tomllib.loads(handle.read().decode() if handle else "")
    extravars: dict[str, Any] = {}
    if before_all:
        extravars["wheel_build_before_all"] = before_all
    if environment:
        extravars["wheel_build_environment"] = dict(environment)
    if test_command:
        extravars["wheel_build_test_command"] = test_command
    b.projects[key] = Project(
        key=key,
        label=label,
        path=sdist,
        extravars=extravars,
        before_all=before_all,
        build_requires=list(config.get("build-system", {}).get("requires", [])),
        environment=dict(environment or {}),
        source={
            "from": "PyPI, downloaded by this run (pip download --no-binary :all:)",
            "file": sdist.name,
            "sha256": hashlib.sha256(sdist.read_bytes()).hexdigest(),
            "size": sdist.stat().st_size,
            "download_seconds": round(seconds, 1),
        },
    )
    return b.projects[key]


def image_recipe(architectures: Sequence[str]) -> dict[str, Any]:
    """The default builder image recipe (bookworm, bootstrapped) for more architectures.

    A release only plans the architectures a recipe covers, so releases of an i686 job
    pass this too.
    """
    return {
        "builder_image_images": [
            {
                "name": "bookworm",
                "source": "bootstrap",
                "suite": "bookworm",
                "architectures": sorted({"x86_64", "aarch64", *architectures}),
            }
        ]
    }


def ensure_images(b: Bench, architectures: Sequence[str]) -> None:
    """The builder images the benchmark needs; missing ones are built with wheelfleet images."""
    client = harness.docker_client()
    missing = []
    for arch in architectures:
        try:
            client.images.get(f"{BUILDER}:{arch}")
        except Exception:
            missing.append(arch)
    if not missing:
        return
    b.ctx.say(
        f"  building the missing builder images ({', '.join(missing)}) with wheelfleet images"
    )
    started = time.monotonic()
    done = harness.run(
        [
            str(b.ctx.wheelfleet),
            *("images", "--json", "-e", json.dumps(image_recipe(architectures))),
        ],
        env=b.ctx.env(),
        cwd=b.ctx.scratch,
        timeout=3600,
    )
    b.prepared.setdefault("images", []).append(
        {"built": missing, "seconds": round(time.monotonic() - started, 1), "rc": done.returncode}
    )
    if done.returncode != 0:
        raise SectionError(
            f"wheelfleet images could not build {', '.join(missing)}:\n{done.stderr[-3000:]}"
        )


# --------------------------------------------------------------------------- releases


def release(
    b: Bench,
    name: str,
    project: Project,
    architectures: Sequence[str],
    *,
    wheelhouse: Path,
    inventory: Path | None = None,
    extravars: Mapping[str, Any] | None = None,
    force: bool = True,
    skip_provision: bool = True,
    skip_images: bool = True,
    release_id: str | None = None,
    expect: int | None = None,
    pythons: Sequence[str] = (PYTHON,),
    extra_args: Sequence[str] = (),
) -> Measured:
    """``wheelfleet release`` of a project, measured; raises SectionError when it fails, or
    when it has another number of jobs than ``expect``."""
    argv = [str(b.ctx.wheelfleet), "release", str(project.path), "--json"]
    argv += ["-w", str(wheelhouse)]
    for python in pythons:
        argv += ["--python", python]
    for arch in architectures:
        argv += ["--arch", arch]
    if inventory is not None:
        argv += ["-i", str(inventory)]
    if force:
        argv.append("--force")
    if skip_provision:
        argv.append("--skip-provision")
    if skip_images:
        argv.append("--skip-images")
    argv += ["-e", f"wheelfleet_release_id={release_id or b.ctx.release_id(name)}"]
    variables = {**project.extravars, **(extravars or {})}
    if variables:
        argv += ["-e", json.dumps(variables, sort_keys=True)]
    argv += list(extra_args)
    b.ctx.say(
        f"  {name}: wheelfleet release {project.label}"
        f" ({', '.join(architectures)}; {', '.join(pythons)})"
    )
    measured = b.record(harness.measure(b.ctx, name, argv), "release")
    b.ctx.say(f"  {name}: exit {measured.rc} in {bench.fmt_seconds(measured.wall)}")
    if measured.rc != 0:
        raise SectionError(f"{name}: wheelfleet release exited {measured.rc}:\n{_tail(measured)}")
    counts = release_counts(measured)
    if expect is not None and counts.get("jobs") != expect:
        report = (measured.document().get("release") or {}).get("report") or {}
        raise SectionError(
            f"{name}: the release has {counts.get('jobs')} job(s), not {expect}"
            f" ({', '.join(architectures)}): {report.get('headline', '')}\n{_tail(measured)}"
        )
    return measured


def _tail(measured: Measured, lines: int = 25) -> str:
    text = measured.stderr.strip().splitlines()
    failures = [line for line in text if line.startswith(("FAILED", "failed", "  "))]
    return "\n".join((failures or text)[-lines:])


def manifest_jobs(wheelhouse: Path, release_id: str) -> dict[str, dict[str, Any]]:
    """The wheelhouse manifest's entries of one release, by architecture."""
    try:
        wheels = json.loads((wheelhouse / "manifest.json").read_text())["wheels"]
    except (OSError, ValueError, KeyError):
        return {}
    return {
        entry["architecture"]: entry
        for entry in wheels.values()
        if str(entry.get("run_id", "")).startswith(release_id)
    }


def job_records(measured: Measured, wheelhouse: Path, release_id: str) -> dict[str, Any]:
    """Each job of a release: its split, steps, wall time and wheel, by architecture."""
    walls = bench.job_walls(measured.lines)
    records: dict[str, Any] = {}
    for arch, entry in manifest_jobs(wheelhouse, release_id).items():
        timings = entry.get("timings") or {}
        progress = walls.get(entry.get("identifier", "")) or {}
        steps = bench.steps_total(timings)
        wall = progress.get("wall")
        records[arch] = {
            "identifier": entry.get("identifier"),
            "host": entry.get("host"),
            "mode": entry.get("mode"),
            # accelerated:<toolchain>+host-userland when the host's Python built the wheel.
            "toolchain_mode": entry.get("toolchain_mode"),
            "wall": bench.rounded(wall, 1),
            "steps": bench.rounded(steps, 1),
            "between_steps": bench.rounded(wall - steps, 1) if wall is not None else None,
            "split": bench.split_timings(timings),
            "timings": timings,
            "wheel": entry.get("file"),
            "grafted": entry.get("grafted"),
            "tested": entry.get("tested"),
        }
    return records


def release_counts(measured: Measured) -> dict[str, Any]:
    report = (measured.document().get("release") or {}).get("report") or {}
    return dict(report.get("counts") or {})


# ---------------------------------------------------------------------- 1. the split


SPLIT_METHOD = (
    "Each project is released on this machine (the embedded localhost inventory) for"
    " x86_64 (native) and aarch64 (QEMU user emulation) with `--force`, one job at a time"
    " (`wheel_build_concurrency=1`), so that the jobs do not share the cores. The split comes"
    " from the step timings the wheel_build role records in manifest.json: container start,"
    " copy-in, build requirements (the controller's download, 0 when cached, plus before_all,"
    " the apt install of libyaml-dev in the build container), build (the PEP 517 build, whose"
    " isolated environment installs the Python build requirements offline), repair"
    " (auditwheel), test (a fresh test container, the offline install, the test command) and"
    " copy-out. The job wall runs from the job starting to build to its wheel published (as"
    " `wheelfleet release` shows it); the difference to the steps is Ansible's own time between"
    " the steps (task dispatch, module transfer, async polling every 3 s). The emulation ratio"
    " is aarch64 / x86_64 of the job wall, of the steps, and of the build step alone."
    " The aarch64 job of that release is accelerated (wheel_build_accelerate, the default:"
    " the host-native clang and lld of the ziglang wheel compile; with"
    " wheel_build_native_userland, the default, the x86_64 image's Python runs the build and"
    " its apt runs before_all, natively in the aarch64 container; the job's `toolchain_mode`"
    " says which ran; its set-up in the container, the `accelerator` step, counts in the"
    " build). A second"
    " release builds the aarch64 job under plain emulation (`wheel_build_accelerate=false`)"
    " right after, for the plain emulation ratio beside the accelerated one."
)


def split(b: Bench) -> dict[str, Any]:
    projects = [example(b)] if b.quick else [example(b), pyyaml(b), murmurhash(b)]
    ensure_images(b, ["x86_64", "aarch64"])
    results: dict[str, Any] = {"method": SPLIT_METHOD, "projects": []}
    for project in projects:
        name = f"split-{project.key}"
        wheelhouse = b.ctx.scratch / f"wheelhouse-{name}"
        measured = release(
            b,
            name,
            project,
            ["x86_64", "aarch64"],
            wheelhouse=wheelhouse,
            extravars={"wheel_build_concurrency": 1},
            expect=2,
        )
        jobs = job_records(measured, wheelhouse, b.ctx.release_id(name))
        plain_name = f"{name}-plain"
        plain_wheelhouse = b.ctx.scratch / f"wheelhouse-{plain_name}"
        plain_measured = release(
            b,
            plain_name,
            project,
            ["aarch64"],
            wheelhouse=plain_wheelhouse,
            extravars={"wheel_build_concurrency": 1, "wheel_build_accelerate": False},
            expect=1,
        )
        plain = job_records(plain_measured, plain_wheelhouse, b.ctx.release_id(plain_name))
        if plain.get("aarch64"):
            jobs["aarch64 plain"] = plain["aarch64"]
        x86, arm = jobs.get("x86_64") or {}, jobs.get("aarch64") or {}
        entry = {
            "name": project.key,
            "label": project.label,
            "source": project.source,
            "release_wall": round(measured.wall, 1),
            "jobs": jobs,
            "emulation": {
                "wall": bench.rounded(bench.ratio(arm.get("wall"), x86.get("wall"))),
                "steps": bench.rounded(bench.ratio(arm.get("steps"), x86.get("steps"))),
                "build": bench.rounded(
                    bench.ratio(
                        (arm.get("split") or {}).get("build"), (x86.get("split") or {}).get("build")
                    )
                ),
            },
            "window": measured.window.to_json(),
        }
        entry["accelerated"] = accelerated_ratios(x86, arm, jobs.get("aarch64 plain") or {})
        if b.hand_emulated:
            hand = {
                arch: hand_run(b, project, arch, f"hand-{project.key}")
                for arch in ("x86_64", "aarch64")
            }
            entry["hand"] = hand
            entry["emulation"]["hand"] = bench.rounded(
                bench.ratio(hand["aarch64"]["wall"], hand["x86_64"]["wall"])
            )
            entry["emulation"]["hand_build"] = bench.rounded(
                bench.ratio(hand["aarch64"]["split"]["build"], hand["x86_64"]["split"]["build"])
            )
        results["projects"].append(entry)
    return results


def accelerated_ratios(
    native: Mapping[str, Any], accelerated: Mapping[str, Any], plain: Mapping[str, Any]
) -> dict[str, Any]:
    """The accelerated aarch64 job against the native x86_64 one (the issue's goals: build
    step and whole job), the plain emulated job against both."""

    def build(job: Mapping[str, Any]) -> float | None:
        return (job.get("split") or {}).get("build")

    return {
        "mode": accelerated.get("mode"),
        "build": bench_goals.goal(
            "accelerated_build", bench.ratio(build(accelerated), build(native))
        ),
        "wall": bench_goals.goal(
            "accelerated_wall", bench.ratio(accelerated.get("wall"), native.get("wall"))
        ),
        "plain_build": bench.rounded(bench.ratio(build(plain), build(native))),
        "plain_wall": bench.rounded(bench.ratio(plain.get("wall"), native.get("wall"))),
        "speedup_build": bench.rounded(bench.ratio(build(plain), build(accelerated))),
        "speedup_wall": bench.rounded(bench.ratio(plain.get("wall"), accelerated.get("wall"))),
    }


# ---------------------------------------------------------------------- 2. overhead


def _requirements(
    b: Bench, project: Project, arch: str, plat: str, extra: Sequence[str] = ()
) -> Path:
    """The build requirements' wheelhouse for the hand run, made by the measured code's own
    downloader (the same pip download as wheelfleet's), in a cache of the benchmark's own."""
    code = (
        "import json, sys\n"
        "from wheelfleet import requirements as r\n"
        "reqs, arch, tag, plat, cache = json.loads(sys.argv[1])\n"
        "glibc = r.glibc_from_plat(plat)\n"
        "print(json.dumps(r.ensure(reqs, arch, tag, glibc, cache)))\n"
    )
    wanted = [*project.build_requires, *extra]
    arguments = [wanted, arch, PYTHON_TAG, plat, str(b.ctx.scratch / "hand-cache")]
    done = harness.run(
        [str(b.ctx.python), "-c", code, json.dumps(arguments)], env=b.ctx.env(), timeout=900
    )
    if done.returncode != 0:
        raise SectionError(f"cannot download the hand run's requirements:\n{done.stderr[-2000:]}")
    return Path(json.loads(done.stdout.strip().splitlines()[-1])["path"])


def _image_plat(arch: str) -> str:
    image = harness.docker_client().images.get(f"{BUILDER}:{arch}")
    for item in image.attrs.get("Config", {}).get("Env") or []:
        if item.startswith("AUDITWHEEL_PLAT="):
            return str(item.split("=", 1)[1])
    raise SectionError(f"{BUILDER}:{arch} has no AUDITWHEEL_PLAT")


def _hand_input(b: Bench, project: Project, wheelhouse: Path, name: str) -> Path:
    """The tar the hand run reads on stdin: src/ (the project) and wheelhouse/."""
    archive = b.ctx.scratch / f"{name}-input.tar"
    with tarfile.open(archive, "w") as packed:
        if project.path.is_dir():
            packed.add(project.path, arcname="src")
        else:
            with tarfile.open(project.path) as sdist:
                for member in sdist.getmembers():
                    parts = member.name.split("/", 1)
                    if len(parts) < 2 or not parts[1]:
                        continue
                    member.name = f"src/{parts[1]}"
                    handle = sdist.extractfile(member) if member.isfile() else None
                    packed.addfile(member, handle)
        packed.add(wheelhouse, arcname="wheelhouse")
    return archive


def hand_run(
    b: Bench, project: Project, arch: str, name: str, test: bool = False
) -> dict[str, Any]:
    """One `docker run` of the builder image that builds and repairs, with no Ansible; with
    ``test``, a second one, a fresh container, installs the wheel and runs the tests."""
    plat = _image_plat(arch)
    wheelhouse = _requirements(b, project, arch, plat, HAND_TEST_REQUIRES if test else ())
    stdin = _hand_input(b, project, wheelhouse, f"{name}-{arch}")
    stdout = b.ctx.scratch / f"{name}-{arch}-output.tar"
    container = f"wfbench-{b.ctx.token}-{name}-{arch}"
    argv = ["docker", "run", "-i", "--rm", "--name", container]
    argv += ["--label", f"{harness.BENCH_LABEL}={b.ctx.token}"]
    argv += ["--platform", DOCKER_PLATFORMS[arch], "-e", f"BEFORE_ALL={project.before_all}"]
    for key, value in project.environment.items():
        argv += ["-e", f"{key}={value}"]
    argv += [f"{BUILDER}:{arch}", "sh", "-c", HAND_SCRIPT]
    label = f"{name}-{arch}"
    b.ctx.say(f"  {label}: docker run {BUILDER}:{arch} (build and repair {project.label} by hand)")
    shown = [*argv[:-1], "<the hand script in bench/wfbench/sections.py>"]
    measured = b.record(
        harness.measure(b.ctx, label, argv, stdin=stdin, stdout=stdout, timeout=3600, shown=shown),
        "hand",
    )
    b.ctx.say(f"  {label}: exit {measured.rc} in {bench.fmt_seconds(measured.wall)}")
    if measured.rc != 0:
        raise SectionError(f"{label}: docker run exited {measured.rc}:\n{measured.stderr[-3000:]}")
    with tarfile.open(stdout) as produced:
        names = produced.getnames()
    wheels = [Path(n).name for n in names if n.endswith(".whl")]
    if not wheels:
        raise SectionError(f"{label}: the hand run produced no repaired wheel")
    marks = bench.parse_marks(measured.stderr)
    try:
        parts = bench.hand_split(marks, measured.started, measured.ended)
    except ValueError as exc:
        raise SectionError(f"{label}: {exc}") from None
    result = {
        "wall": round(measured.wall, 2),
        "split": parts,
        "wheel": wheels[0],
        "command": f"docker run -i --rm --platform {DOCKER_PLATFORMS[arch]} {BUILDER}:{arch}"
        " sh -c SCRIPT < source-and-wheelhouse.tar > repaired.tar",
        "window": measured.window.to_json(),
    }
    if test:
        tested = hand_test_run(b, project, arch, label, stdout, wheelhouse)
        result["build_wall"] = result["wall"]
        result["test"] = tested
        result["wall"] = round(result["wall"] + tested["wall"], 2)
        result["split"]["test"] = tested["wall"]
    return result


HAND_TEST_REQUIRES = ("pytest",)
# The hand test: a fresh container of the same image reads a tar of the repaired wheel, the
# project's tests and the wheelhouse, installs the wheel and pytest offline, runs the tests.
HAND_TEST_SCRIPT = r"""
set -e
mark() { echo "@@bench $1 $(date +%s.%N)" >&2; }
mark started
mkdir -p /hand
tar -x -C /hand
mark copy_in
PIP_NO_INDEX=1 PIP_FIND_LINKS=/hand/wheelhouse PIP_DISABLE_PIP_VERSION_CHECK=1 \
  PIP_ROOT_USER_ACTION=ignore /opt/python/cp311-cp311/bin/python -m pip install \
  /hand/repaired/*.whl pytest >&2
mark install
cd /
/opt/python/cp311-cp311/bin/python -m pytest -q -p no:cacheprovider /hand/src/tests >&2
mark test
"""
HAND_TEST_MARKS = ("started", "copy_in", "install", "test")


def hand_test_run(
    b: Bench, project: Project, arch: str, label: str, repaired: Path, wheelhouse: Path
) -> dict[str, Any]:
    """The hand run's test, in a fresh container, as wheelfleet and cibuildwheel test."""
    archive = b.ctx.scratch / f"{label}-test-input.tar"
    with tarfile.open(archive, "w") as packed, tarfile.open(repaired) as produced:
        for member in produced.getmembers():
            if member.isfile():
                member.name = f"repaired/{Path(member.name).name}"
                packed.addfile(member, produced.extractfile(member))
        packed.add(project.path / "tests", arcname="src/tests")
        packed.add(wheelhouse, arcname="wheelhouse")
    container = f"wfbench-{b.ctx.token}-{label}-test"
    argv = ["docker", "run", "-i", "--rm", "--name", container]
    argv += ["--label", f"{harness.BENCH_LABEL}={b.ctx.token}"]
    argv += ["--platform", DOCKER_PLATFORMS[arch], f"{BUILDER}:{arch}", "sh", "-c"]
    shown = [*argv, "<the hand test script in bench/wfbench/sections.py>"]
    b.ctx.say(f"  {label}-test: docker run {BUILDER}:{arch} (install and test by hand)")
    measured = b.record(
        harness.measure(
            b.ctx, f"{label}-test", [*argv, HAND_TEST_SCRIPT], stdin=archive, shown=shown
        ),
        "hand",
    )
    b.ctx.say(f"  {label}-test: exit {measured.rc} in {bench.fmt_seconds(measured.wall)}")
    if measured.rc != 0:
        raise SectionError(
            f"{label}-test: docker run exited {measured.rc}:\n{measured.stderr[-3000:]}"
        )
    marks = bench.parse_marks(measured.stderr)
    return {
        "wall": round(measured.wall, 2),
        "split": bench_goals.marks_split(marks, HAND_TEST_MARKS, measured.started, measured.ended),
        "window": measured.window.to_json(),
    }


OVERHEAD_METHOD = (
    "One job, yamlcount cp311 x86_64 on this machine, two ways, each with the project's own"
    " before-all (the apt install of libyaml-dev) and test (pytest in a fresh container)."
    " wheelfleet: `wheelfleet release --arch x86_64 --python cp311 --force --skip-provision"
    " --skip-images` with pip as the frontend (`wheel_build_frontend=pip`). By hand: one"
    " `docker run -i --rm` of the same builder image whose script reads a tar of the source and"
    " the same requirement wheels on stdin, runs the before-all, `pip wheel` offline and"
    " `auditwheel repair`, and writes the repaired wheel as a tar on stdout; then a second"
    " `docker run -i --rm` (a fresh container) reads the repaired wheel, the tests and the"
    " wheelhouse, installs the wheel and pytest offline and runs the tests. `date` marks in the"
    " scripts time their steps. The hand run's container start is from launching `docker run`"
    " to the script's first mark; its copy-out includes the container's exit and removal."
    " Packing its input and downloading its requirements are done before and not counted"
    " (wheelfleet's cache of the requirements is warm too). The rows before and after the job's"
    " steps are wheelfleet's phases, from the times its progress lines arrived. The job's own"
    " steps are the sum of the manifest's step times. Best of the samples (the least contended)"
    " is shown. Goals: wall <= 1.5x the hand run, steps <= 1.15x."
)


def overhead(b: Bench) -> dict[str, Any]:
    project = example(b)
    ensure_images(b, ["x86_64"])
    # The project's own settings (before-all, the pytest test); pip builds, as by hand.
    extravars = {"wheel_build_frontend": "pip", "wheel_build_concurrency": 1}
    samples: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for index in range(1, b.repeat + 1):
        name = f"overhead-wheelfleet-{index}"
        wheelhouse = b.ctx.scratch / f"wheelhouse-{name}"
        measured = release(
            b, name, project, ["x86_64"], wheelhouse=wheelhouse, extravars=extravars, expect=1
        )
        jobs = job_records(measured, wheelhouse, b.ctx.release_id(name))
        job = jobs.get("x86_64")
        if not job:
            raise SectionError(f"{name}: the release published no x86_64 job")
        if not job.get("tested"):
            b.notes.append(f"{name}: the job ran no test, which the hand run does")
        ours = {
            "wall": round(measured.wall, 2),
            "phases": bench.release_phases(measured.lines, measured.wall),
            "split": job["split"],
            "steps": job["steps"],
            "job_wall": job["wall"],
            "between_steps": job["between_steps"],
            "task_seconds": round(bench.task_seconds(measured.lines), 1),
            "window": measured.window.to_json(),
        }
        hand = hand_run(b, project, "x86_64", f"hand-overhead-{index}", test=True)
        samples.append((ours, hand))
    best_ours = min((s[0] for s in samples), key=lambda s: s["wall"])
    best_hand = min((s[1] for s in samples), key=lambda s: s["wall"])
    return {
        "method": OVERHEAD_METHOD,
        "job": "yamlcount cp311-manylinux_x86_64, with its test",
        "wheelfleet_wall": best_ours["wall"],
        "hand_wall": best_hand["wall"],
        "ratio": bench.rounded(bench.ratio(best_ours["wall"], best_hand["wall"])),
        "steps_ratio": bench.rounded(bench.ratio(best_ours["steps"], best_hand["wall"])),
        "goal_wall": bench_goals.goal(
            "overhead_wall", bench.ratio(best_ours["wall"], best_hand["wall"])
        ),
        "goal_steps": bench_goals.goal(
            "overhead_steps", bench.ratio(best_ours["steps"], best_hand["wall"])
        ),
        "job_wall_ratio": bench.rounded(bench.ratio(best_ours["job_wall"], best_hand["wall"])),
        "rows": bench.overhead_rows(best_ours, best_hand["split"]),
        "wheelfleet": best_ours,
        "hand": best_hand,
        "samples": [[s[0]["wall"], s[1]["wall"]] for s in samples],
    }


# ----------------------------------------------------------------------- 3. scaling


def start_fleet(b: Bench, count: int) -> list[str]:
    """Container hosts on this machine's engine (shared socket), as tests/integration do."""
    if len(b.fleet) >= count:
        return b.fleet[:count]
    client = harness.docker_client()
    try:
        client.images.get(FLEET_BASE)
    except Exception as exc:
        raise SectionError(
            f"{FLEET_BASE} is missing; build it with"
            " ansible-playbook -i inventory/localhost.yml tests/images/base-images.yml"
        ) from exc
    started = time.monotonic()
    new = []
    for letter in "abcdefgh"[len(b.fleet) : count]:
        name = f"wfbench-{b.ctx.token}-{letter}"
        new.append(
            client.containers.run(
                FLEET_BASE,
                ["sleep", "infinity"],
                name=name,
                detach=True,
                labels={harness.BENCH_LABEL: b.ctx.token},
                volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
            )
        )
        b.fleet.append(name)

    def prepare(container: Any) -> tuple[int, str]:
        result = container.exec_run(["sh", "-c", FLEET_PREPARE])
        return result.exit_code, result.output.decode(errors="replace")

    b.ctx.say(f"  preparing {len(new)} container host(s) (python3-docker from apt)")
    with ThreadPoolExecutor(max(1, len(new))) as pool:
        for code, output in pool.map(prepare, new):
            if code != 0:
                raise SectionError(f"a container host could not install python3-docker:\n{output}")
    b.prepared.setdefault("fleet", []).append(
        {"hosts": len(new), "seconds": round(time.monotonic() - started, 1)}
    )
    return b.fleet[:count]


def write_inventory(path: Path, hosts: Mapping[str, Mapping[str, Any]]) -> Path:
    group = {
        "vars": {
            "ansible_connection": "community.docker.docker",
            "ansible_python_interpreter": "/usr/bin/python3",
        },
        "hosts": {name: dict(values) for name, values in hosts.items()},
    }
    # JSON is YAML: ansible reads this inventory file as YAML.
    path.write_text(json.dumps({"all": {"children": {"build_hosts": group}}}, indent=2))
    return path


SCALING_METHOD = (
    "The matrix is yamlcount cp311 on {arches}: {n} jobs, distinct build identifiers of one"
    " release (the builder images have one interpreter, cp311, so the jobs differ by"
    " architecture: x86_64 and i686 run natively, aarch64 under emulation and costs several"
    " native jobs). Each way is one `wheelfleet release --force --skip-provision"
    " --skip-images`, without the wheels' test (`wheelfleet_options={{test-skip: '*'}}`: the"
    " split measures the test) on container hosts: containers of {base} on this machine's"
    " engine that"
    " drive it through its socket (the community.docker.docker connection), as the"
    " integration tests do. One host sequential has 1 slot; one host concurrent has {cores}"
    " (the cores); in the fleets each host has 1 slot (wheelfleet_capacity=1,"
    " wheel_build_concurrency=1), so a fleet of K hosts has K slots. Every host shares the same"
    " {cores} cores and engine: a fleet here measures scheduling and orchestration, not more"
    " hardware. Job times for the ideal are the sequential run's job walls (each job alone):"
    " ideal span = their sum / slots, bound = max(ideal, longest job), efficiency = ideal /"
    " measured span. The span runs from the first job starting to build to the last job done;"
    " the wall is the whole release."
)


def scaling(b: Bench) -> dict[str, Any]:
    project = example(b)
    ensure_images(b, b.matrix)
    cores = os.cpu_count() or 1
    hosts = start_fleet(b, 3)
    single = {"wheelfleet_capacity": 1, "wheel_build_concurrency": 1}
    ways = [
        ("1 host, sequential", [hosts[0]], 1, single),
        (
            "1 host, concurrent",
            [hosts[0]],
            cores,
            {"wheelfleet_capacity": cores, "wheel_build_concurrency": cores},
        ),
        ("fleet of 2 hosts", hosts[:2], 2, single),
        ("fleet of 3 hosts", hosts[:3], 3, single),
    ]
    measured_ways: list[bench.Way] = []
    details: dict[str, Any] = {}
    windows: dict[str, Any] = {}
    for index, (title, names, slots, variables) in enumerate(ways, start=1):
        name = f"scaling-{index}"
        inventory = write_inventory(
            b.ctx.scratch / f"{name}.yml", {host: variables for host in names}
        )
        wheelhouse = b.ctx.scratch / f"wheelhouse-{name}"
        measured = release(
            b,
            name,
            project,
            b.matrix,
            wheelhouse=wheelhouse,
            inventory=inventory,
            extravars={**image_recipe(b.matrix), "wheelfleet_options": {"test-skip": "*"}},
            expect=len(b.matrix),
        )
        walls = bench.job_walls(measured.lines)
        measured_ways.append(
            bench.Way(
                name=title,
                hosts=len(names),
                slots=slots,
                wall=measured.wall,
                span=bench.jobs_span(walls),
                jobs={job: info["wall"] for job, info in walls.items() if "wall" in info},
                parallel=bench.peak_parallel(walls),
            )
        )
        parallel = bench.peak_parallel(walls)
        if parallel < min(slots, len(b.matrix)):
            b.notes.append(
                f"{title}: at most {parallel} job(s) built at once, with {slots} slot(s) on"
                f" {len(names)} host(s) for {len(b.matrix)} jobs"
            )
        details[title] = {
            "release": name,
            "placement": {job: info.get("host") for job, info in sorted(walls.items())},
            "jobs": job_records(measured, wheelhouse, b.ctx.release_id(name)),
            "phases": bench.release_phases(measured.lines, measured.wall),
        }
        windows[title] = measured.window.to_json()
    return {
        "method": SCALING_METHOD.format(
            arches=", ".join(b.matrix), n=len(b.matrix), base=FLEET_BASE, cores=cores
        ),
        "matrix": [f"{PYTHON}-manylinux_{arch}" for arch in b.matrix],
        "cores": cores,
        "table": bench.scaling_table(measured_ways),
        "ways": details,
        "windows": windows,
    }


# ------------------------------------------------------------------ 4. reprovision


def _recap_text(document: Mapping[str, Any]) -> str:
    hosts = document.get("hosts") or {}
    return "; ".join(
        f"{host}: " + " ".join(f"{k}={v}" for k, v in counts.items())
        for host, counts in sorted(hosts.items())
    )


def _provision(b: Bench, name: str, check: bool) -> tuple[Measured, dict[str, Any]]:
    argv = [str(b.ctx.wheelfleet), "provision", "--json"] + (["--check"] if check else [])
    b.ctx.say(f"  {name}: wheelfleet provision{' --check' if check else ''} (localhost)")
    measured = b.record(harness.measure(b.ctx, name, argv, timeout=1800), "provision")
    document = measured.document()
    changed = sum(int(c.get("changed", 0)) for c in (document.get("hosts") or {}).values())
    b.ctx.say(
        f"  {name}: exit {measured.rc}, changed={changed}, {bench.fmt_seconds(measured.wall)}"
    )
    item = {
        "title": f"wheelfleet provision{' --check' if check else ''} (provision.yml),"
        " provisioned localhost",
        "wall": round(measured.wall, 1),
        "rc": measured.rc,
        "changed": changed,
        "recap": document.get("hosts"),
        "recap_text": _recap_text(document),
        "window": measured.window.to_json(),
    }
    return measured, item


def _image_ids(architectures: Sequence[str]) -> dict[str, str | None]:
    client = harness.docker_client()
    ids: dict[str, str | None] = {}
    for arch in architectures:
        try:
            ids[arch] = client.images.get(f"{BUILDER}:{arch}").id
        except Exception:  # docker.errors.ImageNotFound
            ids[arch] = None
    return ids


def reprovision(b: Bench) -> dict[str, Any]:
    results: dict[str, Any] = {}
    _, check = _provision(b, "provision-check", check=True)
    results["provision_check"] = check
    clean = check["rc"] == 0 and check["changed"] == 0
    if clean:
        _, real = _provision(b, "provision", check=False)
        results["provision"] = real
        if real["changed"]:
            b.notes.append(
                f"provision.yml reported changed={real['changed']} on the provisioned host:"
                " not idempotent on this run"
            )
    else:
        reason = (
            f"check mode reported changed={check['changed']} (exit {check['rc']}); a real run"
            " could restart the engine others use"
        )
        results["provision"] = {"title": "wheelfleet provision", "skipped": reason}
    # A first release right before the re-releases: nothing else changes in between
    # (a builder image rebuilt by other work would make the re-release build again).
    project = example(b)
    architectures = ["x86_64"]
    ensure_images(b, architectures)
    wheelhouse = b.ctx.scratch / "wheelhouse-rerelease"
    images = _image_ids(architectures)
    first = release(
        b, "rerelease-first", project, architectures, wheelhouse=wheelhouse, force=False, expect=1
    )
    counts = release_counts(first)
    results["first_release"] = {
        "title": f"first release of {project.label} ({', '.join(architectures)}), fresh wheelhouse",
        "wall": round(first.wall, 1),
        "built": counts.get("built"),
        "up_to_date": counts.get("up_to_date"),
        "recap_text": f"built={counts.get('built')}, up to date={counts.get('up_to_date')}",
        "window": first.window.to_json(),
    }
    for key, skip, title in (
        ("rerelease_skip", True, "unchanged re-release, --skip-provision --skip-images"),
        ("rerelease_full", False, "unchanged re-release with provisioning and images"),
    ):
        if not skip and not clean:
            results[key] = {"title": title, "skipped": "provisioning was not clean (see above)"}
            continue
        name = key.replace("_", "-")
        measured = release(
            b,
            name,
            project,
            architectures,
            wheelhouse=wheelhouse,
            force=False,
            skip_provision=skip,
            skip_images=skip,
            expect=1,
        )
        counts = release_counts(measured)
        now = _image_ids(architectures)
        results[key] = {
            "title": f"{title} of {project.label} ({', '.join(architectures)})",
            "wall": round(measured.wall, 1),
            "built": counts.get("built"),
            "up_to_date": counts.get("up_to_date"),
            "ratio_to_first": bench.rounded(bench.ratio(measured.wall, first.wall)),
            "recap_text": f"built={counts.get('built')}, up to date={counts.get('up_to_date')};"
            f" {_recap_text(measured.document())}",
            "phases": bench.release_phases(measured.lines, measured.wall),
            "images_unchanged": now == images,
            "window": measured.window.to_json(),
        }
        if counts.get("built"):
            why = (
                "a builder image changed meanwhile (rebuilt by other work)"
                if now != images
                else "the builder images did not change"
            )
            b.notes.append(f"{name}: the re-release built {counts['built']} job(s); {why}")
        images = now
    return results


# -------------------------------------------------------------------- 5. controller


CONTROLLER_METHOD = (
    "Every run below is a child of the benchmark, which is a child subreaper and reaps every"
    " descendant: CPU user and sys are getrusage(RUSAGE_CHILDREN) over the run, so they include"
    " wheelfleet, ansible-playbook, its forks, the modules that run on the controller and"
    " Ansible's daemonized async wrappers. Peak RSS is the largest sum of the resident set sizes"
    " of that process tree, sampled twice a second (shared pages count once per process, so it"
    " is an upper bound). On localhost the build host's modules run in this tree too (the local"
    " connection); on container hosts they run inside the containers and are not counted. The"
    " builds themselves run in containers and are never counted."
)


def controller(b: Bench) -> dict[str, Any]:
    if not b.releases:
        project = example(b)
        ensure_images(b, ["x86_64", "aarch64"])
        name = "controller-release"
        release(
            b,
            name,
            project,
            ["x86_64", "aarch64"],
            wheelhouse=b.ctx.scratch / f"wheelhouse-{name}",
        )
    rows = []
    for measured in b.measurements:
        if measured.name.startswith("hand-"):
            continue
        rows.append({"name": measured.name, "wall": round(measured.wall, 1), **measured.controller})
    return {"method": CONTROLLER_METHOD, "releases": rows}


SECTIONS = {
    "split": split,
    "overhead": overhead,
    "scaling": scaling,
    "reprovision": reprovision,
    "controller": controller,
}
