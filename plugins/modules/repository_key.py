#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: repository_key
short_description: Install a repository signing key only when it has the expected fingerprint
version_added: 0.1.0
description:
  - Reads the OpenPGP key file O(src) (armored or binary, as downloaded) with the host's C(gpg),
    without importing it into any keyring, and compares its primary key's fingerprint with
    O(fingerprint).
  - Only when the file holds exactly that one key is it copied to O(dest), atomically, for apt's
    C(signed-by). Otherwise nothing is installed and the module fails, naming the fingerprint it
    expected and the one it found.
options:
  src:
    description: The downloaded key file on the host.
    type: path
    required: true
  dest:
    description: Where the checked key goes (the keyring a C(signed-by) source names).
    type: path
    required: true
  fingerprint:
    description:
      - The expected fingerprint, 40 hex digits; spaces and case do not matter.
    type: str
    required: true
  mode:
    description: File mode of O(dest).
    type: raw
    default: "0644"
requirements:
  - C(gpg) (GnuPG 2.1.23 or later, for C(--show-keys)) on the host.
notes:
  - Supports check mode (the key is checked, nothing is written).
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Download Docker's repository key aside
  ansible.builtin.get_url:
    url: https://download.docker.com/linux/debian/gpg
    dest: /etc/apt/keyrings/docker.asc.download
    mode: "0644"

- name: Trust it only with Docker's published fingerprint
  wheelfleet.fleet.repository_key:
    src: /etc/apt/keyrings/docker.asc.download
    dest: /etc/apt/keyrings/docker.asc
    fingerprint: 9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88
"""

RETURN = r"""
fingerprint:
  description: The fingerprint of the key, as checked (upper-case hex, no spaces).
  returned: success
  type: str
  sample: 9DC858229FC7DD38854AE2D88D81803C0EBFCD88
expected:
  description: The expected fingerprint, normalized.
  returned: always
  type: str
found:
  description: The fingerprints of the primary keys that O(src) holds.
  returned: when O(src) could be read
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wheelfleet.fleet.plugins.module_utils import gpg_keys


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "path", "required": True},
            "dest": {"type": "path", "required": True},
            "fingerprint": {"type": "str", "required": True},
            "mode": {"type": "raw", "default": "0644"},
        },
        supports_check_mode=True,
    )
    params = module.params
    gpg = module.get_bin_path("gpg")
    if gpg is None:
        module.fail_json(msg="gpg is not installed on this host; install gnupg to check the key")
    try:
        expected = gpg_keys.normalize(params["fingerprint"])
    except gpg_keys.KeyCheckError as exc:
        module.fail_json(msg=f"fingerprint: {exc}")
    result = {"changed": False, "expected": expected}
    try:
        result["found"] = gpg_keys.read_fingerprints(params["src"], gpg)
        result["fingerprint"] = gpg_keys.check(params["src"], expected, gpg)
    except gpg_keys.KeyCheckError as exc:
        module.fail_json(msg=str(exc), **result)
    try:
        mode = int(str(params["mode"]), 8)
    except ValueError:
        module.fail_json(msg=f"mode {params['mode']!r} is not an octal file mode such as 0644")
    dest = params["dest"]
    current_mode = os.stat(dest).st_mode & 0o7777 if os.path.exists(dest) else None
    if gpg_keys.same_content(params["src"], dest) and current_mode == mode:
        module.exit_json(**result)
    result["changed"] = True
    if not module.check_mode:
        try:
            gpg_keys.install(params["src"], dest, mode)
        except OSError as exc:
            module.fail_json(msg=f"cannot install the key to {dest}: {exc}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
