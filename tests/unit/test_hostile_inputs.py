"""Untrusted projects and the operator's secrets: what the controller refuses or keeps.

Requirements reaching the controller's pip download, the limits of reading an sdist,
environment-pass screened by the operator, index URLs with credentials, and extra
variables that never reach a command line.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from wheelfleet import cli, job_settings, jobs, options, release, requirements, source
from wheelfleet.identifiers import Identifier
from wheelfleet.inputs import VAULTED, InputError, extra_var_layers, parse_extra_var
from wheelfleet.runner import Project as RunnerProject
from wheelfleet.runner import RunRequest, extravars_arguments

REPO = Path(__file__).resolve().parents[2]

# --- requirements ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("--log=/tmp/x", "pip option"),
        ("--dest=/tmp/x", "pip option"),
        ("--no-binary=:all:", "pip option"),
        ("-r", "pip option"),
        ("https://example.org/evil-1.0.tar.gz", "URL"),
        ("file:///tmp/evil", "URL"),
        ("evil @ https://example.org/evil-1.0.tar.gz", "direct reference"),
        ("evil@file:///tmp/evil", "direct reference"),
        ("./evil", "path"),
        ("/tmp/evil", "path"),
        ("sub/evil", "path"),
        ("evil.tar.gz", "archive"),
        ("evil-1.0-py3-none-any.whl", "archive"),
        ("cython --no-binary=:all:", "not a PEP 508 requirement"),
        ("", "empty"),
    ],
)
def test_options_urls_and_paths_are_refused(entry: str, why: str) -> None:
    assert why in (requirements.requirement_problem(entry) or "")
    with pytest.raises(requirements.RequirementRefusedError) as caught:
        requirements.check_requirements(["cython>=3", entry], "somewhere/pyproject.toml x")
    assert str(caught.value).startswith(
        f"somewhere/pyproject.toml x: refused requirement {entry!r}"
    )


@pytest.mark.parametrize(
    "entry",
    ["cython", "cython>=3,<4", "numpy[extra]==2.0", 'tomli; python_version < "3.11"', " wheel "],
)
def test_pep508_requirements_pass(entry: str) -> None:
    assert requirements.requirement_problem(entry) is None
    assert requirements.check_requirements([entry], "x") == [entry.strip()]


def test_download_keeps_only_binary_last_and_ends_options() -> None:
    argv = requirements.download_command(
        ["cython"],
        "x86_64",
        "cp311-cp311",
        "2.36",
        "/d",
        python="/py",
        pip_args=["--no-binary=:all:", "--dest", "/elsewhere"],
    )
    assert argv[-5:] == ["--dest", "/d", "--only-binary=:all:", "--", "cython"]
    with pytest.raises(requirements.RequirementRefusedError, match="'--log=/x'"):
        requirements.download_command(["--log=/x"], "x86_64", "cp311-cp311", "2.36", "/d")


def _sdist_of_marker(directory: Path, marker: Path) -> None:
    """An sdist whose setup.py, if pip ever ran it, would create ``marker``."""
    setup = f"open({str(marker)!r}, 'w').close()\nfrom setuptools import setup\nsetup()\n"
    pkg_info = "Metadata-Version: 2.1\nName: evilpkg\nVersion: 1.0\n"
    with tarfile.open(directory / "evilpkg-1.0.tar.gz", "w:gz") as archive:
        for name, text in (("setup.py", setup), ("PKG-INFO", pkg_info)):
            data = text.encode()
            info = tarfile.TarInfo(f"evilpkg-1.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_real_pip_never_builds_an_sdist_whatever_the_operator_args(tmp_path: Path) -> None:
    """pip itself, offline: --no-binary among the operator's args cannot win over the
    --only-binary=:all: that follows, so the sdist's setup.py never runs (about 2 s)."""
    links = tmp_path / "links"
    links.mkdir()
    marker = tmp_path / "setup-py-ran"
    _sdist_of_marker(links, marker)
    argv = requirements.download_command(
        ["evilpkg"],
        "x86_64",
        "cp311-cp311",
        "2.36",
        str(tmp_path / "dest"),
        python=sys.executable,
        pip_args=["--no-index", "--find-links", str(links), "--no-binary=:all:"],
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "No matching distribution found for evilpkg" in done.stderr
    assert not marker.exists()


def _project(tmp_path: Path, pyproject: str) -> Path:
    root = tmp_path / "hostile"
    root.mkdir()
    (root / "pyproject.toml").write_text(pyproject)
    return root


def test_a_build_requirement_option_is_refused_naming_the_file(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        '[build-system]\nrequires = ["setuptools", "--log=/tmp/owned"]\n'
        'build-backend = "setuptools.build_meta"\n',
    )
    with pytest.raises(source.ProjectError) as caught:
        source.inspect(root)
    message = str(caught.value)
    assert f"{root}/pyproject.toml [build-system].requires" in message
    assert "refused requirement '--log=/tmp/owned': it is a pip option" in message


@pytest.mark.parametrize(
    ("table", "origin"),
    [
        ('[project]\nname = "h"\nversion = "1"\ndependencies = ["h @ https://x/h.whl"]\n',
         "[project].dependencies"),
        ('[project]\nname = "h"\nversion = "1"\n[project.optional-dependencies]\n'
         'test = ["--no-binary=:all:"]\n', "[project.optional-dependencies].test"),
        ('[dependency-groups]\ndev = ["pytest", {include-group = "x"}, "../x"]\nx = []\n',
         "[dependency-groups].dev"),
    ],
)  # fmt: skip
def test_declared_requirements_are_checked(tmp_path: Path, table: str, origin: str) -> None:
    root = _project(tmp_path, table)
    with pytest.raises(source.ProjectError, match=rf"pyproject.toml {origin.replace('[', '.')}"):
        source.inspect(root)


def test_release_inputs_refuse_test_requires_and_role_requirements(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        '[project]\nname = "h"\nversion = "1"\n'
        '[tool.cibuildwheel]\ntest-command = "true"\ntest-requires = ["pytest", "--dest=/x"]\n',
    )
    (root / "setup.py").write_text("")
    with pytest.raises(release.ReleaseInputError) as caught:
        release.check_inputs(project=str(root))
    assert "test-requires: refused requirement '--dest=/x'" in str(caught.value)
    assert "pyproject.toml" in str(caught.value)

    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "pyproject.toml").write_text('[project]\nname = "c"\nversion = "1"\n')
    with pytest.raises(release.ReleaseInputError) as caught:
        release.check_inputs(project=str(clean), extra_build_requires=["wheel", "--pre"])
    assert "wheel_build_extra_build_requires: refused requirement '--pre'" in str(caught.value)
    checked = release.check_inputs(project=str(clean), test_requires=["pytest>=8"])
    assert checked["project"] == str(clean)


# --- sdist limits ------------------------------------------------------------------------


def _tar_sdist(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"pkg-1.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


PYPROJECT = b'[project]\nname = "pkg"\nversion = "1.0"\n'


def test_an_sdist_over_the_size_limit_is_refused_from_its_headers(tmp_path: Path) -> None:
    sdist = _tar_sdist(
        tmp_path / "pkg-1.0.tar.gz", {"pyproject.toml": PYPROJECT, "big": b"0" * 5000}
    )
    limits = source.ReadLimits(max_bytes=4096)
    with pytest.raises(source.SdistLimitError) as caught:
        source.load_files(sdist, limits=limits)
    message = str(caught.value)
    assert str(sdist) in message and "more than 4096 bytes uncompressed" in message
    assert "--max-source-bytes N, or -e wheel_build_source_max_bytes=N" in message
    assert source.load_files(sdist, limits=source.ReadLimits(max_bytes=6000))[0] == "sdist"


def test_an_sdist_over_the_member_limit_is_refused(tmp_path: Path) -> None:
    files = {"pyproject.toml": PYPROJECT, **{f"m{i}": b"" for i in range(10)}}
    sdist = _tar_sdist(tmp_path / "pkg-1.0.tar.gz", files)
    with pytest.raises(source.SdistLimitError, match=r"more than 5 members.*--max-source-members"):
        source.load_files(sdist, limits=source.ReadLimits(max_members=5))


def test_bytes_actually_read_are_counted(tmp_path: Path) -> None:
    """A member whose header understates its size cannot bring more than the limit in."""
    budget = source._Budget(tmp_path / "x.tar.gz", source.ReadLimits(max_bytes=10))
    budget.declare(1)
    with pytest.raises(source.SdistLimitError, match="its members unpack to more than 10 bytes"):
        budget.take(io.BytesIO(b"z" * 11))


def test_a_zip_whose_header_lies_is_not_read_past_it(tmp_path: Path) -> None:
    path = tmp_path / "pkg-1.0.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pkg-1.0/pyproject.toml", PYPROJECT)
        archive.writestr("pkg-1.0/big", b"\0" * 100_000)
    data = bytearray(path.read_bytes())
    # Patch the declared uncompressed size of "big" (local and central headers) to 10 bytes.
    real = (100_000).to_bytes(4, "little")
    assert data.count(real) == 2
    data = data.replace(real, (10).to_bytes(4, "little"))
    path.write_bytes(bytes(data))
    with pytest.raises(source.ProjectError, match="not a readable sdist: Bad CRC-32"):
        source.load_files(path, limits=source.ReadLimits(max_bytes=1000))


def test_limits_from_user_values() -> None:
    assert source.ReadLimits.from_values(None, "") == source.ReadLimits()
    assert source.ReadLimits.from_values("2048", 7) == source.ReadLimits(2048, 7)
    for bad in (0, -1, "lots", True):
        with pytest.raises(source.ProjectError, match="wheel_build_source_max_bytes"):
            source.ReadLimits.from_values(bad, None)


def test_the_role_default_limits_are_the_code_defaults() -> None:
    defaults = yaml.safe_load((REPO / "roles/wheel_build/defaults/main.yml").read_text())
    assert defaults["wheel_build_source_max_bytes"] == source.DEFAULT_MAX_BYTES
    assert defaults["wheel_build_source_max_members"] == source.DEFAULT_MAX_MEMBERS
    assert tuple(defaults["wheel_build_environment_pass_deny"]) == (
        job_settings.DEFAULT_ENVIRONMENT_PASS_DENY
    )
    assert tuple(defaults["wheel_build_environment_pass_allow"]) == (
        job_settings.DEFAULT_ENVIRONMENT_PASS_ALLOW
    )


# --- environment-pass --------------------------------------------------------------------


def test_credentials_are_denied_by_default() -> None:
    names = [
        "TWINE_PASSWORD",
        "twine_username",
        "GITHUB_TOKEN",
        "DB_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "ANSIBLE_VAULT_PASSWORD_FILE",
        "CI",
        "SOURCE_DATE_EPOCH",
    ]
    passed, refused = job_settings.screen_environment_pass(names)
    assert passed == ["CI", "SOURCE_DATE_EPOCH"]
    assert [r["name"] for r in refused] == names[:6]
    assert refused[0]["reason"] == "matches 'TWINE_*' of wheel_build_environment_pass_deny"


def test_the_operator_lists_decide() -> None:
    passed, refused = job_settings.screen_environment_pass(
        ["CI", "GIT_SHA", "MY_TOKEN"], allow=["CI", "GIT_*", "MY_TOKEN"], deny=[]
    )
    assert passed == ["CI", "GIT_SHA", "MY_TOKEN"] and refused == []
    passed, refused = job_settings.screen_environment_pass(["CI", "HOME"], allow=["CI"])
    assert passed == ["CI"]
    assert refused[0]["reason"].startswith(
        "matches no pattern of wheel_build_environment_pass_allow"
    )
    with pytest.raises(job_settings.JobSettingsError, match="wheel_build_environment_pass_deny"):
        job_settings.screen_environment_pass(["CI"], deny=[1])


def test_a_refused_name_is_never_forwarded_and_is_named(tmp_path: Path) -> None:
    document = {"tool": {"cibuildwheel": {"environment-pass": ["TWINE_PASSWORD", "CI"]}}}
    config = options.from_document(document, label="p/pyproject.toml")
    identifier = Identifier.parse("cp311-manylinux_x86_64")
    settings = job_settings.for_job(config, identifier, {}, document)
    assert settings["environment_pass"] == ["CI"]
    assert settings["environment_pass_refused"] == [
        {
            "name": "TWINE_PASSWORD",
            "reason": "matches 'TWINE_*' of wheel_build_environment_pass_deny",
        }
    ]
    assert any("environment-pass TWINE_PASSWORD" in note and "refused" in note
               for note in settings["notes"])  # fmt: skip
    environ = {"TWINE_PASSWORD": "s3cret", "CI": "1"}
    assert job_settings.secret_environment(settings["environment_pass"], environ) == {"CI": "1"}


# --- index URLs with credentials ---------------------------------------------------------


def test_index_credentials_are_redacted_and_travel_apart() -> None:
    url = "https://ci:hunter2@mirror.example/simple"
    assert requirements.has_credentials(url)
    assert requirements.redact_url(f"Looking in {url}") == (
        "Looking in https://***@mirror.example/simple"
    )
    assert not requirements.has_credentials("https://mirror.example/simple")
    kept, env = requirements.secret_pip_args(
        ["--index-url", url, "--extra-index-url=https://x:y@z/simple", "--pre", "-i", "https://o/s"]
    )
    assert kept == ["--pre", "-i", "https://o/s"]
    assert env == {"PIP_INDEX_URL": url, "PIP_EXTRA_INDEX_URL": "https://x:y@z/simple"}

    config = options.from_document({}, label="p/pyproject.toml")
    role = {"requirements_source": "index", "index_url": url}
    settings = job_settings.for_job(config, Identifier.parse("cp311-manylinux_x86_64"), role)
    assert "hunter2" not in json.dumps(settings)
    assert "PIP_INDEX_URL" not in jobs.pip_environment(settings)
    assert job_settings.secret_environment([], {}, url) == {"PIP_INDEX_URL": url}
    plain = dict(role, index_url="https://mirror.example/simple")
    settings = job_settings.for_job(config, Identifier.parse("cp311-manylinux_x86_64"), plain)
    assert jobs.pip_environment(settings)["PIP_INDEX_URL"] == "https://mirror.example/simple"


# --- extra variables ----------------------------------------------------------------------

VAULT_FILE = "publish_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3132\n"


def test_vaulted_values_are_set_not_lost(tmp_path: Path) -> None:
    (tmp_path / "vault.yml").write_text(VAULT_FILE)
    assert parse_extra_var(f"@{tmp_path}/vault.yml") == {"publish_password": VAULTED}
    assert bool(VAULTED)
    layers = extra_var_layers([f"@{tmp_path}/vault.yml", "a=1", '{"b": [2]}'])
    assert layers == [tmp_path / "vault.yml", {"a": "1"}, {"b": [2]}]
    with pytest.raises(InputError, match="only be given in a file"):
        extra_var_layers(["{p: !vault x}"])


def test_extra_variables_go_in_private_files(tmp_path: Path) -> None:
    secret = "s3cret-value"
    user_file = tmp_path / "vars.yml"
    request = RunRequest(
        playbook=tmp_path / "p.yml",
        inventories=(),
        extravars={"password": secret},
        extravar_layers=(user_file, {"password": secret}, {"project": "/p"}),
        check=True,
    )
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    arguments = extravars_arguments(request, private)
    assert secret not in " ".join(arguments)
    assert arguments[:2] == ["-e", f"@{user_file}"]
    written = sorted(private.iterdir())
    assert [stat.S_IMODE(path.stat().st_mode) for path in written] == [0o600, 0o600]
    assert json.loads(written[0].read_text()) == {"password": secret}


def test_the_cli_passes_files_as_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "vault.yml").write_text(VAULT_FILE)
    monkeypatch.chdir(tmp_path)
    args = cli.build_parser().parse_args(["provision", "-e", "@vault.yml", "-e", "x=1"])
    request = cli.build_request(args, RunnerProject(REPO))
    assert request.extravar_layers == (tmp_path / "vault.yml", {"x": "1"})
    assert request.extravars == {"publish_password": VAULTED, "x": "1"}
    assert os.fspath(tmp_path / "vault.yml") in str(request.extravar_layers[0])


def test_task_warnings_reach_the_cli() -> None:
    """ansible-core 2.19 hands a task's warnings over with its result: a refusal the plan
    warns about must be among the run's warnings (the CLI's text and --json)."""
    from wheelfleet.progress import Progress

    progress = Progress()
    warning = "environment-pass TWINE_PASSWORD (from p) refused"
    event = {
        "event": "runner_on_ok",
        "event_data": {"host": "localhost", "task": "Place", "res": {"warnings": [warning]}},
    }
    progress.apply(event)
    progress.apply(event)
    assert [(m.level, m.text) for m in progress.messages] == [("warning", warning)]


def _project_with(tmp_path, tables: str):
    project = tmp_path / "shadow"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "shadow"\nversion = "1.0"\n' + tables
    )
    return project


def test_a_requirement_file_is_refused_and_named(tmp_path):
    from wheelfleet import release

    project = _project_with(tmp_path, '[tool.cibuildwheel]\ntest-requires = "-r reqs.txt"\n')
    with pytest.raises(release.ReleaseInputError) as refused:
        release.check_inputs(project=str(project), cwd=str(tmp_path))
    assert "refused requirement '-r'" in str(refused.value)
    assert "requirement files are not read on the controller" in str(refused.value)


def test_a_higher_layer_replacing_test_requires_shadows_the_refused_one(tmp_path):
    from wheelfleet import release

    project = _project_with(
        tmp_path,
        '[tool.cibuildwheel]\ntest-requires = "-r reqs.txt"\n'
        '[tool.wheelfleet]\ntest-requires = ["pytest"]\n',
    )
    checked = release.check_inputs(project=str(project), cwd=str(tmp_path))
    assert checked["project"] == str(project)
    # An override applies to some jobs only: what it shadows still reaches the others.
    (tmp_path / "o").mkdir()
    project = _project_with(
        tmp_path / "o",
        '[tool.cibuildwheel]\ntest-requires = "-r reqs.txt"\n'
        '[[tool.wheelfleet.overrides]]\nselect = "cp311-*"\ntest-requires = ["pytest"]\n',
    )
    with pytest.raises(release.ReleaseInputError):
        release.check_inputs(project=str(project), cwd=str(tmp_path))
