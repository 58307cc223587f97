"""Precedence over the four levels (explicit, [tool.wheelfleet], cibuildwheel, defaults)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelfleet.environment import evaluate
from wheelfleet.identifiers import Identifier
from wheelfleet.options import Capabilities, load

X86 = Identifier("cp312", "x86_64")
FLEET = Capabilities(
    archs=("x86_64", "aarch64", "ppc64le"),
    pythons=("cp310", "cp311", "cp312", "cp313"),
    native_archs=("x86_64",),
)

# Each level sets test-command to its own name; the TOML tables are cut from the top down.
TABLES = {
    "cibuildwheel": '[tool.cibuildwheel]\ntest-command = "cibuildwheel"\n',
    "cibuildwheel.linux": '[tool.cibuildwheel.linux]\ntest-command = "cibuildwheel.linux"\n',
    "cibuildwheel override": (
        '[[tool.cibuildwheel.overrides]]\nselect = "cp312-*"\n'
        'test-command = "cibuildwheel override"\n'
    ),
    "wheelfleet": '[tool.wheelfleet]\ntest-command = "wheelfleet"\n',
    "wheelfleet override": (
        '[[tool.wheelfleet.overrides]]\nselect = "cp312-*"\ntest-command = "wheelfleet override"\n'
    ),
}
LEVELS = [
    "defaults",
    "cibuildwheel",
    "cibuildwheel.linux",
    "cibuildwheel override",
    "CIBW_TEST_COMMAND",
    "CIBW_TEST_COMMAND_LINUX",
    "wheelfleet",
    "wheelfleet override",
    "explicit",
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("highest", LEVELS)
def test_each_level_beats_every_level_below_it(tmp_path: Path, highest: str) -> None:
    present = LEVELS[1 : LEVELS.index(highest) + 1]
    path = _write(tmp_path, "".join(TABLES[level] for level in present if level in TABLES))
    environ = {name: name for name in present if name.startswith("CIBW_")}
    overrides = {"test_command": "explicit"} if "explicit" in present else None
    config = load(path, environ=environ, overrides=overrides)
    value, origin = config.value("test-command", X86)
    expected = () if highest == "defaults" else (highest,)
    assert value == expected
    assert config.settings(X86).test_command == (expected[0] if expected else "")
    if highest.startswith("CIBW_"):
        assert origin == highest  # the variable's own name: CIBW_TEST_COMMAND
    elif highest != "defaults":
        assert highest.split()[0].split(".")[0] in origin or highest == "explicit"


def test_overrides_only_apply_to_the_identifiers_they_select(tmp_path: Path) -> None:
    path = _write(tmp_path, "".join(TABLES.values()))
    config = load(path)
    assert config.settings(X86).test_command == "wheelfleet override"
    # Another identifier falls back to [tool.wheelfleet]: the overrides do not select it.
    assert config.settings(Identifier("cp311", "x86_64")).test_command == "wheelfleet"


def test_environment_variables_are_read_only_when_passed(tmp_path: Path) -> None:
    path = _write(tmp_path, TABLES["cibuildwheel"])
    environ = {"CIBW_TEST_COMMAND": "from the environment"}
    assert load(path).settings(X86).test_command == "cibuildwheel"
    assert load(path, environ=environ).settings(X86).test_command == "from the environment"


def test_cibuildwheel_variables_sit_between_its_tables_and_wheelfleet(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[tool.cibuildwheel]\nbefore-all = "toml"\ntest-requires = "toml"\n'
        '[tool.wheelfleet]\ntest-requires = "wheelfleet"\n',
    )
    config = load(path, environ={"CIBW_BEFORE_ALL": "env", "CIBW_TEST_REQUIRES": "env"})
    settings = config.settings(X86)
    assert settings.before_all == "env"  # environment over [tool.cibuildwheel]
    assert settings.test_requires == ("wheelfleet",)  # [tool.wheelfleet] over the environment


def test_archs_precedence_and_origin(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[tool.cibuildwheel]\narchs = "aarch64"\n[tool.cibuildwheel.linux]\narchs = ["ppc64le"]\n',
    )
    assert load(path).resolve(FLEET).archs == ("ppc64le",)
    environ = {"CIBW_ARCHS": "x86_64 aarch64"}
    result = load(path, environ=environ).resolve(FLEET)
    assert result.archs == ("x86_64", "aarch64")
    assert result.archs_origin == "CIBW_ARCHS"
    environ["CIBW_ARCHS_LINUX"] = "aarch64"
    assert load(path, environ=environ).resolve(FLEET).archs == ("aarch64",)
    explicit = load(path, environ=environ, overrides={"archs": ["x86_64"]}).resolve(FLEET)
    assert explicit.archs == ("x86_64",)
    assert explicit.archs_origin == "explicit overrides"


@pytest.mark.parametrize(
    ("archs", "native", "expected"),
    [
        ("auto", ("x86_64",), ("x86_64",)),
        ("native", ("x86_64", "aarch64"), ("x86_64", "aarch64")),
        ("auto64", ("x86_64", "armv7l"), ("x86_64",)),
        ("auto32", ("x86_64",), ("i686",)),
        ("auto32", ("aarch64",), ()),  # armv7l only where the fleet can build it
        ("auto aarch64", ("x86_64",), ("x86_64", "aarch64")),
        (
            "all",
            ("x86_64",),
            ("x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"),
        ),
        ("arm64 amd64", (), ("aarch64", "x86_64")),  # aliases from the architecture table
    ],
)
def test_archs_keywords_expand_against_the_build_hosts(
    tmp_path: Path, archs: str, native: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    fleet = Capabilities(archs=("x86_64", "aarch64"), pythons=("cp312",), native_archs=native)
    path = _write(tmp_path, f'[tool.cibuildwheel]\narchs = "{archs}"\n')
    assert load(path).resolve(fleet).archs == expected


def test_auto32_on_aarch64_hosts_includes_armv7l_when_the_fleet_builds_it(tmp_path: Path) -> None:
    fleet = Capabilities(archs=("aarch64", "armv7l"), pythons=("cp312",), native_archs=("aarch64",))
    path = _write(tmp_path, '[tool.cibuildwheel]\narchs = ["auto64", "auto32"]\n')
    assert load(path).resolve(fleet).archs == ("aarch64", "armv7l")


def test_auto_with_no_known_host_is_reported_not_dropped(tmp_path: Path) -> None:
    fleet = Capabilities(archs=("x86_64",), pythons=("cp312",))
    result = load(_write(tmp_path, "")).resolve(fleet)
    assert result.jobs == ()
    (item,) = result.unavailable
    assert item.subject == "auto"
    assert "means the build hosts' own architectures" in item.reason
    assert "build hosts: none reported" in item.reason


def test_enable_from_the_environment_adds_to_the_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, '[tool.cibuildwheel]\nenable = ["cpython-prerelease"]\n')
    config = load(path, environ={"CIBW_ENABLE": "cpython-freethreading"})
    assert config.selection().enable == {"cpython-prerelease", "cpython-freethreading"}


def test_an_empty_image_falls_through_to_the_layer_below(tmp_path: Path) -> None:
    path = _write(tmp_path, '[tool.cibuildwheel]\nmanylinux-x86_64-image = "manylinux_2_34"\n')
    config = load(path, environ={"CIBW_MANYLINUX_X86_64_IMAGE": ""})
    assert config.settings(X86).image.value == "manylinux_2_34"
    config = load(path, environ={"CIBW_MANYLINUX_X86_64_IMAGE": "manylinux2014"})
    assert config.settings(X86).image.value == "manylinux2014"


def test_image_precedence_up_to_explicit(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[tool.cibuildwheel]\nmanylinux-x86_64-image = "manylinux_2_34"\n'
        '[tool.wheelfleet]\nimage = { x86_64 = "fleet/x86:1" }\n',
    )
    assert load(path).settings(X86).image.value == "fleet/x86:1"
    explicit = load(path, overrides={"manylinux_x86_64_image": "fleet/x86:2"})
    assert explicit.settings(X86).image.value == "fleet/x86:2"
    by_table = load(path, overrides={"image": {"amd64": "fleet/x86:3"}})
    assert by_table.settings(X86).image.value == "fleet/x86:3"
    assert load(None).settings(X86).image.value == "manylinux_2_28"  # no file: defaults


def test_explicit_keys_accept_underscores(tmp_path: Path) -> None:
    config = load(
        _write(tmp_path, ""),
        overrides={
            "before_all": ["a", "b"],
            "test_requires": "pytest numpy",
            "build_frontend": "build[uv]",
            "config_settings": {"k": "v"},
            "environment": {"A": "1"},
            "skip": "cp310-*",
        },
    )
    settings = config.settings(X86)
    assert settings.before_all == "a && b"
    assert settings.test_requires == ("pytest", "numpy")
    assert settings.build_frontend.name == "build[uv]"
    assert settings.config_settings == (("k", "v"),)
    assert [str(a) for a in settings.environment] == ['A="1"']
    assert not config.selection()(Identifier("cp310", "x86_64"))


# --------------------------------------------------------------------------- inherit


def test_inherit_append_and_prepend_for_lists_commands_and_tables(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[tool.cibuildwheel]
before-build = ["base-1", "base-2"]
test-requires = ["pytest"]
environment = { A = "base", B = "base" }
config-settings = { one = "1" }
environment-pass = ["CI"]
test-sources = "tests"

[[tool.cibuildwheel.overrides]]
select = "cp312-*"
inherit.before-build = "prepend"
before-build = "first"
inherit.test-requires = "append"
test-requires = "numpy"
inherit.environment = "prepend"
environment = { A = "override", C = "override" }
inherit.config-settings = "append"
config-settings = { two = "2" }
inherit.environment-pass = "append"
environment-pass = "TOKEN_NAME"
inherit.test-sources = "none"
test-sources = ["data"]
""",
    )
    settings = load(path).settings(X86)
    assert settings.before_build == "first && base-1 && base-2"
    assert settings.test_requires == ("pytest", "numpy")
    # prepend on a table: the older keys take precedence, new keys are added.
    assert evaluate(settings.environment, {}) == {"A": "base", "B": "base", "C": "override"}
    assert settings.config_settings == (("one", "1"), ("two", "2"))
    assert settings.environment_pass == ("CI", "TOKEN_NAME")
    assert settings.test_sources == ("data",)


def test_inherit_append_on_a_table_replaces_existing_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[tool.cibuildwheel]
environment = { FOO = "BAR", HAM = "EGGS" }

[[tool.cibuildwheel.overrides]]
select = "cp312*"
inherit.environment = "append"
environment = { FOO = "BAZ", PYTHON = "MONTY" }
""",
    )
    environment = evaluate(load(path).settings(X86).environment, {})
    assert environment == {"FOO": "BAZ", "HAM": "EGGS", "PYTHON": "MONTY"}


def test_wheelfleet_override_can_extend_a_cibuildwheel_variable(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[[tool.wheelfleet.overrides]]
select = "*"
inherit.test-command = "append"
test-command = "echo fleet"
""",
    )
    config = load(path, environ={"CIBW_TEST_COMMAND_LINUX": "pytest"})
    assert config.settings(X86).test_command == "pytest && echo fleet"


def test_inherit_onto_an_empty_value_adds_no_separator(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[[tool.cibuildwheel.overrides]]\nselect = "*"\ninherit.before-all = "append"\n'
        'before-all = "only"\n',
    )
    assert load(path).settings(X86).before_all == "only"


# --------------------------------------------------------------------------- requires-python


def test_requires_python_sources_in_order(tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[options]\npython_requires = >=3.11\n")
    path = _write(tmp_path, "")
    assert str(load(path).requires_python) == ">=3.11"
    assert load(path).requires_python_origin.endswith("setup.cfg")
    path = _write(tmp_path, '[project]\nrequires-python = ">=3.10"\n')
    assert str(load(path).requires_python) == ">=3.10"
    environ = {"CIBW_PROJECT_REQUIRES_PYTHON": ">=3.12"}
    assert str(load(path, environ=environ).requires_python) == ">=3.12"
    explicit = load(path, environ=environ, overrides={"project_requires_python": ">=3.13"})
    assert str(explicit.requires_python) == ">=3.13"
    assert explicit.requires_python_origin == "explicit overrides"
    assert [str(j.identifier) for j in explicit.resolve(FLEET).jobs] == ["cp313-manylinux_x86_64"]
