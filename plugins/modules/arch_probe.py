#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: arch_probe
short_description: Prove that a host can execute binaries of given CPU architectures
version_added: 0.1.0
description:
  - For each architecture, writes a tiny static ELF program of that architecture (a few
    instructions that exit with status 42) and runs it. Success proves that the host executes
    that architecture natively or through a binfmt_misc handler.
  - Changes nothing on the host (the probes live in a temporary directory), so it also runs in
    check mode.
options:
  architectures:
    description: Canonical architecture names to prove.
    type: list
    elements: str
    required: true
    choices: [x86_64, i686, aarch64, armv7l, ppc64le, s390x, riscv64]
  fail_on_error:
    description: Fail when any architecture does not run. The message names each one and why.
    type: bool
    default: true
notes:
  - Supports check mode.
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Prove that aarch64 and s390x binaries run here
  wheelfleet.fleet.arch_probe:
    architectures: [aarch64, s390x]

- name: Find out which architectures run, without failing
  wheelfleet.fleet.arch_probe:
    architectures: [aarch64, riscv64]
    fail_on_error: false
  register: probe
"""

RETURN = r"""
results:
  description: One entry per architecture.
  returned: always
  type: list
  elements: dict
  contains:
    architecture:
      description: The architecture probed.
      type: str
    runs:
      description: Whether the probe ran and exited with the expected status.
      type: bool
    exit_status:
      description: The probe's exit status, when it started.
      type: int
    error:
      description: Why it did not run (for example C(Exec format error)).
      type: str
  sample:
    - architecture: aarch64
      runs: true
      exit_status: 42
      error: null
failed_architectures:
  description: Architectures that did not run.
  returned: always
  type: list
  elements: str
  sample: []
"""

import os
import subprocess
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wheelfleet.fleet.plugins.module_utils.elf_probe import (
    EXIT_STATUS,
    SUPPORTED,
    probe,
)


def run_probe(arch: str, directory: str) -> dict:
    path = os.path.join(directory, f"probe-{arch}")
    with open(path, "wb") as handle:
        handle.write(probe(arch))
    os.chmod(path, 0o755)
    try:
        completed = subprocess.run([path], capture_output=True, timeout=60, check=False)
    except OSError as exc:
        return {
            "architecture": arch,
            "runs": False,
            "exit_status": None,
            "error": exc.strerror or str(exc),
        }
    except subprocess.TimeoutExpired:
        return {
            "architecture": arch,
            "runs": False,
            "exit_status": None,
            "error": "the probe did not finish within 60 s",
        }
    runs = completed.returncode == EXIT_STATUS
    error = None
    if not runs:
        detail = completed.stderr.decode("utf-8", "replace").strip()
        error = f"exited with status {completed.returncode}, expected {EXIT_STATUS}"
        error += f": {detail}" if detail else ""
    return {"architecture": arch, "runs": runs, "exit_status": completed.returncode, "error": error}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "architectures": {
                "type": "list",
                "elements": "str",
                "required": True,
                "choices": list(SUPPORTED),
            },
            "fail_on_error": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    with tempfile.TemporaryDirectory(prefix="wheelfleet-probe-", dir=module.tmpdir) as directory:
        results = [
            run_probe(arch, directory) for arch in dict.fromkeys(module.params["architectures"])
        ]
    failed = [r["architecture"] for r in results if not r["runs"]]
    if failed and module.params["fail_on_error"]:
        reasons = "; ".join(f"{r['architecture']}: {r['error']}" for r in results if not r["runs"])
        module.fail_json(
            msg=f"this host cannot run {', '.join(failed)} binaries ({reasons}). "
            "Provision it with the qemu_binfmt role for these architectures.",
            results=results,
            failed_architectures=failed,
        )
    module.exit_json(changed=False, results=results, failed_architectures=failed)


if __name__ == "__main__":
    main()
