#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
# The work is done by the action plugin plugins/action/image_source.py on the controller;
# this file holds its documentation.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_source
short_description: Choose a release's builder images, official or offline
version_added: 0.1.0
description:
  - Decides, once per release and on the controller, whether the build hosts use the official
    manylinux images (cibuildwheel 4.3.5's defaults, C(manylinux_2_28) for x86_64, i686, aarch64,
    ppc64le and s390x, C(manylinux_2_31) for armv7l, C(manylinux_2_39) for riscv64) or the offline,
    bootstrapped builder images. The logic is C(wheelfleet.official_images) (src/wheelfleet).
  - With O(choice=auto), one C(GET /v2/) of quay.io (or of O(mirror)) with a short timeout decides
    it. Any HTTP answer counts as reachable. The result says which images and why, for the plan.
  - O(mirror) redirects every official reference (C(quay.io/pypa/X)) to C(HOST[:PORT][/PATH]/X).
    A mirror without an http or https scheme, or with an unusable host or path, is refused with the
    valid form before anything is probed.
  - It contacts no build host and changes nothing.
options:
  choice:
    description: C(auto) probes; C(official) or C(offline) force the choice without a probe.
    type: str
    choices: [auto, official, offline]
    default: auto
  mirror:
    description: An internal registry mirror of quay.io/pypa, e.g. C(https://registry.example:5000/pypa).
    type: str
    default: ""
  timeout:
    description: Seconds the probe waits for an answer.
    type: float
    default: 3.0
  architectures:
    description: Architectures the official recipe covers; default all seven.
    type: list
    elements: str
  project_images:
    description:
      - The project's C(manylinux-<arch>-image) choices, architecture to the choice the release
        inputs return (C(reference), C(policy), C(origin), C(kind)). A short name chooses the
        official image of its policy, a full reference is used as given; both go through
        O(mirror). Choices of C(kind=default) change nothing. Ignored with the offline images,
        which the result says.
    type: dict
    default: {}
notes:
  - The probe runs on the controller; its answer stands for the fleet, which pulls the images.
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Choose the builder images
  wheelfleet.fleet.image_source:
    choice: "{{ wheelfleet_images | default('auto') }}"
    mirror: "{{ wheelfleet_registry_mirror | default('') }}"
  run_once: true
  register: wheelfleet_image_source
"""

RETURN = r"""
project_images:
  description: One line per architecture whose image the project chose, with who chose it.
  returned: success
  type: list
  elements: str
source:
  description: C(official) or C(offline).
  returned: success
  type: str
reason:
  description:
    - Why, for the plan, e.g. "quay.io unreachable (no answer within 3 s) using offline images".
  returned: success
  type: str
mirror:
  description: The mirror's reference prefix (C(HOST[:PORT][/PATH])), or null.
  returned: success
  type: str
image:
  description: The builder image name jobs use with the official images (C(manylinux)), or null.
  returned: success
  type: str
recipe:
  description: The builder_image_images entries of the official images; empty for offline.
  returned: success
  type: list
  elements: dict
failure_kind:
  description:
    - C(input) when the task fails because a check refused its input (wheelfleet.failures);
      the release rounds and the C(wheelfleet) command's exit code (2) read it.
  returned: failure
  type: str
  sample: input
"""
