#!/usr/bin/python
# Copyright: wheelfleet developers
# Apache License 2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: wheel_build_progress
short_description: Read the build engine's new progress records on a build host
version_added: 0.2.0
description:
  - Reads the progress records that M(wheelfleet.fleet.wheel_build_engine) appends to
    O(workdir)C(/progress.jsonl), from byte O(offset) on, complete lines only.
  - Says whether the engine has finished, from its C(finished) record or from the async
    job's results file (it ended, possibly abnormally) or its process (it died).
  - Changes nothing.
options:
  workdir:
    description: The engine's work directory on this host.
    type: path
    required: true
  offset:
    description: Bytes of the progress file already read (RV(offset) of the previous call).
    type: int
    default: 0
  jid:
    description: The async job id of the engine task (C(ansible_job_id)).
    type: str
  async_dir:
    description: Directory of the async results files on this host.
    type: path
    default: ~/.ansible_async
  wait:
    description:
      - Seconds to wait on this host for a new record when there is none yet (a long poll);
        the module returns as soon as one is written or the engine ends, so the controller
        learns of each step within a tenth of a second without polling more often.
    type: float
    default: 0
notes:
  - Supports check mode (it changes nothing anyway).
author:
  - wheelfleet developers
"""

EXAMPLES = r"""
- name: Read the engine's new records
  wheelfleet.fleet.wheel_build_progress:
    workdir: "{{ wheel_build_engine_job.workdir }}"
    offset: "{{ wheel_build_offset | default(0) }}"
    jid: "{{ wheel_build_engine_job.ansible_job_id }}"
  register: wheel_build_progress
"""

RETURN = r"""
records:
  description: The new records (complete lines), in order.
  returned: always
  type: list
  elements: dict
  sample:
    - {v: 1, t: 1765060000.2, host: builder-1, job: yamlcount-cp311-cp311-x86_64, slot: 0,
       state: building, step: build, elapsed: 12.5, failure: null}
offset:
  description: The offset to read from next time.
  returned: always
  type: int
finished:
  description: The engine is done (its C(finished) record was read) or its async job ended or died.
  returned: always
  type: bool
status_written:
  description:
    - With C(finished) from the engine's record, whether Ansible's async wrapper had written
      the job's final status file when the module returned (it waits for it, a bounded
      time), so the caller can remove that file without the wrapper writing it again after.
  returned: when the engine's finished record was read
  type: bool
async_result:
  description:
    - The async job's result when it ended without the engine's C(finished) record (a crash,
      the async time limit), or one with C(died) true and a C(msg) when its process is gone
      without one.
  returned: when the engine ended abnormally
  type: dict
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_progress import (
    PROGRESS_FILE,
    engine_alive,
    read_records,
)

# How often a long poll looks for news: often enough to relay a step at once, cheap
# enough (a stat and a read) to not matter beside a build.
NEWS_CHECK_SECONDS = 0.1

# The engine writes its finished record just before its module returns; Ansible's async
# wrapper writes the job's status file a moment later. The watch removes that file once it
# has read the finished record, so it waits for the wrapper first (else the file is written
# after its removal, and stays). Bounded: a wrapper that never writes costs this much once.
STATUS_SETTLE_SECONDS = 30.0


def async_ended(async_dir: str, jid: str | None) -> dict | None:
    """The async job's result once it has ended, else None (still running or unknown)."""
    if not jid:
        return None
    try:
        with open(os.path.join(os.path.expanduser(async_dir), jid)) as handle:
            result = json.load(handle)
    except (OSError, ValueError):
        return None
    if result.get("started") and result.get("finished") is False:
        return None
    return result


def wait_for_status(async_dir: str, jid: str | None) -> bool:
    """Whether the async wrapper has written the job's final status (waits a bounded time)."""
    if not jid:
        return False
    deadline = time.monotonic() + STATUS_SETTLE_SECONDS
    while async_ended(async_dir, jid) is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(NEWS_CHECK_SECONDS / 2)
    return True


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "workdir": {"type": "path", "required": True},
            "offset": {"type": "int", "default": 0},
            "jid": {"type": "str"},
            "async_dir": {"type": "path", "default": "~/.ansible_async"},
            "wait": {"type": "float", "default": 0.0},
        },
        supports_check_mode=True,
    )
    params = module.params
    path = os.path.join(params["workdir"], PROGRESS_FILE)
    records, offset = read_records(path, max(0, params["offset"]))
    deadline = time.monotonic() + max(0.0, params["wait"])
    while not records and time.monotonic() < deadline:
        if async_ended(params["async_dir"], params["jid"]) is not None:
            break
        time.sleep(NEWS_CHECK_SECONDS)
        records, offset = read_records(path, offset)
    result: dict = {"changed": False, "records": records, "offset": offset, "finished": False}
    if any(record.get("state") == "finished" for record in records):
        result["finished"] = True
        result["status_written"] = wait_for_status(params["async_dir"], params["jid"])
        module.exit_json(**result)
    ended = async_ended(params["async_dir"], params["jid"])
    alive = engine_alive(params["workdir"])
    if ended is None and alive is not False:
        module.exit_json(**result)
    # It ended or died: its last records may have landed since the first read.
    more, offset = read_records(path, offset)
    result.update(records=records + more, offset=offset, finished=True)
    if not any(record.get("state") == "finished" for record in more):
        result["async_result"] = ended or {
            "died": True,
            "msg": "the build engine's process is gone without its finished record",
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
