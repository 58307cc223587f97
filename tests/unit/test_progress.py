"""Progress state from ansible-runner events.

The event fixtures are real events recorded from `wheelfleet provision` runs on
the development machine (a --check run, a run with a bad architecture, a run
against an unreachable host, a --check --diff run changing daemon.json, and a
--limit matching nothing), trimmed of fields wheelfleet does not read.
"""

import copy
from datetime import datetime, timedelta

from wheelfleet.progress import (
    Message,
    Outcome,
    PlayStarted,
    Progress,
    TaskResult,
    failure_message,
    strip_ansi,
)

CHECK_PLAY_START = {
    "uuid": "02fc0000-0001-c987-fdd4-000000000003",
    "counter": 2,
    "stdout": "\r\n"
    "PLAY [Validate inputs before changing any host] "
    "********************************",
    "event": "playbook_on_play_start",
    "pid": 30420,
    "created": "2026-11-21T22:18:38.351031+00:00",
    "event_data": {
        "play": "Validate inputs before changing any host",
        "name": "Validate inputs before changing any host",
        "pattern": "build_hosts",
    },
}

CHECK_TASK_START = {
    "uuid": "02fc0000-0001-c987-fdd4-000000000005",
    "counter": 3,
    "stdout": "\r\n"
    "TASK [Validate role inputs against their argument specs] "
    "***********************",
    "event": "playbook_on_task_start",
    "pid": 30420,
    "created": "2026-11-21T22:18:38.362401+00:00",
    "event_data": {
        "play": "Validate inputs before changing any host",
        "task": "Validate role inputs against their argument specs",
        "name": "Validate role inputs against their argument specs",
        "is_conditional": False,
    },
}

INSTALL_START = {
    "uuid": "c16199ad-33cb-4992-8672-b80b125e0dfe",
    "counter": 36,
    "stdout": "",
    "event": "runner_on_start",
    "pid": 30420,
    "created": "2026-11-21T22:18:41.232013+00:00",
    "event_data": {
        "play": "Provision build hosts",
        "task": "Install Docker Engine",
        "role": "docker_engine",
        "host": "localhost",
    },
}

INSTALL_OK = {
    "uuid": "13237f51-d770-400e-aaf6-b2dced88684e",
    "counter": 37,
    "stdout": "\x1b[0;32mok: [localhost]\x1b[0m",
    "event": "runner_on_ok",
    "pid": 30420,
    "created": "2026-11-21T22:18:44.473244+00:00",
    "event_data": {
        "play": "Provision build hosts",
        "task": "Install Docker Engine",
        "role": "docker_engine",
        "host": "localhost",
        "res": {
            "changed": False,
            "cache_updated": False,
            "cache_update_time": 1795298914,
            "_ansible_no_log": False,
        },
        "duration": 3.240632,
    },
}

SKIPPED = {
    "uuid": "05e76a06-4d3e-4300-8b92-ee0065d2d57a",
    "counter": 25,
    "stdout": "\x1b[0;36mskipping: [localhost]\x1b[0m",
    "event": "runner_on_skipped",
    "pid": 30420,
    "created": "2026-11-21T22:18:41.089499+00:00",
    "event_data": {
        "play": "Provision build hosts",
        "task": "Install repository prerequisites",
        "role": "docker_engine",
        "host": "localhost",
        "duration": 0.028866,
    },
}

WARNING = {
    "uuid": "10c69bc4-b422-4729-8227-7c12fe13623a",
    "counter": 48,
    "stdout": "\x1b[1;35m[WARNING]: reset_connection task does not support when conditional\x1b[0m",
    "event": "warning",
    "pid": 30420,
    "created": "2026-11-21T22:18:45.848536+00:00",
    "event_data": {
        "play": "Provision build hosts",
        "task": "Reset the connection so new group membership applies",
        "role": "docker_engine",
        "warning": True,
    },
}

ITEM_OK = {
    "uuid": "8073e54c-3cb8-413c-b49a-b7bfb01c4f03",
    "counter": 55,
    "stdout": "\x1b[0;32mok: [localhost] => (item=/run/wheelfleet)\x1b[0m",
    "event": "runner_item_on_ok",
    "pid": 30420,
    "created": "2026-11-21T22:18:46.214774+00:00",
    "event_data": {
        "play": "Provision build hosts",
        "task": "Create the supervisor's state and log directories",
        "role": "docker_engine",
        "host": "localhost",
        "res": {
            "path": "/run/wheelfleet",
            "changed": False,
            "uid": 0,
            "gid": 0,
            "owner": "root",
            "group": "root",
            "mode": "0755",
            "state": "directory",
            "size": 4096,
            "_ansible_no_log": False,
            "item": "/run/wheelfleet",
            "ansible_loop_var": "item",
            "_ansible_item_label": "/run/wheelfleet",
        },
    },
}

CHECK_STATS = {
    "uuid": "26f2e948-2010-4e5c-96cb-627e28f843a2",
    "counter": 102,
    "stdout": "\r\n"
    "PLAY RECAP "
    "*********************************************************************\r\n"
    "\x1b[0;32mlocalhost\x1b[0m                  : \x1b[0;32mok=22  \x1b[0m "
    "changed=0    unreachable=0    failed=0    \x1b[0;36mskipped=8   \x1b[0m "
    "rescued=0    ignored=0   ",
    "event": "playbook_on_stats",
    "pid": 30420,
    "created": "2026-11-21T22:18:52.656255+00:00",
    "event_data": {
        "changed": {},
        "dark": {},
        "failures": {},
        "ignored": {},
        "ok": {"localhost": 22},
        "processed": {"localhost": 1},
        "rescued": {},
        "skipped": {"localhost": 8},
    },
}

VALIDATE_START = {
    "uuid": "d78765dd-2bfb-422f-b2ab-301ffdb4e6fc",
    "counter": 4,
    "stdout": "",
    "event": "runner_on_start",
    "pid": 31756,
    "created": "2026-11-21T22:18:55.364982+00:00",
    "event_data": {
        "play": "Validate inputs before changing any host",
        "task": "Validate role inputs against their argument specs",
        "host": "localhost",
    },
}

VALIDATE_FAILED = {
    "uuid": "0752c4c6-ab5d-496e-a79f-7980dc1c7c2c",
    "counter": 5,
    "stdout": "\x1b[0;31m[ERROR]: Task failed: Action failed: Invalid inputs:\x1b[0m\r\n"
    "\x1b[0;31mqemu_binfmt: value of qemu_binfmt_architectures must be one or "
    "more of: x86_64, i686, aarch64, armv7l, ppc64le, s390x, riscv64. Got no "
    "match for: sparc99\x1b[0m\r\n"
    "\x1b[0;31mOrigin: /srv/wheelfleet/playbooks/validate.yml:13:7\x1b[0m\r\n"
    "\x1b[0;31m\x1b[0m\r\n"
    "\x1b[0;31m11   any_errors_fatal: true\x1b[0m\r\n"
    "\x1b[0;31m12   tasks:\x1b[0m\r\n"
    "\x1b[0;31m13     - name: Validate role inputs against their argument "
    "specs\x1b[0m\r\n"
    "\x1b[0;31m         ^ column 7\x1b[0m\r\n"
    "\x1b[0;31m\x1b[0m\r\n"
    "\x1b[0;31mfatal: [localhost]: FAILED! => \x1b[0m\r\n"
    "\x1b[0;31m    changed: false\x1b[0m\r\n"
    "\x1b[0;31m    errors:\x1b[0m\r\n"
    "\x1b[0;31m    - 'qemu_binfmt: value of qemu_binfmt_architectures must be one "
    "or more of: x86_64,\x1b[0m\r\n"
    "\x1b[0;31m        i686, aarch64, armv7l, ppc64le, s390x, riscv64. Got no "
    "match for: sparc99'\x1b[0m\r\n"
    "\x1b[0;31m    msg: |-\x1b[0m\r\n"
    "\x1b[0;31m        Invalid inputs:\x1b[0m\r\n"
    "\x1b[0;31m        qemu_binfmt: value of qemu_binfmt_architectures must be "
    "one or more of: x86_64, i686, aarch64, armv7l, ppc64le, s390x, riscv64. Got "
    "no match for: sparc99\x1b[0m\r\n"
    "\x1b[0;31m    validated_roles:\x1b[0m\r\n"
    "\x1b[0;31m    - docker_engine\x1b[0m\r\n"
    "\x1b[0;31m    - qemu_binfmt\x1b[0m",
    "event": "runner_on_failed",
    "pid": 31756,
    "created": "2026-11-21T22:18:55.411479+00:00",
    "event_data": {
        "play": "Validate inputs before changing any host",
        "task": "Validate role inputs against their argument specs",
        "host": "localhost",
        "res": {
            "validated_roles": ["docker_engine", "qemu_binfmt"],
            "errors": [
                "qemu_binfmt: value of qemu_binfmt_architectures must "
                "be one or more of: x86_64, i686, aarch64, armv7l, "
                "ppc64le, s390x, riscv64. Got no match for: sparc99"
            ],
            "msg": "Invalid inputs:\n"
            "qemu_binfmt: value of qemu_binfmt_architectures must be "
            "one or more of: x86_64, i686, aarch64, armv7l, ppc64le, "
            "s390x, riscv64. Got no match for: sparc99",
            "changed": False,
            "exception": "(traceback unavailable)",
            "_ansible_no_log": False,
        },
        "duration": 0.045689,
        "ignore_errors": None,
    },
}

FAIL_STATS = {
    "uuid": "d82df2c4-ae29-4b43-be00-863702c8c3c8",
    "counter": 6,
    "stdout": "\r\n"
    "PLAY RECAP "
    "*********************************************************************\r\n"
    "\x1b[0;31mlocalhost\x1b[0m                  : ok=0    changed=0    "
    "unreachable=0    \x1b[0;31mfailed=1   \x1b[0m skipped=0    rescued=0    "
    "ignored=0   ",
    "event": "playbook_on_stats",
    "pid": 31756,
    "created": "2026-11-21T22:18:55.416522+00:00",
    "event_data": {
        "changed": {},
        "dark": {},
        "failures": {"localhost": 1},
        "ignored": {},
        "ok": {},
        "processed": {"localhost": 1},
        "rescued": {},
        "skipped": {},
    },
}

UNREACHABLE = {
    "uuid": "ca506048-6330-43ff-bd11-4fb27f2ebd83",
    "counter": 9,
    "stdout": "\x1b[0;31m[ERROR]: Task failed: Failed to connect to the host via ssh: ssh: "
    "connect to host 127.0.0.1 port 1: Connection refused\x1b[0m\r\n"
    "\x1b[0;31m\x1b[0m\r\n"
    "\x1b[0;31mTask failed.\x1b[0m\r\n"
    "\x1b[0;31m\x1b[0m\r\n"
    "\x1b[0;31m<<< caused by >>>\x1b[0m\r\n"
    "\x1b[0;31m\x1b[0m\r\n"
    "\x1b[0;31mFailed to connect to the host via ssh: ssh: connect to host "
    "127.0.0.1 port 1: Connection refused\x1b[0m\r\n"
    "\x1b[0;31m\x1b[0m\r\n"
    "\x1b[1;31mfatal: [ghost]: UNREACHABLE! => \x1b[0m\r\n"
    "\x1b[1;31m    changed: false\x1b[0m\r\n"
    "\x1b[1;31m    msg: 'Task failed: Failed to connect to the host via ssh: ssh: "
    "connect to host 127.0.0.1\x1b[0m\r\n"
    "\x1b[1;31m        port 1: Connection refused'\x1b[0m\r\n"
    "\x1b[1;31m    unreachable: true\x1b[0m",
    "event": "runner_on_unreachable",
    "pid": 32367,
    "created": "2026-11-21T22:19:00.601254+00:00",
    "event_data": {
        "play": "Provision build hosts",
        "task": "Gathering Facts",
        "host": "ghost",
        "duration": 0.430825,
        "res": {
            "unreachable": True,
            "exception": "(traceback unavailable)",
            "msg": "Task failed: Failed to connect to the host via ssh: ssh: "
            "connect to host 127.0.0.1 port 1: Connection refused",
            "changed": False,
            "_ansible_no_log": False,
        },
    },
}

UNREACH_STATS = {
    "uuid": "16a9e145-1bf0-4e9f-90f1-1060de2632f1",
    "counter": 10,
    "stdout": "\r\n"
    "PLAY RECAP "
    "*********************************************************************\r\n"
    "\x1b[0;31mghost\x1b[0m                      : \x1b[0;32mok=1   \x1b[0m "
    "changed=0    \x1b[1;31munreachable=1   \x1b[0m failed=0    skipped=0    "
    "rescued=0    ignored=0   ",
    "event": "playbook_on_stats",
    "pid": 32367,
    "created": "2026-11-21T22:19:00.607347+00:00",
    "event_data": {
        "changed": {},
        "dark": {"ghost": 1},
        "failures": {},
        "ignored": {},
        "ok": {"ghost": 1},
        "processed": {"ghost": 1},
        "rescued": {},
        "skipped": {},
    },
}

DAEMON_JSON_START = {
    "uuid": "7b86f368-5c0a-46ba-9a76-cf6392f6f1c7",
    "counter": 43,
    "stdout": "",
    "event": "runner_on_start",
    "pid": 23107,
    "created": "2026-11-21T22:22:58.472251+00:00",
    "event_data": {
        "play": "Provision build hosts",
        "task": "Write the engine configuration (daemon.json)",
        "role": "docker_engine",
        "host": "localhost",
    },
}

DAEMON_JSON_DIFF = {
    "uuid": "64c3ace6-fcd9-4de5-90fc-b8f4a82abe9b",
    "counter": 44,
    "stdout": "\x1b[0;31m--- before: /etc/docker/daemon.json\x1b[0m\r\n"
    "\x1b[0;31m\x1b[0m\x1b[0;32m+++ after: /etc/docker/daemon.json\x1b[0m\r\n"
    "\x1b[0;32m\x1b[0m\x1b[0;36m@@ -1 +1,3 @@\x1b[0m\r\n"
    "\x1b[0;36m\x1b[0m\x1b[0;31m-{}\x1b[0m\r\n"
    "\x1b[0;31m\x1b[0m\x1b[0;32m+{\x1b[0m\r\n"
    '\x1b[0;32m\x1b[0m\x1b[0;32m+  "log-driver": "json-file"\x1b[0m\r\n'
    "\x1b[0;32m\x1b[0m\x1b[0;32m+}\x1b[0m\r\n"
    "\x1b[0;32m\x1b[0m",
    "event": "runner_on_file_diff",
    "pid": 23107,
    "created": "2026-11-21T22:22:59.418122+00:00",
    "event_data": {
        "play": "Provision build hosts",
        "task": "Write the engine configuration (daemon.json)",
        "role": "docker_engine",
        "host": "localhost",
        "diff": [
            {
                "before_header": "/etc/docker/daemon.json",
                "before": "{}\n",
                "after_header": "/etc/docker/daemon.json",
                "after": '{\n  "log-driver": "json-file"\n}\n',
            }
        ],
    },
}

DAEMON_JSON_CHANGED = {
    "uuid": "ab718b51-0938-4fe2-ac4b-84618e055a3c",
    "counter": 45,
    "stdout": "\x1b[0;33mchanged: [localhost]\x1b[0m",
    "event": "runner_on_ok",
    "pid": 23107,
    "created": "2026-11-21T22:22:59.420730+00:00",
    "event_data": {
        "play": "Provision build hosts",
        "task": "Write the engine configuration (daemon.json)",
        "role": "docker_engine",
        "host": "localhost",
        "res": {
            "diff": [
                {
                    "before_header": "/etc/docker/daemon.json",
                    "before": "{}\n",
                    "after_header": "/etc/docker/daemon.json",
                    "after": '{\n  "log-driver": "json-file"\n}\n',
                }
            ],
            "changed": True,
            "_ansible_no_log": False,
        },
        "duration": 0.948371,
    },
}

NO_HOSTS_VERBOSE = [
    {
        "event": "verbose",
        "uuid": "0dddfea2-29b8-4d81-bd2c-bda11a5a0318",
        "counter": 1,
        "stdout": "\x1b[1;35m[WARNING]: Could not match supplied host pattern, ignoring: "
        "nomatch\x1b[0m",
        "created": "2026-11-21T22:19:24.849066+00:00",
        "event_data": {},
    },
    {
        "event": "verbose",
        "uuid": "305c8492-eeda-4f13-ba4f-54d7ff669e9e",
        "counter": 2,
        "stdout": "\x1b[0;31m[ERROR]: Specified inventory, host pattern and/or --limit leaves "
        "us with no hosts to target.\x1b[0m",
        "created": "2026-11-21T22:19:24.850290+00:00",
        "event_data": {},
    },
]


def apply_all(progress, *events):
    notices = []
    for event in events:
        notices.extend(progress.apply(event))
    return notices


def test_play_start_announces_the_play_and_records_its_pattern():
    progress = Progress()
    assert progress.apply(CHECK_PLAY_START) == [
        PlayStarted("Validate inputs before changing any host")
    ]
    assert progress.play == "Validate inputs before changing any host"
    assert progress.patterns == ["build_hosts"]
    assert progress.pid == 30420


def test_task_start_alone_prints_nothing():
    assert Progress().apply(CHECK_TASK_START) == []


def test_runner_on_start_puts_the_host_on_the_task():
    progress = Progress()
    assert progress.apply(INSTALL_START) == []
    host = progress.hosts["localhost"]
    assert (host.role, host.task, host.running) == ("docker_engine", "Install Docker Engine", True)
    started = datetime.fromisoformat(INSTALL_START["created"])
    assert host.elapsed(started + timedelta(seconds=2.5)) == 2.5


def test_ok_result_finishes_the_task_and_counts_it():
    progress = Progress()
    [result] = apply_all(progress, INSTALL_START, INSTALL_OK)
    assert result == TaskResult(
        host="localhost",
        task="Install Docker Engine",
        role="docker_engine",
        outcome=Outcome.OK,
        duration=3.240632,
        output="ok: [localhost]",
    )
    host = progress.hosts["localhost"]
    assert not host.running
    assert host.outcome is Outcome.OK
    assert host.counts[Outcome.OK] == 1
    # The elapsed time stops at the result, whenever the display asks.
    later = datetime.fromisoformat(INSTALL_OK["created"]) + timedelta(hours=1)
    assert round(host.elapsed(later), 1) == 3.2
    assert progress.failures == []


def test_skipped_result():
    progress = Progress()
    [result] = progress.apply(SKIPPED)
    assert result.outcome is Outcome.SKIPPED
    assert result.role == "docker_engine"
    assert progress.hosts["localhost"].counts[Outcome.SKIPPED] == 1


def test_changed_result_carries_the_diff_reported_before_it():
    progress = Progress()
    assert apply_all(progress, DAEMON_JSON_START, DAEMON_JSON_DIFF) == []
    [result] = progress.apply(DAEMON_JSON_CHANGED)
    assert result.outcome is Outcome.CHANGED
    assert result.diff.splitlines() == [
        "--- before: /etc/docker/daemon.json",
        "+++ after: /etc/docker/daemon.json",
        "@@ -1 +1,3 @@",
        "-{}",
        "+{",
        '+  "log-driver": "json-file"',
        "+}",
    ]
    assert progress.hosts["localhost"].counts[Outcome.CHANGED] == 1
    assert progress.hosts["localhost"].diffs == []


def test_failed_result_records_the_module_message():
    progress = Progress()
    [result] = apply_all(progress, VALIDATE_START, VALIDATE_FAILED)
    assert result.outcome is Outcome.FAILED
    assert result.msg.startswith("Invalid inputs:\nqemu_binfmt: value of qemu_binfmt_architectures")
    assert "Got no match for: sparc99" in result.msg
    [failure] = progress.failures
    assert failure.host == "localhost"
    assert failure.task == "Validate role inputs against their argument specs"
    assert failure.role is None
    assert "sparc99" in failure.msg
    assert not failure.unreachable
    assert progress.hosts["localhost"].outcome is Outcome.FAILED


def test_failure_with_ignore_errors_is_not_a_failure():
    event = copy.deepcopy(VALIDATE_FAILED)
    event["event_data"]["ignore_errors"] = True
    progress = Progress()
    [result] = progress.apply(event)
    assert result.outcome is Outcome.IGNORED
    assert "sparc99" in result.msg
    assert progress.failures == []


def test_unreachable_result():
    progress = Progress()
    [result] = progress.apply(UNREACHABLE)
    assert result.outcome is Outcome.UNREACHABLE
    assert result.task == "Gathering Facts"
    [failure] = progress.failures
    assert failure.unreachable
    assert failure.host == "ghost"
    assert "Connection refused" in failure.msg


def test_loop_item_shows_as_host_detail_until_the_result():
    progress = Progress()
    assert progress.apply(ITEM_OK) == []
    assert progress.hosts["localhost"].detail == "item /run/wheelfleet"
    ok = copy.deepcopy(INSTALL_OK)
    progress.apply(ok)
    assert progress.hosts["localhost"].detail is None


def test_retry_shows_as_host_detail():
    event = copy.deepcopy(INSTALL_OK)
    event["event"] = "runner_retry"
    event["event_data"]["res"].update(attempts=2, retries=10)
    progress = Progress()
    assert progress.apply(event) == []
    assert progress.hosts["localhost"].detail == "retry 2/10"


def test_warning_event_becomes_a_message():
    progress = Progress()
    expected = Message("warning", "reset_connection task does not support when conditional")
    assert progress.apply(WARNING) == [expected]
    assert progress.messages == [expected]


def test_verbose_errors_before_the_playbook_are_kept():
    progress = Progress()
    notices = apply_all(progress, *NO_HOSTS_VERBOSE)
    assert notices == [
        Message("warning", "Could not match supplied host pattern, ignoring: nomatch"),
        Message(
            "error",
            "Specified inventory, host pattern and/or --limit leaves us with no hosts to target.",
        ),
    ]


def test_verbose_output_without_a_level_is_shown_but_not_kept():
    progress = Progress()
    event = {"event": "verbose", "stdout": "Using /srv/wheelfleet/ansible.cfg as config file"}
    assert progress.apply(event) == [
        Message("output", "Using /srv/wheelfleet/ansible.cfg as config file")
    ]
    assert progress.messages == []


def test_no_host_message_only_when_plays_ran_on_no_host():
    progress = Progress()
    assert progress.no_host_message() is None  # nothing started at all
    progress.apply(CHECK_PLAY_START)
    message = progress.no_host_message()
    assert message is not None
    assert message.level == "error"
    assert "build_hosts" in message.text
    progress.apply(INSTALL_START)
    assert progress.no_host_message() is None


def test_stats_event_is_kept_without_artifact_data():
    progress = Progress()
    event = copy.deepcopy(CHECK_STATS)
    event["event_data"]["artifact_data"] = {}
    assert progress.apply(event) == []
    assert progress.stats["ok"] == {"localhost": 22}
    assert progress.stats["skipped"] == {"localhost": 8}
    assert "artifact_data" not in progress.stats


def test_unknown_events_are_ignored():
    assert Progress().apply({"event": "playbook_on_include", "event_data": {}}) == []
    assert Progress().apply({}) == []


def test_failure_message_of_a_loop_names_the_failed_items():
    res = {
        "msg": "One or more items failed",
        "results": [
            {"item": "a", "failed": False, "msg": "fine"},
            {"item": "b", "failed": True, "msg": "no such package", "_ansible_item_label": "b"},
        ],
    }
    assert failure_message(res) == "One or more items failed\nitem b: no such package"


def test_failure_message_of_a_command_adds_the_stderr_tail():
    stderr = "\n".join(f"line {n}" for n in range(40))
    message = failure_message({"msg": "non-zero return code", "rc": 2, "stderr": stderr})
    lines = message.splitlines()
    assert lines[:3] == ["non-zero return code", "stderr:", "..."]
    assert lines[-1] == "line 39"
    assert len(lines) == 3 + 15


def test_failure_message_of_a_crashed_module_uses_module_stderr():
    message = failure_message({"msg": "MODULE FAILURE", "module_stderr": "Traceback...\nBoom\n"})
    assert message == "MODULE FAILURE\nmodule_stderr:\nTraceback...\nBoom"


def test_failure_message_without_anything():
    assert failure_message({}) == "failed without a message"


def test_strip_ansi():
    assert strip_ansi(UNREACHABLE["stdout"]).splitlines()[0] == (
        "[ERROR]: Task failed: Failed to connect to the host via ssh: ssh: connect to host"
        " 127.0.0.1 port 1: Connection refused"
    )
