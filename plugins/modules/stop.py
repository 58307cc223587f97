#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
# The work is done by the action plugin plugins/action/stop.py on the controller;
# this file holds its documentation.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: stop
short_description: Fail with a message and the kind of the failure
version_added: 0.1.0
description:
  - Fails the task, as C(ansible.builtin.fail) does, and says what kind of failure it is in
    RV(failure_kind). The release rounds and the C(wheelfleet) command's exit code read that
    kind (C(input) exits 2, C(host) and C(job) exit 1), never the task's name.
  - Contacts no host and changes nothing.
options:
  msg:
    description: Why the play stops.
    type: str
    required: true
  kind:
    description:
      - C(input) when an input check refused (the project, the matrix, a role input);
        C(host) when a host could not do its work; C(job) when jobs failed.
    type: str
    required: true
    choices: [input, host, job]
notes:
  - Supports check mode (it fails in check mode too).
seealso:
  - module: ansible.builtin.fail
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Stop when a job has no host that can build it
  wheelfleet.fleet.stop:
    msg: "{{ plan_result.msg }}"
    kind: input
  when: plan_result.unschedulable | length > 0
"""

RETURN = r"""
msg:
  description: The message given.
  returned: always
  type: str
failure_kind:
  description: The kind given.
  returned: always
  type: str
  sample: input
"""
