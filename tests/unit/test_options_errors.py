"""Invalid values stop with an error naming key, file and accepted values; the rest are warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelfleet.identifiers import Identifier
from wheelfleet.options import (
    Capabilities,
    OptionsError,
    OptionWarning,
    load,
)

FLEET = Capabilities(
    archs=("x86_64",), pythons=("cp38", "cp311", "cp312"), native_archs=("x86_64",)
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str, **kwargs: object) -> OptionsError:
    path = _write(tmp_path, text)
    with pytest.raises(OptionsError) as info:
        load(path, **kwargs)  # type: ignore[arg-type]
    return info.value


# --------------------------------------------------------------------------- errors


def test_unknown_arch_lists_the_valid_names(tmp_path: Path) -> None:
    error = _error(tmp_path, '[tool.cibuildwheel.linux]\narchs = ["x86_64", "sparc"]\n')
    assert error.key == "archs"
    assert error.origin == f"{tmp_path / 'pyproject.toml'} [tool.cibuildwheel.linux]"
    assert error.accepted == (
        "x86_64",
        "i686",
        "aarch64",
        "armv7l",
        "ppc64le",
        "s390x",
        "riscv64",
        "auto",
        "auto64",
        "auto32",
        "native",
        "all",
    )
    message = str(error)
    assert "pyproject.toml [tool.cibuildwheel.linux]: archs = ['x86_64', 'sparc']" in message
    assert "'sparc' is not a Linux architecture" in message
    assert "accepted: x86_64, i686, aarch64, armv7l, ppc64le, s390x, riscv64, auto" in message


def test_unknown_frontend_lists_the_frontends(tmp_path: Path) -> None:
    error = _error(tmp_path, '[tool.cibuildwheel]\nbuild-frontend = "poetry"\n')
    assert error.key == "build-frontend"
    assert error.accepted == ("build", "build[uv]", "pip", "uv")
    assert "'poetry' is not a build frontend" in str(error)
    assert "[tool.cibuildwheel]" in str(error)


@pytest.mark.parametrize(
    ("toml", "key", "words", "accepted"),
    [
        (
            'build-frontend = { name = "build", argz = ["-n"] }',
            "build-frontend",
            "expected a table with 'name' and optional 'args'",
            ("build", "build[uv]", "pip", "uv"),
        ),
        (
            'build-frontend = "pip; flags: -v"',
            "build-frontend",
            "expected 'NAME' or 'NAME; args: ARGS'",
            ("build", "build[uv]", "pip", "uv"),
        ),
        (
            'enable = ["cpython-freethreading", "pypi"]',
            "enable",
            "'pypi' is not an enable group",
            (
                "cpython-experimental-riscv64",
                "cpython-freethreading",
                "cpython-prerelease",
                "graalpy",
                "pypy",
                "pypy-eol",
                "pyodide-prerelease",
                "pyodide-eol",
                "all",
            ),
        ),
        (
            'manylinux-armv7l-image = "manylinux_2_28"',
            "manylinux-armv7l-image",
            "manylinux_2_28 has no official image for armv7l",
            ("manylinux_2_31", "manylinux_2_35", "an image reference such as registry/name:tag"),
        ),
        (
            'manylinux-x86_64-image = "manylinux2010"',
            "manylinux-x86_64-image",
            "manylinux2010 has no official image for x86_64",
            (
                "manylinux2014",
                "manylinux_2_28",
                "manylinux_2_34",
                "an image reference such as registry/name:tag",
            ),
        ),
        (
            'environment = "CFLAGS=\'-O2"',
            "environment",
            "unterminated single quote",
            ("NAME=value pairs separated by spaces", "a table of NAME = value"),
        ),
        (
            'config-settings = "--build-option"',
            "config-settings",
            "'--build-option' is not KEY=VALUE",
            ("KEY=VALUE items separated by spaces", "a table"),
        ),
        ("test-requires = 3", "test-requires", "expected a string or a list of strings", ()),
        ("before-all = [1, 2]", "before-all", "expected a string or a list of strings", ()),
        ("environment = { N = true }", "environment", "the value of N must be a string", ()),
    ],
)
def test_invalid_values(
    tmp_path: Path, toml: str, key: str, words: str, accepted: tuple[str, ...]
) -> None:
    error = _error(tmp_path, f"[tool.cibuildwheel]\n{toml}\n")
    assert error.key == key
    assert words in str(error)
    assert error.accepted == accepted
    assert str(tmp_path / "pyproject.toml") in str(error)


def test_inherit_rules_are_checked(tmp_path: Path) -> None:
    error = _error(
        tmp_path,
        '[[tool.cibuildwheel.overrides]]\nselect = "*"\ninherit.environment = "merge"\n'
        'environment = "A=1"\n',
    )
    assert error.key == "inherit.environment"
    assert error.accepted == ("none", "append", "prepend")
    assert "[[tool.cibuildwheel.overrides]] #1 (select = '*')" in error.origin


def test_only_lists_tables_and_commands_inherit(tmp_path: Path) -> None:
    error = _error(
        tmp_path,
        '[[tool.cibuildwheel.overrides]]\nselect = "*"\ninherit.build-frontend = "append"\n'
        'build-frontend = "pip"\n',
    )
    assert error.key == "inherit.build-frontend"
    assert "cannot inherit" in str(error)
    assert "environment" in error.accepted and "test-command" in error.accepted


def test_an_override_needs_select(tmp_path: Path) -> None:
    error = _error(tmp_path, '[[tool.cibuildwheel.overrides]]\ntest-command = "pytest"\n')
    assert error.key == "select"
    assert error.origin.endswith("[[tool.cibuildwheel.overrides]] #1")
    error = _error(tmp_path, '[[tool.wheelfleet.overrides]]\nselect = ""\nbefore-all = "x"\n')
    assert error.key == "select"
    assert "[[tool.wheelfleet.overrides]] #1" in error.origin


def test_requires_python_must_be_a_specifier(tmp_path: Path) -> None:
    error = _error(tmp_path, '[project]\nrequires-python = "3.9+"\n')
    assert error.key == "requires-python"
    assert error.origin.endswith("[project]")
    assert error.accepted == ("a PEP 440 specifier set such as '>=3.9'",)


def test_toml_syntax_errors_name_the_file(tmp_path: Path) -> None:
    error = _error(tmp_path, "[tool.cibuildwheel\nskip = 1\n")
    assert error.key == "pyproject.toml"
    assert "not valid TOML" in str(error) and "line 1" in str(error)


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(OptionsError, match="file not found"):
        load(tmp_path / "cibw.toml")
    # A directory without pyproject.toml is a project with no configuration: defaults.
    assert load(tmp_path).path is None


def test_environment_variables_are_checked_too(tmp_path: Path) -> None:
    error = _error(tmp_path, "", environ={"CIBW_ARCHS_LINUX": "x86_64 mips"})
    assert error.key == "archs"
    assert error.origin == "environment variable CIBW_ARCHS_LINUX"


def test_explicit_overrides_are_checked(tmp_path: Path) -> None:
    error = _error(tmp_path, "", overrides={"test_comand": "pytest"})
    assert error.origin == "explicit overrides"
    assert "did you mean 'test-command'?" in str(error)
    assert "test-command" in error.accepted and "image" in error.accepted
    error = _error(tmp_path, "", overrides={"container_engine": "podman"})
    assert "not an option wheelfleet applies" in str(error)
    error = _error(tmp_path, "", overrides={"repair_wheel_command": "my-repair {wheel}"})
    assert error.key == "repair_wheel_command"
    assert "repair-wheel-command" not in error.accepted
    error = _error(tmp_path, "", overrides={"build_frontend": "flit"})
    assert error.key == "build-frontend"


def test_image_tables_are_checked(tmp_path: Path) -> None:
    error = _error(tmp_path, '[tool.wheelfleet]\nimage = { sparc = "x" }\n')
    assert error.key == "image.sparc"
    assert error.accepted[0] == "x86_64"
    error = _error(
        tmp_path,
        '[tool.wheelfleet]\nmanylinux-aarch64-image = "a:1"\nimage = { aarch64 = "b:2" }\n',
    )
    assert error.key == "manylinux-aarch64-image"
    assert "set twice in this table" in str(error)
    error = _error(tmp_path, '[tool.wheelfleet]\nimage = "fleet:1"\n')
    assert "expected a table of architecture = image" in str(error)


# --------------------------------------------------------------------------- warnings


def test_other_platform_sections_are_recognized_not_applied(tmp_path: Path) -> None:
    text = "".join(
        f'[tool.cibuildwheel.{platform}]\ntest-command = "x"\n'
        for platform in ("macos", "windows", "ios", "android", "pyodide")
    )
    config = load(_write(tmp_path, text))
    assert [(w.code, w.key) for w in config.warnings] == [
        ("other-platform", platform)
        for platform in ("macos", "windows", "ios", "android", "pyodide")
    ]
    assert config.settings(Identifier("cp312", "x86_64")).test_command == ""


def test_repair_wheel_command_is_warned_about_only_when_it_differs(tmp_path: Path) -> None:
    same = load(
        _write(
            tmp_path,
            '[tool.cibuildwheel.linux]\nrepair-wheel-command = "auditwheel  repair'
            ' -w {dest_dir} {wheel}"\n',
        )
    )
    assert same.warnings == ()
    differs = load(
        _write(
            tmp_path,
            "[tool.cibuildwheel.linux]\nrepair-wheel-command = ["
            '"auditwheel repair --exclude libcuda.so.1 -w {dest_dir} {wheel}",'
            ' "pipx run abi3audit --strict {wheel}"]\n',
        )
    )
    (warning,) = differs.warnings
    assert (warning.code, warning.key) == ("not-applied", "repair-wheel-command")
    assert "auditwheel module" in warning.message
    from_env = load(
        _write(tmp_path, ""), environ={"CIBW_REPAIR_WHEEL_COMMAND_LINUX": "my-repair {wheel}"}
    )
    assert [w.key for w in from_env.warnings] == ["repair-wheel-command"]


def test_keys_wheelfleet_does_not_apply(tmp_path: Path) -> None:
    config = load(
        _write(
            tmp_path,
            """
[tool.cibuildwheel]
container-engine = { name = "docker", create-args = ["--gpus", "all"] }
build-verbosity = 3
audit-command = "twine check {wheel}"
musllinux-x86_64-image = "musllinux_1_2"
manylinux-pypy_x86_64-image = "manylinux2014"
enable = ["pypy", "cpython-prerelease"]
dependency-versions = "latest"
xbuild-tools = ["cmake"]
""",
        )
    )
    assert [(w.code, w.key) for w in config.warnings] == [
        ("not-applied", "container-engine"),
        ("not-applied", "build-verbosity"),
        ("not-applied", "audit-command"),
        ("not-applied", "musllinux-x86_64-image"),
        ("not-applied", "manylinux-pypy_x86_64-image"),
        ("not-applied", "enable"),
    ]
    assert "musllinux" in config.warnings[3].message
    assert "'pypy'" in config.warnings[5].message
    # The groups that matter still apply.
    assert "cpython-prerelease" in config.selection().enable


def test_unknown_keys_are_named_with_their_file(tmp_path: Path) -> None:
    config = load(
        _write(
            tmp_path,
            '[tool.cibuildwheel]\nbefore_all = "x"\n[tool.cibuildwheel.linux]\ncolor = "red"\n'
            "[tool.wheelfleet]\nhosts = 3\n",
        )
    )
    assert [(w.code, w.key, w.origin.rsplit(" ", 1)[-1]) for w in config.warnings] == [
        ("unknown-key", "before_all", "[tool.cibuildwheel]"),
        ("unknown-key", "color", "[tool.cibuildwheel.linux]"),
        ("unknown-key", "hosts", "[tool.wheelfleet]"),
    ]
    assert config.warnings[0].message.endswith("did you mean 'before-all'?")
    assert str(config.warnings[1]).startswith(str(tmp_path / "pyproject.toml"))


def test_whole_run_options_in_overrides_are_ignored_with_a_warning(tmp_path: Path) -> None:
    config = load(
        _write(
            tmp_path,
            '[[tool.cibuildwheel.overrides]]\nselect = "cp311-*"\nskip = "cp311-*"\n'
            'test-skip = "*"\narchs = "all"\n',
        )
    )
    assert [(w.code, w.key) for w in config.warnings] == [
        ("not-overridable", "skip"),
        ("not-overridable", "test-skip"),
        ("not-overridable", "archs"),
    ]
    assert config.selection()(Identifier("cp311", "x86_64"))


def test_environment_variable_warnings(tmp_path: Path) -> None:
    config = load(
        _write(tmp_path, ""),
        environ={
            "CIBW_BEFORE_ALL_MACOS": "brew install x",  # another platform: silently not ours
            "CIBW_TEST_COMAND": "pytest",  # a typo
            "CIBW_BUILD_VERBOSITY": "1",
            "CIBW_PLATFORM": "linux",
            "HOME": "/root",
        },
    )
    assert [(w.code, w.key, w.origin) for w in config.warnings] == [
        ("not-applied", "build-verbosity", "environment variable CIBW_BUILD_VERBOSITY"),
        ("unknown-key", "CIBW_TEST_COMAND", "environment"),
    ]


def test_deprecated_free_threaded_support(tmp_path: Path) -> None:
    config = load(_write(tmp_path, "[tool.cibuildwheel]\nfree-threaded-support = true\n"))
    assert [(w.code, w.key) for w in config.warnings] == [("deprecated", "free-threaded-support")]
    assert config.selection()(Identifier("cp313t", "x86_64"))


def test_cp38_is_never_selected_even_where_an_image_has_it(tmp_path: Path) -> None:
    # cibuildwheel 4 no longer lists cp38: neither does a plan, whatever the images provide.
    result = load(_write(tmp_path, "")).resolve(FLEET)
    assert [str(job.identifier) for job in result.jobs] == [
        "cp311-manylinux_x86_64",
        "cp312-manylinux_x86_64",
    ]
    assert not any("cp38" in item.subject for item in result.unavailable)
    assert result.warnings == ()


def test_warnings_are_data_not_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = load(_write(tmp_path, '[tool.cibuildwheel.macos]\narchs = "arm64"\nunknown = 1\n'))
    assert all(isinstance(w, OptionWarning) for w in config.warnings)
    assert config.warnings[0].to_dict()["code"] == "other-platform"
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
