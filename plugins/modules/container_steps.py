#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: container_steps
short_description: Run named steps in a running container, logging each to a file inside it
version_added: 0.1.0
description:
  - Runs each step's command inside a running container of this host's Docker engine, through
    the engine API (docker exec with the Docker SDK; nothing is mounted, so the engine may be
    remote), one after the other, and stops at the first step that fails.
  - Everything a step prints goes to O(log) inside the container, between header lines that name
    the step, its command, its start time and its exit status. On failure the module returns the
    last O(log_tail_lines) lines of that log.
  - Returns how many seconds each step took, for progress reports and benchmarks.
  - Meant to run in the background (C(async) with C(poll) set to 0), several containers at once,
    with M(ansible.builtin.async_status) to wait for them.
options:
  container:
    description: Name or ID of the running container.
    type: str
    required: true
  docker_host:
    description: Engine API address; default from C(DOCKER_HOST) or the local socket.
    type: str
  steps:
    description: The steps, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the step (in the log and the result).
        type: str
        required: true
      argv:
        description:
          - The command and its arguments (no shell). Use C([sh, -c, SCRIPT]) for a shell string.
        type: list
        elements: str
        required: true
      env:
        description: Environment variables for the command.
        type: dict
        default: {}
      workdir:
        description: Working directory inside the container (created when missing).
        type: str
        default: /
      path_prepend:
        description: Directories put in front of the container's C(PATH) for this step.
        type: list
        elements: str
        default: []
      shell_env:
        description:
          - C(export) lines evaluated by the container's C(sh) before the command, so values may
            use C($VAR) and C($(command)) as in cibuildwheel's C(environment) option.
          - They are written to the log; put secrets in O(passed_env) instead.
        type: str
        default: ""
  passed_env:
    description:
      - Environment variables given to every step, for cibuildwheel's C(environment-pass).
      - Their values are never logged nor returned.
    type: dict
    default: {}
  log:
    description: Log file inside the container; steps append to it.
    type: str
    default: /work/logs/steps.log
  log_tail_lines:
    description: Lines of the log returned when a step fails.
    type: int
    default: 40
  list_files:
    description: Directories inside the container whose regular files RV(files) lists after success.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds one step may take before the module gives up on it.
    type: int
    default: 3600
  online_steps:
    description:
      - When set, the names of the steps that may use the container's networks. Before the first
        step not in this list, the container is disconnected from every network, for good (it
        keeps only its loopback interface), and the module checks that no network is left.
      - For example V([before_all]), so that C(before-all) installs system packages from the
        distribution's mirrors while C(before-build) and the project's own build run offline.
      - Unset, the container's networking is left as it is.
    type: list
    elements: str
requirements:
  - The Docker SDK for Python (C(docker)) on the host the module runs on.
notes:
  - Supports check mode (nothing runs; RV(changed) is true when there are steps).
  - The container needs C(sh), C(mkdir), C(date), C(tail) and C(find) (any Linux userland).
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Build a wheel in a builder container, in the background
  wheelfleet.fleet.container_steps:
    container: wheelfleet-20250101T120000-3f9a1c-yamlcount-cp311-cp311-aarch64
    log: /work/logs/build.log
    steps:
      - name: before_all
        argv: [sh, -c, apt-get update && apt-get install -y libyaml-dev]
      - name: build
        argv: [/opt/python/cp311-cp311/bin/python, -m, pip, wheel, --no-deps,
               -w, /work/dist, /work/src]
        env: {PIP_NO_INDEX: "1", PIP_FIND_LINKS: /work/wheelhouse}
        workdir: /work/src
    list_files: [/work/dist]
  async: 3600
  poll: 0
  register: build_job
"""

RETURN = r"""
steps:
  description: The steps that ran, with their exit status and duration.
  returned: always
  type: list
  elements: dict
  sample: [{name: before_all, rc: 0, seconds: 9.2}, {name: build, rc: 0, seconds: 4.1}]
failed_step:
  description: Name of the step that failed.
  returned: failure
  type: str
log_tail:
  description: The last lines of the log.
  returned: failure
  type: str
files:
  description:
    - For each directory of O(list_files), the paths of its regular files.
    - Returned (possibly empty) only when every step succeeded.
  returned: success
  type: dict
  sample: {/work/dist: [/work/dist/yamlcount-1.0.0-cp311-cp311-linux_aarch64.whl]}
seconds:
  description: Total seconds of all steps.
  returned: always
  type: float
offline_from:
  description: The step before which the container was disconnected from its networks.
  returned: when O(online_steps) is set and a step outside it ran
  type: str
  sample: before_build
disconnected:
  description: The networks the container was disconnected from.
  returned: when O(online_steps) is set and a step outside it ran
  type: list
  elements: str
  sample: [bridge]
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.wheelfleet.fleet.plugins.module_utils.exec_target import (
    DOCKER_IMPORT_ERROR,
    ContainerTarget,
    TargetError,
)

# Runs one step: appends headers and the command's output to the log, returns its status.
WRAPPER = r"""
log=$1; name=$2; shift 2
mkdir -p "${log%/*}"
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
printf '=== $ %s\n' "$*" >>"$log"
"$@" >>"$log" 2>&1 </dev/null
rc=$?
printf '=== wheelfleet step %s: exit status %s at %s\n' "$name" "$rc" "$(now)" >>"$log"
exit $rc
"""


def run_steps(module: AnsibleModule, target: ContainerTarget) -> dict:
    params = module.params
    log = params["log"]
    done = []
    result = {"changed": True, "steps": done, "container": params["container"]}
    started_all = time.monotonic()
    online = params["online_steps"]
    for step in params["steps"]:
        if online is not None and step["name"] not in online and "offline_from" not in result:
            try:
                result["disconnected"] = disconnect_all(target)
            except TargetError as exc:
                module.fail_json(msg=str(exc), failed_step=step["name"], **result)
            result["offline_from"] = step["name"]
        workdir = step.get("workdir") or "/"
        rc, _, err = target.run(["mkdir", "-p", workdir])
        if rc != 0:
            module.fail_json(
                msg=f"cannot create the working directory {workdir} in {target.describe()}: {err}",
                **result,
            )
        env = {str(k): str(v) for k, v in (params["passed_env"] or {}).items()}
        env.update({str(k): str(v) for k, v in (step.get("env") or {}).items()})
        if step.get("shell_env"):
            env["WHEELFLEET_SHELL_ENV"] = step["shell_env"]
        if step.get("path_prepend"):
            env["WHEELFLEET_PATH_PREPEND"] = ":".join(step["path_prepend"])
        argv = ["sh", "-c", WRAPPER, "wheelfleet-step", log, step["name"], *step["argv"]]
        started = time.monotonic()
        try:
            result_exec = target.container.exec_run(argv, environment=env, workdir=workdir)
            rc = result_exec.exit_code
        except Exception as exc:  # the SDK raises requests' timeouts and its own errors
            rc = None
            error = f"{type(exc).__name__}: {exc}"
        seconds = round(time.monotonic() - started, 3)
        done.append({"name": step["name"], "rc": rc, "seconds": seconds})
        result["seconds"] = round(time.monotonic() - started_all, 3)
        if rc != 0:
            tail = tail_of(target, log, params["log_tail_lines"])
            if rc is None:
                msg = (
                    f"step {step['name']} in {target.describe()} did not complete "
                    f"(timeout {params['timeout']} s or engine error: {error})"
                )
            else:
                msg = f"step {step['name']} failed with exit status {rc} in {target.describe()}"
            module.fail_json(msg=msg, failed_step=step["name"], log_tail=tail, **result)
    files = {}
    for directory in params["list_files"]:
        rc, out, _ = target.run(["find", directory, "-maxdepth", "1", "-type", "f"])
        files[directory] = (
            sorted(line for line in out.splitlines() if line.strip()) if rc == 0 else []
        )
    result["files"] = files
    result["seconds"] = round(time.monotonic() - started_all, 3)
    return result


def disconnect_all(target: ContainerTarget) -> list:
    """Disconnect the container from every network, then check that none is left."""
    container = target.container
    names = []
    try:
        container.reload()
        networks = container.attrs["NetworkSettings"].get("Networks") or {}
        for name, settings in networks.items():
            if name == "none":
                continue
            container.client.api.disconnect_container_from_network(
                container.id, settings.get("NetworkID") or name, force=True
            )
            names.append(name)
        container.reload()
        left = [n for n in container.attrs["NetworkSettings"].get("Networks") or {} if n != "none"]
    except Exception as exc:  # the SDK raises requests' errors and its own
        raise TargetError(
            f"cannot take {target.describe()} off its networks: {type(exc).__name__}: {exc}"
        ) from None
    if left:
        raise TargetError(f"{target.describe()} is still on networks {left} after disconnecting")
    return names


def tail_of(target: ContainerTarget, log: str, lines: int) -> str:
    try:
        rc, out, _ = target.run(["tail", "-n", str(lines), log])
    except TargetError:
        return ""
    return out if rc == 0 else ""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "container": {"type": "str", "required": True},
            "docker_host": {"type": "str"},
            "steps": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "argv": {"type": "list", "elements": "str", "required": True},
                    "env": {"type": "dict", "default": {}},
                    "workdir": {"type": "str", "default": "/"},
                    "path_prepend": {"type": "list", "elements": "str", "default": []},
                    "shell_env": {"type": "str", "default": ""},
                },
            },
            "passed_env": {"type": "dict", "default": {}, "no_log": True},
            "log": {"type": "str", "default": "/work/logs/steps.log"},
            "log_tail_lines": {"type": "int", "default": 40},
            "list_files": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "int", "default": 3600},
            "online_steps": {"type": "list", "elements": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    if module.check_mode:
        module.exit_json(changed=bool(params["steps"]), steps=[], msg="check mode: nothing ran")
    try:
        target = ContainerTarget(params["container"], params["docker_host"], params["timeout"])
    except ImportError:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    except TargetError as exc:
        module.fail_json(msg=str(exc), steps=[])
    try:
        module.exit_json(**run_steps(module, target))
    except TargetError as exc:
        module.fail_json(msg=str(exc), steps=[])


if __name__ == "__main__":
    main()
