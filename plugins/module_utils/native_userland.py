# Copyright: wheelfleet developers
# Apache License 2.0
"""The host's own userland in an accelerated job's container, on the build host: the
host-architecture image's root exported once per image id, mounted read-only, made
usable and checked. The job's ``accelerator.userland`` (planned by
wheelfleet.native_userland on the controller) carries the paths, the container's setup
script and the probe.

Every step can fail without failing the job: :func:`prepare` answers why, and the job
is built with the compiler alone native (build_accelerator).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any, Iterator

from ansible_collections.wheelfleet.fleet.plugins.module_utils.atomic_file import replace
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_container import (
    BuildContainer,
    UnsafeFile,
)

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - the engine reports the missing SDK
    Mount = None

FACT = "native_userland"
"""The container fact: per Python tag (``*``: all of them), None when ready, else why not."""
APT_FACT = "native_userland_apt"
"""The container fact: ``native`` when before_all ran with the host's apt, ``emulated:
<why>`` when it ran again with the image's own after that failed."""
ROOT_FACT = "native_userland_root"
"""The container fact: the exported root mounted in it (None: none is)."""
EXPORT_TIMEOUT = 900

_export_lock = threading.Lock()


class NativeUserlandError(RuntimeError):
    """The host's userland cannot be given to a container; the message says why."""


ROOT_PREFIX = "native-root-"
PRUNE_AFTER = 3 * 24 * 3600
"""Seconds after its last use that the export of an image other than the one a run
wants is removed."""


def root_dir(toolchains: str, image_id: str) -> str:
    """Where the export of an image (by id) is kept on the host, between runs."""
    digest = str(image_id).split(":", 1)[-1][:16]
    return os.path.join(toolchains, f"{ROOT_PREFIX}{digest}")


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


_seen: dict = {}
SEEN_NOTE = ".mount-seen"
"""In a toolchain directory: the ID of the Docker engine that mounted it as this host
sees it (engine_sees)."""


def engine_sees(client: Any, image: str, toolchains: str) -> str | None:
    """None when the Docker engine mounts this host's ``toolchains`` directory as this
    process sees it, else why not (a remote engine, or an engine reached from inside
    another container: a directory of the same path there is not this one). Checked
    once per directory and process, before anything is exported: a file of a random
    name and text, read back through a mount in a container of ``image`` (the host's
    architecture, so ``cat`` runs natively)."""
    with _export_lock:
        if toolchains in _seen:
            return _seen[toolchains]
        os.makedirs(toolchains, exist_ok=True)
        # A pass is remembered in the directory itself, for the engine that passed it: only
        # where the engine sees the directory can the note be found there again.
        engine = _engine_id(client)
        note = os.path.join(toolchains, SEEN_NOTE)
        with contextlib.suppress(OSError), open(note) as handle:
            if engine and handle.read().strip() == engine:
                _seen[toolchains] = None
                return None
        token = secrets.token_hex(8)
        name = f".mount-check-{token}"
        path = os.path.join(toolchains, name)
        with open(path, "w") as handle:
            # With its newline: the engine's logs may drop an unterminated last line.
            handle.write(f"{token}\n")
        try:
            out = client.containers.run(
                image,
                ["cat", f"/wheelfleet-check/{name}"],
                mounts=[
                    Mount(
                        target="/wheelfleet-check", source=toolchains, type="bind", read_only=True
                    )
                ],
                network_disabled=True,
                remove=True,
            )
            text = out.decode("utf-8", "replace").strip() if isinstance(out, bytes) else str(out)
            problem = None if text == token else "the Docker engine does not see this host's files"
        except Exception as exc:  # the engine's refusal is the reason
            problem = f"the Docker engine cannot mount {toolchains}: {str(exc)[-300:]}"
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        if problem is None and engine:
            with contextlib.suppress(OSError):
                _write_if_changed(note, f"{engine}\n")
        _seen[toolchains] = problem
        return problem


def _engine_id(client: Any) -> str | None:
    try:
        return str(client.info().get("ID") or "") or None
    except Exception:  # no ID: checked every run
        return None


def ensure_root(client: Any, plan: dict, toolchains: str) -> str:
    """The exported root of the plan's image on this host, made once: the image's
    filesystem (``docker export`` of a created, never started container) without
    ``/dev``, and :data:`MARKER` naming the image id. Another run may share the directory,
    so the export is made aside under a lock and renamed."""
    final = root_dir(toolchains, plan["image_id"])
    marker = os.path.join(final, plan["marker"])
    if os.path.isfile(marker):
        os.utime(marker)  # in use: not pruned
        return final
    os.makedirs(toolchains, exist_ok=True)
    prune_roots(toolchains, keep=final, marker=plan["marker"])
    with _export_lock, _locked(f"{final}.lock"):
        if os.path.isfile(marker):
            return final
        partial = tempfile.mkdtemp(prefix=".native-root-", dir=toolchains)
        try:
            _export(client, plan["image_id"], partial)
            with open(os.path.join(partial, plan["marker"]), "w") as handle:
                handle.write(f"{plan['image_id']}\n")
            os.chmod(partial, 0o755)
            if os.path.isdir(final):  # an export without its marker: unfinished, replaced
                shutil.rmtree(final)
            os.replace(partial, final)
        finally:
            if os.path.isdir(partial):
                shutil.rmtree(partial, ignore_errors=True)
    return final


def prune_roots(toolchains: str, keep: str, marker: str, now: float | None = None) -> list:
    """Remove the exports of other images (a rebuilt image has a new id) that no run has
    used for :data:`PRUNE_AFTER` seconds: each is about 560 MB. A root in use has a fresh
    marker (every run touches it), so no running build loses its mount's files."""
    now = time.time() if now is None else now
    removed = []
    for name in sorted(os.listdir(toolchains)):
        path = os.path.join(toolchains, name)
        if not name.startswith(ROOT_PREFIX) or name.endswith(".lock") or path == keep:
            continue
        try:
            used = os.stat(os.path.join(path, marker)).st_mtime
        except OSError:
            continue  # an export under way (its marker comes last), or not a root
        if now - used > PRUNE_AFTER:
            with _locked(f"{path}.lock"):
                shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _export(client: Any, image_id: str, dest: str) -> None:
    try:
        created = client.containers.create(image_id, command=["true"], network_disabled=True)
    except Exception as exc:  # the engine's error, as the reason
        raise NativeUserlandError(f"cannot create a container of {image_id}: {exc}") from None
    try:
        with tempfile.TemporaryFile() as errors:
            unpack = subprocess.Popen(
                ["tar", "-x", "-C", dest, "--exclude=dev/*"],
                stdin=subprocess.PIPE,
                stderr=errors,
            )
            try:
                for chunk in created.export(chunk_size=1 << 20):
                    unpack.stdin.write(chunk)
            except Exception as exc:
                unpack.kill()
                raise NativeUserlandError(f"docker export of {image_id} failed: {exc}") from None
            finally:
                with contextlib.suppress(OSError):
                    unpack.stdin.close()
                try:
                    rc = unpack.wait(timeout=EXPORT_TIMEOUT)
                except subprocess.TimeoutExpired:
                    unpack.kill()
                    rc = f"not done in {EXPORT_TIMEOUT} s"
            if rc != 0:
                errors.seek(0)
                text = f"tar: {rc}: " + errors.read().decode("utf-8", "replace")[-500:]
                raise NativeUserlandError(f"unpacking the export of {image_id} failed: {text}")
    finally:
        with contextlib.suppress(Exception):
            created.remove(force=True)


def mounts(plan: dict, root: str) -> list:
    """The read-only bind mount of an exported root where the plan's setup expects it."""
    return [Mount(target=plan["root"], source=root, type="bind", read_only=True)]


def prepare(container: BuildContainer, plan: dict, root: str) -> str | None:
    """The mounted root usable for the plan's Python tag in the container: the target's
    sysconfigdata module copied from the container into the root's standard library, the
    links, apt wrappers and venv (setup_script), then the probe. None when ready, else why
    not; once per container and tag (its facts remember it). Run before any of the
    project's code runs in the container: the copied module is the image's own."""
    known = container.facts.setdefault(FACT, {})
    tag = plan["python_tag"]
    if tag in known:
        return known[tag]
    try:
        known[tag] = _prepare(container, plan, root)
    except OSError as exc:  # the host's copy of the root cannot be written
        known[tag] = f"cannot write into the host's userland at {root}: {exc}"
    return known[tag]


def _prepare(container: BuildContainer, plan: dict, root: str) -> str | None:
    name = f"{plan['sysconfigdata']}.py"
    stdlib = os.path.join(root, plan["stdlib"].lstrip("/"))
    if not os.path.isdir(stdlib):
        return f"{plan['image']} has no {plan['stdlib']}"
    # Debian's module of that name is a link to the multiarch one: copy what it names.
    wanted = f"{plan['stdlib']}/{name}"
    rc, out, err = container.run(["readlink", "-f", wanted])
    if rc != 0 or not out.strip():
        return f"{container.describe()} has no {wanted}: {(err or out).strip()[-200:]}"
    with tempfile.TemporaryDirectory(dir=stdlib, prefix=".wheelfleet-") as scratch:
        try:
            copied = container.get_file(out.strip(), scratch)
        except UnsafeFile as exc:
            return str(exc)
        if copied is None:
            return f"{container.describe()} has no {out.strip()} ({wanted})"
        os.replace(copied, os.path.join(stdlib, name))
    _write_if_changed(os.path.join(stdlib, "sitecustomize.py"), plan["sitecustomize"])
    rc, out, err = container.run(["sh", "-c", plan["setup"]])
    if rc != 0:
        return f"cannot set up the host's userland in {container.describe()}: {(err or out)[-300:]}"
    rc, out, err = container.run([plan["python"], "-c", plan["probe"]], env=dict(plan["env"]))
    return probe_problem(plan, rc, out if rc == 0 else (err or out))


def probe_problem(plan: dict, rc: int, output: str) -> str | None:
    """Why the probe's result rules the native userland out; None when the interpreter
    imports the frontend and builds for the target (its extension suffix and platform)."""
    if rc != 0:
        return f"the host's python{plan['python_version']} does not run: {output.strip()[-300:]}"
    found = output.split()[-2:]
    wanted = [plan["ext_suffix"], plan["platform"]]
    if found != wanted:
        return f"the host's interpreter builds for {' '.join(found)}, not {' '.join(wanted)}"
    return None


def apt_path(container: BuildContainer, plan: dict) -> list:
    """The directory to put first on before_all's ``PATH`` when the apt wrappers are
    ready in the container (a tag's setup made them), else nothing."""
    ready = any(problem is None for problem in (container.facts.get(FACT) or {}).values())
    return [plan["apt_dir"]] if ready else []


def unavailable(container: BuildContainer, plan: dict) -> str | None:
    """Why the plan's userland is not ready in the container; None when it is."""
    known = container.facts.get(FACT) or {}
    if "*" in known:
        return known["*"]
    if plan["python_tag"] not in known:
        return "the container was started without the host's userland"
    return known[plan["python_tag"]]


def record(plan: dict, problem: str | None, apt: str | None = None) -> dict:
    """The engine result's ``accelerator.userland`` before the build: ``native`` when it
    is ready (the build may still fall back), else ``emulated`` and why; ``apt``, how
    before_all's apt ran (APT_FACT), when it ran."""
    found = {"image": plan["image"], "image_id": plan["image_id"], "host_arch": plan["host_arch"]}
    if apt:
        found["apt"] = apt
    if problem is None:
        return {**found, "mode": "native"}
    return {**found, "mode": "emulated", "reason": problem[-600:]}


def _write_if_changed(path: str, text: str) -> None:
    """A file of the shared root, replaced atomically (other containers may read it)."""
    try:
        with open(path) as handle:
            if handle.read() == text:
                return
    except (OSError, UnicodeDecodeError):
        pass
    replace(path, text.encode())
