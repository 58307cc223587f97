"""What the plain and live displays print for progress notices and the summary."""

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console

from wheelfleet.display import (
    PlainDisplay,
    RichDisplay,
    format_seconds,
    make_display,
    summary_lines,
)
from wheelfleet.progress import (
    Failure,
    Message,
    Outcome,
    PlayStarted,
    Progress,
    TaskResult,
)
from wheelfleet.summary import RunSummary

FAILED = TaskResult(
    host="localhost",
    task="Validate role inputs against their argument specs",
    role=None,
    outcome=Outcome.FAILED,
    duration=0.045689,
    msg="Invalid inputs:\nqemu_binfmt: ... Got no match for: sparc99",
)


def plain_output(*notices, verbosity=0):
    stream = io.StringIO()
    display = PlainDisplay(stream, verbosity=verbosity)
    with display:
        for notice in notices:
            display.show(notice)
    return stream.getvalue()


def summary(**overrides):
    arguments = {
        "command": "provision",
        "playbook": "/p/playbooks/provision.yml",
        "status": "failed",
        "rc": 2,
        "elapsed": 75.3,
        "check": True,
        "stats": {"failures": {"localhost": 1}, "ok": {"b": 3}, "changed": {"b": 1}},
        "failures": [Failure("localhost", "Validate", None, "Got no match for: sparc99")],
        "messages": [Message("error", "something ansible said")],
    }
    arguments.update(overrides)
    return RunSummary.build(**arguments)


def test_format_seconds():
    assert format_seconds(None) == ""
    assert format_seconds(0.04) == "0.0s"
    assert format_seconds(59.94) == "59.9s"
    assert format_seconds(65) == "1m05s"
    assert format_seconds(3725) == "1h02m"


def test_plain_lines_for_plays_results_and_failures():
    ok = TaskResult("localhost", "Install Docker Engine", "docker_engine", Outcome.OK, 3.24)
    out = plain_output(PlayStarted("Provision build hosts"), ok, FAILED)
    assert out.splitlines() == [
        "",
        "PLAY [Provision build hosts]",
        "ok           localhost  docker_engine : Install Docker Engine  (3.2s)",
        "failed       localhost  Validate role inputs against their argument specs  (0.0s)",
        "             Invalid inputs:",
        "             qemu_binfmt: ... Got no match for: sparc99",
    ]


def test_plain_diff_and_verbose_output():
    changed = TaskResult(
        "localhost",
        "Write daemon.json",
        "docker_engine",
        Outcome.CHANGED,
        None,
        output="changed: [localhost]",
        diff="-{}\n+{}",
    )
    assert plain_output(changed).splitlines() == [
        "changed      localhost  docker_engine : Write daemon.json",
        "             -{}",
        "             +{}",
    ]
    assert (
        plain_output(changed, verbosity=1).splitlines()[-1] == "             changed: [localhost]"
    )


def test_plain_messages_and_cancelling():
    stream = io.StringIO()
    display = PlainDisplay(stream)
    display.show(Message("warning", "Could not match supplied host pattern"))
    display.cancelling()
    assert stream.getvalue().splitlines() == [
        "warning: Could not match supplied host pattern",
        "",
        "Cancelling: stopping ansible-playbook (Ctrl-C again to force)...",
    ]


def test_plain_ansible_output_only_when_verbose():
    output = Message("output", "Using /srv/wheelfleet/ansible.cfg as config file")
    assert plain_output(output) == ""
    assert plain_output(output, verbosity=1) == "Using /srv/wheelfleet/ansible.cfg as config file\n"


def test_summary_lines():
    lines = list(summary_lines(summary()))
    assert lines == [
        "",
        "provision (check mode): failed in 1m15s (exit code 1)",
        "  b          ok=3 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
        "  localhost  ok=0 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0",
        "FAILED: localhost | Validate",
        "  Got no match for: sparc99",
        "error: something ansible said",
    ]


def test_summary_lines_when_cancelled_or_nothing_ran():
    cancelled = list(summary_lines(summary(status="canceled", stats=None, failures=[])))
    assert cancelled[1] == "provision (check mode): canceled in 1m15s (exit code 130)"
    assert cancelled[2].startswith("  cancelled: hosts may be partly changed")
    empty = list(summary_lines(summary(status="successful", stats={}, failures=[], messages=[])))
    assert empty[1:] == [
        "provision (check mode): successful in 1m15s (exit code 2)",
        "  no host ran a task",
    ]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_make_display_is_plain_unless_on_a_terminal(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("TTY_INTERACTIVE", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")  # a coloured CI log is still not a terminal
    assert isinstance(make_display(io.StringIO(), Progress()), PlainDisplay)
    assert isinstance(make_display(FakeTerminal(), Progress()), RichDisplay)
    assert isinstance(make_display(FakeTerminal(), Progress(), force_plain=True), PlainDisplay)
    monkeypatch.setenv("TERM", "dumb")
    assert isinstance(make_display(FakeTerminal(), Progress()), PlainDisplay)


def rich_console():
    return Console(file=io.StringIO(), force_terminal=True, width=120, color_system=None)


def test_live_view_shows_each_host_on_its_task_with_elapsed_time():
    progress = Progress(play="Provision build hosts")
    started = datetime.now(UTC) - timedelta(seconds=12.3)
    builder = progress.host("builder1")
    builder.task, builder.role, builder.started = "Install Docker Engine", "docker_engine", started
    builder.detail = "item docker.io"
    builder.counts[Outcome.OK] = 5
    done = progress.host("builder2")
    done.task, done.started = "Gathering Facts", started
    done.finished, done.outcome = started + timedelta(seconds=2), Outcome.UNREACHABLE
    done.counts[Outcome.UNREACHABLE] = 1
    console = rich_console()
    display = RichDisplay(console, progress)
    display.cancelling()
    console.print(display._render())
    text = console.file.getvalue()
    assert "PLAY [Provision build hosts]" in text
    row = next(line for line in text.splitlines() if line.startswith("builder1"))
    assert "docker_engine : Install Docker Engine  [item docker.io]" in row
    assert "12." in row
    row2 = next(line for line in text.splitlines() if line.startswith("builder2"))
    assert "Gathering Facts" in row2
    assert "2.0s" in row2
    assert "Cancelling..." in text


def test_rich_results_and_summary():
    console = rich_console()
    display = RichDisplay(console, Progress())
    display.show(PlayStarted("Validate [inputs]"))
    display.show(FAILED)
    display.show(Message("warning", "careful [bold]"))
    display.summary(summary())
    text = console.file.getvalue()
    assert "PLAY [Validate [inputs]]" in text
    assert "failed       localhost  Validate role inputs against their argument specs" in text
    assert "Got no match for: sparc99" in text
    assert "warning: careful [bold]" in text
    assert "provision (check mode): failed in 1m15s (exit code 1)" in text
    assert "FAILED: localhost | Validate" in text
    assert "error: something ansible said" in text
