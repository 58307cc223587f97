#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
# The work is done by the action plugin plugins/action/plan_release.py on the controller;
# this file holds its documentation.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: plan_release
short_description: Plan which build host builds which wheel of a release
version_added: 0.1.0
description:
  - Places every job of a release (one wheel, a Python tag on an architecture) on a build host,
    on the controller, from the hosts' variables and gathered facts. It contacts no host and
    changes nothing. The logic is C(wheelfleet.plan) (src/wheelfleet/plan.py), shared with the
    C(wheelfleet plan) command.
  - B(Native first.) A job goes to a host that runs its architecture natively (i686 is native on
    x86_64) whenever one is available; only when none is does it go to a host that emulates it.
  - B(Balanced by capacity.) Each host has as many slots (parallel builds) as its capacity. Jobs
    are placed longest first, each on the slot that becomes free first. An emulated build costs
    O(emulation_factor) times a native one.
  - B(Deterministic.) The same input gives the same plan; ties go to the host name, then the job
    identifier, in alphabetical order.
  - Each host is read from its variables, an inventory variable overriding a gathered fact.
    C(wheelfleet_architecture) is the native architecture; it defaults to
    C(ansible_facts.architecture). C(wheelfleet_capacity) is the number of parallel builds; it
    defaults to C(ansible_facts.processor_nproc), then C(processor_vcpus), then 1, and V(0) gives
    the host no jobs. C(wheelfleet_emulates) lists the architectures the host emulates; it defaults
    to the fact C(wheelfleet_emulated_architectures), which C(playbooks/plan.yml) sets by probing
    the host. C(wheelfleet_unavailable) is a reason to leave the host out, set by
    C(playbooks/plan.yml) for an unreachable host.
  - A host with neither gathered facts nor C(wheelfleet_architecture) is left out as not reached.
    A host described by all of C(wheelfleet_architecture), C(wheelfleet_emulates) and
    C(wheelfleet_capacity) needs no facts, so a plan can be made for hosts that are not contacted.
  - A job no available host can build is unschedulable. The reason names its architecture and
    what is missing. By default the task then fails with every reason, before any host is changed.
options:
  jobs:
    description:
      - The jobs, each a build identifier such as C(cp311-manylinux_aarch64), or a mapping with
        C(identifier) (or C(python) and C(architecture)), and optionally C(weight), the estimated
        cost of a native build (1.0 by default, or seconds), and C(settings_hash), carried through
        untouched.
      - Mutually exclusive with O(architectures) and O(pythons).
    type: list
    elements: raw
  project:
    description:
      - Plan what this project's build configuration selects (a directory or an sdist on the
        controller), that is its C([tool.cibuildwheel]) and C([tool.wheelfleet]) tables with
        O(options) on top, resolved against the hosts (C(auto) and C(native) mean their own
        architectures) and the interpreters of O(image_recipes). Each job carries its settings
        hash.
      - Selected jobs the fleet cannot build are returned in RV(selection) with the reason; they
        are not planned and do not make the task fail. An architecture given in O(options) as
        C(archs) (the command line's C(--arch)) is required instead, so its jobs are planned
        and, with no host to build them, are unschedulable.
      - Mutually exclusive with O(jobs), O(architectures) and O(pythons).
    type: str
  project_snapshot:
    description:
      - The project as the release already read it (the C(project_snapshot) that
        M(wheelfleet.fleet.release_inputs) returns); the plan takes the configuration from it
        and reads nothing from O(project).
    type: dict
  options:
    description: cibuildwheel options by name over the project's tables (C(archs), C(build), ...).
    type: dict
    default: {}
  settings:
    description:
      - wheel_build settings (short names, C(before_all), C(test_command), ...) that replace the
        host's. By default the plan reads the wheel_build role's defaults file overlaid with the
        host's C(wheel_build_*) variables, as the role's own plan does, so that the settings
        hashes match the builds'.
    type: dict
    default: {}
  image_recipes:
    description:
      - The builder image recipes (C(builder_image_images)). What each image provides is read from
        the image itself wherever a host has it, from the host fact C(wheelfleet_builder_images)
        that C(playbooks/plan.yml) sets with C(wheelfleet.fleet.builder_image_info) (the image's
        C(python-tags) label, written from a listing of its /opt/python). For an image no host
        has yet, it is predicted from the recipe (its C(interpreters), else the suite's system
        Python; a registry image the manylinux set, unless the recipe lists C(pythons)), and the
        plan says so.
      - Each job names the image that provides its Python on its architecture (C(image)), the one
        with the oldest glibc, then the first in the recipe order.
    type: list
    elements: dict
    default: []
  architectures:
    description: Architectures of the matrix (canonical names or aliases); used with O(pythons).
    type: list
    elements: str
  pythons:
    description: CPython tags of the matrix, such as C(cp311); used with O(architectures).
    type: list
    elements: str
  hosts:
    description: The build hosts, by inventory name. Defaults to the group C(build_hosts).
    type: list
    elements: str
  emulation_factor:
    description:
      - How many times longer an emulated build takes than a native one. The default, 8, was
        measured on the development machines (5 s native, 41 s emulated for PyYAML).
    type: float
    default: 8.0
  previous:
    description:
      - Replan instead of planning. This is a plan returned earlier (its RV(plan)). The unfinished
        jobs of the hosts in O(failed_hosts) move to the remaining capable hosts, native first
        and balanced over the work those hosts still have. Jobs still pending on healthy hosts
        keep their place and order. Jobs in O(finished_jobs) are marked finished wherever they
        ran; they are never moved or repeated.
      - Mutually exclusive with O(jobs), O(architectures), O(pythons), O(hosts) and
        O(emulation_factor); the previous plan's hosts and factor are kept.
    type: dict
  failed_hosts:
    description:
      - With O(previous), the hosts that failed or became unreachable. A list of names, or a
        mapping of name to the reason shown in the plan.
    type: raw
    default: []
  finished_jobs:
    description: With O(previous), the identifiers of the jobs already built.
    type: list
    elements: str
    default: []
  fail_on_unschedulable:
    description: Fail, listing each reason, when a job cannot be placed.
    type: bool
    default: true
notes:
  - Runs on the controller only, once (use C(run_once)); supports check mode.
  - Needs the C(wheelfleet) Python package on the controller (C(scripts/bootstrap)).
seealso:
  - module: wheelfleet.fleet.arch_probe
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Plan a release of two Python versions on x86_64 and aarch64
  wheelfleet.fleet.plan_release:
    architectures: [x86_64, aarch64]
    pythons: [cp311, cp312]
  run_once: true
  register: release_plan

- name: Plan jobs chosen elsewhere, weighted in seconds, on some hosts only
  wheelfleet.fleet.plan_release:
    jobs:
      - identifier: cp312-manylinux_aarch64
        weight: 40
        settings_hash: 3f9a1c
      - cp312-manylinux_x86_64
    hosts: "{{ groups['build_hosts'] | difference(['builder-old']) }}"
    emulation_factor: 6
  run_once: true
  register: release_plan

- name: Move the unfinished jobs of hosts that went away during the build
  wheelfleet.fleet.plan_release:
    previous: "{{ release_plan.plan }}"
    failed_hosts: "{{ ansible_play_hosts_all | difference(ansible_play_hosts) }}"
    finished_jobs: "{{ built_identifiers }}"
  run_once: true
  register: release_plan

- name: Build this host's share of the plan
  ansible.builtin.debug:
    msg: "{{ release_plan.assignments[inventory_hostname] }}"
"""

RETURN = r"""
plan:
  description:
    - The plan, as the JSON document C(wheelfleet plan --json) prints under C(plan).
    - C(hosts) maps each host name to its C(architecture), C(capacity), C(emulates), C(healthy),
      C(note), C(estimated_finish) and C(jobs). Each job has C(identifier), C(architecture),
      C(python), C(weight), C(settings_hash), C(image) (the builder image that provides its
      Python; empty when none does), C(native), C(cost), C(finished) and C(moved_from),
      in the order the host's slots should take them.
    - C(unschedulable) lists the jobs that have no host, each with its C(reason).
  returned: always
  type: dict
  sample:
    schema: 1
    emulation_factor: 8.0
    estimated_finish: 1.0
    counts: {jobs: 2, native: 2, emulated: 0, finished: 0, unschedulable: 0}
    hosts:
      builder-arm-01:
        architecture: aarch64
        capacity: 4
        emulates: [x86_64]
        healthy: true
        note: ""
        estimated_finish: 1.0
        jobs:
          - identifier: cp312-manylinux_aarch64
            architecture: aarch64
            python: cp312
            weight: 1.0
            settings_hash: ""
            native: true
            cost: 1.0
            finished: false
            moved_from: null
    unschedulable: []
assignments:
  description: Each host's job identifiers, in order.
  returned: always
  type: dict
  sample: {builder-arm-01: [cp312-manylinux_aarch64], builder-x86-01: [cp312-manylinux_x86_64]}
table:
  description: The plan as a text table, for people (with O(project), the selection comes first).
  returned: always
  type: str
selection:
  description:
    - With O(project), what its configuration selects. C(jobs) lists the planned jobs, each with
      its effective C(settings) and C(settings_hash). C(unavailable) lists what is selected but
      not built, each with C(subject) (an architecture, an C(archs) keyword or a build identifier),
      C(kind), C(reason) and the C(identifiers) it holds back. C(images_provide) maps each
      architecture to the interpreters of its images. C(warnings) names the keys read but not
      applied. Also in RV(plan) under C(selection).
  returned: when O(project) is given
  type: dict
images:
  description:
    - The builder images and what each provides, one per image and architecture, with C(name),
      C(arch), C(pythons), C(glibc), C(origin) (C(image) when read from the image on C(hosts),
      C(predicted) from the recipe when no host has it yet) and C(hosts). Also in
      RV(selection.images) when a project is planned.
  returned: always
  type: list
  elements: dict
  sample:
    - name: forky
      arch: aarch64
      pythons: [cp313, cp314, cp315]
      glibc: "2.43"
      origin: image
      hosts: [localhost]
unschedulable:
  description: The jobs no available host can build.
  returned: always
  type: list
  elements: dict
  contains:
    identifier:
      description: The job's build identifier.
      type: str
    architecture:
      description: Its architecture.
      type: str
    reason:
      description: Why, naming the architecture and what is missing.
      type: str
  sample:
    - identifier: cp312-manylinux_riscv64
      architecture: riscv64
      reason: >-
        no host runs riscv64 natively and none emulates it; provision one with
        qemu_binfmt_architectures including riscv64
failure_kind:
  description:
    - C(input) when the task fails because a check refused its input (wheelfleet.failures);
      the release rounds and the C(wheelfleet) command's exit code (2) read it.
  returned: failure
  type: str
  sample: input
"""
