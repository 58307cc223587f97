"""The container_steps module (thin over module_utils/step_runner) in a real container."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import run_module

pytestmark = [pytest.mark.engine]

MODULE = "wheelfleet.fleet.container_steps"


@pytest.fixture
def container(docker_client, base_images):
    name = f"pytest-steps-{uuid.uuid4().hex[:6]}"
    running = docker_client.containers.create(
        base_images[0], ["sleep", "infinity"], name=name, init=True, working_dir="/work"
    )
    running.start()
    yield name
    running.remove(force=True)


def step(name: str, script: str, **extra) -> dict:
    return {"name": name, "argv": ["sh", "-c", script], **extra}


def test_steps_run_in_order_logged_and_offline_after_the_online_ones(container) -> None:
    run = run_module(
        MODULE,
        {
            "container": container,
            "log": "/work/logs/build.log",
            "steps": [
                step("before_all", "mkdir -p /work/dist && echo online > /work/dist/a.txt"),
                step(
                    "build",
                    'echo "$GREETING from $(pwd) with $WHERE"; ls /sys/class/net',
                    env={"GREETING": "hello"},
                    workdir="/work/new/dir",
                    shell_env='export WHERE="$(echo evaluated)"',
                ),
            ],
            "passed_env": {"API_TOKEN": "s3cret-value-91"},
            "online_steps": ["before_all"],
            "list_files": ["/work/dist"],
        },
    )
    result = run.result
    assert run.rc == 0, result
    assert [s["name"] for s in result["steps"]] == ["before_all", "build"]
    assert all(s["rc"] == 0 for s in result["steps"])
    assert result["files"] == {"/work/dist": ["/work/dist/a.txt"]}
    assert result["offline_from"] == "build" and result["disconnected"] == ["bridge"]
    log = run_module(
        MODULE,
        {
            "container": container,
            "log": "/work/logs/other.log",
            "steps": [step("show", "cat /work/logs/build.log; exit 9")],
            "log_tail_lines": 200,
        },
    ).result
    assert log["failed"] and log["failed_step"] == "show"
    assert "failed with exit status 9" in log["msg"]
    text = log["log_tail"]
    assert "hello from /work/new/dir with evaluated" in text
    assert "=== wheelfleet step build: exit status 0" in text
    # Offline: only the loopback interface is left when build runs.
    assert "\nlo\n" in text and "eth0" not in text.split("step build: started")[1]
    assert "s3cret-value-91" not in text


def test_a_failing_step_stops_the_rest_and_a_slow_one_times_out(container) -> None:
    run = run_module(
        MODULE,
        {
            "container": container,
            "steps": [step("first", "echo one; exit 4"), step("second", "echo two")],
            "log_tail_lines": 3,
        },
    )
    assert run.rc != 0
    assert run.result["failed_step"] == "first"
    assert [s["name"] for s in run.result["steps"]] == ["first"]
    assert "exit status 4" in run.result["log_tail"] and "two" not in run.result["log_tail"]
    slow = run_module(
        MODULE, {"container": container, "steps": [step("slow", "sleep 30")], "timeout": 2}
    ).result
    assert slow["failed"] and "did not finish within 2 s" in slow["msg"]
    assert slow["steps"][0]["seconds"] < 20


def test_check_mode_runs_nothing_and_a_missing_container_is_clear(container) -> None:
    checked = run_module(
        MODULE, {"container": container, "steps": [step("x", "touch /work/ran")]}, check=True
    ).result
    assert checked["changed"] is True and checked["steps"] == []
    after = run_module(MODULE, {"container": container, "steps": [step("y", "test -e /work/ran")]})
    assert after.rc != 0 and after.result["failed_step"] == "y"
    missing = run_module(MODULE, {"container": "pytest-no-such-container", "steps": []}).result
    assert missing["failed"] and "no container named" in missing["msg"]
