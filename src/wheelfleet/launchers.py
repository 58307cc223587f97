"""The Python programs a job runs in its containers, with the container's interpreter
(``python -c <launcher> <module> <args>``): the build frontend, under temporary names from a
fixed seed, and the test install. In an accelerated emulated job each hands its installs to
the host-native uv (``WHEELFLEET_UV``) when nothing of pip's configuration would be ignored.

Each launcher records which installer it chose in a mark file the engine reads back:
``uv``, or ``pip: <why>``.
"""

from __future__ import annotations

import inspect

OWN_PIP_VARIABLES = (
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_ROOT_USER_ACTION",
    "PIP_NO_INDEX",
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
)
"""The PIP_ variables wheelfleet itself sets in a step (jobs.pip_environment); uv gets the
same wheelhouse through its own UV_ variables (accelerator.installer_environment)."""

_PIP_CONFIGURATION = f"""
import os
def pip_configuration():
    # What configures pip in this container that uv would not read: pip's configuration
    # files (none when PIP_CONFIG_FILE is os.devnull, as pip itself reads them) and PIP_
    # variables other than wheelfleet's own.
    own = {OWN_PIP_VARIABLES!r}
    variables = sorted(k for k in os.environ if k.startswith("PIP_") and k not in own)
    named = os.environ.get("PIP_CONFIG_FILE")
    if named == os.devnull:
        return [k for k in variables if k != "PIP_CONFIG_FILE"]
    homes = [os.path.expanduser(p) for p in ("~/.config/pip/pip.conf", "~/.pip/pip.conf")]
    files = [p for p in ["/etc/pip.conf", "/etc/xdg/pip/pip.conf", *homes] if os.path.exists(p)]
    return files + [named if k == "PIP_CONFIG_FILE" else k for k in variables]
def mark_installer(path, chosen):
    with open(path, "w") as mark:
        mark.write(chosen)
"""


def linker_commands(config: dict, env: dict) -> dict:
    """LDSHARED and LDCXXSHARED with the interpreter's link flags kept (``-Wl,-O1
    -Wl,-Bsymbolic-functions`` on Debian, ``-pthread`` on manylinux) and its compiler
    replaced by the accelerator's (``env``'s CC and CXX); setuptools itself does that for
    LDSHARED only, when CC is set and LDSHARED is not. Empty when the interpreter's
    commands (``config``, its sysconfig) do not start with its compilers. Runs in the
    build container too (:data:`STABLE_NAMES`): plain Python 3, the standard library."""
    found = {}
    for link, compiler in (("LDSHARED", "CC"), ("LDCXXSHARED", "CXX")):
        command = str(config.get(link) or "").strip()
        # The compiler program only: "gcc -pthread" keeps -pthread in the link command.
        plain = (str(config.get(compiler) or "").split() or [""])[0]
        if plain and env.get(compiler) and command.startswith(plain + " "):
            found[link] = " ".join([env[compiler], *command[len(plain) :].split()])
    return found


STABLE_NAMES = (
    "# wheelfleet.launchers.STABLE_NAMES (the build frontend, run as python -m would)\n"
    + _PIP_CONFIGURATION
    + inspect.getsource(linker_commands)
    + r"""
import random, runpy, sys, tempfile
# wheelfleet: the frontend's temporary names (its isolated build environment,
# /tmp/build-env-XXXXXXXX) come from a fixed seed, in a fresh TMPDIR per job, so
# that paths compiled into debug information are the same in every build.
class FixedNames(getattr(tempfile, "_RandomNameSequence", object)):
    @property
    def rng(self):
        if not hasattr(self, "fixed"):
            self.fixed = random.Random(0)
        return self.fixed
if hasattr(tempfile, "_name_sequence"):
    tempfile._name_sequence = FixedNames()
if os.environ.get("TMPDIR"):
    os.makedirs(os.environ["TMPDIR"], exist_ok=True)
    tempfile.tempdir = None
sys.argv = sys.argv[1:]
# wheelfleet: an accelerated job links with the interpreter's own link flags, its
# compiler replaced by the accelerator's, unless something set the link commands.
if os.environ.get("WHEELFLEET_ACCELERATOR"):
    import sysconfig
    names = ("CC", "CXX", "LDSHARED", "LDCXXSHARED")
    config = {name: sysconfig.get_config_var(name) or "" for name in names}
    for link, command in linker_commands(config, os.environ).items():
        compiler = os.environ.get("CXX" if link == "LDCXXSHARED" else "CC", "")
        if os.environ.get(link, "") in ("", compiler + " -shared"):
            os.environ[link] = command
# wheelfleet: an accelerated emulated job's isolated build environment is installed by
# the host-native uv (WHEELFLEET_UV) when build can use it.
uv = os.environ.pop("WHEELFLEET_UV", "")
if uv and sys.argv[0] == "build" and not any(a.startswith("--installer") for a in sys.argv):
    from importlib.metadata import version
    try:
        usable = tuple(int(p) for p in version("build").split(".")[:2]) >= (1, 2)
    except (ValueError, ImportError):
        usable = False
    found = pip_configuration()
    if not os.access(uv, os.X_OK):
        chosen = "pip: " + uv + " cannot be run"
    elif not usable:
        chosen = "pip: build < 1.2"
    elif found:
        chosen = "pip: " + ", ".join(found) + " would be ignored"
    else:
        os.environ.setdefault("UV_CACHE_DIR", os.path.join(tempfile.gettempdir(), "uv-cache"))
        os.environ["PATH"] = os.path.dirname(uv) + os.pathsep + os.environ.get("PATH", "")
        sys.argv[1:1] = ["--installer", "uv"]
        chosen = "uv"
    mark_installer(os.path.join(tempfile.gettempdir(), "wheelfleet-installer"), chosen)
    print("wheelfleet: the build environment is installed by", chosen, flush=True)
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""
)
"""Runs a frontend module (``build``, ``pip``) as ``python -m`` would, with temporary names
from a fixed seed: the random name of an isolated build environment otherwise reaches
the wheel through debug information (-g) of code compiled against a build requirement's
headers (pybind11, numpy). In an accelerated job, it sets the link commands from the
interpreter's (:func:`linker_commands`, in the process that builds: no process of its own
under emulation) and hands build the host-native uv."""

TEST_INSTALL = (
    "# wheelfleet.launchers.TEST_INSTALL (uv, else pip, installs the tests' requirements)\n"
    + _PIP_CONFIGURATION
    + r"""
import runpy, subprocess, sys
# wheelfleet: the test install (pip's arguments) of an accelerated emulated job, by the
# host-native uv into this interpreter: pip, under emulation, takes seconds to install a
# wheel and pytest. pip installs when uv is missing, would ignore pip's configuration,
# or fails.
uv = os.environ.pop("WHEELFLEET_UV", "")
mark = os.environ.pop("WHEELFLEET_INSTALLER_MARK", "")
args = sys.argv[1:]
found = pip_configuration()
if not uv:
    chosen = "pip"
elif not os.access(uv, os.X_OK):
    chosen = "pip: " + uv + " cannot be run"
elif found:
    chosen = "pip: " + ", ".join(found) + " would be ignored"
else:
    print("wheelfleet: the test environment is installed by uv", flush=True)
    done = subprocess.call([uv, "pip", args[0], "--python", sys.executable, *args[1:]])
    chosen = "uv" if done == 0 else "pip: uv exited " + str(done)
if mark:
    mark_installer(mark, chosen)
if chosen != "uv":
    if uv:
        print("wheelfleet: the test environment is installed by", chosen, flush=True)
    sys.argv = ["pip", *args]
    runpy.run_module("pip", run_name="__main__", alter_sys=True)
"""
)
"""``pip <args>`` (``install`` and what to install) for a test container: by uv when the
step's environment names it (``WHEELFLEET_UV``), else by the interpreter's pip."""
