#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: auditwheel
short_description: Analyse a Linux wheel or repair it to a manylinux policy with auditwheel
version_added: 0.1.0
description:
  - Runs auditwheel's command line (its supported interface; this module reads the
    C(auditwheel show --json) document of auditwheel 6.8) on this host, or inside a running
    container of this host's Docker engine (O(container)), where the wheel and the libraries it
    links live.
  - V(analyzed) returns auditwheel's analysis. V(repaired) repairs the wheel into O(dest). The
    repaired wheel is written to a scratch directory and moved into O(dest) only when auditwheel
    succeeded, so O(dest) never holds a partial or unrepaired wheel.
  - Idempotent. A record of each repair, keyed by the input wheel's sha256 and the repair
    options, is kept in O(dest)/.wheelfleet; when it matches a repaired wheel still present with
    the recorded hash, nothing is done and RV(changed) is false.
  - Failures name auditwheel's reason in RV(error_kind) and RV(msg), never a traceback; too-recent
    symbol versions are listed by library.
options:
  wheel:
    description: Path of the wheel to analyse or repair (inside O(container) when it is set).
    type: path
    required: true
  state:
    description: V(analyzed) only analyses; V(repaired) repairs into O(dest).
    type: str
    choices: [analyzed, repaired]
    default: repaired
  dest:
    description:
      - Directory that receives the repaired wheel (created when missing).
      - Required for V(repaired).
    type: path
  container:
    description: Name or id of a running container of this host's engine to run auditwheel in.
    type: str
  docker_host:
    description:
      - Engine API address for O(container).
      - Default from the environment (C(DOCKER_HOST)) or the local socket.
    type: str
  plat:
    description:
      - Target platform tag, for example V(manylinux_2_28_x86_64), or V(auto) for the best one
        the wheel qualifies for. Default is the target's C(AUDITWHEEL_PLAT) environment variable
        (set in manylinux and wheelfleet builder images), else V(auto).
    type: str
  exclude:
    description: Libraries (sonames or patterns) not to graft into the wheel.
    type: list
    elements: str
    default: []
  strip:
    description: Strip symbols from the grafted libraries.
    type: bool
    default: false
  only_plat:
    description: Tag the wheel with O(plat) only, not also with a higher policy it qualifies for.
    type: bool
    default: false
  lib_sdir:
    description: Suffix of the directory inside the wheel that holds grafted libraries.
    type: str
    default: .libs
  pure:
    description: What V(repaired) does with a pure-Python wheel, which has nothing to repair.
    type: str
    choices: [fail, copy]
    default: fail
  auditwheel:
    description: The auditwheel command (name on PATH or absolute path) in the target.
    type: str
    default: auditwheel
  python:
    description:
      - Interpreter that runs auditwheel, used for small file operations next to the wheel.
        Default is the interpreter named in the auditwheel script's first line.
    type: str
  timeout:
    description: Seconds allowed for each auditwheel run.
    type: int
    default: 1800
requirements:
  - auditwheel 6.8 where the wheel is (the target).
  - The Docker SDK for Python (C(docker)) on this host, when O(container) is set.
notes:
  - Supports check mode (V(repaired) then analyses and reports what it would do).
  - Repair runs where the wheel's libraries live, in a container of the wheel's architecture,
    because auditwheel's platform choices depend on the architecture it runs on.
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Repair a wheel built in a builder container, to the image's policy
  wheelfleet.fleet.auditwheel:
    container: wheelfleet-job-cp311-aarch64
    wheel: /work/dist/pyyaml-6.0.3-cp311-cp311-linux_aarch64.whl
    dest: /work/wheelhouse
  register: repaired

- name: Analyse a wheel on this host
  wheelfleet.fleet.auditwheel:
    wheel: /tmp/dist/example-1.0-cp311-cp311-linux_x86_64.whl
    state: analyzed
  register: analysis

- name: Repair to an explicit policy without grafting libcuda
  wheelfleet.fleet.auditwheel:
    wheel: /tmp/dist/example-1.0-cp311-cp311-linux_x86_64.whl
    dest: /tmp/wheelhouse
    plat: manylinux_2_28_x86_64
    exclude: [libcuda.so.1]
    strip: true
"""

RETURN = r"""
analysis:
  description: The document C(auditwheel show --json) printed (schema version 1).
  returned: when the wheel could be analysed
  type: dict
  sample:
    version: 1
    wheel: example-1.0-cp311-cp311-linux_x86_64.whl
    pure: false
    overall_tag: linux_x86_64
    sym_tag: manylinux_2_17_x86_64
    external_libs: {libyaml-0.so.2: /usr/lib/x86_64-linux-gnu/libyaml-0.so.2}
input_sha256:
  description: sha256 of the input wheel.
  returned: always, when the wheel exists
  type: str
plat:
  description: The platform tag repaired to (V(auto) resolved by auditwheel shows in RV(tags)).
  returned: state is repaired
  type: str
  sample: manylinux_2_36_x86_64
wheel:
  description: Path of the repaired wheel in O(dest) (predicted only after a real repair).
  returned: state is repaired and not in check mode
  type: str
  sample: /work/wheelhouse/example-1.0-cp311-cp311-manylinux_2_36_x86_64.whl
tags:
  description: Tags of the repaired wheel, from its file name.
  returned: state is repaired and not in check mode
  type: dict
  sample:
    distribution: example
    version: "1.0"
    python: [cp311]
    abi: [cp311]
    platform: [manylinux_2_36_x86_64]
sha256:
  description: sha256 of the repaired wheel.
  returned: state is repaired and not in check mode
  type: str
size:
  description: Size of the repaired wheel in bytes.
  returned: state is repaired and not in check mode
  type: int
grafted:
  description: Shared libraries copied into the wheel (file names inside its library directory).
  returned: state is repaired and not in check mode
  type: list
  elements: str
  sample: [libyaml-0-7d5a8f3c.so.2.0.9]
error_kind:
  description:
    - Why auditwheel refused the wheel, in one word, on failure. One of C(pure), C(missing-library),
      C(too-recent-symbols), C(unsupported-isa), C(blacklisted-symbols), C(patchelf), C(usage),
      C(analysis), C(unsupported), C(failed).
  returned: failure
  type: str
offending_versions:
  description: For C(too-recent-symbols), the symbol versions the policy does not allow, by library.
  returned: failure
  type: dict
  sample: {libc.so.6: [GLIBC_2.34]}
missing_libraries:
  description: For C(missing-library), the libraries the loader could not find.
  returned: failure
  type: list
  elements: str
auditwheel_output:
  description: What auditwheel printed, on failure.
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.wheelfleet.fleet.plugins.module_utils.auditwheel_repair import (
    Auditwheel,
    RepairError,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.auditwheel_report import (
    AuditwheelFailure,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.exec_target import (
    DOCKER_IMPORT_ERROR,
    ContainerTarget,
    HostTarget,
    TargetError,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "wheel": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["analyzed", "repaired"], "default": "repaired"},
            "dest": {"type": "path"},
            "container": {"type": "str"},
            "docker_host": {"type": "str"},
            "plat": {"type": "str"},
            "exclude": {"type": "list", "elements": "str", "default": []},
            "strip": {"type": "bool", "default": False},
            "only_plat": {"type": "bool", "default": False},
            "lib_sdir": {"type": "str", "default": ".libs"},
            "pure": {"type": "str", "choices": ["fail", "copy"], "default": "fail"},
            "auditwheel": {"type": "str", "default": "auditwheel"},
            "python": {"type": "str"},
            "timeout": {"type": "int", "default": 1800},
        },
        required_if=[("state", "repaired", ["dest"])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["container"]:
            target = ContainerTarget(params["container"], params["docker_host"], params["timeout"])
        else:
            target = HostTarget(params["timeout"])
    except ImportError:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    except TargetError as exc:
        module.fail_json(msg=str(exc))
    try:
        result = Auditwheel(params, target, module.check_mode).run()
    except AuditwheelFailure as failure:
        module.fail_json(
            msg=failure.message,
            error_kind=failure.kind,
            wheel_path=params["wheel"],
            **failure.details,
        )
    except RepairError as exc:
        module.fail_json(msg=exc.message, **exc.details)
    except TargetError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
