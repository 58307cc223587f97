#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
# The work is done by the action plugin plugins/action/release_report.py on the controller;
# this file holds its documentation.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: release_report
short_description: Write a release's state and its report into the wheelhouse
version_added: 0.1.0
description:
  - Writes C(release.json) (the release's state), C(report.md) and C(report.html) into the
    controller's wheelhouse, next to C(manifest.json). The logic is C(wheelfleet.report)
    (src/wheelfleet/report.py), shared with the C(wheelfleet report) command.
  - The report shows the matrix as a table (rows Python, columns architecture) with each job's
    status, host, native or emulated mode and time; every wheel with its size, sha256, host, grafted
    libraries and image; the jobs moved off failed hosts; and each failure with its reason.
  - The HTML page is static (no script) and escapes every value.
  - A release that has not completed (its last round still had jobs) is finished here, and the
    jobs still queued fail, as not built.
  - In check mode nothing is written.
options:
  state:
    description: The release's state, RV(wheelfleet.fleet.release_round#module:state).
    type: dict
    required: true
  wheelhouse:
    description: The controller's wheelhouse.
    type: path
    required: true
notes:
  - Runs on the controller only (use C(run_once)); supports check mode.
seealso:
  - module: wheelfleet.fleet.release_round
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Write the report
  wheelfleet.fleet.release_report:
    state: "{{ release.state }}"
    wheelhouse: wheelhouse
  run_once: true
  register: release_report
"""

RETURN = r"""
state:
  description: The release's final state, as written to C(release.json).
  returned: always
  type: dict
report:
  description: The report as data (counts, matrix, wheels, moves, failures).
  returned: always
  type: dict
paths:
  description: The files written (C(state), C(markdown), C(html)).
  returned: always
  type: dict
wheels:
  description: The wheel files of the release's finished jobs.
  returned: always
  type: list
  elements: str
failed_jobs:
  description: The build identifiers of the jobs that have no wheel.
  returned: always
  type: list
  elements: str
text:
  description: A summary for people, naming each failure and why.
  returned: always
  type: str
"""
