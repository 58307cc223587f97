"""Running and measuring commands for the benchmarks, and cleaning up after them.

A measured command runs as a child of the benchmark. While it runs, a sampler
thread reads ``/proc`` twice a second:

* the command's process tree (every descendant of the benchmark: it is a child
  subreaper, so daemonized processes such as Ansible's async wrappers stay in
  the tree): the sum of their resident set sizes, whose peak is reported, and
  how many there are;
* what else uses the CPUs: other processes, other containers (per-container
  ``cpuacct`` cgroups), the Docker engine, and the machine's busy and stolen
  time (``/proc/stat``), so a measurement that other work contended is marked.

The CPU time of the tree comes from ``getrusage(RUSAGE_CHILDREN)``: the
benchmark reaps every descendant, so the figure is exact.

Every container the benchmark starts carries the label
``org.wheelfleet.bench=<token>``; the releases it runs have release ids
``bench-<token>-...``, which the wheel_build role puts in its containers'
``org.wheelfleet.run`` label. :func:`cleanup` removes both kinds, and
:func:`stop_tree` stops leftover processes of the benchmark by their PIDs.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import resource
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

from wheelfleet import bench

BENCH_LABEL = "org.wheelfleet.bench"
RUN_LABEL = "org.wheelfleet.run"
ENGINE_COMMANDS = frozenset(
    {
        "dockerd",
        "containerd",
        "containerd-shim",
        "containerd-shim-runc-v2",
        "runc",
        "docker-proxy",
        "docker-init",
    }
)
CPUACCT = Path("/sys/fs/cgroup/cpuacct/docker")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
SELF = os.getpid()


class MeasureError(RuntimeError):
    """A measured command could not run to its end (timeout, or it could not start)."""


@dataclass
class Context:
    """One benchmark run: where things are, and the names it gives what it creates."""

    repo: Path
    """The checkout that holds bench/ (results and README go there)."""
    root: Path
    """The wheelfleet code measured: a git-archive snapshot, or the checkout itself."""
    scratch: Path
    token: str = field(default_factory=lambda: secrets.token_hex(3))
    verbose: bool = False
    python: Path = field(default_factory=lambda: Path(sys.executable))

    @property
    def wheelfleet(self) -> Path:
        return self.python.parent / "wheelfleet"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a measured command: the measured code first on the path."""
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.root / "src")
        env["ANSIBLE_NOCOLOR"] = "1"
        env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra)
        return env

    def release_id(self, name: str) -> str:
        return f"bench-{self.token}-{name}"

    def say(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


# --------------------------------------------------------------------- processes


def become_subreaper() -> bool:
    """Orphaned descendants get reparented to this process (and are reaped here)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(36, 1, 0, 0, 0)) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _read(path: str | Path) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:  # noqa: PTH123
            return handle.read()
    except OSError:
        return None


_CGROUPS: dict[tuple[int, int], str | None] = {}


def scan() -> dict[int, tuple[bench.ProcessStat, str | None]]:
    """Every process: its stat fields and the container it runs in (None: not in one)."""
    found: dict[int, tuple[bench.ProcessStat, str | None]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        text = _read(f"/proc/{entry.name}/stat")
        if not text:
            continue
        try:
            stat = bench.parse_process_stat(text)
        except (ValueError, IndexError):
            continue
        key = (stat.pid, stat.start_ticks)
        if key not in _CGROUPS:
            _CGROUPS[key] = bench.container_of(_read(f"/proc/{entry.name}/cgroup") or "")
        found[stat.pid] = (stat, _CGROUPS[key])
    return found


def own_processes(processes: Mapping[int, tuple[bench.ProcessStat, str | None]]) -> set[int]:
    return bench.descendants({pid: stat.ppid for pid, (stat, _) in processes.items()}, SELF)


def reap(
    skip: Sequence[int] = (),
    processes: Mapping[int, tuple[bench.ProcessStat, str | None]] | None = None,
) -> None:
    """Reap zombie children (orphans reparented here) except those another waiter owns."""
    for pid, (stat, _) in (scan() if processes is None else processes).items():
        if stat.ppid == SELF and stat.state == "Z" and pid not in skip:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def stop_tree(grace: float = 10.0) -> list[int]:
    """Stop every process below the benchmark, by PID: SIGTERM, then SIGKILL. Returns them."""
    pids = sorted(own_processes(scan()))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and own_processes(scan()) & set(pids):
        reap()
        time.sleep(0.2)
    for pid in sorted(own_processes(scan()) & set(pids)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    reap()
    return pids


def loadavg() -> float:
    return bench.parse_loadavg(_read("/proc/loadavg") or "0 0 0")[0]


def cpu_times() -> bench.CpuTimes:
    return bench.parse_cpu_times(_read("/proc/stat") or "")


def _container_usage() -> dict[str, int]:
    usage: dict[str, int] = {}
    if not CPUACCT.is_dir():
        return usage
    for entry in os.scandir(CPUACCT):
        if len(entry.name) == 64 and entry.is_dir():
            text = _read(Path(entry.path) / "cpuacct.usage")
            if text and text.strip().isdigit():
                usage[entry.name] = int(text)
    return usage


def _docker_total() -> int | None:
    text = _read(CPUACCT / "cpuacct.usage")
    return int(text) if text and text.strip().isdigit() else None


# ---------------------------------------------------------------------- sampling


class Sampler(threading.Thread):
    """Samples the process tree's memory and what else uses the CPUs (see the module)."""

    def __init__(self, ctx: Context, skip_reap: Sequence[int] = (), interval: float = 0.5) -> None:
        super().__init__(daemon=True, name="wfbench-sampler")
        self.ctx = ctx
        self.skip_reap = list(skip_reap)
        self.interval = interval
        self.stop_event = threading.Event()
        self.peak_rss = 0
        self.max_process_rss = 0
        self.peak_processes = 0
        self.samples = 0
        self._base: dict[tuple[int, int], tuple[str, int]] = {}
        self._last: dict[tuple[int, int], int] = {}
        self._first = True
        self._owners: dict[str, bool] = {}
        self._container_base: dict[str, int] = {}
        self._container_last: dict[str, int] = {}
        self._client: Any = None

    def _ours(self, container: str) -> bool:
        """Whether a container is the benchmark's (unknown ones count as the benchmark's)."""
        if container not in self._owners:
            labels: dict[str, str] = {}
            try:
                if self._client is None:
                    import docker  # the Docker SDK, a dependency of wheelfleet

                    self._client = docker.from_env()
                labels = self._client.containers.get(container).labels or {}
                self._owners[container] = labels.get(BENCH_LABEL) == self.ctx.token or labels.get(
                    RUN_LABEL, ""
                ).startswith(self.ctx.release_id(""))
            except Exception:
                self._owners[container] = True
        return self._owners[container]

    def sample(self) -> None:
        processes = scan()
        own = own_processes(processes)
        rss = [processes[pid][0].rss_pages * PAGE for pid in own if pid in processes]
        self.peak_rss = max(self.peak_rss, sum(rss))
        self.max_process_rss = max([self.max_process_rss, *rss])
        self.peak_processes = max(self.peak_processes, len(own))
        for pid, (stat, container) in processes.items():
            key = (pid, stat.start_ticks)
            if key not in self._base:
                if pid == SELF or pid in own:
                    kind = "own"
                elif pid == 2 or stat.ppid == 2:
                    kind = "kernel"
                elif container is not None:
                    kind = "container"
                elif stat.comm in ENGINE_COMMANDS:
                    kind = "engine"
                else:
                    kind = "foreign"
                # Processes already running at the first sample count from there.
                self._base[key] = (kind, stat.cpu_ticks if self._first else 0)
            self._last[key] = stat.cpu_ticks
        for container, usage in _container_usage().items():
            if container not in self._container_base:
                self._container_base[container] = usage if self._first else 0
            self._container_last[container] = usage
        self._first = False
        self.samples += 1
        reap(self.skip_reap, processes)

    def run(self) -> None:
        while not self.stop_event.is_set():
            started = time.monotonic()
            with contextlib.suppress(Exception):
                self.sample()
            self.stop_event.wait(max(0.05, self.interval - (time.monotonic() - started)))

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)

    def cpu_seconds(self, kind: str) -> float:
        ticks = sum(
            self._last[key] - base
            for key, (found, base) in self._base.items()
            if found == kind and key in self._last
        )
        return max(0, ticks) / TICK

    def foreign_container_seconds(self) -> float:
        nanoseconds = sum(
            self._container_last[c] - self._container_base[c]
            for c in self._container_last
            if not self._ours(c)
        )
        return max(0, nanoseconds) / 1e9


@dataclass
class Probe:
    """The machine's counters at the start of a window."""

    monotonic: float
    epoch: float
    cpu: bench.CpuTimes
    docker: int | None
    loadavg: float
    rusage: resource.struct_rusage

    @classmethod
    def now(cls) -> Probe:
        return cls(
            time.monotonic(),
            time.time(),
            cpu_times(),
            _docker_total(),
            loadavg(),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )


def window(start: Probe, end: Probe, sampler: Sampler) -> bench.Window:
    wall = end.monotonic - start.monotonic
    busy = (end.cpu.busy - start.cpu.busy) / TICK
    steal = (end.cpu.steal - start.cpu.steal) / TICK
    own = (end.rusage.ru_utime - start.rusage.ru_utime) + (
        end.rusage.ru_stime - start.rusage.ru_stime
    )
    docker_total = (
        (end.docker - start.docker) / 1e9
        if end.docker is not None and start.docker is not None
        else 0.0
    )
    foreign_containers = sampler.foreign_container_seconds()
    own_containers = max(0.0, docker_total - foreign_containers)
    engine = sampler.cpu_seconds("engine")
    return bench.Window(
        wall=wall,
        busy=bench.cores(busy, wall),
        steal=bench.cores(steal, wall),
        own=bench.cores(own, wall),
        own_containers=bench.cores(own_containers, wall),
        engine=bench.cores(engine, wall),
        # Whatever the benchmark did not use: other processes (also short-lived ones, and
        # those of other PID namespaces, which no sample sees), other containers, the kernel.
        foreign=bench.cores(max(0.0, busy - own - own_containers - engine), wall),
        foreign_seen=bench.cores(sampler.cpu_seconds("foreign") + foreign_containers, wall),
        loadavg_start=start.loadavg,
        loadavg_end=end.loadavg,
    )


def idle_probe(ctx: Context, seconds: float = 5.0) -> dict[str, Any]:
    """What other work uses while the benchmark does nothing."""
    sampler = Sampler(ctx)
    start = Probe.now()
    sampler.sample()
    time.sleep(seconds)
    sampler.sample()
    end = Probe.now()
    return window(start, end, sampler).to_json()


# ---------------------------------------------------------------------- measuring


@dataclass
class Measured:
    """One measured command."""

    name: str
    argv: list[str]
    rc: int
    wall: float
    started: float
    """Epoch seconds just before the command started."""
    ended: float
    stdout: str
    stderr: str
    lines: list[bench.Line]
    window: bench.Window
    controller: dict[str, Any]

    def document(self) -> dict[str, Any]:
        """A JSON document of the command's output (``--json``), or {}."""
        try:
            value = json.loads(self.stdout)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": " ".join(self.argv),
            "rc": self.rc,
            "wall": round(self.wall, 2),
            "window": self.window.to_json(),
            "controller": self.controller,
        }


_ECHO = ("job", "play")


def measure(
    ctx: Context,
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 3600,
    stdin: Path | None = None,
    stdout: Path | None = None,
    shown: Sequence[str] | None = None,
) -> Measured:
    """Run ``argv`` as a child and measure it; raises MeasureError when it cannot finish.

    stderr is read line by line, each line timed from the start; wheelfleet's job
    lines are echoed. With ``stdout`` the command's output goes to that file. ``shown`` is
    the command as the results show it (default ``argv``).
    """
    reap()
    out_handle: IO[bytes] | None = stdout.open("wb") if stdout is not None else None
    in_handle: IO[bytes] | None = stdin.open("rb") if stdin is not None else None
    start = Probe.now()
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=in_handle if in_handle is not None else subprocess.DEVNULL,
            stdout=out_handle if out_handle is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else ctx.env(),
            cwd=cwd or ctx.scratch,
        )
    except OSError as exc:
        raise MeasureError(f"{name}: cannot start {argv[0]}: {exc}") from exc
    sampler = Sampler(ctx, skip_reap=[process.pid])
    sampler.sample()
    sampler.start()
    lines: list[bench.Line] = []
    stderr_text: list[str] = []
    stdout_chunks: list[bytes] = []

    def read_stderr() -> None:
        assert process.stderr is not None
        for raw in iter(process.stderr.readline, b""):
            text = raw.decode(errors="replace").rstrip("\n")
            stderr_text.append(text)
            line = bench.parse_line(time.monotonic() - start.monotonic, text)
            lines.append(line)
            if (line.kind in _ECHO and (ctx.verbose or line.kind == "job")) or (
                ctx.verbose and line.kind == "task"
            ):
                ctx.say(f"    [{name}] {text.strip()}")

    def read_stdout() -> None:
        assert process.stdout is not None
        for chunk in iter(lambda: process.stdout.read(65536), b""):  # type: ignore[union-attr]
            stdout_chunks.append(chunk)

    readers = [threading.Thread(target=read_stderr, daemon=True)]
    if out_handle is None:
        readers.append(threading.Thread(target=read_stdout, daemon=True))
    for reader in readers:
        reader.start()
    try:
        rc = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _interrupt(ctx, process)
        raise MeasureError(f"{name}: did not finish in {timeout:.0f} s; stopped") from None
    except KeyboardInterrupt:
        _interrupt(ctx, process)
        raise
    finally:
        for reader in readers:
            reader.join(timeout=30)
        # Daemonized descendants (async wrappers) finish shortly after; reap them.
        deadline = time.monotonic() + 5
        while own_processes(scan()) and time.monotonic() < deadline:
            reap()
            time.sleep(0.1)
        sampler.stop()
        for handle in (out_handle, in_handle):
            if handle is not None:
                handle.close()
    end = Probe.now()
    win = window(start, end, sampler)
    usage_user = end.rusage.ru_utime - start.rusage.ru_utime
    usage_sys = end.rusage.ru_stime - start.rusage.ru_stime
    controller = {
        "cpu_user": round(usage_user, 2),
        "cpu_sys": round(usage_sys, 2),
        "cpu_seconds": round(usage_user + usage_sys, 2),
        "cpu_cores": round(bench.cores(usage_user + usage_sys, end.monotonic - start.monotonic), 3),
        "peak_rss_mib": round(sampler.peak_rss / 2**20, 1),
        "max_process_rss_mib": round(sampler.max_process_rss / 2**20, 1),
        "peak_processes": sampler.peak_processes,
        "samples": sampler.samples,
    }
    return Measured(
        name=name,
        argv=list(shown if shown is not None else argv),
        rc=rc,
        wall=end.monotonic - start.monotonic,
        started=start.epoch,
        ended=end.epoch,
        stdout=b"".join(stdout_chunks).decode(errors="replace"),
        stderr="\n".join(stderr_text),
        lines=lines,
        window=win,
        controller=controller,
    )


def _interrupt(ctx: Context, process: subprocess.Popen[bytes]) -> None:
    """Ask the command to stop (SIGINT: wheelfleet cancels its run), then stop what is left."""
    if process.poll() is None:
        ctx.say(f"  stopping pid {process.pid} (SIGINT), waiting up to 60 s")
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
    stop_tree(grace=5)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """An unmeasured helper command."""
    return subprocess.run(
        list(argv),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# ----------------------------------------------------------------------- docker


def docker_client() -> Any:
    import docker  # the Docker SDK, a dependency of wheelfleet

    return docker.from_env(timeout=300)


def cleanup(ctx: Context) -> list[str]:
    """Remove every container of this benchmark run (its own, and its releases' builds)."""
    removed: list[str] = []
    try:
        client = docker_client()
        found = client.containers.list(all=True, filters={"label": f"{BENCH_LABEL}={ctx.token}"})
        found += [
            container
            for container in client.containers.list(all=True, filters={"label": RUN_LABEL})
            if container.labels.get(RUN_LABEL, "").startswith(ctx.release_id(""))
        ]
        for container in found:
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed.append(container.name)
    except Exception as exc:
        ctx.say(f"  cleanup: cannot list containers: {exc}")
    return removed


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP end the benchmark like Ctrl-C does (cleanup runs)."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# ------------------------------------------------------------------- machine facts


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine_facts(ctx: Context) -> dict[str, Any]:
    facts: dict[str, Any] = {"cores": os.cpu_count(), "architecture": platform.machine()}
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            facts["cpu_model"] = line.split(":", 1)[1].strip()
            break
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            facts["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
    facts["kernel"] = platform.release()
    for line in (_read("/etc/os-release") or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            facts["os"] = line.split("=", 1)[1].strip().strip('"')
    try:
        client = docker_client()
        engine = client.version()
        info = client.info()
        facts.update(
            docker_version=engine.get("Version"),
            docker_api=engine.get("ApiVersion"),
            docker_storage=info.get("Driver"),
            docker_cgroup=f"{info.get('CgroupDriver')} v{info.get('CgroupVersion')}",
        )
    except Exception as exc:
        facts["docker_error"] = str(exc)
    qemu = run(["dpkg-query", "-W", "-f", "${Version}", "qemu-user-static"], timeout=30)
    facts["qemu"] = qemu.stdout.strip() if qemu.returncode == 0 else None
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    facts["binfmt"] = sorted(p.name for p in binfmt.glob("qemu-*") if "enabled" in (_read(p) or ""))
    facts["python"] = platform.python_version()
    for package in ("ansible-core", "ansible", "ansible-runner", "auditwheel"):
        facts[package.replace("-", "_")] = _package_version(package)
    return facts
