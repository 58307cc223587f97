"""Selection equals cibuildwheel's, checked against the real cibuildwheel as an oracle.

For each configuration (a pyproject.toml and ``CIBW_*`` variables), cibuildwheel
4.3.5 (a test dependency) runs as a subprocess with ``--print-build-identifiers
--platform linux``; it needs no network and no container. Its CPython manylinux
identifiers (wheelfleet builds no PyPy, GraalPy or musllinux) must be exactly the
jobs wheelfleet selects on a fleet that can build everything, with this machine's
architecture as the only native one, as cibuildwheel's ``auto`` assumes.
About 0.5 s per configuration.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from wheelfleet.architectures import ARCHITECTURES, resolve
from wheelfleet.identifiers import KNOWN_PYTHON_TAGS
from wheelfleet.options import Capabilities, cibw_environ, load

CIBUILDWHEEL_VERSION = "4.3.5"
NATIVE = resolve(platform.machine()).name
EVERYTHING = Capabilities(
    archs=tuple(ARCHITECTURES), pythons=KNOWN_PYTHON_TAGS, native_archs=(NATIVE,)
)
PROJECT = '[project]\nname = "parity"\nversion = "1.0"\n'

CONFIGURATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "defaults": ("", {}),
    "build and skip selectors": (
        '[tool.cibuildwheel]\nbuild = "cp31*-*"\nskip = "*t-* cp310-*"\n',
        {},
    ),
    "brace expansion over every arch": (
        '[tool.cibuildwheel]\narchs = "all"\nbuild = ["cp3{10..13}-*_{x86_64,aarch64}"]\n',
        {},
    ),
    "requires-python": ('requires-python = ">=3.11"\n', {}),
    "enable prerelease": (
        '[tool.cibuildwheel]\nenable = ["cpython-prerelease"]\nbuild = "cp315*"\n',
        {},
    ),
    "enable all": ('[tool.cibuildwheel]\nenable = "all"\narchs = "aarch64 ppc64le"\n', {}),
    "archs all": ('[tool.cibuildwheel.linux]\narchs = "all"\n', {}),
    "archs auto32 and auto64": ('[tool.cibuildwheel]\narchs = ["auto32", "auto64"]\n', {}),
    "CIBW_ARCHS": ("", {"CIBW_ARCHS": "x86_64 aarch64"}),
    "CIBW_ARCHS_LINUX over the table and CIBW_ARCHS": (
        '[tool.cibuildwheel.linux]\narchs = "s390x"\n',
        {"CIBW_ARCHS": "x86_64", "CIBW_ARCHS_LINUX": "riscv64 armv7l"},
    ),
    "CIBW_BUILD and CIBW_SKIP over the table": (
        '[tool.cibuildwheel]\nbuild = "cp39-*"\narchs = "all"\n',
        {"CIBW_BUILD": "cp312-* cp314t-*", "CIBW_SKIP": "*-manylinux_{i686,s390x}"},
    ),
    "CIBW_PROJECT_REQUIRES_PYTHON over the project": (
        'requires-python = ">=3.9"\n',
        {"CIBW_PROJECT_REQUIRES_PYTHON": ">=3.13,<3.15"},
    ),
    "CIBW_ENABLE adds to the table": (
        '[tool.cibuildwheel]\nenable = ["pypy"]\n',
        {"CIBW_ENABLE": "cpython-prerelease graalpy"},
    ),
    "overrides do not select": (
        '[tool.cibuildwheel]\nskip = "cp39-*"\n'
        '[[tool.cibuildwheel.overrides]]\nselect = "cp31*"\ntest-command = "true"\n',
        {},
    ),
}


def pyproject(text: str) -> str:
    """The configuration after a [project] table; lines before its first table go in it."""
    return PROJECT + text


def cibuildwheel_selects(project: Path, variables: dict[str, str]) -> set[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    run = subprocess.run(
        [sys.executable, "-m", "cibuildwheel", "--print-build-identifiers", "--platform", "linux"],
        cwd=project,
        env={**environ, **variables},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return {
        line.strip()
        for line in run.stdout.splitlines()
        if line.startswith("cp") and "-manylinux_" in line
    }


def test_the_oracle_is_the_pinned_cibuildwheel() -> None:
    assert metadata.version("cibuildwheel") == CIBUILDWHEEL_VERSION


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_selection_is_cibuildwheels(name: str, tmp_path: Path) -> None:
    text, variables = CONFIGURATIONS[name]
    (tmp_path / "pyproject.toml").write_text(pyproject(text))
    expected = cibuildwheel_selects(tmp_path, variables)
    # The process environment as the commands give it: only CIBW_* names are read.
    environ = cibw_environ({**variables, "HOME": "/root", "TWINE_PASSWORD": "not read"})
    result = load(tmp_path, environ=environ).resolve(EVERYTHING)
    selected = {str(job.identifier) for job in result.jobs}
    assert selected == expected
    assert result.unavailable == ()


def test_the_default_selection_is_cp39_to_cp315t_without_cp38(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    result = load(tmp_path, environ={}).resolve(EVERYTHING)
    assert [job.identifier.python for job in result.jobs] == [
        "cp39",
        "cp310",
        "cp311",
        "cp312",
        "cp313",
        "cp314",
        "cp314t",
        "cp315",
        "cp315t",
    ]


def test_cibw_environ_keeps_only_cibuildwheel_names() -> None:
    given = {"CIBW_ARCHS": "aarch64", "PATH": "/bin", "TWINE_PASSWORD": "secret", "CIBWX": "1"}
    assert cibw_environ(given) == {"CIBW_ARCHS": "aarch64"}


def test_a_value_names_the_variable_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT + '[tool.cibuildwheel]\narchs = "s390x"\n')
    result = load(tmp_path, environ={"CIBW_ARCHS": "x86_64 aarch64"}).resolve(EVERYTHING)
    assert (result.archs, result.archs_origin) == (("x86_64", "aarch64"), "CIBW_ARCHS")
    linux = load(tmp_path, environ={"CIBW_ARCHS": "x86_64", "CIBW_ARCHS_LINUX": "aarch64"})
    assert linux.value("archs") == (("aarch64",), "CIBW_ARCHS_LINUX")
