#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: os_package_status
short_description: Tell which operating-system packages a host has installed, and which not
version_added: 0.1.0
description:
  - Reads the host's package database (C(dpkg-query) on the Debian family, C(rpm) on the
    RedHat family) for O(names) and returns the installed ones with their versions and the
    missing ones.
  - The roles install packages only when RV(missing) is not empty (or remove them only when
    RV(installed) is not), which spares an unchanged host the package manager's seconds-long
    cache load for every package task.
  - A name with a version or a pattern (C(docker-ce=5:27.*), C(python3-*)) is always reported
    missing, so the package manager decides for it.
  - Changes nothing, so it also runs in check mode.
options:
  names:
    description: Package names.
    type: list
    elements: str
    required: true
  manager:
    description: Which package database to read; C(auto) picks dpkg or rpm, whichever the host has.
    type: str
    default: auto
    choices: [auto, dpkg, rpm]
notes:
  - Supports check mode.
seealso:
  - module: ansible.builtin.package_facts
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Read which of the engine's packages are installed
  wheelfleet.fleet.os_package_status:
    names: [docker.io, containerd]
  register: engine_packages

- name: Install the engine's packages that are missing
  ansible.builtin.apt:
    name: "{{ engine_packages.missing }}"
    state: present
  when: engine_packages.missing | length > 0
"""

RETURN = r"""
installed:
  description: The installed packages among O(names), with their versions.
  returned: always
  type: dict
  sample: {docker.io: 20.10.24+dfsg1-1+deb12u1}
missing:
  description:
    - The packages among O(names) that are not installed, or whose name carries a version or
      a pattern.
  returned: always
  type: list
  elements: str
  sample: [qemu-user-static]
manager:
  description: The package database that was read.
  returned: always
  type: str
  sample: dpkg
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wheelfleet.fleet.plugins.module_utils.os_packages import (
    dpkg_query_argv,
    parse_dpkg,
    parse_rpm,
    plain_names,
    rpm_query_argv,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "names": {"type": "list", "elements": "str", "required": True},
            "manager": {"type": "str", "default": "auto", "choices": ["auto", "dpkg", "rpm"]},
        },
        supports_check_mode=True,
    )
    names: list[str] = module.params["names"]
    manager: str = module.params["manager"]
    if manager == "auto":
        has_dpkg = module.get_bin_path("dpkg-query") is not None
        has_rpm = module.get_bin_path("rpm") is not None
        manager = "dpkg" if has_dpkg else "rpm" if has_rpm else ""
    if not manager:
        module.fail_json(msg="neither dpkg-query nor rpm is on this host: no package database")
    if not plain_names(names):
        status = parse_dpkg(names, "")
    elif manager == "dpkg":
        # Exit code 1 only means that some name is unknown to dpkg: its line is missing.
        rc, out, err = module.run_command(dpkg_query_argv(names), environ_update={"LC_ALL": "C"})
        if rc not in (0, 1):
            module.fail_json(msg=f"dpkg-query failed ({rc}): {err.strip()}", rc=rc)
        status = parse_dpkg(names, out)
    else:
        # rpm exits with the number of names it does not have; its output says which.
        rc, out, err = module.run_command(rpm_query_argv(names), environ_update={"LC_ALL": "C"})
        status = parse_rpm(names, out)
    module.exit_json(
        changed=False, installed=status.installed, missing=status.missing, manager=manager
    )


if __name__ == "__main__":
    main()
