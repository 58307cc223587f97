"""src/wheelfleet/source.py: what counts as a project, its content hash, its archive."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from wheelfleet import source

PYPROJECT = """
[build-system]
requires = ["setuptools>=61", " cython "]
build-backend = "setuptools.build_meta"

[project]
name = "demo"
version = "2.0"
dependencies = ["packaging>=23"]

[tool.wheelfleet]
before-all = "apt-get install -y libyaml-dev"
test-requires = ["pytest"]
"""


def make_project(root: Path, pyproject: str = PYPROJECT) -> Path:
    (root / "src" / "demo").mkdir(parents=True)
    (root / "pyproject.toml").write_text(pyproject)
    (root / "src" / "demo" / "__init__.py").write_text("X = 1\n")
    (root / "src" / "demo" / "_c.c").write_text("int x;\n")
    script = root / "configure"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return root


def test_reads_build_system_config_and_metadata(tmp_path: Path) -> None:
    project, files = source.inspect(make_project(tmp_path / "demo"))
    assert project.kind == "directory"
    assert (project.name, project.version) == ("demo", "2.0")
    assert project.build_requires == ["setuptools>=61", "cython"]
    assert project.build_backend == "setuptools.build_meta"
    assert project.dependencies == ["packaging>=23"]
    assert project.build_config == {
        "tool": {
            "wheelfleet": {
                "before-all": "apt-get install -y libyaml-dev",
                "test-requires": ["pytest"],
            }
        }
    }
    assert project.pyproject_label.endswith("demo/pyproject.toml")
    assert [member.path for member in files] == [
        "configure",
        "pyproject.toml",
        "src/demo/__init__.py",
        "src/demo/_c.c",
    ]


def test_setup_py_only_project_gets_the_pep_518_defaults(tmp_path: Path) -> None:
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    project, _ = source.inspect(tmp_path / "legacy")
    assert project.build_requires == list(source.DEFAULT_BUILD_REQUIRES)
    assert project.name == "legacy"


def test_hash_ignores_times_and_excluded_files_but_not_content_or_mode(tmp_path: Path) -> None:
    root = make_project(tmp_path / "demo")
    first = source.inspect(root)[0].source_hash
    os.utime(root / "pyproject.toml", (1, 1))
    for junk in (
        ".git/HEAD",
        "build/lib/x.o",
        "dist/demo.whl",
        "src/demo.egg-info/PKG-INFO",
        "src/demo/__pycache__/x.pyc",
        ".venv/bin/python",
        "wheelhouse/a.whl",
    ):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("junk")
    assert source.inspect(root)[0].source_hash == first
    (root / "src" / "demo" / "_c.c").write_text("int y;\n")
    second = source.inspect(root)[0].source_hash
    assert second != first
    (root / "configure").chmod(0o644)
    assert source.inspect(root)[0].source_hash != second


def test_nested_build_directories_are_source(tmp_path: Path) -> None:
    root = make_project(tmp_path / "demo")
    (root / "src" / "demo" / "build").mkdir()
    (root / "src" / "demo" / "build" / "tool.py").write_text("")
    paths = [member.path for member in source.inspect(root)[1]]
    assert "src/demo/build/tool.py" in paths


def test_same_content_hashes_the_same_from_a_directory_and_its_sdist(tmp_path: Path) -> None:
    root = make_project(tmp_path / "demo-2.0")
    sdist = tmp_path / "demo-2.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(root, arcname="demo-2.0")
    from_dir, _ = source.inspect(root)
    from_sdist, _ = source.inspect(sdist)
    assert from_sdist.kind == "sdist"
    assert from_sdist.source_hash == from_dir.source_hash
    assert (from_sdist.name, from_sdist.version) == ("demo", "2.0")


def test_zip_sdist_and_pkg_info_name(tmp_path: Path) -> None:
    sdist = tmp_path / "legacy-1.5.zip"
    with zipfile.ZipFile(sdist, "w") as archive:
        archive.writestr("legacy-1.5/setup.py", "from setuptools import setup\nsetup()\n")
        archive.writestr(
            "legacy-1.5/PKG-INFO", "Metadata-Version: 2.1\nName: Legacy\nVersion: 1.5\n"
        )
    project, _ = source.inspect(sdist)
    assert (project.name, project.version) == ("Legacy", "1.5")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nowhere", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "neither pyproject.toml nor setup.py"),
        (lambda p: (p / "notes.txt").write_text("x") and p / "notes.txt", "neither a project"),
    ],
    ids=["missing", "not-a-project", "not-an-sdist"],
)
def test_refuses_what_is_not_a_project(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(source.ProjectError, match=message):
        source.inspect(make(tmp_path))


def test_refuses_bad_pyproject(tmp_path: Path) -> None:
    root = make_project(tmp_path / "bad", pyproject="[build-system\nrequires = 1")
    with pytest.raises(source.ProjectError, match="not valid TOML"):
        source.inspect(root)
    # A bad build option stops here, naming the key, the file and what it accepts.
    (root / "pyproject.toml").write_text('[tool.cibuildwheel]\nbuild-frontend = "poetry"\n')
    with pytest.raises(source.ProjectError) as error:
        source.inspect(root)
    message = str(error.value)
    assert "pyproject.toml [tool.cibuildwheel]" in message and "build-frontend" in message
    assert "poetry" in message and "pip" in message


def test_archive_is_reproducible_and_unpacks_under_src(tmp_path: Path) -> None:
    root = make_project(tmp_path / "demo")
    first = source.prepare(root, tmp_path / "cache")
    assert first["changed"] is True
    data = Path(first["archive"]).read_bytes()
    os.utime(root / "pyproject.toml", (5, 5))
    Path(first["archive"]).unlink()
    again = source.prepare(root, tmp_path / "cache")
    assert Path(again["archive"]).read_bytes() == data
    assert source.prepare(root, tmp_path / "cache")["changed"] is False
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = {member.name: member for member in archive.getmembers()}
    assert members["src/configure"].mode == 0o755
    assert members["src/src/demo/_c.c"].mtime == 0
    assert "src/src/demo" in members


def test_check_only_writes_nothing(tmp_path: Path) -> None:
    root = make_project(tmp_path / "demo")
    result = source.prepare(root, tmp_path / "cache", write=False)
    assert result["changed"] is True
    assert not Path(result["archive"]).exists()


def test_wheelhouse_inside_the_project_is_excluded(tmp_path: Path) -> None:
    root = make_project(tmp_path / "demo")
    patterns = source.excludes_for(root, ["*.log"], [str(root / "out" / "wh"), "/elsewhere"])
    assert "/out/wh" in patterns and "*.log" in patterns
    (root / "out" / "wh").mkdir(parents=True)
    (root / "out" / "wh" / "x.whl").write_text("")
    (root / "out" / "keep.txt").write_text("")
    paths = [member.path for member in source.inspect(root, patterns)[1]]
    assert "out/keep.txt" in paths and "out/wh/x.whl" not in paths


def test_requires_python_falls_back_as_cibuildwheel_reads_it(tmp_path: Path) -> None:
    root = tmp_path / "legacy"
    root.mkdir()
    (root / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='x', python_requires='>=3.11')\n"
    )
    project, _ = source.inspect(root)
    assert project.requires_python == (">=3.11", f"{root}/setup.py")
    (root / "setup.cfg").write_text("[options]\npython_requires = >=3.10\n")
    assert source.inspect(root)[0].requires_python == (">=3.10", f"{root}/setup.cfg")
    (root / "setup.cfg").unlink()
    (root / "setup.py").write_text("from setuptools import setup\nsetup(name='x')\n")
    (root / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: x\nRequires-Python: >=3.12\n")
    assert source.inspect(root)[0].requires_python == (">=3.12", f"{root}/PKG-INFO")
