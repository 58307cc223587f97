"""Argument parsing, run requests, and what the CLI does before ansible starts."""

import os
import signal
import sysconfig
from pathlib import Path

import pytest

import wheelfleet.cli as cli
from wheelfleet.inputs import InputError
from wheelfleet.progress import Message, Progress
from wheelfleet.runner import Cancellation, Project, RunRequest, RunResult, _environment

ROOT = Path(__file__).resolve().parents[2]


def parse(*argv):
    return cli.build_parser().parse_args(argv)


def test_provision_defaults():
    args = parse("provision")
    assert args.command == "provision"
    assert args.inventory is None
    assert args.extra_vars == []
    assert args.limit is None
    assert (args.check, args.diff, args.json, args.verbose) == (False, False, False, 0)


def test_provision_every_option():
    args = parse(
        "provision",
        *("-i", "a.yml", "--inventory", "b"),
        *("-e", "x=1", "--extra-vars", '{"y": 2}'),
        *("--limit", "web*"),
        *("--check", "--diff", "--json", "-vv"),
    )
    assert args.inventory == ["a.yml", "b"]
    assert args.extra_vars == ["x=1", '{"y": 2}']
    assert args.limit == "web*"
    assert (args.check, args.diff, args.json, args.verbose) == (True, True, True, 2)
    assert parse("provision", "-C", "-D", "-l", "h").check


@pytest.mark.parametrize("argv", [[], ["provision", "--bogus"], ["nosuch"], ["provision", "-i"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        parse(*argv)
    assert caught.value.code == 2
    assert "usage: wheelfleet" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        parse("--version")
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("wheelfleet 0.1.0 (ansible-core 2.19.")
    assert "ansible-runner 2.4." in out


def test_help_and_docstring_document_every_exit_code(capsys):
    with pytest.raises(SystemExit):
        parse("provision", "--help")
    help_text = capsys.readouterr().out
    for code in ("0    success", "1    the playbook failed", "2    usage error", "3    at least"):
        assert code in help_text
        assert code in cli.__doc__
    assert "130  cancelled" in help_text
    assert "130  cancelled" in cli.__doc__


def test_every_command_has_its_playbook():
    project = Project.locate()
    assert project.root == ROOT
    for command in cli.COMMANDS:
        assert project.playbook(command.playbook).is_file(), command


def test_request_defaults_to_the_embedded_inventory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    request = cli.build_request(parse("provision"), Project.locate())
    assert request.playbook == ROOT / "playbooks" / "provision.yml"
    assert request.inventories == (ROOT / "inventory" / "localhost.yml",)
    assert request.extravars == {}
    assert request.cmdline() is None


def test_request_makes_paths_absolute_and_parses_vars(tmp_path, monkeypatch):
    (tmp_path / "fleet.yml").write_text("all: {}\n")
    monkeypatch.chdir(tmp_path)
    args = parse("provision", "-i", "fleet.yml", "-e", "a=1", "-e", '{"a": 2}', "--check", "--diff")
    request = cli.build_request(args, Project.locate())
    assert request.inventories == (tmp_path / "fleet.yml",)
    assert request.extravars == {"a": 2}
    assert request.cmdline() == "--check --diff"


def test_request_refuses_a_missing_inventory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"inventory 'missing\.yml' not found"):
        cli.build_request(parse("provision", "-i", "missing.yml"), Project.locate())


def test_main_reports_bad_input_before_running(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def no_run(*args, **kwargs):
        raise AssertionError("ansible must not run on bad input")

    monkeypatch.setattr(cli, "run_playbook", no_run)
    assert cli.main(["provision", "-i", "gone.yml"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"wheelfleet: error: inventory 'gone.yml' not found (looked for '{tmp_path}/gone.yml')\n"
    )
    assert cli.main(["provision", "-e", "nokey"]) == 2
    assert "-e 'nokey': expected KEY=VALUE" in capsys.readouterr().err
    assert cli.main(["provision", "--json", "-e", "[1]"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "-e '[1]': expected a JSON object, got a list" in captured.err


def test_run_request_cmdline():
    request = RunRequest(playbook=Path("/p.yml"), inventories=(Path("/i.yml"),), check=True)
    assert request.cmdline() == "--check"


def test_environment_points_at_the_project_config_and_this_ansible():
    env = _environment(Project.locate())
    assert env["ANSIBLE_CONFIG"] == str(ROOT / "ansible.cfg")
    assert env["PATH"].split(os.pathsep)[0] == sysconfig.get_path("scripts")
    assert Path(sysconfig.get_path("scripts"), "ansible-playbook").exists()


def test_cancellation_first_signal_asks_then_second_forces():
    reported = []
    cancel = Cancellation(on_request=lambda: reported.append(True))
    assert cancel() is False
    cancel._handle(signal.SIGINT, None)
    assert reported == []  # nothing printed from the signal handler itself
    assert cancel() is True
    assert cancel() is True
    assert reported == [True]  # reported once, from the runner's poll
    with pytest.raises(KeyboardInterrupt):
        cancel._handle(signal.SIGINT, None)


def test_cancellation_installs_and_restores_handlers():
    before = signal.getsignal(signal.SIGINT)
    cancel = Cancellation()
    with cancel.installed():
        assert signal.getsignal(signal.SIGINT) == cancel._handle
        assert signal.getsignal(signal.SIGTERM) == cancel._handle
        os.kill(os.getpid(), signal.SIGINT)
        assert cancel.requested
    assert signal.getsignal(signal.SIGINT) is before


def test_cancellation_respects_an_ignored_signal():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cancel = Cancellation()
        with cancel.installed():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_messages_explain_a_run_that_never_started():
    [message] = cli._messages(Progress(), RunResult("failed", 127, None, 0.1))
    assert message.level == "error"
    assert "ansible-playbook exited with code 127 before running any play" in message.text
    # ansible's own error is enough when there is one.
    progress = Progress(messages=[Message("error", "no hosts to target")])
    assert cli._messages(progress, RunResult("failed", 1, None, 0.1)) == progress.messages


def test_messages_explain_a_run_that_matched_no_host():
    progress = Progress(patterns=["build_hosts"])
    [message] = cli._messages(progress, RunResult("successful", 0, {}, 0.1))
    assert message.text == "no host matched build_hosts: check the inventory and --limit"
