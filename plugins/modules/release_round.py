#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
# The work is done by the action plugin plugins/action/release_round.py on the controller;
# this file holds its documentation.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: release_round
short_description: Start a release from its plan, or fold a build round into it and plan the next
version_added: 0.1.0
description:
  - Keeps the state of a release across its build rounds, on the controller. The logic is
    C(wheelfleet.release) (src/wheelfleet/release.py). It contacts no host and changes nothing.
  - With O(plan), starts the release. Every job of the plan is queued on its host; the jobs the
    plan could not place are failed with the plan's reason. Round 1 is assigned.
  - With O(state), ends the current round. For each host that had jobs in it, the module reads the
    host's fact named by O(outcome_fact), which C(playbooks/tasks/release-round.yml) sets from
    structured results only (C(round), C(answers) and C(answer_reason) from the ping and engine
    checks, C(build) the wheel_build role's C(wheel_build_outcome), C(error) the C(msg) and
    C(kind) of the failure that ended the host's round). No task name is read.
  - A job whose wheels the wheelhouse manifest records under the round's run id, or that the host
    found up to date, is done. A host failed in the round when it does not answer, when the role
    reports C(host_failure) (its engine went away or restarted mid-job), when it left jobs
    unfinished, or when its round ended on a failure of kind C(host) (or of no kind that no failed
    job explains). Its unfinished jobs are planned again. A host that no longer answers is left
    out and its jobs move to the remaining capable hosts (C(wheelfleet.plan.replan)); a host that
    answers again keeps its jobs for the next round, once (a second failure leaves it out).
  - On a host that did not fail, a job the role reports failed has failed for good (kind C(job));
    when the controller's checks refused the project (C(input_error)), its jobs fail as input
    errors (kind C(input)). The release is complete when nothing is left to build, or when the
    rounds are used up; the jobs still unbuilt then fail (kind C(host)).
options:
  plan:
    description: The release's plan (C(wheelfleet.fleet.plan_release)'s RV(plan)).
    type: dict
  release_id:
    description: The release's identifier; round N's wheel_build run id is C(<release_id>-rN).
    type: str
  project:
    description: The project's name, as the wheel_build role names its jobs.
    type: str
  max_rounds:
    description:
      - How many rounds the release may take (C(wheelfleet.fleet.release_inputs) checks it, 1 to
        20).
    type: int
    default: 3
  failed_hosts:
    description: With O(plan), hosts known to have failed already, mapped to the reason.
    type: dict
    default: {}
  state:
    description: The release's state, RV(state) of the previous call.
    type: dict
  outcome_fact:
    description: The host fact holding each host's outcome of the round.
    type: str
    default: wheelfleet_round_outcome
  wheelhouse:
    description: The controller's wheelhouse, whose manifest says which wheels were published.
    type: path
notes:
  - Runs on the controller only (use C(run_once)); supports check mode.
seealso:
  - module: wheelfleet.fleet.plan_release
  - module: wheelfleet.fleet.release_report
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Start the release
  wheelfleet.fleet.release_round:
    plan: "{{ wheelfleet_plan }}"
    release_id: "{{ release_id }}"
    project: yamlcount
  run_once: true
  register: release

- name: Build this host's jobs of the round
  ansible.builtin.include_role:
    name: wheelfleet.fleet.wheel_build
  vars:
    wheel_build_jobs: "{{ release.host_jobs[inventory_hostname] }}"
  when: release.host_jobs[inventory_hostname] is defined

- name: Collect the round and plan what is left
  wheelfleet.fleet.release_round:
    state: "{{ release.state }}"
    wheelhouse: wheelhouse
  run_once: true
  register: release
"""

RETURN = r"""
state:
  description: The release's state; wheelfleet.fleet.release_report writes it to C(release.json).
  returned: always
  type: dict
round:
  description: The round now assigned (or the last one, when complete).
  returned: always
  type: int
complete:
  description: Whether nothing is left to build.
  returned: always
  type: bool
host_jobs:
  description: For each host with jobs in the round, its C(wheel_build_jobs) (C(arch), C(python)).
  returned: always
  type: dict
  sample: {builder-x86-01: [{arch: x86_64, python: cp311-cp311}]}
round_jobs:
  description: The round's jobs, each with its build identifier, wheel_build job id and host.
  returned: always
  type: list
  elements: dict
moves:
  description: The jobs moved off failed hosts by this call, with C(from), C(to) and C(reason).
  returned: always
  type: list
  elements: dict
counts:
  description: Jobs built, up to date, failed, still queued, and moves so far.
  returned: always
  type: dict
table:
  description: The current plan as a text table.
  returned: always
  type: str
text:
  description: A summary for people.
  returned: always
  type: str
failure_kind:
  description:
    - The kind of the release's failure so far, null when no job failed; C(input) when every
      failed job was refused by an input check, else C(host) or C(job).
  returned: always
  type: str
outcomes:
  description: With O(state), the outcome each host reported (null when it reported nothing).
  returned: when state is given
  type: dict
"""
