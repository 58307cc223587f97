# Copyright: wheelfleet developers
# Apache License 2.0
"""Named steps run in a container, each logged to a file inside it.

A step is a dict ``{name, argv, env, workdir, path_prepend, shell_env}`` (as
``wheelfleet.jobs`` makes them). Everything a step prints is appended to a
log file inside the container between header lines naming the step, its
command, its start and its exit status. ``passed_env`` (secrets allowed
through by environment-pass) reaches every step and is never logged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_container import (
    BuildContainer,
    StepTimeout,
)

# Runs one step: creates and enters its working directory, appends headers and the
# command's output to the log, returns its status. Under `timeout` when the container
# has it, so that a step that overruns is killed inside the container too.
WRAPPER = r"""
log=$1; name=$2; workdir=$3; limit=$4; shift 4
mkdir -p "${log%/*}" "$workdir" && cd "$workdir" || exit 125
if [ -n "$WHEELFLEET_PATH_PREPEND" ]; then PATH="$WHEELFLEET_PATH_PREPEND:$PATH"; export PATH; fi
unset WHEELFLEET_PATH_PREPEND
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
printf '\n=== wheelfleet step %s: started %s in %s\n' "$name" "$(now)" "$PWD" >>"$log"
if [ -n "$WHEELFLEET_SHELL_ENV" ]; then
    printf '=== environment:\n%s\n' "$WHEELFLEET_SHELL_ENV" >>"$log"
    if ! eval "$WHEELFLEET_SHELL_ENV" >>"$log" 2>&1 </dev/null; then
        printf '=== wheelfleet step %s: the environment could not be evaluated\n' "$name" >>"$log"
        exit 1
    fi
fi
unset WHEELFLEET_SHELL_ENV
printf '=== $ %s\n' "${WHEELFLEET_STEP_COMMAND:-$*}" >>"$log"
unset WHEELFLEET_STEP_COMMAND
if [ "$limit" -gt 0 ] 2>/dev/null && command -v timeout >/dev/null 2>&1; then
    timeout -k 10 "$limit" "$@" >>"$log" 2>&1 </dev/null
else
    "$@" >>"$log" 2>&1 </dev/null
fi
rc=$?
printf '=== wheelfleet step %s: exit status %s at %s\n' "$name" "$rc" "$(now)" >>"$log"
exit $rc
"""
# `timeout` exits 124 when it stopped the command, 137 when it had to kill it.
TIMED_OUT = (124, 137)


@dataclass
class StepOutcome:
    """How one step ended: ``rc`` 0 is success; ``timed_out`` when its time ran out."""

    name: str
    rc: int
    start: float
    end: float
    timed_out: bool = False

    @property
    def seconds(self) -> float:
        return round(self.end - self.start, 3)

    def as_dict(self) -> dict:
        return {"name": self.name, "rc": self.rc, "seconds": self.seconds}


@dataclass
class StepsResult:
    """The steps that ran, in order; ``failed`` is the outcome of the one that failed."""

    done: list = field(default_factory=list)
    failed: StepOutcome | None = None
    offline_from: str | None = None
    disconnected: list = field(default_factory=list)


def command_line(argv: list) -> str:
    """The step's command as its log shows it: a program given on the command line
    (``python -c``, a wheelfleet launcher) by its first line when that is a comment, and its
    length, rather than in full."""
    shown = []
    for arg in (str(item) for item in argv):
        lines = arg.strip().splitlines()
        if len(lines) > 1:
            first = lines[0].lstrip("# ").strip() if lines[0].startswith("#") else "program"
            arg = f"<{first}: {len(lines)} lines>"
        shown.append(arg)
    return " ".join(shown)


def step_environment(step: dict, passed_env: dict | None) -> dict:
    """The exec environment of a step: passed_env, the step's env, and the wrapper's inputs."""
    env = {str(k): str(v) for k, v in (passed_env or {}).items()}
    env.update({str(k): str(v) for k, v in (step.get("env") or {}).items()})
    env["WHEELFLEET_STEP_COMMAND"] = command_line(step.get("argv") or [])
    if step.get("shell_env"):
        env["WHEELFLEET_SHELL_ENV"] = step["shell_env"]
    if step.get("path_prepend"):
        env["WHEELFLEET_PATH_PREPEND"] = ":".join(step["path_prepend"])
    return env


def run_step(
    container: BuildContainer,
    step: dict,
    log: str,
    passed_env: dict | None = None,
    timeout: int = 0,
) -> StepOutcome:
    """Run one step; HostFailure (from the container) when the host fails under it."""
    argv = ["sh", "-c", WRAPPER, "wheelfleet-step", log, step["name"]]
    argv += [step.get("workdir") or "/", str(int(timeout or 0)), *step["argv"]]
    env = step_environment(step, passed_env)
    start = time.time()
    try:
        rc, _, _ = container.exec(argv, env=env)
    except StepTimeout:
        return StepOutcome(step["name"], -1, start, time.time(), timed_out=True)
    return StepOutcome(
        step["name"], rc, start, time.time(), timed_out=bool(timeout) and rc in TIMED_OUT
    )


def run_steps(
    container: BuildContainer,
    steps: list,
    log: str,
    passed_env: dict | None = None,
    timeout: int = 0,
    online_steps: list | None = None,
) -> StepsResult:
    """Run steps in order until one fails. With ``online_steps`` set, the container leaves
    every network before the first step not named in it (HostFailure if it cannot)."""
    result = StepsResult()
    for step in steps:
        if (
            online_steps is not None
            and step["name"] not in online_steps
            and not result.offline_from
        ):
            result.disconnected = container.disconnect_networks()
            result.offline_from = step["name"]
        outcome = run_step(container, step, log, passed_env, timeout)
        result.done.append(outcome)
        if outcome.rc != 0:
            result.failed = outcome
            break
    return result


def failure_message(outcome: StepOutcome, where: str, timeout: int) -> str:
    if outcome.timed_out:
        return f"step {outcome.name} in {where} did not finish within {timeout} s"
    return f"step {outcome.name} failed with exit status {outcome.rc} in {where}"


def log_tail(container: BuildContainer, log: str, lines: int) -> str:
    """The last lines of a log inside the container ('' when it cannot be read)."""
    try:
        rc, out, _ = container.run(["tail", "-n", str(int(lines)), log])
    except Exception:  # a tail is a courtesy on a failure path: never mask the failure
        return ""
    return out if rc == 0 else ""


def list_files(container: BuildContainer, directory: str, suffix: str = "") -> list:
    """Paths of the regular files directly inside a container directory, sorted."""
    rc, out, _ = container.run(["find", directory, "-maxdepth", "1", "-type", "f"])
    if rc != 0:
        return []
    return sorted(line for line in out.splitlines() if line.strip() and line.endswith(suffix))
