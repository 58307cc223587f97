"""Hostile projects and the operator's secrets, end to end on this machine.

Each project is made by the test. The refusals run the real CLI and the real
release playbook against the embedded localhost inventory and must stop before
any host is changed: no file the project names, no wheelhouse, no container. The
build tests release a tiny C extension on this machine's engine (builder image
wheelfleet/bookworm:x86_64, --skip-provision --skip-images). Measured on two
shared cores: the module takes 4 to 5.5 minutes; two releases of the tiny extension
(about 90 to 160 s and 100 s) make most of it, the re-release that publishes about
35 s, the refusals and the runner checks 1 to 12 s each.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.conftest import BIN, REPO, WHEELFLEET, ansible_env, document, parse_recap
from wheelfleet.runner import Cancellation, Project, RunRequest, run_playbook

RUN = f"pytest-hostile-{uuid.uuid4().hex[:6]}"
IMAGE = "wheelfleet/bookworm:x86_64"


def cli(*args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 900) -> Any:
    return subprocess.run(
        [str(WHEELFLEET), *args],
        cwd=cwd,
        env=dict(env) if env is not None else ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def containers_of(client: Any, run: str) -> list[str]:
    return [c.name for c in client.containers.list(all=True) if run in c.name]


# --- refused up front ---------------------------------------------------------------------


@pytest.fixture
def log_injection(tmp_path: Path) -> tuple[Path, Path]:
    """A project whose build requires '--log=FILE': pip would write FILE as root."""
    owned = tmp_path / "owned.log"
    project = tmp_path / "injector"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[build-system]\n"
        f'requires = ["setuptools>=61", "--log={owned}"]\n'
        'build-backend = "setuptools.build_meta"\n'
        '[project]\nname = "injector"\nversion = "1.0"\n'
    )
    return project, owned


def test_a_pip_option_in_build_requires_stops_the_cli(log_injection, tmp_path: Path) -> None:
    project, owned = log_injection
    wheelhouse = tmp_path / "wheelhouse"
    done = cli("release", str(project), "--arch", "x86_64", "-w", str(wheelhouse), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{project}/pyproject.toml [build-system].requires" in done.stderr
    assert f"refused requirement '--log={owned}': it is a pip option" in done.stderr
    assert not owned.exists()
    assert not wheelhouse.exists()


def test_a_pip_option_in_build_requires_stops_the_playbook(log_injection, tmp_path: Path) -> None:
    project, owned = log_injection
    wheelhouse = tmp_path / "wheelhouse"
    done = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            *("-i", "inventory/localhost.yml", "playbooks/release.yml"),
            *("-e", f"project={project}", "-e", f"wheel_build_wheelhouse={wheelhouse}"),
        ],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    failed = [line for line in done.stdout.splitlines() if line.startswith("fatal: ")]
    assert len(failed) == 1, done.stdout[-3000:]
    task = done.stdout.split(failed[0])[0].rsplit("TASK [", 1)[1]
    assert task.startswith("Check the project, the matrix and the publishing options]")
    assert "refused requirement '--log=" in done.stdout
    assert parse_recap(done.stdout)["localhost"]["changed"] == 0
    assert not owned.exists()
    assert not wheelhouse.exists()


def write_bomb(path: Path, size: int) -> None:
    """A .tar.gz whose member zeros.bin holds ``size`` zero bytes, stream-compressed: gzip
    members back to back (one stream to a reader), each 1 MiB of zeros compressed once."""
    pyproject = b'[project]\nname = "bomb"\nversion = "1.0"\n'
    head = tarfile.TarInfo("bomb-1.0/pyproject.toml")
    head.size = len(pyproject)
    bomb = tarfile.TarInfo("bomb-1.0/zeros.bin")
    bomb.size = size
    chunk = 1 << 20
    assert size % chunk == 0
    prefix = head.tobuf(tarfile.PAX_FORMAT) + pyproject.ljust(512, b"\0")
    prefix += bomb.tobuf(tarfile.PAX_FORMAT)
    zeros = gzip.compress(bytes(chunk), compresslevel=9, mtime=0)
    with path.open("wb") as out:
        out.write(gzip.compress(prefix, mtime=0))
        for _ in range(size // chunk):
            out.write(zeros)
        out.write(gzip.compress(bytes(1024), mtime=0))  # the end-of-archive blocks


def test_an_archive_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """A 2 GiB zero-filled member, stream-compressed by the test (about 2 MiB on disk)."""
    sdist = tmp_path / "bomb-1.0.tar.gz"
    started = time.monotonic()
    write_bomb(sdist, 2 << 30)
    made = time.monotonic() - started
    wheelhouse = tmp_path / "wheelhouse"
    started = time.monotonic()
    done = cli("release", str(sdist), "--arch", "x86_64", "-w", str(wheelhouse), cwd=tmp_path)
    refused = time.monotonic() - started
    print(f"\n[bomb] {sdist.stat().st_size} bytes on disk, made in {made:.1f} s,"
          f" refused in {refused:.1f} s")  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"{sdist}: refused, its headers declare more than 1073741824 bytes" in done.stderr
    assert "--max-source-bytes N, or -e wheel_build_source_max_bytes=N" in done.stderr
    assert refused < 30
    assert not wheelhouse.exists()


# --- extra variables never on a command line; vaulted values intact ----------------------

VAULT_PASSWORD = "correct horse battery staple"


def vaulted(name: str, value: str, password_file: Path) -> str:
    done = subprocess.run(
        [
            str(BIN / "ansible-vault"),
            *("encrypt_string", "--vault-password-file", str(password_file)),
            *("--name", name, value),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=ansible_env(),
    )
    return done.stdout


def test_extra_variables_stay_off_the_command_line(tmp_path: Path) -> None:
    """A real ansible-playbook through the runner (about 8 s): the plain secret and the
    vaulted one reach the play; neither is in the process's cmdline nor in the
    artifacts' command file while it runs; the private files are gone afterwards."""
    plain, sealed = f"plain-{uuid.uuid4().hex}", f"sealed-{uuid.uuid4().hex}"
    password_file = tmp_path / "vault-password"
    password_file.write_text(VAULT_PASSWORD)
    vault_vars = tmp_path / "vault.yml"
    vault_vars.write_text(vaulted("sealed_secret", sealed, password_file))
    playbook = tmp_path / "show.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Take a moment\n      ansible.builtin.command: sleep 2\n"
        "      changed_when: false\n"
        "    - name: Check both secrets arrived\n      ansible.builtin.assert:\n"
        f"        that: [plain_secret == {plain!r}, sealed_secret == {sealed!r}]\n"
        "      no_log: true\n"
    )
    project = Project.locate()
    request = RunRequest(
        playbook=playbook,
        inventories=(project.default_inventory,),
        extravars={"plain_secret": plain},
        extravar_layers=(vault_vars, {"plain_secret": plain}),
        vault_password_file=password_file,
    )
    seen: dict[str, list[str]] = {"cmdline": [], "command": [], "private": []}

    def on_event(event: Mapping[str, Any]) -> None:
        pid = event.get("pid")
        if not isinstance(pid, int):
            return
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return
        seen["cmdline"].append(" ".join(part.decode() for part in argv))
        files = [a.decode()[1:] for a in argv if a.startswith(b"@") and b"/vars/" in a]
        for name in files:
            private = Path(name).parent.parent
            seen["private"].append(str(private))
            seen["command"] += [p.read_text() for p in private.glob("artifacts/*/command")]

    result = run_playbook(project, request, on_event=on_event, cancellation=Cancellation())
    assert result.status == "successful", result
    assert seen["cmdline"] and seen["command"] and seen["private"]
    for text in seen["cmdline"] + seen["command"]:
        assert plain not in text and sealed not in text
    assert any(str(vault_vars) in text for text in seen["cmdline"])
    assert not any(Path(directory).exists() for directory in seen["private"])


# --- real builds --------------------------------------------------------------------------

TINY_C = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tinyext", NULL, -1, methods};
PyMODINIT_FUNC PyInit_tinyext(void) { return PyModule_Create(&module); }
"""

# Fails the build if the refused variable reached the container, or if the allowed one
# did not: the check runs inside the real build container.
BEFORE_BUILD = (
    'if [ -n "${TWINE_PASSWORD+set}" ]; then echo "TWINE_PASSWORD reached the container";'
    ' exit 3; fi; test "$WHEELFLEET_HOSTILE_OK" = forwarded'
)


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "tinyext"
    root.mkdir()
    (root / "tinyext.c").write_text(TINY_C)
    (root / "setup.py").write_text(
        "from setuptools import Extension, setup\n"
        'setup(ext_modules=[Extension("tinyext", ["tinyext.c"])])\n'
    )
    (root / "README.md").write_text("# tinyext\n\nA hostile-input test project.\n")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tinyext"\nversion = "1.0"\nreadme = "README.md"\n'
        "[tool.cibuildwheel]\n"
        'environment-pass = ["TWINE_PASSWORD", "WHEELFLEET_HOSTILE_OK"]\n'
        f"before-build = {json.dumps(BEFORE_BUILD)}\n"
    )
    return root


@pytest.fixture(scope="module")
def engine_ready(docker_client: Any) -> Iterator[Any]:
    import docker

    try:
        docker_client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"{IMAGE} is not built (playbooks/images.yml)")
    yield docker_client
    for container in docker_client.containers.list(all=True):
        if RUN in container.name:
            container.remove(force=True)


def release_args(project: Path, wheelhouse: Path, name: str, *more: str) -> list[str]:
    return [
        "release",
        str(project),
        *("--arch", "x86_64", "--python", "cp311", "-w", str(wheelhouse)),
        *("--skip-provision", "--skip-images", "--json"),
        *("-e", f"wheelfleet_release_id={RUN}-{name}"),
        *more,
    ]


@pytest.fixture(scope="module")
def env_pass_release(engine_ready, tiny_project: Path, tmp_path_factory) -> dict[str, Any]:
    """environment-pass = [TWINE_PASSWORD, WHEELFLEET_HOSTILE_OK] with both set here."""
    secret = f"twine-{uuid.uuid4().hex}"
    home = tmp_path_factory.mktemp("env-pass")
    wheelhouse = home / "wheelhouse"
    env = ansible_env(TWINE_PASSWORD=secret, WHEELFLEET_HOSTILE_OK="forwarded")
    started = time.monotonic()
    done = cli(*release_args(tiny_project, wheelhouse, "envpass"), cwd=home, env=env)
    print(f"\n[wall time] environment-pass release: {time.monotonic() - started:.1f} s")
    return {"run": done, "secret": secret, "wheelhouse": wheelhouse, "home": home}


def test_a_refused_environment_pass_never_reaches_the_container(env_pass_release) -> None:
    """The build's before-build fails if TWINE_PASSWORD is set in the container or if the
    allowed variable is missing: the release succeeding proves both, inside a real build."""
    done, secret = env_pass_release["run"], env_pass_release["secret"]
    result = document(done)
    assert done.returncode == 0, done.stderr[-4000:]
    wheelhouse = env_pass_release["wheelhouse"]
    assert list(wheelhouse.glob("tinyext-1.0-cp311-cp311-*.whl"))
    refusals = [w for w in result["warnings"] if "environment-pass TWINE_PASSWORD" in w]
    assert refusals, result["warnings"]
    assert "matches 'TWINE_*' of wheel_build_environment_pass_deny" in refusals[0]
    logs = "".join(p.read_text() for p in (wheelhouse / "logs").glob("*.log"))
    assert 'test "$WHEELFLEET_HOSTILE_OK" = forwarded' in logs
    assert secret not in done.stdout + done.stderr + logs


def test_the_plan_names_the_refusal(engine_ready, tiny_project, tmp_path: Path) -> None:
    """wheelfleet plan (changes nothing; about 10 s): text and JSON both name the refusal."""
    env = ansible_env(TWINE_PASSWORD="never-shown")
    done = cli(
        "plan", str(tiny_project), "--arch", "x86_64", "--python", "cp311", "--json",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    selection = document(done)["plan"]["selection"]
    (job,) = selection["jobs"]
    assert job["settings"]["environment_pass"] == ["WHEELFLEET_HOSTILE_OK"]
    (refused,) = job["settings"]["environment_pass_refused"]
    assert refused == {
        "name": "TWINE_PASSWORD",
        "reason": "matches 'TWINE_*' of wheel_build_environment_pass_deny",
    }
    assert any(w.startswith("environment-pass TWINE_PASSWORD") for w in selection["warnings"])
    assert "warning: environment-pass TWINE_PASSWORD (from " in done.stderr
    assert "never-shown" not in done.stdout + done.stderr


# --- the vaulted publishing password reaches twine -----------------------------------------


class _Index(BaseHTTPRequestHandler):
    """A package index on loopback that records the credentials of each upload."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            type(self).seen.append(base64.b64decode(auth[6:]).decode())
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_vaulted_password_reaches_the_publish_step(env_pass_release, tiny_project) -> None:
    """Re-release (up to date, nothing rebuilt) with --publish to an index on loopback and the
    password only in a vault-encrypted -e @FILE: twine authenticates with it."""
    home = env_pass_release["home"]
    password = f"vaulted-{uuid.uuid4().hex}"
    password_file = home / "vault-password"
    password_file.write_text(VAULT_PASSWORD)
    secrets_file = home / "publish.yml"
    secrets_file.write_text(
        "wheelfleet_publish_username: __token__\n"
        + vaulted("wheelfleet_publish_password", password, password_file)
    )
    _Index.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {k: v for k, v in ansible_env().items() if not k.startswith("TWINE_")}
    env["WHEELFLEET_HOSTILE_OK"] = "forwarded"
    try:
        done = cli(
            *release_args(tiny_project, env_pass_release["wheelhouse"], "vault"),
            *("--publish", f"http://127.0.0.1:{server.server_address[1]}/legacy/"),
            *("-e", f"@{secrets_file}", "--vault-password-file", str(password_file)),
            cwd=home,
            env=env,
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr[-4000:]
    assert _Index.seen and set(_Index.seen) == {f"__token__:{password}"}
    assert password not in done.stdout + done.stderr


# --- an index URL with credentials ---------------------------------------------------------


def test_index_credentials_never_show(engine_ready, tiny_project, tmp_path: Path) -> None:
    """Containers install from an index whose URL carries a password (nothing listens there,
    so the build fails): the password is in no output, no log, no result; pip in the
    container shows it got the URL with a password (it prints it masked)."""
    password = f"idx{uuid.uuid4().hex}"
    url = f"http://builder:{password}@127.0.0.1:9/simple"
    wheelhouse = tmp_path / "wheelhouse"
    env = ansible_env(WHEELFLEET_HOSTILE_OK="forwarded")
    done = cli(
        *release_args(tiny_project, wheelhouse, "index", "-v"),
        *("-e", "wheel_build_requirements_source=index", "-e", f"wheel_build_index_url={url}"),
        # pip gives up at once on the closed port instead of retrying for a minute.
        *("-e", '{"wheel_build_environment": {"PIP_RETRIES": "0"}}'),
        cwd=tmp_path,
        env=env,
    )
    logs = "".join(p.read_text() for p in (wheelhouse / "logs").glob("*.log"))
    state = (
        (wheelhouse / "release.json").read_text() if (wheelhouse / "release.json").exists() else ""
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert "builder:****@127.0.0.1:9" in logs
    assert password not in done.stdout + done.stderr + logs + state


def test_the_private_files_go_after_a_cancelled_run(tmp_path: Path) -> None:
    """Cancelled mid-task (as Ctrl-C does; about 5 s): the 0600 file existed while
    ansible-playbook ran, and is gone with the private directory afterwards."""
    secret = f"cancel-{uuid.uuid4().hex}"
    playbook = tmp_path / "long.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Run for a long time\n      ansible.builtin.command: sleep 60\n"
        "      changed_when: false\n"
    )
    project = Project.locate()
    request = RunRequest(
        playbook=playbook,
        inventories=(project.default_inventory,),
        extravars={"some_password": secret},
    )
    cancellation = Cancellation()
    files: list[Path] = []

    def on_event(event: Mapping[str, Any]) -> None:
        if event.get("event") != "runner_on_start" or not isinstance(event.get("pid"), int):
            return
        argv = Path(f"/proc/{event['pid']}/cmdline").read_bytes().split(b"\0")
        assert secret.encode() not in b" ".join(argv)
        for arg in argv:
            if arg.startswith(b"@") and b"/vars/" in arg:
                path = Path(arg[1:].decode())
                assert path.stat().st_mode & 0o777 == 0o600
                assert secret in path.read_text()
                files.append(path)
        cancellation.requested = True

    started = time.monotonic()
    result = run_playbook(project, request, on_event=on_event, cancellation=cancellation)
    assert result.status == "canceled"
    assert time.monotonic() - started < 30
    assert files and not any(path.exists() or path.parent.exists() for path in files)
