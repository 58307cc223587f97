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
    description:
      - Seconds one step may take. The step then fails; it is stopped inside the container
        with C(timeout) when the container has that command, and the module gives up waiting
        for it a minute later in any case.
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
  - The step logic lives in module_utils/step_runner, which the build engine uses too.
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_container import (
    DOCKER_IMPORT_ERROR,
    BuildContainer,
    HostFailure,
    client_for,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.step_runner import (
    failure_message,
    list_files,
    log_tail,
    run_steps,
)


def run(module: AnsibleModule, container: BuildContainer) -> dict:
    params = module.params
    result: dict = {"changed": True, "steps": [], "container": params["container"]}
    try:
        ran = run_steps(
            container,
            params["steps"],
            params["log"],
            params["passed_env"],
            params["timeout"],
            params["online_steps"],
        )
    except HostFailure as exc:
        module.fail_json(msg=str(exc), **result)
    result["steps"] = [outcome.as_dict() for outcome in ran.done]
    result["seconds"] = round(sum(outcome.seconds for outcome in ran.done), 3)
    if ran.offline_from:
        result.update(offline_from=ran.offline_from, disconnected=ran.disconnected)
    if ran.failed:
        module.fail_json(
            msg=failure_message(ran.failed, container.describe(), params["timeout"]),
            failed_step=ran.failed.name,
            log_tail=log_tail(container, params["log"], params["log_tail_lines"]),
            **result,
        )
    try:
        result["files"] = {
            directory: list_files(container, directory) for directory in params["list_files"]
        }
    except HostFailure as exc:
        module.fail_json(msg=str(exc), **result)
    return result


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
        # The API timeout backs up the step timeout that `timeout` enforces in the container.
        client = client_for(params["docker_host"], params["timeout"] + 60)
        container = BuildContainer.attach(client, params["container"])
    except ImportError:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    except HostFailure as exc:
        module.fail_json(msg=str(exc), steps=[])
    module.exit_json(**run(module, container))


if __name__ == "__main__":
    main()
