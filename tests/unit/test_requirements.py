"""src/wheelfleet/requirements.py: the controller's pip download for a target platform."""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import pytest

from wheelfleet import requirements


def test_python_targets() -> None:
    assert requirements.python_target("cp311-cp311") == {
        "implementation": "cp",
        "python_version": "3.11",
        "abi": "cp311",
    }
    assert requirements.python_target("cp313-cp313t")["abi"] == "cp313t"
    with pytest.raises(requirements.RequirementsError, match="cp311-cp311"):
        requirements.python_target("py3")


def test_platforms_cover_every_policy_the_glibc_allows() -> None:
    platforms = requirements.pip_platforms("arm64", "2.36")
    assert platforms[0] == "manylinux_2_36_aarch64"
    assert platforms[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert len(platforms) == 36 - 17 + 1 + 1
    assert requirements.glibc_from_plat("manylinux_2_36_x86_64") == "2.36"
    assert requirements.glibc_from_plat("manylinux2014_x86_64") == "2.17"
    assert requirements.glibc_from_plat(None) is None


def test_download_command_targets_the_platform_and_wheels_only() -> None:
    argv = requirements.download_command(
        ["setuptools>=61", "pytest", "setuptools>=61"],
        "x86_64",
        "cp311-cp311",
        "2.28",
        "/d",
        python="/py",
        pip_args=["--index-url", "https://mirror/simple"],
    )
    assert argv[:4] == ["/py", "-m", "pip", "download"]
    assert "--only-binary=:all:" in argv
    assert argv[argv.index("--python-version") + 1] == "3.11"
    assert argv[argv.index("--abi") + 1] == "cp311"
    assert argv[argv.index("--implementation") + 1] == "cp"
    assert "manylinux_2_28_x86_64" in argv and "manylinux2014_x86_64" in argv
    assert argv[-2:] == ["pytest", "setuptools>=61"]
    assert argv[argv.index("--index-url") + 1] == "https://mirror/simple"


def test_cache_key_depends_on_the_set_not_its_order() -> None:
    key = requirements.cache_key(["b", "a"], "x86_64", "cp311-cp311", "2.36")
    assert key == requirements.cache_key(["a", " b", "a"], "amd64", "cp311-cp311", "2.36")
    assert key != requirements.cache_key(["a", "b"], "aarch64", "cp311-cp311", "2.36")
    assert key != requirements.cache_key(["a", "b"], "x86_64", "cp312-cp312", "2.36")
    assert key != requirements.cache_key(["a"], "x86_64", "cp311-cp311", "2.36")


def fake_pip(tmp_path: Path, calls: Path) -> str:
    """A stand-in for `python -m pip download` that records its calls and writes one wheel."""
    script = tmp_path / "fakepython"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {calls}\n'
        'while [ "$1" != "--dest" ]; do shift; done\n'
        'touch "$2/setuptools-80.0.0-py3-none-any.whl"\n'
    )
    script.chmod(0o755)
    return str(script)


def test_ensure_downloads_once_then_uses_the_cache(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    python = fake_pip(tmp_path, calls)
    first = requirements.ensure(
        ["setuptools>=61"], "x86_64", "cp311-cp311", "2.36", tmp_path / "cache", python=python
    )
    assert first["changed"] is True
    assert first["files"] == ["setuptools-80.0.0-py3-none-any.whl"]
    with tarfile.open(first["archive"]) as archive:
        assert archive.getnames() == ["wheelhouse", "wheelhouse/setuptools-80.0.0-py3-none-any.whl"]
    second = requirements.ensure(
        ["setuptools>=61"], "x86_64", "cp311-cp311", "2.36", tmp_path / "cache", python=python
    )
    assert second["changed"] is False
    assert second["key"] == first["key"]
    assert len(calls.read_text().splitlines()) == 1


def test_check_mode_downloads_nothing(tmp_path: Path) -> None:
    result = requirements.ensure(
        ["setuptools"], "x86_64", "cp311-cp311", "2.36", tmp_path / "c", download=False
    )
    assert result["changed"] is True
    assert not Path(result["path"]).exists()


def test_index_source_makes_an_empty_wheelhouse(tmp_path: Path) -> None:
    result = requirements.ensure(
        ["setuptools"],
        "x86_64",
        "cp311-cp311",
        "2.36",
        tmp_path / "c",
        source="index",
        python="/nonexistent",
    )
    assert result["files"] == []
    assert Path(result["archive"]).is_file()


def test_failed_download_explains_and_leaves_no_cache(tmp_path: Path) -> None:
    with pytest.raises(requirements.RequirementsError) as caught:
        requirements.ensure(
            ["surely-no-such-project-wheelfleet==0"],
            "x86_64",
            "cp311-cp311",
            "2.36",
            tmp_path / "c",
            python=sys.executable,
            pip_args=["--no-index", "--find-links", str(tmp_path)],
        )
    message = str(caught.value)
    assert "surely-no-such-project-wheelfleet" in message
    assert "wheel_build_requirements_source: index" in message
    assert not list((tmp_path / "c" / "requirements").glob("*.tar"))
    assert [p.name for p in (tmp_path / "c" / "requirements").iterdir() if p.is_dir()] == []
