#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: container_fetch
short_description: Copy files out of a container to a directory of this host
version_added: 0.1.0
description:
  - Copies regular files out of a container of this host's Docker engine into O(dest) on the host
    the module runs on, through the engine API (the archive endpoint behind C(docker cp)), so it
    works with a remote engine and needs no docker CLI.
  - M(community.docker.docker_container_copy_into) does the other direction.
  - Each file is written to a temporary name and renamed, so O(dest) never holds a partial file.
  - Idempotent, a file whose copy in O(dest) already has the same sha256 is left alone.
options:
  container:
    description: Name or ID of the container (running or stopped).
    type: str
    required: true
  docker_host:
    description: Engine API address; default from C(DOCKER_HOST) or the local socket.
    type: str
  paths:
    description: Absolute paths of the files inside the container.
    type: list
    elements: str
    required: true
  dest:
    description:
      - Directory on this host that receives the files (created when missing).
      - Each file keeps its base name.
    type: path
    required: true
  missing:
    description: What to do when a path does not exist in the container.
    type: str
    choices: [fail, ignore]
    default: fail
  timeout:
    description: Seconds allowed for each API call.
    type: int
    default: 600
requirements:
  - The Docker SDK for Python (C(docker)) on the host the module runs on.
notes:
  - Supports check mode (nothing is copied).
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Copy the repaired wheel and the job log out of the build container
  wheelfleet.fleet.container_fetch:
    container: wheelfleet-20250101T120000-3f9a1c-yamlcount-cp311-cp311-x86_64
    paths:
      - /work/repaired/yamlcount-1.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
      - /work/logs/build.log
    dest: /tmp/wheelfleet-job
"""

RETURN = r"""
files:
  description: The files copied (or already present), with their sha256 and size.
  returned: always
  type: list
  elements: dict
  sample:
    - src: /work/logs/build.log
      dest: /tmp/wheelfleet-job/build.log
      sha256: 9f2c...
      size: 5121
missing:
  description: Paths that did not exist in the container (with O(missing=ignore)).
  returned: always
  type: list
  elements: str
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import docker
    from docker.errors import DockerException, NotFound
except ImportError:
    docker = None
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_one(module: AnsibleModule, container: object, src: str, dest_dir: str) -> dict | None:
    """Copy one file out; None when it does not exist."""
    try:
        stream, _ = container.get_archive(src)
    except NotFound:
        return None
    except DockerException as exc:
        module.fail_json(
            msg=f"cannot read {src} from container {module.params['container']}: {exc}"
        )
    with tempfile.TemporaryFile(dir=dest_dir) as spool:
        for chunk in stream:
            spool.write(chunk)
        spool.seek(0)
        with tarfile.open(fileobj=spool) as archive:
            member = next((m for m in archive.getmembers() if m.isfile()), None)
            if member is None:
                module.fail_json(
                    msg=f"{src} in container {module.params['container']} is not a regular file"
                )
            final = os.path.join(dest_dir, os.path.basename(src.rstrip("/")))
            handle, tmp = tempfile.mkstemp(prefix=".fetch-", dir=dest_dir)
            try:
                with os.fdopen(handle, "wb") as out:
                    shutil.copyfileobj(archive.extractfile(member), out)
                os.chmod(tmp, 0o644)
                new_sum = sha256_file(tmp)
                if os.path.isfile(final) and sha256_file(final) == new_sum:
                    os.unlink(tmp)
                    return {
                        "src": src,
                        "dest": final,
                        "sha256": new_sum,
                        "size": os.path.getsize(final),
                        "changed": False,
                    }
                os.replace(tmp, final)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    return {
        "src": src,
        "dest": final,
        "sha256": new_sum,
        "size": os.path.getsize(final),
        "changed": True,
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "container": {"type": "str", "required": True},
            "docker_host": {"type": "str"},
            "paths": {"type": "list", "elements": "str", "required": True},
            "dest": {"type": "path", "required": True},
            "missing": {"type": "str", "choices": ["fail", "ignore"], "default": "fail"},
            "timeout": {"type": "int", "default": 600},
        },
        supports_check_mode=True,
    )
    params = module.params
    if docker is None:
        module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
    if module.check_mode:
        module.exit_json(
            changed=bool(params["paths"]), files=[], missing=[], msg="check mode: nothing copied"
        )
    try:
        client = (
            docker.DockerClient(base_url=params["docker_host"], timeout=params["timeout"])
            if params["docker_host"]
            else docker.from_env(timeout=params["timeout"])
        )
        container = client.containers.get(params["container"])
    except NotFound:
        module.fail_json(msg=f"no container named {params['container']!r} on this host's engine")
    except DockerException as exc:
        module.fail_json(msg=f"cannot reach the Docker engine: {exc}")
    os.makedirs(params["dest"], exist_ok=True)
    files, missing = [], []
    for src in params["paths"]:
        copied = fetch_one(module, container, src, params["dest"])
        if copied is None:
            missing.append(src)
        else:
            files.append(copied)
    if missing and params["missing"] == "fail":
        module.fail_json(
            msg=f"not in container {params['container']}: {', '.join(missing)}",
            files=files,
            missing=missing,
        )
    changed = [item.pop("changed") for item in files]
    module.exit_json(changed=any(changed), files=files, missing=missing)


if __name__ == "__main__":
    main()
