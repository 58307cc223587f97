#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
# The work is done by the action plugin plugins/action/wheel_build_watch.py on the controller;
# this file holds its documentation.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wheel_build_watch
short_description: Watch a host's build engine, relay its progress, fetch and publish its wheels
version_added: 0.2.0
description:
  - Runs on the controller, one task per build host, after M(wheelfleet.fleet.wheel_build_engine)
    was launched there with C(async) and C(poll) 0.
  - Polls the host with M(wheelfleet.fleet.wheel_build_progress) and relays every progress record
    to the display and, when the environment variable C(WHEELFLEET_PROGRESS) names a file, appends
    it there (one JSON line per record), where the C(wheelfleet) CLI reads it.
  - When a job is built, fetches its C(result.json), repaired wheels and logs from
    C(<workdir>/out/<job>/) into the staging directory and publishes them into the wheelhouse
    (names checked against the job, sha256 computed on the controller, every wheel with its
    manifest entry or none); manifest entries carry C(host), C(slot), C(steps) and C(timings).
  - When a job failed, fetches and writes its logs only.
  - A lost connection to the host is a host failure in the result (C(host_failure)), not an
    error of the task; the wheels already published count, the other jobs are C(unfinished).
options:
  jid:
    description: The C(ansible_job_id) of the launched engine.
    type: str
    required: true
  workdir:
    description: The engine's working directory on the host.
    type: str
    required: true
  jobs:
    description: The resolved jobs (the plan's), those with status C(build) are watched.
    type: list
    elements: dict
    required: true
  wheelhouse:
    description: The controller's wheelhouse.
    type: str
    required: true
  staging:
    description: This host's staging directory inside the wheelhouse.
    type: str
    required: true
  poll_interval:
    description:
      - Longest seconds one poll waits on the host for a new progress record (a long poll;
        a record is relayed as soon as the engine writes it).
    type: float
    default: 2.0
  timeout:
    description: Seconds the build may take (the watch gives up 300 s later, a host failure).
    type: int
    default: 3600
  allow_pure:
    description: A pure C(py3-none-any) wheel of the project may land.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: Watches nothing (the engine is not launched in check mode).
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Watch the build, publish the wheels
  wheelfleet.fleet.wheel_build_watch:
    jid: "{{ launched.ansible_job_id }}"
    workdir: "{{ scratch.path }}"
    jobs: "{{ plan.jobs }}"
    wheelhouse: wheelhouse
    staging: wheelhouse/.staging/run/host
  register: watched
"""

RETURN = r"""
cleaned:
  description:
    - The engine's work directory and async status were removed from the host once every
      job was fetched (not after a host failure, when the role's own clean-up tries).
  returned: always
  type: bool
jobs:
  description: Per job id, C(status) (built, failed or unfinished), C(failure) (C(kind), C(message),
    C(step)), C(published) (wheel paths in the wheelhouse), C(timings), C(slot), C(steps), C(log).
  returned: always
  type: dict
host_failure:
  description: Why the host failed (engine gone, connection lost, timeout), else null.
  returned: always
  type: str
built:
  description: Ids of the jobs built and published.
  returned: always
  type: list
  elements: str
failed_jobs:
  description: Ids of the jobs that failed (job failures). Not C(failed), which Ansible reads as
    the task's own failure.
  returned: always
  type: list
  elements: str
unfinished:
  description: Ids of the jobs left unfinished by a host failure (to be replanned).
  returned: always
  type: list
  elements: str
failure_kind:
  description: C(host) when the host failed.
  returned: when the host failed
  type: str
"""
