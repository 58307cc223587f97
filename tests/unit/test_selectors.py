"""Build/skip selectors: brace expansion, fnmatch over identifiers, and cibuildwheel's filters."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet

from wheelfleet.identifiers import Identifier
from wheelfleet.selectors import BuildSelection, Selector, expand_braces


@pytest.mark.parametrize(
    ("pattern", "expanded"),
    [
        ("cp311-*", ("cp311-*",)),
        ("cp3{11,12}-*", ("cp311-*", "cp312-*")),
        ("cp39-manylinux_{aarch64,ppc64le}", ("cp39-manylinux_aarch64", "cp39-manylinux_ppc64le")),
        ("{cp,pp}27-*", ("cp27-*", "pp27-*")),
        ("cp3{9,1{0,1}}-*", ("cp39-*", "cp310-*", "cp311-*")),
        ("{a,b}{1,2}", ("a1", "a2", "b1", "b2")),
        ("cp3{10..13}-*", ("cp310-*", "cp311-*", "cp312-*", "cp313-*")),
        ("cp3{13..11}-*", ("cp313-*", "cp312-*", "cp311-*")),
        ("x{08..10}", ("x08", "x09", "x10")),
        ("x{1..9..4}", ("x1", "x5", "x9")),
        ("{a..c}", ("a", "b", "c")),
        ("{x}", ("{x}",)),  # a single item is not an alternative, as in bash
        ("{}", ("{}",)),
        ("cp3{11,12", ("cp3{11,12",)),  # unbalanced: literal
        ("cp3}11", ("cp3}11",)),
        (r"a\{b,c\}", ("a{b,c}",)),  # escaped braces stay literal
        ("{x{a,b}}", ("{xa}", "{xb}")),  # a literal group may hold an expandable one
        ("{,t}", ("", "t")),
    ],
)
def test_brace_expansion(pattern: str, expanded: tuple[str, ...]) -> None:
    assert expand_braces(pattern) == expanded


def test_selector_parses_strings_and_lists_alike() -> None:
    assert Selector.parse("pp* *-musllinux*").patterns == ("pp*", "*-musllinux*")
    assert Selector.parse(["pp*", "*-musllinux* *_i686"]).patterns == (
        "pp*",
        "*-musllinux*",
        "*_i686",
    )
    assert Selector.parse("  ").patterns == ()
    assert str(Selector.parse(["a", "b"])) == "a b"


@pytest.mark.parametrize(
    ("patterns", "identifier", "matched"),
    [
        ("*", "cp311-manylinux_x86_64", True),
        ("cp311-*", "cp311-manylinux_x86_64", True),
        ("cp311-*", "cp312-manylinux_x86_64", False),
        ("*-manylinux_aarch64", "cp313t-manylinux_aarch64", True),
        ("*aarch64", "cp39-manylinux_aarch64", True),
        ("pp* *-musllinux*", "cp312-manylinux_x86_64", False),
        ("*-*linux_{aarch64,ppc64le,s390x}", "cp312-manylinux_s390x", True),
        ("*-*linux_{aarch64,ppc64le,s390x}", "cp312-manylinux_x86_64", False),
        ("cp3??t-*", "cp313t-manylinux_x86_64", True),
        ("cp3??t-*", "cp313-manylinux_x86_64", False),
        ("*-????linux_*", "cp312-manylinux_i686", True),
        ("cp3[9]-*", "cp39-manylinux_x86_64", True),  # an fnmatch character class
        ("CP311-*", "cp311-manylinux_x86_64", False),  # case-sensitive, like identifiers
        ("", "cp311-manylinux_x86_64", False),
    ],
)
def test_selector_matching(patterns: str, identifier: str, matched: bool) -> None:
    assert Selector.parse(patterns).matches(identifier) is matched


def test_matching_pattern_names_the_pattern_as_written() -> None:
    selector = Selector.parse("pp* cp3{8,9}-* *_i686")
    assert selector.matching_pattern(Identifier("cp39", "x86_64")) == "cp3{8,9}-*"
    assert selector.matching_pattern(Identifier("cp312", "i686")) == "*_i686"
    assert selector.matching_pattern(Identifier("cp312", "x86_64")) is None


# --------------------------------------------------------------------------- BuildSelection


def test_default_selection_builds_every_gil_python_and_314t() -> None:
    selection = BuildSelection()
    assert selection(Identifier("cp39", "x86_64"))
    assert not selection(Identifier("cp38", "x86_64"))  # cibuildwheel 4 builds no 3.8
    assert selection(Identifier("cp314", "riscv64"))
    assert selection(Identifier("cp314t", "aarch64"))  # built by default since cibuildwheel 3.1
    assert not selection(Identifier("cp313t", "aarch64"))  # needs the enable group


def test_free_threaded_313_needs_the_enable_group() -> None:
    identifier = Identifier("cp313t", "x86_64")
    assert BuildSelection().exclusion(identifier) == (
        "cp313t (free-threaded 3.13) needs enable = cpython-freethreading"
    )
    assert BuildSelection(enable=frozenset({"cpython-freethreading"}))(identifier)


def test_prerelease_pythons_need_the_enable_group() -> None:
    identifier = Identifier("cp316", "x86_64")
    assert BuildSelection()(Identifier("cp315", "x86_64"))  # 3.15 is released
    assert "pre-release" in (BuildSelection().exclusion(identifier) or "")
    assert BuildSelection(enable=frozenset({"cpython-prerelease"}))(identifier)


def test_requires_python_filters_before_patterns() -> None:
    selection = BuildSelection(requires_python=SpecifierSet(">=3.10,<3.14"))
    assert selection.exclusion(Identifier("cp39", "x86_64")) == (
        "requires-python <3.14,>=3.10 excludes Python 3.9"
    )
    assert selection(Identifier("cp310", "x86_64"))
    assert selection(Identifier("cp313", "x86_64"))
    assert not selection(Identifier("cp314", "x86_64"))
    assert not selection(Identifier("cp314t", "x86_64"))


def test_requires_python_patch_bounds_use_the_latest_patch() -> None:
    # cibuildwheel checks X.Y.99, so ">=3.10.4" still selects cp310.
    selection = BuildSelection(requires_python=SpecifierSet(">=3.10.4"))
    assert selection(Identifier("cp310", "x86_64"))


def test_build_and_skip_both_apply() -> None:
    selection = BuildSelection(
        build=Selector.parse("cp3{9,10,11,12,13}-*"), skip=Selector.parse("*_i686 cp39-*")
    )
    assert selection(Identifier("cp310", "aarch64"))
    assert selection.exclusion(Identifier("cp39", "x86_64")) == "matched by skip pattern 'cp39-*'"
    assert selection.exclusion(Identifier("cp312", "i686")) == "matched by skip pattern '*_i686'"
    assert selection.exclusion(Identifier("cp314", "x86_64")) == (
        "not matched by build = 'cp3{9,10,11,12,13}-*'"
    )
