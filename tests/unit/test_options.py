"""The options layer on realistic projects: what each selects, with which settings, and why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelfleet.environment import evaluate
from wheelfleet.identifiers import KNOWN_PYTHON_TAGS
from wheelfleet.options import (
    BuildFrontend,
    Capabilities,
    ResolvedOptions,
    load,
    resolve,
)

PYPROJECTS = Path(__file__).parent / "pyprojects"
PYTHONS = (
    "cp39",
    "cp310",
    "cp311",
    "cp312",
    "cp313",
    "cp313t",
    "cp314",
    "cp314t",
    "cp315",
    "cp315t",
)
# A small fleet: an x86_64 host that also emulates aarch64.
FLEET = Capabilities(archs=("x86_64", "aarch64"), pythons=PYTHONS, native_archs=("x86_64",))


def _ids(result: ResolvedOptions) -> list[str]:
    return [str(job.identifier) for job in result.jobs]


def _accounted_for(result: ResolvedOptions) -> None:
    """Every identifier on a requested architecture is a job, unavailable, or excluded: once."""
    fates: dict[str, str] = {}
    for job in result.jobs:
        fates[str(job.identifier)] = "job"
    for item in result.unavailable:
        for identifier in item.identifiers:
            assert identifier not in fates, identifier
            fates[identifier] = "unavailable"
    for excluded in result.excluded:
        assert excluded.identifier not in fates, excluded.identifier
        fates[excluded.identifier] = "excluded"
    expected = {f"{py}-manylinux_{arch}" for arch in result.archs for py in KNOWN_PYTHON_TAGS}
    assert set(fates) >= expected


# --------------------------------------------------------------------------- libyaml binding


def test_libyaml_binding_builds_the_native_arch_with_its_linux_settings() -> None:
    result = resolve(PYPROJECTS / "libyaml_binding.toml", FLEET)
    # archs defaults to auto: the build hosts' own architecture, as on a CI runner.
    assert result.archs == ("x86_64",)
    assert result.archs_origin == "defaults"
    assert _ids(result) == [f"{py}-manylinux_x86_64" for py in PYTHONS if py != "cp313t"]
    settings = result.job("cp312-manylinux_x86_64").settings
    assert settings.before_all == "yum install -y libyaml-devel"
    assert [str(a) for a in settings.environment] == ['YAMLBIND_WITH_LIBYAML="1"']
    assert settings.test_command == "python -m pytest {project}/tests -q"
    assert settings.test_requires == ("pytest>=8",)
    assert settings.run_tests
    assert settings.build_frontend == BuildFrontend("build")
    assert settings.image.value == "manylinux2014"
    assert settings.image.reference == "quay.io/pypa/manylinux2014_x86_64"
    _accounted_for(result)


def test_libyaml_binding_on_an_aarch64_host() -> None:
    fleet = Capabilities(archs=("aarch64",), pythons=PYTHONS, native_archs=("aarch64",))
    result = resolve(PYPROJECTS / "libyaml_binding.toml", fleet)
    assert result.archs == ("aarch64",)
    image = result.job("cp313-manylinux_aarch64").settings.image
    assert (image.policy, image.reference) == (
        "manylinux2014",
        "quay.io/pypa/manylinux2014_aarch64",
    )


def test_libyaml_binding_warns_about_what_it_does_not_apply() -> None:
    result = resolve(PYPROJECTS / "libyaml_binding.toml", FLEET)
    assert [(w.code, w.key) for w in result.warnings] == [
        ("other-platform", "macos"),
        ("other-platform", "windows"),
        ("not-applied", "build-verbosity"),
    ]
    macos = result.warnings[0]
    assert macos.origin.endswith("libyaml_binding.toml [tool.cibuildwheel.macos]")


# --------------------------------------------------------------------------- archs beyond the fleet


def test_archs_beyond_the_fleet_are_reported_with_the_reason() -> None:
    path = PYPROJECTS / "xml_static_deps.toml"
    result = resolve(path, FLEET)
    assert result.archs == ("x86_64", "aarch64", "i686", "ppc64le", "s390x")
    assert {job.identifier.arch for job in result.jobs} == {"x86_64", "aarch64"}
    by_subject = {item.subject: item for item in result.unavailable}
    for arch in ("i686", "ppc64le", "s390x"):
        item = by_subject[arch]
        assert item.kind == "arch"
        assert item.reason == (
            f"archs (from {path} [tool.cibuildwheel.linux]) lists {arch} but no build host or"
            " image provides it (the fleet builds for: x86_64, aarch64)"
        )
        # The identifiers that would have been built there are listed, none forgotten.
        assert item.identifiers == tuple(
            f"{py}-manylinux_{arch}" for py in PYTHONS if py != "cp313t"
        )
    # requires-python allows 3.8, but cibuildwheel 4 builds no 3.8: it is not selected at all.
    assert "cp38-manylinux_x86_64" not in by_subject
    _accounted_for(result)


def test_xml_static_deps_override_replaces_the_environment_on_aarch64() -> None:
    result = resolve(PYPROJECTS / "xml_static_deps.toml", FLEET)
    x86 = evaluate(result.job("cp312-manylinux_x86_64").settings.environment, {})
    arm = evaluate(result.job("cp312-manylinux_aarch64").settings.environment, {})
    # The linux table replaces the base table's environment (no inherit), the override replaces
    # the linux table's on aarch64.
    assert x86["CFLAGS"] == "-O3 -g1 -pipe -fPIC -flto -march=core2"
    assert x86["LIBXML2_VERSION"] == "2.13.5"
    assert arm["CFLAGS"].endswith("-march=armv8-a -mtune=cortex-a72")
    assert "LIBXML2_VERSION" not in arm
    assert [w.key for w in result.warnings if w.code == "not-applied"] == [
        "build-verbosity",
        "repair-wheel-command",
    ]


def test_a_fleet_with_every_arch_builds_them_all() -> None:
    fleet = Capabilities(
        archs=("x86_64", "aarch64", "i686", "ppc64le", "s390x"),
        pythons=("cp38", *PYTHONS),
        native_archs=("x86_64", "aarch64"),
    )
    result = resolve(PYPROJECTS / "xml_static_deps.toml", fleet)
    assert result.unavailable == ()
    # cp39..cp315t without cp313t (9 tags), on five archs: the images' cp38 is not selected.
    assert len(result.jobs) == 5 * 9
    assert not any(job.identifier.python == "cp38" for job in result.jobs)


# --------------------------------------------------------------------------- meson project


def test_meson_project_settings() -> None:
    result = resolve(PYPROJECTS / "meson_numeric.toml", FLEET)
    # requires-python >=3.11; free-threaded 3.13 opted in; i686/ppc64le/s390x skipped.
    assert _ids(result) == [
        "cp311-manylinux_x86_64",
        "cp312-manylinux_x86_64",
        "cp313-manylinux_x86_64",
        "cp313t-manylinux_x86_64",
        "cp314-manylinux_x86_64",
        "cp314t-manylinux_x86_64",
        "cp315-manylinux_x86_64",
        "cp315t-manylinux_x86_64",
    ]
    settings = result.job("cp313t-manylinux_x86_64").settings
    assert settings.before_build == "bash {project}/tools/wheels/cibw_before_build.sh {project}"
    assert settings.config_settings == (
        ("setup-args", "-Duse-ilp64=true"),
        ("setup-args", "-Dallow-noblas=false"),
        ("build-dir", "build"),
    )
    assert settings.environment_pass == ("RUNNER_OS",)
    assert settings.test_requires == ("pytest", "hypothesis", "pytest-run-parallel")
    assert result.job("cp313-manylinux_x86_64").settings.test_requires == ("pytest", "hypothesis")
    # cp313t comes from the legacy cpython-freethreading group, which cibuildwheel 4 refuses.
    assert [(w.code, w.key) for w in result.warnings] == [
        ("other-platform", "pyodide"),
        ("deprecated", "enable"),
    ]


def test_meson_project_appends_environment_on_aarch64() -> None:
    fleet = Capabilities(archs=("aarch64",), pythons=PYTHONS, native_archs=("aarch64",))
    result = resolve(PYPROJECTS / "meson_numeric.toml", fleet)
    environment = evaluate(result.job("cp312-manylinux_aarch64").settings.environment, {})
    assert environment == {
        "RUNNER_OS": "Linux",
        "PKG_CONFIG_PATH": "/project/.openblas",
        "OPENBLAS_CORETYPE": "ARMV8",
    }


# --------------------------------------------------------------------------- zlib + Cython


def test_zlib_project_builds_auto_plus_emulated_aarch64() -> None:
    result = resolve(PYPROJECTS / "zlib_cython.toml", FLEET)
    assert result.archs == ("x86_64", "aarch64")
    assert _ids(result) == [
        f"cp3{minor}-manylinux_{arch}" for arch in ("x86_64", "aarch64") for minor in range(9, 14)
    ]
    x86 = result.job("cp311-manylinux_x86_64").settings
    arm = result.job("cp311-manylinux_aarch64").settings
    assert x86.build_frontend == BuildFrontend("pip", ("--no-build-isolation",))
    assert x86.before_all == "yum install -y zlib-devel && echo zlib installed"
    assert x86.before_build == "pip install cython setuptools"
    assert x86.test_command == ("python -c 'import zcompress' && python {package}/tests/smoke.py")
    assert x86.test_sources == ("tests", "data/sample.gz")
    # test-skip keeps the emulated aarch64 builds from running their tests.
    assert x86.run_tests and not arm.run_tests
    assert arm.test_command == x86.test_command
    # The musllinux override never applies: wheelfleet has no musllinux identifiers.
    assert arm.before_all == x86.before_all
    assert result.warnings == ()


# --------------------------------------------------------------------------- every key


@pytest.fixture(scope="module")
def everything() -> ResolvedOptions:
    return resolve(PYPROJECTS / "fleet_everything.toml", FLEET)


def test_everything_selection(everything: ResolvedOptions) -> None:
    assert everything.archs == ("x86_64", "aarch64", "riscv64")
    assert _ids(everything) == [
        f"{py}-manylinux_{arch}"
        for arch in ("x86_64", "aarch64")
        for py in ("cp311", "cp312", "cp313", "cp314t")
    ]
    (riscv,) = everything.unavailable
    assert riscv.subject == "riscv64"
    assert riscv.identifiers == tuple(
        f"{py}-manylinux_riscv64" for py in ("cp311", "cp312", "cp313", "cp314t")
    )
    _accounted_for(everything)


def test_everything_base_settings(everything: ResolvedOptions) -> None:
    settings = everything.job("cp314t-manylinux_x86_64").settings
    assert settings.before_all == "dnf install -y zlib-devel && make -C third_party"
    assert settings.before_build == "python -m pip install -r {project}/build-requirements.txt"
    assert settings.before_test == "python -m pip install -r {project}/test-requirements.txt"
    assert [str(a) for a in settings.environment] == [
        'CFLAGS="-O2 -g0"',
        'PATH="${PATH}:/opt/tools/bin"',
        'BUILD_STAMP="$(date -u +%Y%m%d)"',
    ]
    assert settings.environment[2].needs_shell
    assert settings.environment_pass == ("SOURCE_DATE_EPOCH", "GIT_SHA")
    assert settings.test_command == "pytest {project}/tests && python {package}/bench/smoke.py"
    # [tool.wheelfleet] replaces the cibuildwheel test-requires.
    assert settings.test_requires == ("pytest", "pytest-timeout", "pytest-xdist")
    assert settings.test_extras == ("test", "speedups")
    assert settings.test_groups == ("ci",)
    assert settings.test_sources == ("tests", "conftest.py")
    assert [str(a) for a in settings.test_environment] == ['PYTHONSAFEPATH="1"']
    assert settings.build_frontend == BuildFrontend(
        "build[uv]", ("--config-setting=editable-verbose=true",)
    )
    assert settings.config_settings == (
        ("cmake.build-type", "Release"),
        ("cmake.define.WITH_SIMD", "ON"),
        ("cmake.define.WITH_SIMD", "AVX2"),
    )
    assert settings.image.value == "manylinux_2_34"  # the linux table over the base table


def test_everything_overrides_stack_in_order(everything: ResolvedOptions) -> None:
    cp311 = everything.job("cp311-manylinux_x86_64").settings
    cp312 = everything.job("cp312-manylinux_x86_64").settings
    # Two overrides match cp311: prepend, then append.
    assert cp311.test_command == (
        "python -c 'print(\"first\")' && pytest {project}/tests"
        " && python {package}/bench/smoke.py && python -c 'print(\"last\")'"
    )
    assert cp312.test_command == (
        "pytest {project}/tests && python {package}/bench/smoke.py && python -c 'print(\"last\")'"
    )
    # Appended assignments apply after the base ones: CFLAGS ends as -O1, EXTRA sees it.
    values = evaluate([a for a in cp311.environment if not a.needs_shell], {"PATH": "/bin"})
    assert values["CFLAGS"] == "-O1"
    assert values["EXTRA"] == "-O1"
    assert cp311.config_settings[0] == ("cmake.define.LEGACY", "ON")
    assert cp311.build_frontend == BuildFrontend("pip")
    assert everything.job("cp313-manylinux_x86_64").settings.test_requires == (
        "pytest",
        "pytest-timeout",
        "pytest-xdist",
        "hypothesis",
    )


def test_everything_images_per_arch(everything: ResolvedOptions) -> None:
    arm = everything.job("cp312-manylinux_aarch64").settings
    # [tool.wheelfleet] image (an alias: arm64) beats manylinux-aarch64-image.
    assert arm.image.value == "fleet/manylinux_2_28-aarch64:local"
    assert arm.image.policy is None
    assert arm.before_all == "dnf install -y zlib-devel libatomic"
    config = load(PYPROJECTS / "fleet_everything.toml")
    from wheelfleet.identifiers import Identifier

    riscv = config.settings(Identifier("cp312", "riscv64"))
    assert riscv.image.reference == "quay.io/pypa/manylinux_2_39_riscv64"
    assert not riscv.run_tests  # test-skip = "*-manylinux_riscv64"


def test_everything_warnings(everything: ResolvedOptions) -> None:
    assert [(w.code, w.key) for w in everything.warnings] == [
        ("deprecated", "enable"),
        ("not-applied", "container-engine"),
        ("unknown-key", "test-extra"),
        ("not-overridable", "archs"),
    ]
    typo = everything.warnings[2]
    assert typo.message == "unknown option, ignored; did you mean 'test-extras'?"
    assert typo.origin.endswith("fleet_everything.toml [tool.cibuildwheel]")


def test_resolved_options_serialize_to_json(everything: ResolvedOptions) -> None:
    import json

    document = json.loads(json.dumps(everything.to_dict()))
    assert document["archs"] == ["x86_64", "aarch64", "riscv64"]
    first = document["jobs"][0]
    assert first["identifier"] == "cp311-manylinux_x86_64"
    assert first["settings"] == everything.jobs[0].settings.to_dict()
    assert document["unavailable"][0]["subject"] == "riscv64"
    assert {w["code"] for w in document["warnings"]} == {
        "deprecated",
        "not-applied",
        "unknown-key",
        "not-overridable",
    }
