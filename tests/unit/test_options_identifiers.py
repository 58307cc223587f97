"""Build identifiers, command placeholders, and the settings hash incremental releases compare."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from wheelfleet.identifiers import (
    KNOWN_PYTHON_TAGS,
    Identifier,
    IdentifierError,
    build_identifiers,
    check_python_tag,
    is_free_threaded,
    python_version,
)
from wheelfleet.options import BuildFrontend, JobSettings, load
from wheelfleet.placeholders import substitute, used
from wheelfleet.settings_hash import ROLE_ONLY, SETTINGS_FORMAT, settings_hash

# --------------------------------------------------------------------------- identifiers


def test_known_tags_run_from_39_to_315t() -> None:
    assert KNOWN_PYTHON_TAGS[0] == "cp39"
    assert KNOWN_PYTHON_TAGS[-1] == "cp315t"
    assert [t for t in KNOWN_PYTHON_TAGS if is_free_threaded(t)] == ["cp313t", "cp314t", "cp315t"]
    assert python_version("cp313t") == (3, 13)


@pytest.mark.parametrize(
    ("python", "arch", "text", "interpreter"),
    [
        ("cp311", "x86_64", "cp311-manylinux_x86_64", "cp311-cp311"),
        ("cp313t", "aarch64", "cp313t-manylinux_aarch64", "cp313-cp313t"),
        ("cp39", "armv7l", "cp39-manylinux_armv7l", "cp39-cp39"),
    ],
)
def test_identifier_spelling(python: str, arch: str, text: str, interpreter: str) -> None:
    identifier = Identifier(python, arch)
    assert str(identifier) == text
    assert identifier.interpreter == interpreter
    assert Identifier.parse(text) == identifier


def test_parse_accepts_aliases_and_refuses_other_platforms() -> None:
    assert Identifier.parse("cp312-manylinux_arm64") == Identifier("cp312", "aarch64")
    with pytest.raises(IdentifierError, match="manylinux wheels only, not musllinux"):
        Identifier.parse("cp312-musllinux_x86_64")
    with pytest.raises(IdentifierError, match="not a build identifier"):
        Identifier.parse("cp312_x86_64")
    with pytest.raises(IdentifierError, match="not a CPython tag"):
        Identifier.parse("pp310-manylinux_x86_64")
    with pytest.raises(IdentifierError, match="not a canonical architecture"):
        Identifier("cp312", "arm64")


@pytest.mark.parametrize("tag", ["cp27", "py3", "cp3", "cp312d", "CP312", "pp310", "cp4"])
def test_bad_python_tags(tag: str) -> None:
    with pytest.raises(IdentifierError):
        check_python_tag(tag)


def test_build_identifiers_order_by_arch_table_then_version() -> None:
    identifiers = build_identifiers(["cp314t", "cp39", "cp314", "cp310"], ["aarch64", "amd64"])
    assert [str(i) for i in identifiers] == [
        "cp39-manylinux_x86_64",
        "cp310-manylinux_x86_64",
        "cp314-manylinux_x86_64",
        "cp314t-manylinux_x86_64",
        "cp39-manylinux_aarch64",
        "cp310-manylinux_aarch64",
        "cp314-manylinux_aarch64",
        "cp314t-manylinux_aarch64",
    ]


# --------------------------------------------------------------------------- placeholders


def test_placeholders_are_substituted_and_escapable() -> None:
    command = "pytest {project}/tests && cp #{project} {package}/x && echo {wheel} {project}"
    assert substitute(command, {"project": "/project", "package": "/project/pkg"}) == (
        "pytest /project/tests && cp {project} /project/pkg/x && echo {wheel} /project"
    )
    assert used(command) == ("project", "package")
    assert used("echo #{project}") == ()
    assert substitute("a\\1 {project}", {"project": "b\\2"}) == "a\\1 b\\2"


# --------------------------------------------------------------------------- settings hash


def _settings(tmp_path: Path, text: str, identifier: str = "cp312-manylinux_x86_64") -> JobSettings:
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    return load(tmp_path).settings(Identifier.parse(identifier))


def digest(settings: JobSettings) -> str:
    """The job's one settings hash (wheelfleet.settings_hash), no role settings."""
    return settings_hash(settings.to_dict(), {})


def test_the_hash_is_sha256_of_the_canonical_json(tmp_path: Path) -> None:
    settings = _settings(tmp_path, '[tool.cibuildwheel]\ntest-command = "pytest"\n')
    options = {k: v for k, v in settings.to_dict().items() if k != "image"}
    role = dict.fromkeys(ROLE_ONLY)
    canonical = json.dumps(
        {"format": SETTINGS_FORMAT, "options": options, "role": role},
        sort_keys=True,
        separators=(",", ":"),
    )
    assert digest(settings) == hashlib.sha256(canonical.encode()).hexdigest()
    assert len(digest(settings)) == 64


def test_equal_settings_hash_equal_however_spelled(tmp_path: Path) -> None:
    first = _settings(
        tmp_path,
        "[tool.cibuildwheel]\nenvironment = \"CFLAGS='-O2 -g' PATH=$PATH:/x\"\n"
        'test-requires = "pytest numpy"\nbefore-all = ["a", "b"]\n'
        'config-settings = "k=v"\nbuild-frontend = "default"\n',
    )
    second = _settings(
        tmp_path,
        '[tool.cibuildwheel.linux]\nenvironment = { CFLAGS = "-O2 -g", PATH = "${PATH}:/x" }\n'
        'test-requires = ["pytest", "numpy"]\nbefore-all = "a && b"\n'
        'config-settings = { k = "v" }\nbuild-frontend = { name = "build" }\n',
    )
    assert first == second
    assert digest(first) == digest(second)


def test_any_change_changes_the_hash(tmp_path: Path) -> None:
    base = _settings(tmp_path, "")
    changes = [
        replace(base, before_all="yum install -y zlib-devel"),
        replace(base, test_command="pytest", run_tests=True),
        replace(base, test_requires=("pytest",)),
        replace(base, environment_pass=("CI",)),
        replace(base, build_frontend=BuildFrontend("pip")),
        replace(base, config_settings=(("k", "v"),)),
    ]
    changes.append(_settings(tmp_path, '[tool.cibuildwheel]\nenvironment = "A=1"\n'))
    hashes = {digest(base), *(digest(c) for c in changes)}
    assert len(hashes) == len(changes) + 1
    # The image the project asks for is not hashed: the job runs in the fleet's builder
    # image, whose ID is one of the job's inputs.
    image = '[tool.cibuildwheel]\nmanylinux-x86_64-image = "manylinux2014"\n'
    assert digest(_settings(tmp_path, image)) == digest(base)


def test_the_hash_ignores_what_does_not_change_the_job(tmp_path: Path) -> None:
    quiet = _settings(tmp_path, "[tool.cibuildwheel]\nbuild-verbosity = 3\n")
    macos = _settings(tmp_path, '[tool.cibuildwheel.macos]\nbefore-all = "brew install x"\n')
    assert digest(quiet) == digest(macos) == digest(_settings(tmp_path, ""))


def test_job_hash_differs_per_override(tmp_path: Path) -> None:
    text = '[[tool.cibuildwheel.overrides]]\nselect = "*aarch64"\nenvironment = "ARM=1"\n'
    x86 = _settings(tmp_path, text)
    arm = _settings(tmp_path, text, "cp312-manylinux_aarch64")
    other_x86 = _settings(tmp_path, text, "cp313-manylinux_x86_64")
    assert digest(x86) != digest(arm)
    assert digest(x86) == digest(other_x86)
