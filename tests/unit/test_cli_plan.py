"""``wheelfleet plan``: its options, the checks before anything runs, and how it shows the plan."""

from __future__ import annotations

import json

import pytest

import wheelfleet.cli as cli
from wheelfleet.inputs import InputError
from wheelfleet.plan import Host, make_plan, matrix_jobs
from wheelfleet.progress import Progress
from wheelfleet.runner import Project, RunResult
from wheelfleet.summary import ExitCode, RunSummary


def parse(*argv):
    return cli.build_parser().parse_args(argv)


def extravars(*argv, given=None):
    args = parse("plan", *argv)
    return cli._plan_extravars(args, given or {})


def test_plan_is_in_the_subcommand_table():
    command = cli.command_named("plan")
    assert command.playbook == "plan.yml"
    assert not command.changes_hosts
    assert command.published.key == "wheelfleet_plan"
    assert command.published.name == "plan"


def test_plan_options():
    args = parse(
        "plan",
        *("-i", "fleet.yml", "--arch", "aarch64", "--arch", "x86_64"),
        *("--python", "cp311", "--python", "cp312", "--emulation-factor", "6", "--json"),
    )
    assert args.inventory == ["fleet.yml"]
    assert args.architectures == ["aarch64", "x86_64"]
    assert args.pythons == ["cp311", "cp312"]
    assert args.emulation_factor == 6.0
    assert args.json


@pytest.mark.parametrize("flag", ["--check", "-C", "--diff", "-D"])
def test_plan_changes_nothing_so_has_no_check_or_diff(flag, capsys):
    with pytest.raises(SystemExit) as caught:
        parse("plan", "--arch", "x86_64", "--python", "cp311", flag)
    assert caught.value.code == 2
    assert f"unrecognized arguments: {flag}" in capsys.readouterr().err


def test_provision_keeps_check_and_diff():
    assert parse("provision", "--check", "--diff").check


def test_plan_help_documents_the_inventory_variables_and_exit_codes(capsys):
    with pytest.raises(SystemExit):
        parse("plan", "--help")
    text = " ".join(capsys.readouterr().out.split())
    for words in (
        "wheelfleet_architecture",
        "wheelfleet_emulates",
        "wheelfleet_capacity",
        "is not contacted",
        "--arch ARCH",
        "--python TAG",
        "--emulation-factor N",
        "2 usage error or bad input",
        "a job no host can build",
    ):
        assert words in text, words


def test_matrix_becomes_extra_variables_with_canonical_names():
    assert extravars(
        "--arch", "arm64", "--arch", "x86_64", "--arch", "aarch64", "--python", "cp312"
    ) == {
        "wheelfleet_architectures": ["aarch64", "x86_64"],
        "wheelfleet_pythons": ["cp312"],
    }
    assert (
        extravars("--arch", "x86_64", "--python", "cp312", "--emulation-factor", "5")[
            "wheelfleet_emulation_factor"
        ]
        == 5.0
    )


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ["--arch", "sparc", "--python", "cp311"],
            "unknown architecture 'sparc'; valid names: x86_64, i686, aarch64",
        ),
        (
            ["--arch", "x86_64", "--python", "cp27"],
            "'cp27' is not a CPython tag wheelfleet can build (expected cp3X or cp3Xt, e.g. cp39",
        ),
        (["--python", "cp311"], "wheelfleet plan needs a PROJECT, or at least one --arch"),
        (["--arch", "x86_64"], "wheelfleet plan needs a PROJECT, or at least one --python"),
        (
            ["--arch", "x86_64", "--python", "cp311", "--emulation-factor", "0.5"],
            "--emulation-factor 0.5: must be a number of 1 or more",
        ),
    ],
)
def test_bad_matrix_is_refused_naming_the_value(argv, words):
    with pytest.raises(InputError) as caught:
        extravars(*argv)
    assert words in str(caught.value)


def test_matrix_may_come_from_extra_vars_and_is_checked_there_too():
    given = {"wheelfleet_architectures": ["arm64"], "wheelfleet_pythons": "cp313"}
    assert extravars(given=given) == {
        "wheelfleet_architectures": ["aarch64"],
        "wheelfleet_pythons": ["cp313"],
    }
    with pytest.raises(InputError, match="unknown architecture 'm68k'"):
        extravars(given={"wheelfleet_architectures": ["m68k"], "wheelfleet_pythons": ["cp313"]})


def test_jobs_from_extra_vars():
    given = {
        "wheelfleet_jobs": ["cp312-manylinux_aarch64", {"identifier": "cp311-manylinux_x86_64"}]
    }
    assert extravars(given=given) == {}
    with pytest.raises(InputError, match="'cp2' is not a CPython tag"):
        extravars(given={"wheelfleet_jobs": ["cp2-manylinux_x86_64"]})
    with pytest.raises(InputError, match="non-empty list"):
        extravars(given={"wheelfleet_jobs": []})


@pytest.mark.parametrize(
    ("argv", "given", "words"),
    [
        (
            ["--arch", "x86_64"],
            {"wheelfleet_architectures": ["x86_64"]},
            "--arch conflicts with -e",
        ),
        (["--python", "cp311"], {"wheelfleet_pythons": ["cp311"]}, "--python conflicts with -e"),
        (["--arch", "x86_64"], {"wheelfleet_jobs": ["cp311-manylinux_x86_64"]}, "wheelfleet_jobs"),
    ],
)
def test_conflicting_options_are_refused(argv, given, words):
    with pytest.raises(InputError, match=words):
        extravars(*argv, given=given)


def test_request_runs_plan_yml_with_the_matrix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = Project.locate()
    args = parse("plan", "--arch", "aarch64", "--python", "cp311", "-e", "x=1")
    request = cli.build_request(args, project)
    assert request.playbook == project.root / "playbooks" / "plan.yml"
    assert request.inventories == (project.default_inventory,)
    assert request.extravars == {
        "x": "1",
        "wheelfleet_architectures": ["aarch64"],
        "wheelfleet_pythons": ["cp311"],
    }
    assert (request.check, request.diff) == (False, False)


def test_main_refuses_bad_input_before_running(monkeypatch, capsys):
    def no_run(*args, **kwargs):
        raise AssertionError("ansible must not run on bad input")

    monkeypatch.setattr(cli, "run_playbook", no_run)
    assert cli.main(["plan", "--arch", "sparc", "--python", "cp311", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("wheelfleet: error: unknown architecture 'sparc'; valid names:")
    assert cli.main(["plan", "--arch", "x86_64", "--python", "cp2"]) == 2
    assert "'cp2' is not a CPython tag" in capsys.readouterr().err


# --- what main does with the plan the playbook publishes (set_stats -> playbook_on_stats)


def stats_event(plan_document, *, failed=False):
    failures = {"localhost": 1} if failed else {}
    return {
        "event": "playbook_on_stats",
        "event_data": {
            "changed": {},
            "dark": {},
            "failures": failures,
            "ignored": {},
            "ok": {"localhost": 9},
            "processed": {"localhost": 1},
            "rescued": {},
            "skipped": {"localhost": 2},
            "artifact_data": {"wheelfleet_plan": plan_document},
        },
    }


def fake_run(event, status="successful", rc=0):
    def run(project, request, *, on_event, on_record, cancellation):
        on_event(event)
        return RunResult(status, rc, None, 1.0)

    return run


def test_progress_keeps_what_the_playbook_published():
    progress = Progress()
    progress.apply(stats_event({"schema": 1}))
    assert progress.artifacts == {"wheelfleet_plan": {"schema": 1}}
    assert "artifact_data" not in progress.stats


def test_main_prints_the_plan_table(monkeypatch, capsys):
    plan = make_plan(
        matrix_jobs(["x86_64", "aarch64"], ["cp311"]),
        [Host("localhost", "x86_64", 2, frozenset({"aarch64"}))],
    )
    monkeypatch.setattr(cli, "run_playbook", fake_run(stats_event(plan.to_json())))
    assert cli.main(["plan", "--arch", "x86_64", "--arch", "aarch64", "--python", "cp311"]) == 0
    out = capsys.readouterr().out
    assert plan.render() in out
    assert out.index(plan.render()) < out.index("plan: successful")


def test_main_json_holds_the_summary_and_the_plan(monkeypatch, capsys):
    plan = make_plan(
        matrix_jobs(["aarch64"], ["cp311"]),
        [Host("localhost", "x86_64", 2, frozenset({"aarch64"}))],
    )
    monkeypatch.setattr(cli, "run_playbook", fake_run(stats_event(plan.to_json())))
    assert cli.main(["plan", "--arch", "aarch64", "--python", "cp311", "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["command"] == "plan"
    assert document["exit_code"] == 0
    assert document["plan"] == plan.to_json()
    # The table goes to stderr with the progress, so stdout stays one JSON document.
    assert plan.render() in captured.err


def test_unschedulable_jobs_exit_2(monkeypatch, capsys):
    plan = make_plan(matrix_jobs(["riscv64"], ["cp311"]), [Host("localhost", "x86_64", 2)])
    event = stats_event(plan.to_json(), failed=True)
    monkeypatch.setattr(cli, "run_playbook", fake_run(event, "failed", 2))
    assert cli.main(["plan", "--arch", "riscv64", "--python", "cp311", "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["exit_code"] == 2
    assert document["plan"]["unschedulable"][0]["reason"].startswith("no host runs riscv64")


def test_a_failed_run_without_a_plan_keeps_exit_1(monkeypatch, capsys):
    event = stats_event(None, failed=True)
    event["event_data"]["artifact_data"] = {}
    monkeypatch.setattr(cli, "run_playbook", fake_run(event, "failed", 2))
    assert cli.main(["plan", "--arch", "x86_64", "--python", "cp311", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["plan"] is None


def test_bad_input_only_turns_a_failure_into_exit_2():
    summary = RunSummary("plan", "plan.yml", "successful", 0, 1.0, False, {}, bad_input=True)
    assert summary.exit_code == ExitCode.USAGE  # no host ran: already 2
    base = RunSummary.build(
        command="plan",
        playbook="plan.yml",
        status="failed",
        rc=2,
        elapsed=1.0,
        check=False,
        stats=stats_event({}, failed=True)["event_data"],
        failures=[],
        messages=[],
    )
    assert base.exit_code == ExitCode.FAILED
    assert RunSummary(**{**base.__dict__, "bad_input": True}).exit_code == ExitCode.USAGE
    cancelled = RunSummary(**{**base.__dict__, "status": "canceled", "bad_input": True})
    assert cancelled.exit_code == ExitCode.CANCELLED
