#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wheel_build_engine
short_description: Build, repair and test a host's wheel jobs on that host, several at once
version_added: 0.2.0
description:
  - Runs the resolved jobs of one build host (from C(wheelfleet.fleet.wheel_build_plan)) on
    this host's Docker engine, through its API, with no Ansible between steps.
  - Jobs with the same C(group) share one build container, where C(before_all) runs once and
    the jobs build one after the other. Up to O(slots) group containers run at once; when
    there are more slots than groups, the largest group is split (each part runs
    C(before_all) again).
  - Per job, the repaired wheels (auditwheel, in the build container, under the job's
    C(SOURCE_DATE_EPOCH)) and the logs land in O(workdir)C(/out/<job id>/), then
    C(result.json) is written there, last.
  - Each copied-out wheel's archive is normalized on this host before the test (entry order
    with C(.dist-info) last, timestamps from C(SOURCE_DATE_EPOCH), permissions, RECORD
    order, one compression level), so that the tested bytes are the published bytes and
    the same inputs give the same bytes on any host.
  - Progress records (JSON lines) are appended to O(workdir)C(/progress.jsonl); read them
    with M(wheelfleet.fleet.wheel_build_progress) while the module runs in the background
    (C(async), C(poll) 0).
  - A job failure (a step exits non-zero, no wheel, auditwheel refuses, a test fails, a step
    times out) ends that job only. A host failure (the engine API fails, a container
    vanishes) stops every job; those not finished are reported C(unfinished).
options:
  jobs:
    description:
      - The resolved jobs to build (status build), as the plan gives them, each with C(id),
        C(group), C(image), C(platform), C(container), C(test_container), C(run_id),
        C(dist), C(repaired), C(steps), C(before_all), C(test_steps), C(requirements_key),
        C(repair), C(network) and C(limits).
    type: list
    elements: dict
    required: true
  workdir:
    description:
      - Directory of this host holding C(source.tar.gz) and C(requirements-<key>.tar); the
        engine writes C(progress.jsonl), C(engine.json) and C(out/) there.
      - Without it, the action makes a new one under O(workdir_parent) with C(mktemp -d)
        (mode 0700, a name nobody can guess) and returns it as RV(workdir).
    type: path
  workdir_parent:
    description: Where a new work directory is made when O(workdir) is not given.
    type: path
  toolchain_dir:
    description:
      - A directory of this host that keeps the accelerator's toolchain archives between
        runs (made with mode 0700; it must belong to the connection's user). The action
        copies an archive there only when it is missing, and the engine decompresses it
        there once (C(toolchain-<key>.tar)), so a re-release neither transfers nor unpacks
        the toolchain again.
      - Without it, or when the directory is not the user's alone, each run copies the
        archives into its work directory.
    type: path
  workdir_prefix:
    description: The new work directory's name starts with this.
    type: str
    default: wheelfleet-
  source_archive:
    description:
      - The source archive on the controller (from M(wheelfleet.fleet.wheel_source)); the
        action copies it into the work directory as C(source.tar.gz) before the engine starts.
    type: path
  requirement_archives:
    description:
      - The requirement wheelhouses on the controller (the C(wheelhouses) that
        C(wheelfleet.fleet.wheel_requirements) returns), each with C(request_key) (the
        jobs' C(requirements_key)) and C(archive); each is copied in as
        C(requirements-<request_key>.tar).
    type: list
    elements: dict
    default: []
  toolchain_archives:
    description:
      - The accelerator's toolchain archives on the controller (the C(toolchains) that
        C(wheelfleet.fleet.wheel_toolchain) returns), each with C(key) (a job's
        C(accelerator.key)) and C(archive); each is copied in as C(toolchain-<key>.tar.gz),
        into O(toolchain_dir) when that is given.
    type: list
    elements: dict
    default: []
  docker_host:
    description: Engine API address; default from C(DOCKER_HOST) or the local socket.
    type: str
  slots:
    description: How many group containers run at once.
    type: int
    default: 1
  timeout:
    description: Seconds one step may take (it is then stopped and its job fails).
    type: int
    default: 3600
  owner:
    description: Value of the label C(org.wheelfleet.owner) on every container.
    type: str
    required: true
  passed_env:
    description:
      - Environment variables given to every step (cibuildwheel's C(environment-pass)).
      - Never logged nor returned.
    type: dict
    default: {}
  log_tail_lines:
    description: Lines of a step's log quoted in a job failure's message.
    type: int
    default: 40
  host:
    description: Name of this host in the records (the inventory name).
    type: str
    required: true
requirements:
  - The Docker SDK for Python (C(docker)) on the host the module runs on.
  - Builder images with C(sh), C(find), C(tail), C(date) and auditwheel.
notes:
  - Supports check mode (nothing runs; RV(groups) says what would).
  - The copying and the work directory are done by the action on the controller, over the
    connection, before the module starts on the host (in the background with C(async)).
  - Containers are always removed, also when a job or the host fails.
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Copy the inputs in and build this host's jobs in the background
  wheelfleet.fleet.wheel_build_engine:
    jobs: "{{ wheel_build_plan.jobs | selectattr('status', 'equalto', 'build') | list }}"
    workdir_parent: /var/tmp
    source_archive: "{{ wheel_build_source.archive }}"
    requirement_archives: "{{ wheel_build_requirements.wheelhouses }}"
    slots: 2
    owner: "{{ wheel_build_claim.owner }}"
    host: "{{ inventory_hostname }}"
  async: 7200
  poll: 0
  register: wheel_build_engine_job
"""

RETURN = r"""
workdir:
  description: The work directory (O(workdir), or the one made under O(workdir_parent)).
  returned: always
  type: str
  sample: /var/tmp/wheelfleet-20261207T0301-ab12-3kq9x0aZ
toolchains:
  description:
    - Per toolchain key, where the action found its archive on the host - V(cached) (in
      O(toolchain_dir) from an earlier run), V(copied) (into O(toolchain_dir) now) or
      V(workdir) (copied into the work directory, no usable O(toolchain_dir)).
  returned: when toolchain archives were given
  type: dict
  sample: {"ziglang-0.17.1+uv-0.13.9-x86_64": cached}
jobs:
  description:
    - Per job id, its result (the same document as C(out/<id>/result.json)).
    - C(status) is V(built), V(failed) or V(unfinished); C(failure) has C(kind) (V(job) or
      V(host)) and C(message); C(steps) lists C({step, start, end}) in epoch seconds;
      C(timings) sums seconds per step; C(wheels) are the repaired wheels as auditwheel
      reported them, with the sha256 and size of the normalized archive and
      C(reproducibility) (C(source_date_epoch), C(normalized), C(tools) with auditwheel,
      patchelf, zlib, the build backend, its wheel and the requirement wheels); C(logs) the
      log files in the job's out directory; C(accelerator) the accelerated build's record
      (toolchain, mode, C(installer) of its build environment and C(test_installer) of its
      test environment, V(uv) or why pip; C(userland) whether the host's Python and apt
      ran the build, V(native), V(fallback) or V(emulated), with why); C(qemu_cpu) the CPU model
      QEMU emulated for an emulated job's commands (null when none was applied).
  returned: always
  type: dict
  sample:
    yamlcount-cp311-cp311-x86_64:
      id: yamlcount-cp311-cp311-x86_64
      status: built
      failure: null
      slot: 0
      steps: [{step: container_start, start: 1765060000.1, end: 1765060000.4}]
      timings: {container_start: 0.3}
      wheels: [{file: yamlcount-1.0.0-cp311-cp311-manylinux_2_36_x86_64.whl, sha256: "..."}]
      logs: [build.log, test.log]
host_failure:
  description: Why the host failed (every job not finished is then V(unfinished)), or null.
  returned: always
  type: str
failure_kind:
  description: V(host) when RV(host_failure) is set.
  returned: when the host failed
  type: str
records:
  description: How many progress records the engine wrote.
  returned: always
  type: int
groups:
  description: In check mode, the job ids of each build container, in order.
  returned: check mode
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_container import (
    DOCKER_IMPORT_ERROR,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_engine import (
    EngineSettings,
    describe_plan,
    run_engine,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "jobs": {"type": "list", "elements": "dict", "required": True},
            "workdir": {"type": "path", "required": True},
            "docker_host": {"type": "str"},
            "slots": {"type": "int", "default": 1},
            "timeout": {"type": "int", "default": 3600},
            "owner": {"type": "str", "required": True},
            "passed_env": {"type": "dict", "default": {}, "no_log": True},
            "log_tail_lines": {"type": "int", "default": 40},
            "host": {"type": "str", "required": True},
            "toolchain_dir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["slots"] < 1:
        module.fail_json(
            msg=f"slots must be at least 1, not {params['slots']}", failure_kind="input"
        )
    settings = EngineSettings(
        workdir=params["workdir"],
        host=params["host"],
        owner=params["owner"],
        slots=params["slots"],
        timeout=params["timeout"],
        docker_host=params["docker_host"],
        passed_env=params["passed_env"] or {},
        log_tail_lines=params["log_tail_lines"],
        toolchain_dir=params["toolchain_dir"],
    )
    if module.check_mode:
        module.exit_json(msg="check mode: nothing ran", **describe_plan(settings, params["jobs"]))
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(
            msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR, failure_kind="host"
        )
    result = run_engine(settings, params["jobs"])
    if result["host_failure"]:
        result["failure_kind"] = "host"
    module.exit_json(**result)


if __name__ == "__main__":
    main()
