# Copyright: wheelfleet developers
# Apache License 2.0
"""The build engine: a host's resolved jobs, built, repaired and tested on that host.

Jobs that share a ``group`` (same image, platform, before_all, environment and
network plan) share one build container, where before_all runs once and the
jobs build one after the other, as cibuildwheel builds every Python of an image
in one container. Up to ``slots`` group containers run at once (threads).
Each job's wheels are repaired with auditwheel in the build container, copied
out to ``<workdir>/out/<job id>/`` and tested in a fresh container; its
``result.json`` is written there last. Progress goes to ``progress.jsonl``.

Two kinds of failure: a job failure (a step exits non-zero, no wheel, auditwheel
refuses, a test fails, a step times out) ends that job only; a host failure
(the engine API fails, a container vanishes) stops every job of the host, and
the jobs not finished are reported ``unfinished``, to be planned again.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import tarfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator

from ansible_collections.wheelfleet.fleet.plugins.module_utils import native_userland
from ansible_collections.wheelfleet.fleet.plugins.module_utils.auditwheel_repair import (
    Auditwheel,
    RepairError,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.auditwheel_report import (
    AuditwheelFailure,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_accelerator import (
    MOUNT_FACT as TOOLCHAIN_MOUNT_FACT,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_accelerator import (
    build as accelerated_build,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_accelerator import (
    install_installer,
    test_installer_used,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_accelerator import (
    mounts as toolchain_mounts,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_container import (
    BuildContainer,
    HostFailure,
    StepTimeout,
    UnsafeFile,
    client_for,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_progress import (
    ProgressLog,
    state_of_step,
    write_engine_file,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_tools import (
    AUDITWHEEL_VERSION_FACT,
    backend_wheel,
    container_tools,
    requirement_wheels,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.emulated_cpu import (
    FACT as CPU_MODEL_FACT,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.emulated_cpu import (
    apply as apply_cpu_model,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.engine_workdir import (
    SOURCE_ARCHIVE,
    requirements_archive,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.step_runner import (
    StepOutcome,
    failure_message,
    list_files,
    log_tail,
    run_step,
    run_steps,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.wheel_normalize import (
    ZIP_EPOCH,
    normalize_file,
)

LOGS = "/work/logs"
BEFORE_ALL_LOG = f"{LOGS}/before_all.log"
TEST_WHEELS = "/work/wheels"
WHEELS_TOKEN = "{wheels}"
RESULT = "result.json"


@dataclass
class EngineSettings:
    """The engine module's arguments."""

    workdir: str
    host: str
    owner: str
    slots: int = 1
    timeout: int = 3600
    docker_host: str | None = None
    passed_env: dict = field(default_factory=dict)
    log_tail_lines: int = 40
    toolchain_dir: str | None = None
    """Where the toolchain archives are kept between runs (else in the work directory)."""

    @property
    def toolchains(self) -> str:
        """The directory holding the accelerator's toolchain archives for this run."""
        return self.toolchain_dir or self.workdir


class JobFailure(Exception):
    """This job failed (its step, its message); the others go on."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


def plan_groups(jobs: list, slots: int) -> list:
    """Jobs by ``group``, in their order; while there are more slots than groups, the
    largest group is split in two (each part runs its own before_all)."""
    groups: dict = {}
    for job in jobs:
        groups.setdefault(job.get("group") or job["id"], []).append(job)
    parts = list(groups.values())
    while len(parts) < slots:
        largest = max(parts, key=len, default=[])
        if len(largest) < 2:
            break
        index = parts.index(largest)
        half = (len(largest) + 1) // 2
        parts[index : index + 1] = [largest[:half], largest[half:]]
    return parts


def expand_wheels(steps: list, wheels: list) -> list:
    """Test steps with each argv element holding ``{wheels}`` repeated once per wheel."""
    expanded = []
    for step in steps:
        argv = []
        for word in step["argv"]:
            if WHEELS_TOKEN in word:
                argv += [word.replace(WHEELS_TOKEN, wheel) for wheel in wheels]
            else:
                argv.append(word)
        expanded.append(dict(step, argv=argv))
    return expanded


class JobRun:
    """One job as it runs: its steps with absolute start and end, its outcome."""

    def __init__(self, job: dict, slot: int, progress: ProgressLog) -> None:
        self.job = job
        self.id = job["id"]
        self.slot = slot
        self.progress = progress
        self.steps: list = []
        self.current: str | None = None
        self.started: float | None = None
        self.status = "unfinished"
        self.failure: dict | None = None
        self.wheels: list = []
        self.logs: list = []
        self.accelerator: dict | None = None
        self.qemu_cpu: str | None = None

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.time()
        if self.started is None:
            self.started = start
        self.current = name
        self.progress.write(state_of_step(name), self.id, self.slot, name, self.elapsed())
        try:
            yield
        finally:
            self.steps.append(
                {"step": name, "start": round(start, 3), "end": round(time.time(), 3)}
            )

    def elapsed(self) -> float:
        return time.time() - self.started if self.started is not None else 0.0

    def timings(self) -> dict:
        totals: dict = {}
        for step in self.steps:
            totals[step["step"]] = round(
                totals.get(step["step"], 0.0) + step["end"] - step["start"], 3
            )
        return totals

    def result(self) -> dict:
        return {
            "id": self.id,
            "status": self.status,
            "failure": self.failure,
            "slot": self.slot,
            "steps": list(self.steps),
            "timings": self.timings(),
            "wheels": list(self.wheels),
            "logs": list(self.logs),
            "accelerator": self.accelerator,
            "qemu_cpu": self.qemu_cpu,
        }


class Engine:
    """A host's engine run: the shared client, progress, and what a host failure stops."""

    def __init__(self, settings: EngineSettings, jobs: list) -> None:
        self.settings = settings
        self.jobs = jobs
        self.progress = ProgressLog(settings.workdir, settings.host)
        self.runs: dict = {}
        self.host_failure: str | None = None
        # Reentrant: the SIGTERM handler runs in the main thread, which may hold it.
        self._lock = threading.RLock()
        self._containers: set = set()
        self.client: Any = None

    # --- containers, tracked so that a host failure can stop them all -------------------

    def start_container(
        self, job: dict, purpose: str, network_mode: str | None, mounts: list | None = None
    ) -> BuildContainer:
        self.check_going()
        name = job["container"] if purpose == "build" else job["test_container"]
        container = BuildContainer.start(
            self.client,
            name=name,
            image=job["image"],
            platform=job.get("platform"),
            labels={
                "org.wheelfleet.run": job.get("run_id") or "",
                "org.wheelfleet.job": job["id"],
                "org.wheelfleet.purpose": purpose,
                "org.wheelfleet.owner": self.settings.owner,
            },
            limits=job.get("limits"),
            network_mode=network_mode,
            mounts=mounts,
        )
        with self._lock:
            self._containers.add(container)
            stopped = self.host_failure is not None
        if stopped:
            self.remove(container)
            raise HostFailure(self.host_failure or "the host failed")
        # An emulated job's commands run on its planned CPU model when QEMU takes it.
        apply_cpu_model(container, job.get("qemu_cpu"))
        return container

    def remove(self, container: BuildContainer | None) -> None:
        if container is None:
            return
        container.remove()
        with self._lock:
            self._containers.discard(container)

    def fail_host(self, run: JobRun | None, message: str) -> None:
        """Record the host failure once and stop every container (the other slots' steps end)."""
        with self._lock:
            first = self.host_failure is None
            if first:
                self.host_failure = message
            containers = list(self._containers)
        if first:
            failure = {"kind": "host", "message": message}
            self.progress.write(
                "host_failed", run.id if run else None, run.slot if run else None, failure=failure
            )
            for container in containers:
                container.remove()

    def check_going(self) -> None:
        if self.host_failure is not None:
            raise HostFailure(self.host_failure)

    # --- files of the host workdir ------------------------------------------------------

    def out_dir(self, job: dict) -> str:
        path = os.path.join(self.settings.workdir, "out", job["id"])
        os.makedirs(path, exist_ok=True)
        return path

    def requirements_tar(self, job: dict) -> str:
        return os.path.join(self.settings.workdir, requirements_archive(job["requirements_key"]))

    def requirements_tars(self, job: dict) -> list:
        """The job's wheelhouse, and the one of the host's interpreter when the job plans
        the host's userland (its wheels go into the same /work/wheelhouse)."""
        tars = [self.requirements_tar(job)]
        userland = (job.get("accelerator") or {}).get("userland")
        if userland and userland.get("requirements_key"):
            key = userland["requirements_key"]
            tars.append(os.path.join(self.settings.workdir, requirements_archive(key)))
        return tars

    def copy_in(self, container: BuildContainer, jobs: list) -> None:
        """The source to /work/src and every needed wheelhouse to /work/wheelhouse."""
        container.put_file(os.path.join(self.settings.workdir, SOURCE_ARCHIVE), "/work")
        for tar in dict.fromkeys(tar for job in jobs for tar in self.requirements_tars(job)):
            container.put_file(tar, "/work")

    def finish(self, run: JobRun) -> None:
        """result.json written atomically, last; then the job's record (built or failed)."""
        path = os.path.join(self.out_dir(run.job), RESULT)
        with open(path + ".tmp", "w") as handle:
            json.dump(run.result(), handle, indent=1, sort_keys=True)
        os.replace(path + ".tmp", path)
        state = "built" if run.status == "built" else "failed"
        self.progress.write(state, run.id, run.slot, elapsed=run.elapsed(), failure=run.failure)

    # --- the engine run -----------------------------------------------------------------

    def run(self) -> dict:
        write_engine_file(self.settings.workdir)
        groups = plan_groups(self.jobs, max(1, self.settings.slots))
        try:
            missing = [
                path
                for path in [os.path.join(self.settings.workdir, SOURCE_ARCHIVE)]
                + [tar for job in self.jobs for tar in self.requirements_tars(job)]
                if not os.path.isfile(path)
            ]
            if missing:
                raise HostFailure(f"not in the host's work directory: {', '.join(missing)}")
            self.client = client_for(
                self.settings.docker_host,
                self.settings.timeout + 60,
                pool=2 * self.settings.slots + 4,
            )
            self.client.ping()
        except HostFailure as exc:
            self.fail_host(None, str(exc))
        except Exception as exc:  # the SDK's ping raises requests' errors too
            self.fail_host(None, f"cannot reach the Docker engine: {exc}")
        if self.host_failure is None:
            work: queue.Queue = queue.Queue()
            for group in groups:
                work.put(group)
            slots = min(max(1, self.settings.slots), len(groups))
            with ThreadPoolExecutor(max_workers=max(1, slots)) as pool:
                for future in [pool.submit(self.slot_worker, slot, work) for slot in range(slots)]:
                    future.result()
        self.progress.write("finished")
        results = {}
        for job in self.jobs:
            run = self.runs.get(job["id"]) or JobRun(job, -1, self.progress)
            result = run.result()
            if run.status == "unfinished":
                result["failure"] = {"kind": "host", "message": self.host_failure or "not run"}
            results[job["id"]] = result
        if self.client is not None:
            self.client.close()
        return {
            "changed": True,
            "jobs": results,
            "host_failure": self.host_failure,
            "records": self.progress.count,
        }

    def slot_worker(self, slot: int, work: queue.Queue) -> None:
        while self.host_failure is None:
            try:
                group = work.get_nowait()
            except queue.Empty:
                return
            runs = [JobRun(job, slot, self.progress) for job in group]
            with self._lock:
                self.runs.update((run.id, run) for run in runs)
            try:
                build_group(self, runs)
            except HostFailure as exc:
                current = next((run for run in runs if run.status == "unfinished"), None)
                self.fail_host(current, str(exc))
            except Exception as exc:  # a bug here: stop, and still end with the records
                self.fail_host(None, f"the build engine failed: {type(exc).__name__}: {exc}")


def build_group(engine: Engine, runs: list) -> None:
    """The pipeline of one group: one build container, before_all once, then each job's
    build, repair, copy-out and test in a fresh container. Job failures end their job;
    HostFailure propagates. Containers are always removed."""
    settings = engine.settings
    lead = runs[0]
    first = lead.job
    network = first.get("network") or {}
    container = None
    try:
        container = group_container(engine, lead, runs)
        before_all = first.get("before_all")
        if before_all:
            apt = native_apt_path(container, first)
            with lead.step("before_all"):
                outcome = run_before_all(engine, container, before_all, apt)
            if outcome.rc != 0 and apt:
                # The host's apt may be what failed: before_all again, in a fresh container
                # (nothing half-installed left), with the image's own apt.
                failed = failure_message(outcome, container.describe(), settings.timeout)
                failed += tail_text(log_tail(container, BEFORE_ALL_LOG, settings.log_tail_lines))
                engine.remove(container)
                container = None
                container = group_container(engine, lead, runs)
                container.facts[native_userland.APT_FACT] = f"emulated: {failed[-600:]}"
                with lead.step("before_all"):
                    outcome = run_before_all(engine, container, before_all, [])
            elif apt:
                container.facts[native_userland.APT_FACT] = "native"
            if outcome.rc != 0:
                message = failure_message(outcome, container.describe(), settings.timeout)
                message += tail_text(log_tail(container, BEFORE_ALL_LOG, settings.log_tail_lines))
                for run in runs:
                    run.status = "failed"
                    run.failure = {"kind": "job", "message": message, "step": "before_all"}
                    save_logs(engine, container, run)
                    engine.finish(run)
                return
        if network.get("before_all_online"):
            # The project's own build runs offline: fail closed if a network is left.
            container.disconnect_networks()
        for run in runs:
            engine.check_going()
            build_job(engine, container, run)
    finally:
        engine.remove(container)


def group_container(engine: Engine, lead: JobRun, runs: list) -> BuildContainer:
    """The group's build container started, the host's userland made ready in it (before
    any of the project's code runs there), and the source and wheelhouses copied in."""
    first = lead.job
    network = first.get("network") or {}
    with lead.step("container_start"):
        container = start_build_container(engine, first, network.get("build_network_mode"))
        give_native_userland(container, [run.job for run in runs])
    with lead.step("copy_in"):
        engine.copy_in(container, [run.job for run in runs])
    return container


def native_apt_path(container: BuildContainer, job: dict) -> list:
    """The apt wrappers' directory when the job plans the host's userland and the container
    has it ready, else nothing."""
    userland = (job.get("accelerator") or {}).get("userland")
    return native_userland.apt_path(container, userland) if userland else []


def run_before_all(
    engine: Engine, container: BuildContainer, step: dict, first_on_path: list
) -> StepOutcome:
    """before_all in the group's container, with ``first_on_path`` before its own PATH."""
    if first_on_path:
        step = dict(step, path_prepend=[*first_on_path, *(step.get("path_prepend") or [])])
    settings = engine.settings
    return run_step(container, step, BEFORE_ALL_LOG, settings.passed_env, settings.timeout)


def start_build_container(engine: Engine, job: dict, network_mode: str | None) -> BuildContainer:
    """The group's build container; with the host's userland mounted when the job plans it
    and this host can export it (else the container's facts say why not)."""
    userland = (job.get("accelerator") or {}).get("userland")
    why = root = None
    if userland:
        toolchains = engine.settings.toolchains
        try:
            why = native_userland.engine_sees(engine.client, userland["image_id"], toolchains)
            root = None if why else native_userland.ensure_root(engine.client, userland, toolchains)
        except (native_userland.NativeUserlandError, OSError) as exc:
            why = str(exc)
        if root:
            # The toolchain too, unpacked on the host once instead of copied into each
            # container.
            key = job["accelerator"]["key"]
            try:
                mounts = native_userland.mounts(userland, root)
                mounts += toolchain_mounts(engine.settings.toolchains, key)
                container = engine.start_container(job, "build", network_mode, mounts)
            except (HostFailure, OSError, tarfile.TarError) as exc:
                why = f"the container cannot mount the host's userland: {exc}"
            else:
                container.facts[native_userland.ROOT_FACT] = root
                container.facts[TOOLCHAIN_MOUNT_FACT] = key
                return container
    container = engine.start_container(job, "build", network_mode)
    if why:
        container.facts[native_userland.ROOT_FACT] = None
        container.facts[native_userland.FACT] = {"*": why}
    return container


def give_native_userland(container: BuildContainer, jobs: list) -> None:
    """The host's userland made ready in the container for each job's Python tag that plans
    it (native_userland.prepare); what failed stays in the container's facts."""
    root = container.facts.get(native_userland.ROOT_FACT)
    for job in jobs:
        userland = (job.get("accelerator") or {}).get("userland")
        if userland and root:
            native_userland.prepare(container, userland, root)


def build_job(engine: Engine, container: BuildContainer, run: JobRun) -> None:
    """One job in its group's container: before_build + build, repair, copy out, test."""
    settings = engine.settings
    job = run.job
    log = f"{LOGS}/{job['id']}/build.log"
    out = engine.out_dir(job)
    run.qemu_cpu = container.facts.get(CPU_MODEL_FACT) or None
    try:

        def build_steps(extra_env: dict, python: str | None = None) -> list:
            for step in job.get("steps") or []:
                step = dict(step, env={**extra_env, **(step.get("env") or {})})
                if python and step.get("frontend"):
                    step["argv"] = [python, *step["argv"][1:]]
                with run.step(step["name"]):
                    outcome = run_step(container, step, log, settings.passed_env, settings.timeout)
                if outcome.rc != 0:
                    message = failure_message(outcome, container.describe(), settings.timeout)
                    message += tail_text(log_tail(container, log, settings.log_tail_lines))
                    raise JobFailure(step["name"], message)
            built = list_files(container, job["dist"], ".whl")
            if not built:
                raise JobFailure("build", f"the build succeeded but left no wheel in {job['dist']}")
            return built

        # An accelerated job (a host-native compiler) is rebuilt plainly when that fails.
        built = accelerated_build(container, settings.toolchains, job, run, build_steps)
        with run.step("repair"):
            repaired = repair_with_host_tools(container, job, built, run)
        tools = build_inputs(engine, container, job)
        with run.step("copy_out"):
            try:
                local = container.get_files([wheel["path"] for wheel in repaired], out)
            except UnsafeFile as exc:
                raise JobFailure("copy_out", str(exc)) from None
            # Here, before the test: the tested bytes are the published bytes.
            normalize_wheels(job, repaired, local, tools)
        run.wheels = repaired
        if job.get("test_steps"):
            test_job(engine, run, local)
        run.status = "built"
    except StepTimeout as exc:
        # A command of the engine's own (list, repair, copy) that did not return in time.
        run.status = "failed"
        run.failure = {"kind": "job", "message": str(exc), "step": run.current}
    except JobFailure as failure:
        run.status = "failed"
        run.failure = {"kind": "job", "message": failure.message, "step": failure.step}
    save_logs(engine, container, run)
    engine.finish(run)


def repair_with_host_tools(container: BuildContainer, job: dict, built: list, run: JobRun) -> list:
    """The repair by the host image's auditwheel, run natively, when the job's host
    userland is ready in the container; by the container's own (emulated) when it is
    not or when that repair fails (the record says why)."""
    userland = (job.get("accelerator") or {}).get("userland")
    record = (run.accelerator or {}).get("userland")
    if not userland or record is None or native_userland.unavailable(container, userland):
        return repair_wheels(container, job, built)
    try:
        repaired = repair_wheels(container, job, built, userland["repair"])
    except JobFailure as failure:
        record["repair"] = f"emulated: the host's auditwheel failed: {failure.message[-400:]}"
        container.run(["rm", "-rf", "--", job["repaired"]])
        return repair_wheels(container, job, built)
    record["repair"] = "native"
    return repaired


def repair_wheels(
    container: BuildContainer, job: dict, built: list, tools: dict | None = None
) -> list:
    """auditwheel repair of each built wheel into the job's ``repaired`` directory, by the
    container's auditwheel or by ``tools`` (``auditwheel`` and ``python`` commands)."""
    options = dict(job.get("repair") or {})
    repaired = []
    for wheel in built:
        # auditwheel's interpreter is looked up once per container, not once per wheel.
        python = (tools or {}).get("python") or container.facts.get("auditwheel_python")
        params = dict(options, wheel=wheel, dest=job["repaired"], python=python)
        params.update(state="repaired", analyse_first=False)
        if tools:
            params["auditwheel"] = tools["auditwheel"]
        try:
            repair = Auditwheel(params, container)
            if not tools:
                container.facts["auditwheel_python"] = repair.python
            result = repair.run()
            if repair.version:  # for build_inputs: no `auditwheel --version` process
                container.facts.setdefault(AUDITWHEEL_VERSION_FACT, repair.version)
        except AuditwheelFailure as failure:
            raise JobFailure("repair", f"auditwheel ({failure.kind}): {failure.message}") from None
        except RepairError as exc:
            raise JobFailure("repair", exc.message) from None
        repaired.append(
            {
                "file": result["wheel"].rsplit("/", 1)[-1],
                "path": result["wheel"],
                "sha256": result.get("sha256"),
                "size": result.get("size"),
                "tags": result.get("tags") or {},
                "grafted": list(result.get("grafted") or []),
                "plat": result.get("plat"),
                "input": wheel.rsplit("/", 1)[-1],
            }
        )
    return repaired


def build_inputs(engine: Engine, container: BuildContainer, job: dict) -> dict:
    """The tools whose versions enter a job's bytes: auditwheel, patchelf, the build
    backend and the requirement wheels it was built with."""
    wheels = requirement_wheels(engine.requirements_tar(job))
    tools = dict(container_tools(container))
    tools.update(
        build_backend=job.get("build_backend"),
        build_backend_wheel=backend_wheel(job.get("build_backend"), wheels),
        requirements=wheels,
    )
    return tools


def normalize_wheels(job: dict, repaired: list, local: list, tools: dict) -> None:
    """Normalize each copied-out wheel (wheel_normalize) under the job's SOURCE_DATE_EPOCH;
    its entry gets the new sha256 and size, and what made its bytes."""
    epoch = job.get("source_date_epoch")
    for wheel, path in [(wheel, local[index]) for index, wheel in enumerate(repaired)]:
        try:
            done = normalize_file(path, ZIP_EPOCH if epoch is None else int(epoch))
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise JobFailure("copy_out", f"{wheel['file']} is not a valid wheel: {exc}") from None
        wheel.update(sha256=done["sha256"], size=done["size"])
        wheel["reproducibility"] = {
            "source_date_epoch": done["source_date_epoch"],
            "normalized": True,
            "tools": dict(tools, zlib=done["zlib"]),
        }


def test_job(engine: Engine, run: JobRun, wheels: list) -> None:
    """The job's test_steps in a fresh container of the image (no before_all there)."""
    settings = engine.settings
    job = run.job
    network = job.get("network") or {}
    container = None
    accelerator = job.get("accelerator") or {}
    uses_uv = accelerator.get("test_installer") == "uv"
    try:
        with run.step("test_start"):
            container = engine.start_container(job, "test", network.get("test_network_mode"))
            inside = container.put_files(wheels, TEST_WHEELS)
            engine.copy_in(container, [job])
            # uv for the test install (launchers.TEST_INSTALL); pip installs when it is missing.
            missing = None
            if uses_uv:
                missing = install_installer(container, settings.toolchains, accelerator)
        with run.step("test"):
            ran = run_steps(
                container,
                expand_wheels(job["test_steps"], inside),
                f"{LOGS}/test.log",
                settings.passed_env,
                settings.timeout,
            )
        if run.accelerator is not None and uses_uv:
            used = f"pip: {missing}" if missing else test_installer_used(container, job)
            if used:
                run.accelerator["test_installer"] = used
        got = container.get_file(f"{LOGS}/test.log", engine.out_dir(job))
        if got:
            run.logs.append("test.log")
        if ran.failed:
            message = failure_message(ran.failed, container.describe(), settings.timeout)
            message += tail_text(log_tail(container, f"{LOGS}/test.log", settings.log_tail_lines))
            raise JobFailure("test", message)
    finally:
        engine.remove(container)


def save_logs(engine: Engine, container: BuildContainer, run: JobRun) -> None:
    """``build.log`` in the job's out directory: before_all's log, then the job's own."""
    out = engine.out_dir(run.job)
    parts = []
    for path in (BEFORE_ALL_LOG, f"{LOGS}/{run.id}/build.log"):
        try:
            got = container.get_file(path, out)
        except UnsafeFile:
            got = None
        if got:
            with open(got, "rb") as handle:
                parts.append(handle.read())
            os.unlink(got)
    with open(os.path.join(out, "build.log"), "wb") as handle:
        handle.write(b"".join(parts))
    run.logs.insert(0, "build.log")


def tail_text(tail: str) -> str:
    tail = tail.rstrip()
    return f"\n--- last lines of the log ---\n{tail}" if tail else ""


def run_engine(settings: EngineSettings, jobs: list) -> dict:
    """Build the jobs; the module's result (``jobs``, ``host_failure``, ``records``).

    SIGTERM stops the run as a host failure: the containers are removed, the steps
    running in them end, and the records still end with ``finished``.
    """
    os.makedirs(settings.workdir, exist_ok=True)
    engine = Engine(settings, jobs)

    def terminated(signum: int, frame: Any) -> None:
        engine.fail_host(None, f"the build engine was stopped (signal {signum})")

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, terminated) if in_main else None
    try:
        return engine.run()
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def describe_plan(settings: EngineSettings, jobs: list) -> dict:
    """What a run would do (check mode): the container groups, which slot count runs them."""
    groups = plan_groups(jobs, max(1, settings.slots))
    return {
        "changed": bool(jobs),
        "groups": [[job["id"] for job in group] for group in groups],
        "slots": min(max(1, settings.slots), len(groups)) if groups else 0,
        "jobs": {},
        "host_failure": None,
        "records": 0,
    }
