# Copyright: wheelfleet developers
# Apache License 2.0
"""An accelerated job's build, on the build host: the host-native toolchain in the
emulated build container, the build steps with its compilers, and the fallback.

The job's ``accelerator`` (planned by wheelfleet.accelerator on the controller) names
the toolchain archive the engine's action copied into the work directory, the wrapper
scripts and the build environment. The archive is unpacked into each build container
once (``/opt/wheelfleet-toolchain``) and checked by running the compiler there. Before
the accelerated build the job's source tree is copied aside; when that build fails,
the tree is put back, the job's dist directory emptied, and the job is built again
under plain emulation. A job with the host's userland (module_utils/native_userland)
is built with it first, and with the compiler alone when that fails. The result's
``accelerator`` says which mode made the wheels and, after a fallback, why.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import threading
from typing import Any, Callable

from ansible_collections.wheelfleet.fleet.plugins.module_utils import native_userland
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_container import (
    BuildContainer,
    HostFailure,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.engine_workdir import (
    toolchain_archive,
)

SRC = "/work/src"
SOURCE_ASIDE = "/work/src.wheelfleet-plain"
FACT = "accelerator"
"""The container fact naming the toolchain installed in it (or why it could not be)."""
REASON_CHARS = 600

_unpacked_lock = threading.Lock()


def unpacked_archive(directory: str, key: str) -> str:
    """The toolchain as a plain tar beside its .tar.gz (the run's work directory, or the
    host's toolchain directory kept between runs), decompressed once: the engine unpacks a
    plain tar into a container faster than a gzip one. Other runs may share the
    directory, so the tar is written under a name of this process and renamed."""
    packed = os.path.join(directory, toolchain_archive(key))
    plain = packed.removesuffix(".gz")
    with _unpacked_lock:
        if not os.path.isfile(plain):
            partial = f"{plain}.{os.getpid()}.part"
            try:
                with gzip.open(packed, "rb") as source, open(partial, "wb") as dest:
                    shutil.copyfileobj(source, dest, 1 << 20)
                os.replace(partial, plain)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
    return plain


def installer_archive(directory: str, accelerator: dict) -> str:
    """uv alone (the toolchain's ``installer`` directory) as a small tar beside the
    toolchain's plain tar, made once: a test container needs nothing else of it."""
    plain = unpacked_archive(directory, accelerator["key"])
    small = f"{plain.removesuffix('.tar')}-installer.tar"
    parent = os.path.dirname(accelerator["dir"])
    prefix = os.path.relpath(accelerator["installer_dir"], parent).strip("/") + "/"
    with _unpacked_lock:
        if not os.path.isfile(small):
            partial = f"{small}.{os.getpid()}.part"
            try:
                with tarfile.open(plain) as source, tarfile.open(partial, "w") as dest:
                    for member in source:
                        if member.name.startswith(prefix) or member.name == prefix.rstrip("/"):
                            dest.addfile(member, source.extractfile(member))
                os.replace(partial, small)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
    return small


def install_installer(container: BuildContainer, toolchains: str, accelerator: dict) -> str | None:
    """uv in a test container (its directory from the archive in ``toolchains``); None when
    it is there, else why not (the test install then runs pip)."""
    try:
        container.put_file(
            installer_archive(toolchains, accelerator),
            os.path.dirname(accelerator["dir"]),
        )
    except (OSError, KeyError, tarfile.TarError, gzip.BadGzipFile, EOFError) as exc:
        return f"uv cannot be copied into {container.describe()}: {exc}"
    return None


def test_installer_used(container: BuildContainer, job: dict) -> str | None:
    """What installed the test environment, as the test launcher recorded it; None when
    the job's test install does not record it or did not run."""
    marks = [
        (step.get("env") or {}).get("WHEELFLEET_INSTALLER_MARK")
        for step in job.get("test_steps") or []
    ]
    mark = next((path for path in marks if path), None)
    return recorded_installer(container, mark) if mark else None


def files_archive(files: dict, symlinks: dict | None = None) -> bytes:
    """A tar of the wrapper scripts (executable), and of ``symlinks`` (name: target), to
    unpack into the toolchain directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, target in sorted((symlinks or {}).items()):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        folders = sorted({name.rsplit("/", 1)[0] for name in files if "/" in name})
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, text in sorted(files.items()):
            data = str(text).encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


MOUNTED = "/opt/wheelfleet-toolchain-files"
"""Where a build container gets the toolchain unpacked on the host, read-only, when the
engine mounts the host's files (module_utils/native_userland.engine_sees)."""
MOUNT_FACT = "toolchain_mount"
"""The container fact: the key of the toolchain mounted at MOUNTED."""


def unpacked_dir(toolchains: str, key: str) -> str:
    """The toolchain unpacked once in the host's directory ``toolchains`` (from its plain
    tar), for the build containers to mount: ``toolchain-<key>.d``. Made aside under a
    lock and renamed; other runs may share the directory."""
    plain = unpacked_archive(toolchains, key)
    final = plain.removesuffix(".tar") + ".d"
    with _unpacked_lock:
        if not os.path.isdir(final):
            partial = f"{final}.{os.getpid()}.part"
            shutil.rmtree(partial, ignore_errors=True)
            try:
                with tarfile.open(plain) as archive:
                    archive.extractall(partial, filter="tar")
                os.chmod(partial, 0o755)
                os.replace(partial, final)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
    return final


def mounts(toolchains: str, key: str) -> list:
    """The read-only mount of the unpacked toolchain at MOUNTED."""
    from docker.types import Mount

    return [
        Mount(target=MOUNTED, source=unpacked_dir(toolchains, key), type="bind", read_only=True)
    ]


def links(accelerator: dict) -> dict:
    """The toolchain directory's entries of a container that mounts the toolchain: links
    to the mounted files (zig finds its own files from where it really is)."""
    top = os.path.basename(accelerator["dir"])
    return {name: f"{MOUNTED}/{top}/{name}" for name in ("zig", "lib", "installer", "LICENSE")}


def install(container: BuildContainer, toolchains: str, accelerator: dict) -> str | None:
    """The toolchain (its archive in the directory ``toolchains``, or mounted) and wrappers
    in the container, checked; None when ready, else why not. Done once per container (its
    facts remember it)."""
    key = accelerator["key"]
    known = container.facts.get(FACT)
    if known is not None:
        return None if known == key else known
    try:
        files = accelerator.get("files") or {}
        if container.facts.get(MOUNT_FACT) == key:
            container.run(["mkdir", "-p", accelerator["dir"]])
            container.put_archive(accelerator["dir"], files_archive(files, links(accelerator)))
        else:
            container.put_file(unpacked_archive(toolchains, key), "/opt")
            container.put_archive(accelerator["dir"], files_archive(files))
    except (OSError, gzip.BadGzipFile, EOFError) as exc:
        container.facts[FACT] = f"the toolchain archive {key} cannot be read: {exc}"
        return container.facts[FACT]
    compiler = (accelerator.get("env") or {}).get("CC") or f"{accelerator['dir']}/bin/cc"
    rc, out, err = container.run([compiler, "--version"])
    if rc != 0:
        reason = (
            f"{compiler} --version exited {rc} in {container.describe()}: {(err or out)[-300:]}"
        )
        container.facts[FACT] = reason
        return reason
    container.facts[FACT] = key
    return None


def set_aside_source(container: BuildContainer, native_bin: str | None = None) -> str | None:
    """A copy of the source tree (before_all's changes included) for a fallback build; by
    the host's ``rm`` and ``cp`` in ``native_bin`` when the container has the host's
    userland (a cp under QEMU takes a third of a second)."""
    if native_bin:
        commands = [
            [f"{native_bin}/rm", "-rf", "--", SOURCE_ASIDE],
            [f"{native_bin}/cp", "-a", "--", SRC, SOURCE_ASIDE],
        ]
    else:
        commands = [
            ["sh", "-c", 'rm -rf -- "$2" && cp -a -- "$1" "$2"', "aside", SRC, SOURCE_ASIDE]
        ]
    for argv in commands:
        rc, out, err = container.run(argv)
        if rc != 0:
            return f"cannot copy the source aside: {(err or out)[-300:]}"
    return None


def native_bin(container: BuildContainer, job: dict) -> str | None:
    """The host's ``/usr/bin`` in the container when the job's host userland is ready."""
    plan = (job.get("accelerator") or {}).get("userland")
    if not plan or native_userland.unavailable(container, plan) is not None:
        return None
    return f"{plan['root']}/usr/bin"


def restore_source(container: BuildContainer, dist: str) -> None:
    """The source tree as it was before the accelerated build, and an empty dist dir."""
    script = 'rm -rf -- "$1" "$3" && mv -- "$2" "$1"'
    rc, out, err = container.run(["sh", "-c", script, "restore", SRC, SOURCE_ASIDE, dist])
    if rc != 0:
        raise HostFailure(f"cannot restore the source in {container.describe()}: {err or out}")


def drop_aside(container: BuildContainer) -> None:
    container.run(["rm", "-rf", "--", SOURCE_ASIDE])


def build(
    container: BuildContainer,
    toolchains: str,
    job: dict,
    run: Any,
    build_steps: Callable[..., list],
) -> list:
    """The job's built wheels (the toolchain archive in the directory ``toolchains``):
    ``build_steps(extra_env, python=None)`` runs the job's build steps with ``extra_env``
    added to their environment (and ``python`` running the frontend) and returns the
    wheels, or raises the job's failure. Accelerated when the job has an accelerator and
    its toolchain works in the container: first with the host's userland when the job
    has it ready (:func:`with_native_userland`), then with the compiler alone; rebuilt
    plainly when that fails too. ``run.accelerator`` records the outcome."""
    accelerator = job.get("accelerator")
    if not accelerator:
        return build_steps({})
    record = {"toolchain": accelerator["toolchain"], "target": accelerator["target"]}
    run.accelerator = record
    with run.step("accelerator"):
        problem = install(container, toolchains, accelerator)
        if problem is None:
            problem = set_aside_source(container, native_bin(container, job))
        env = dict(accelerator.get("env") or {})
    if problem is not None:
        record.update(mode="fallback", step="accelerator", reason=problem[-REASON_CHARS:])
        return build_steps({})
    built = with_native_userland(container, job, record, env, build_steps)
    if built is not None:
        drop_aside(container)
        record["mode"] = "accelerated"
        record["installer"] = installer_used(container, job)
        return built
    try:
        built = build_steps(env)
    except HostFailure:
        raise
    except Exception as exc:  # the job's failure (its step, its message): build plainly
        record.update(
            mode="fallback",
            step=getattr(exc, "step", None) or "build",
            reason=str(getattr(exc, "message", None) or exc)[-REASON_CHARS:],
        )
        restore_source(container, job["dist"])
        return build_steps({})
    drop_aside(container)
    record["mode"] = "accelerated"
    record["installer"] = installer_used(container, job)
    return built


def with_native_userland(
    container: BuildContainer, job: dict, record: dict, env: dict, build_steps: Callable
) -> list | None:
    """The wheels of the build with the host's userland (the frontend run by the host's
    interpreter), or None when the job has none, it is not ready in the container, or the
    build failed (the source is then put back and set aside again for the next build).
    ``record["userland"]`` says which and why."""
    plan = (job.get("accelerator") or {}).get("userland")
    skipped = (job.get("accelerator") or {}).get("userland_skipped")
    if not plan:
        if skipped:
            record["userland"] = {"mode": "emulated", "reason": skipped}
        return None
    problem = native_userland.unavailable(container, plan)
    apt = container.facts.get(native_userland.APT_FACT)
    record["userland"] = native_userland.record(plan, problem, apt)
    if problem is not None:
        return None
    try:
        return build_steps({**env, **plan["env"]}, plan["python"])
    except HostFailure:
        raise
    except Exception as exc:  # the job's failure: build again with the compiler alone native
        record["userland"].update(
            mode="fallback",
            step=getattr(exc, "step", None) or "build",
            reason=str(getattr(exc, "message", None) or exc)[-REASON_CHARS:],
        )
    restore_source(container, job["dist"])
    problem = set_aside_source(container, native_bin(container, job))
    if problem is not None:
        raise HostFailure(f"{problem} in {container.describe()}")
    return None


INSTALLER_MARK = "wheelfleet-installer"
"""The file the frontend launcher (wheelfleet.launchers.STABLE_NAMES) writes into the build
step's TMPDIR: ``uv``, or why pip installed the isolated build environment."""


def installer_used(container: BuildContainer, job: dict) -> str:
    """What installed the build's isolated environment, as the launcher recorded it (pip
    when it recorded nothing: a frontend other than build)."""
    tmpdirs = [(step.get("env") or {}).get("TMPDIR") for step in job.get("steps") or []]
    tmpdir = next((path for path in tmpdirs if path), None)
    found = recorded_installer(container, f"{tmpdir}/{INSTALLER_MARK}") if tmpdir else None
    return found or "pip"


def recorded_installer(container: BuildContainer, mark: str) -> str | None:
    """The installer a launcher (wheelfleet.launchers) recorded in the file ``mark``;
    None when it recorded nothing there."""
    rc, out, _ = container.run(["cat", mark])
    return out.strip()[:200] if rc == 0 and out.strip() else None
