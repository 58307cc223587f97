#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
# The work is done by the action plugin plugins/action/release_inputs.py on the controller;
# this file holds its documentation.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: release_inputs
short_description: Check the inputs of a release before any host is touched
version_added: 0.1.0
description:
  - Checks every input of C(playbooks/release.yml) at once, on the controller, and fails with one
    message that names each bad value. It contacts no host; the one thing it writes is the
    project's packed source, in the controller's cache (not in check mode). The logic is
    C(wheelfleet.release.check_inputs) (src/wheelfleet/release.py), shared with the
    C(wheelfleet release) command.
  - The project must exist. O(project) and O(wheel_build_project) name the same thing and must
    agree.
  - The matrix is O(jobs), or else what the project's C([tool.cibuildwheel]) and
    C([tool.wheelfleet]) tables select, with O(architectures) as their C(archs) and O(pythons) as
    their C(build) selector (C(cp312) selects C(cp312-*)). Giving O(jobs) with either is a
    conflict. Unknown architectures and Python tags are named with the valid ones.
  - The project's build configuration is read and checked here, with O(build_options) on top; an
    invalid value is named with its key, its file and the accepted values. This is the one read
    of the project in a release - RV(project_snapshot) carries it to the plan and the builds.
    Where the source is packed and what is left out of it are the wheel_build role's
    C(wheel_build_cache_dir), C(wheel_build_source_excludes) and C(wheel_build_wheelhouse).
  - O(wheel_build_jobs) is the release's to set, from its plan; giving it is a conflict.
  - With O(publish), a repository URL and credentials are required. Only whether the credentials
    are set reaches this module (O(has_username), O(has_password), or C(TWINE_USERNAME) and
    C(TWINE_PASSWORD) in the controller's environment), never their values.
options:
  project:
    description: The project, a directory with C(pyproject.toml) or C(setup.py), or an sdist.
    type: raw
  wheel_build_project:
    description: The same, as the wheel_build role names it.
    type: raw
  architectures:
    description: Architectures of the matrix (a list, or a comma-separated string).
    type: raw
  pythons:
    description: CPython tags of the matrix, such as C(cp311).
    type: raw
  jobs:
    description: The jobs themselves, build identifiers such as C(cp311-manylinux_aarch64).
    type: raw
  build_options:
    description:
      - cibuildwheel options by name (C(test-command), C(skip), C(config-settings), ...), over the
        project's own tables (C(wheelfleet_options)).
    type: raw
  policy_floor:
    description:
      - The least portable manylinux policy a wheel may have (C(wheelfleet_policy_floor)), such as
        C(manylinux_2_28) or C(manylinux2014); added to the explicit options as C(policy-floor).
      - A value that is not a manylinux policy is refused, naming it and the valid forms.
      - Every mirror setting in play (variables named C(*_mirror) or C(*_mirror_url)) is checked
        too; a URL without an http(s) scheme is refused.
    type: raw
  wheel_build_jobs:
    description: Refused when set; present to detect the conflict.
    type: raw
  max_rounds:
    description: How many build rounds a release may take when hosts fail (1 to 20, default 3).
    type: raw
  emulation_factor:
    description: How many times longer an emulated build takes (1 or more).
    type: raw
  publish:
    description: Whether the release is uploaded with twine.
    type: raw
    default: false
  repository_url:
    description: The repository to upload to, an http(s) URL.
    type: raw
  has_username:
    description: Whether a user name is set in the variables.
    type: bool
    default: false
  has_password:
    description: Whether a password or token is set in the variables.
    type: bool
    default: false
  extra_build_requires:
    description:
      - The role's C(wheel_build_extra_build_requires), checked like the project's requirements
        (PEP 508 only; an option, a URL or a path is refused).
    type: raw
  test_requires:
    description: The role's C(wheel_build_test_requires), checked the same way.
    type: raw
  source_max_bytes:
    description:
      - The most an sdist may unpack to on the controller, in bytes
        (C(wheel_build_source_max_bytes)); default 1 GiB.
    type: raw
  source_max_members:
    description:
      - The most members an sdist may have (C(wheel_build_source_max_members)); default 100000.
    type: raw
  pack_source:
    description:
      - Pack the project's source into the controller's cache as it is read (a release does;
        a plan on its own only reads). Never in check mode.
    type: bool
    default: true
notes:
  - Runs on the controller only (use C(run_once)); supports check mode.
seealso:
  - module: wheelfleet.fleet.release_round
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Check the release inputs
  wheelfleet.fleet.release_inputs:
    project: "{{ project | default(omit) }}"
    architectures: "{{ wheelfleet_architectures | default(omit) }}"
    pythons: "{{ wheelfleet_pythons | default(omit) }}"
  run_once: true
  register: release_inputs
"""

RETURN = r"""
project:
  description: The project's absolute path.
  returned: success
  type: str
project_snapshot:
  description:
    - The project as read here, once for the whole release (the only time a release reads it) -
      its name, version, build configuration, source hash, the packed source C(archive) in the
      wheel_build role's cache and the C(paths) it holds. The plan and the builds take it
      instead of reading the project again.
    - The source is packed unless in check mode; C(changed) says it was (or would be) written.
  returned: success
  type: dict
jobs:
  description:
    - The release's explicit jobs, as C(wheelfleet.fleet.release_jobs) writes them.
    - Empty when the project's build configuration selects the jobs (at planning time).
  returned: success
  type: list
  elements: dict
options:
  description:
    - The explicit layer over the project's configuration (C(archs), C(build) and O(build_options)).
  returned: success
  type: dict
policy_floor:
  description: The policy floor, checked, or null when none is set.
  returned: success
  type: str
manylinux_images:
  description:
    - Per architecture, the manylinux image the project's configuration (or a C(CIBW_*) variable, or
      C(wheelfleet_options)) chooses, with C(reference), C(policy), C(origin) and C(kind)
      (C(default) when nobody chose); the input of M(wheelfleet.fleet.image_source).
  returned: success
  type: dict
architectures:
  description:
    - The architectures of the explicit jobs, or those the configuration's C(archs) names (the
      hosts' own architectures come on top for C(auto) and C(native)).
  returned: success
  type: list
  elements: str
max_rounds:
  description: The number of build rounds allowed.
  returned: success
  type: int
emulation_factor:
  description: The emulation factor given, or null.
  returned: success
  type: float
publish:
  description: Whether the wheels are to be uploaded.
  returned: success
  type: bool
failure_kind:
  description:
    - C(input) when the task fails because a check refused its input (wheelfleet.failures);
      the release rounds and the C(wheelfleet) command's exit code (2) read it.
  returned: failure
  type: str
  sample: input
"""
