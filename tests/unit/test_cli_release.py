"""``wheelfleet release`` and ``wheelfleet images``: options, checks before anything runs,
exit codes, and what is shown at the end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import wheelfleet.cli as cli
from wheelfleet.progress_records import parse_line
from wheelfleet.runner import Project, RunResult

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "yamlcount"


def parse(*argv):
    return cli.build_parser().parse_args(argv)


def request(*argv):
    return cli.build_request(parse(*argv), Project.locate())


@pytest.fixture(autouse=True)
def _a_project_in_tmp_path(tmp_path: Path) -> None:
    """Release inputs read the project's build configuration: make tmp_path a project."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n')


def test_release_and_images_are_in_the_subcommand_table():
    release = cli.command_named("release")
    assert release.playbook == "release.yml"
    assert release.published.key == "wheelfleet_release"
    assert release.published.name == "release"
    assert cli.command_named("images").playbook == "images.yml"


def test_release_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # the role's cache, ~/.cache/wheelfleet
    made = request("release", str(EXAMPLE))
    assert made.playbook == Project.locate().playbook("release.yml")
    release_id = made.extravars.pop("wheelfleet_release_id")
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{6}", release_id)
    # The project is read here, once, and packed where the role's cache is; the playbook
    # takes it from this snapshot.
    snapshot = made.extravars.pop("wheelfleet_project_snapshot")
    assert snapshot["name"] == "yamlcount" and snapshot["path"] == str(EXAMPLE)
    archive = Path(snapshot["archive"])
    assert archive.parent == tmp_path / ".cache" / "wheelfleet" / "sources" and archive.is_file()
    assert archive.name == f"{snapshot['source_hash']}.tar.gz"
    assert "pyproject.toml" in snapshot["paths"] and "tests" in snapshot["paths"]
    assert made.inventories == (Project.locate().default_inventory,)
    assert made.extravars == {
        "project": str(EXAMPLE),
        "wheel_build_wheelhouse": str(tmp_path / "wheelhouse"),
    }  # no matrix: the project's [tool.cibuildwheel] selects the jobs at planning time
    assert made.skip_tags == ()


def test_release_options_become_extra_variables_and_skip_tags(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n')
    made = request(
        "release",
        "../" + tmp_path.name,  # relative paths are made absolute here
        *("--arch", "arm64", "--python", "cp312", "-w", "out", "--force", "--max-rounds", "2"),
        *("--skip-provision", "--skip-images", "--check"),
        *("-e", "wheelfleet_release_id=rel-1"),
    )
    # --check: the project is read but its source not packed.
    snapshot = made.extravars.pop("wheelfleet_project_snapshot")
    assert snapshot["name"] == "demo" and not Path(snapshot["archive"]).exists()
    assert made.extravars == {
        "wheelfleet_release_id": "rel-1",
        "project": str(tmp_path),
        "wheel_build_wheelhouse": str(tmp_path / "out"),
        "wheelfleet_architectures": ["aarch64"],
        "wheelfleet_pythons": ["cp312"],
        "wheelfleet_max_rounds": 2,
        "wheel_build_force": True,
    }
    assert made.skip_tags == ("provision", "images")
    assert made.check


def test_jobs_from_extra_vars_are_kept_as_given(tmp_path):
    made = request(
        "release", str(tmp_path), "-e", '{"wheelfleet_jobs": ["cp311-manylinux_x86_64"]}'
    )
    assert made.extravars["wheelfleet_jobs"] == ["cp311-manylinux_x86_64"]
    assert "wheelfleet_architectures" not in made.extravars


def test_publishing_needs_credentials_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("TWINE_USERNAME", raising=False)
    monkeypatch.delenv("TWINE_PASSWORD", raising=False)
    with pytest.raises(cli.InputError, match="publishing needs credentials"):
        request("release", str(tmp_path), "--publish", "https://upload.example/legacy/")
    monkeypatch.setenv("TWINE_USERNAME", "__token__")
    monkeypatch.setenv("TWINE_PASSWORD", "pypi-secret")
    made = request("release", str(tmp_path), "--publish", "https://upload.example/legacy/")
    assert made.extravars["wheelfleet_publish"] is True
    assert made.extravars["wheelfleet_publish_repository_url"] == "https://upload.example/legacy/"
    assert "pypi-secret" not in json.dumps(made.extravars)


def test_vault_password_file_goes_on_the_command_line(tmp_path):
    secret = tmp_path / "vault pass"
    secret.write_text("x\n")
    made = request("release", str(tmp_path), "--vault-password-file", str(secret))
    assert made.cmdline() == f"--vault-password-file '{secret}'"
    with pytest.raises(cli.InputError, match="no such file"):
        request("release", str(tmp_path), "--vault-password-file", str(tmp_path / "none"))


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["release", "/no/such/project"], "project '/no/such/project' does not exist"),
        (["release", str(EXAMPLE), "--arch", "sparc"], "unknown architecture 'sparc'"),
        (["release", str(EXAMPLE), "--python", "py3"], "'py3' is not a CPython tag"),
        (
            ["release", str(EXAMPLE), "--arch", "x86_64", "-e", '{"wheelfleet_architectures": []}'],
            "--arch conflicts with -e wheelfleet_architectures",
        ),
        (
            ["release", str(EXAMPLE), "-e", "project=/elsewhere"],
            "the project is the PROJECT argument",
        ),
        (
            [
                "release",
                str(EXAMPLE),
                "--arch",
                "x86_64",
                "-e",
                '{"wheelfleet_jobs": ["cp311-manylinux_x86_64"]}',
            ],
            "conflicting options: wheelfleet_jobs and wheelfleet_architectures",
        ),
        (["release", str(EXAMPLE), "--max-rounds", "0"], "wheelfleet_max_rounds 0"),
    ],
)
def test_bad_input_exits_2_before_anything_runs(monkeypatch, capsys, argv, words):
    def no_run(*args, **kwargs):
        raise AssertionError("ansible must not run on bad input")

    monkeypatch.setattr(cli, "run_playbook", no_run)
    assert cli.main([*argv, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("wheelfleet: error: ")
    assert words in captured.err


def stats(artifacts, *, failed=False):
    return {
        "event": "playbook_on_stats",
        "event_data": {
            "failures": {"localhost": 1} if failed else {},
            "ok": {"localhost": 30},
            "processed": {"localhost": 1},
            "artifact_data": artifacts,
        },
    }


def failed_task(task, kind=None, *, rescued=False):
    res = {"msg": "Invalid release inputs", "failed": True}
    if kind is not None:
        res["failure_kind"] = kind
    return {
        "event": "runner_on_failed",
        "event_data": {"host": "localhost", "task": task, "res": res},
    }


def fake_run(*events, status="successful", rc=0, records=()):
    def run(project, request, *, on_event, on_record, cancellation):
        for item in events:
            on_event(item)
        for item in records:
            on_record(item)
        return RunResult(status, rc, None, 1.0)

    return run


@pytest.mark.parametrize(
    "task",
    [
        "Check that every requested architecture has a host that runs or will emulate it",
        # Renamed or unknown to the CLI: the kind decides, not the name.
        "Any name at all",
    ],
)
def test_a_stop_in_the_playbooks_input_checks_exits_2(monkeypatch, capsys, task):
    run = fake_run(failed_task(task, "input"), stats({}, failed=True), status="failed", rc=2)
    monkeypatch.setattr(cli, "run_playbook", run)
    assert cli.main(["release", str(EXAMPLE), "--json"]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["exit_code"] == 2
    assert [failure["kind"] for failure in document["failures"]] == ["input"]


@pytest.mark.parametrize(
    ("task", "kinds"),
    [
        ("Fail, naming every job that has no wheel and why", ["job"]),
        # The old input check's name with a job failure: the name no longer decides.
        ("Check the project, the matrix and the publishing options", ["job"]),
        ("Fail, naming every job that has no wheel and why", ["host"]),
        # A failure that declares no kind is not the user's input.
        ("Anything", [None]),
        # One input failure among others is not a bad-input run.
        ("Anything", ["input", "host"]),
    ],
)
def test_a_failed_job_or_host_exits_1(monkeypatch, capsys, task, kinds):
    failures = [failed_task(task, kind) for kind in kinds]
    run = fake_run(*failures, stats({}, failed=True), status="failed", rc=2)
    monkeypatch.setattr(cli, "run_playbook", run)
    assert cli.main(["release", str(EXAMPLE), "--json"]) == 1


def test_an_unreachable_host_is_a_host_failure(monkeypatch, capsys):
    gone = {
        "event": "runner_on_unreachable",
        "event_data": {"host": "localhost", "task": "x", "res": {"msg": "ssh: timeout"}},
    }
    stats_event = stats({})
    stats_event["event_data"]["dark"] = {"localhost": 1}
    monkeypatch.setattr(cli, "run_playbook", fake_run(gone, stats_event, status="failed", rc=4))
    assert cli.main(["release", str(EXAMPLE), "--json"]) == 3
    [failure] = json.loads(capsys.readouterr().out)["failures"]
    assert (failure["kind"], failure["unreachable"]) == ("host", True)


def test_job_records_reach_the_display(monkeypatch, capsys):
    records = [
        parse_line(
            json.dumps(
                {
                    "v": 1,
                    "t": 1.0,
                    "host": "b1",
                    "job": "demo-cp311-cp311-x86_64",
                    "slot": 0,
                    "state": state,
                    "step": step,
                }
            )
        )
        for state, step in (("building", "build"), ("done", "publish"))
    ]
    monkeypatch.setattr(cli, "run_playbook", fake_run(stats({}), records=records))
    assert cli.main(["release", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "demo-cp311-cp311-x86_64  b1  building" in out
    assert "demo-cp311-cp311-x86_64  b1  done" in out


def test_the_release_report_is_printed_and_in_json(monkeypatch, capsys):
    published = {
        "wheelfleet_release": {
            "state": {"release_id": "rel"},
            "report": {
                "project": "yamlcount",
                "version": "1.0.0",
                "headline": "1 job(s): 1 built",
                "matrix": {"cp311": {"x86_64": {"status": "built", "host": "localhost"}}},
                "wheelhouse": "/srv/wh",
            },
            "paths": {"markdown": "/srv/wh/report.md", "html": "/srv/wh/report.html"},
            "wheels": ["yamlcount.whl"],
        }
    }
    monkeypatch.setattr(cli, "run_playbook", fake_run(stats(published)))
    assert cli.main(["release", str(EXAMPLE), "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["release"]["wheels"] == ["yamlcount.whl"]
    assert "yamlcount 1.0.0: 1 job(s): 1 built" in captured.err
    assert "wheelhouse: /srv/wh" in captured.err
    assert "report: /srv/wh/report.md, /srv/wh/report.html" in captured.err


def test_a_cancelled_release_leaves_no_staging_behind(tmp_path, capsys, monkeypatch):
    wheelhouse = tmp_path / "wh"
    staged = wheelhouse / ".staging" / "rel-1-r1" / "host" / "job"
    staged.mkdir(parents=True)
    (staged / "half.whl").write_bytes(b"partial")
    other = wheelhouse / ".staging" / "another-run"
    other.mkdir()

    def cancelled(project, request, *, on_event, on_record, cancellation):
        return RunResult("canceled", 254, None, 1.0)

    monkeypatch.setattr(cli, "run_playbook", cancelled)
    code = cli.main(
        ["release", str(EXAMPLE), "-w", str(wheelhouse), "-e", "wheelfleet_release_id=rel-1"]
    )
    assert code == 130
    assert not (wheelhouse / ".staging" / "rel-1-r1").exists()
    assert other.is_dir()  # another run's staging is not this release's to remove
    err = capsys.readouterr().err
    assert "release rel-1 cancelled: no wheel of an unfinished job reached" in err
    assert "label=org.wheelfleet.run=rel-1-r1" in err
