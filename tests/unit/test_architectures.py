"""The architecture table: canonical names, aliases, native execution, emulation needs."""

from __future__ import annotations

import pytest

from wheelfleet.architectures import (
    ARCHITECTURES,
    UnknownArchitectureError,
    needing_emulation,
    resolve,
    runs_natively,
)

CANONICAL = ["x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"]


def test_table_holds_the_manylinux_architectures_in_order() -> None:
    assert list(ARCHITECTURES) == CANONICAL


@pytest.mark.parametrize("name", CANONICAL)
def test_canonical_names_resolve_to_themselves(name: str) -> None:
    assert resolve(name).name == name


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("arm64", "aarch64"),
        ("armv8", "aarch64"),
        ("amd64", "x86_64"),
        ("x64", "x86_64"),
        ("i386", "i686"),
        ("x86", "i686"),
        ("armhf", "armv7l"),
        ("arm", "armv7l"),
        ("armv7", "armv7l"),
        ("ppc64el", "ppc64le"),
    ],
)
def test_aliases_resolve_to_the_canonical_name(alias: str, canonical: str) -> None:
    assert resolve(alias).name == canonical


@pytest.mark.parametrize("spelling", ["ARM64", " arm64 ", "AArch64\n"])
def test_resolution_ignores_case_and_surrounding_space(spelling: str) -> None:
    assert resolve(spelling).name == "aarch64"


def test_each_tool_name_of_aarch64() -> None:
    arch = resolve("arm64")
    assert (arch.debian, arch.docker_platform, arch.qemu) == ("arm64", "linux/arm64", "aarch64")


def test_armv7l_maps_to_qemu_arm_and_docker_arm_v7() -> None:
    arch = resolve("armhf")
    assert (arch.debian, arch.docker_platform, arch.qemu) == ("armhf", "linux/arm/v7", "arm")


def test_no_alias_shadows_another_architecture() -> None:
    spellings = [name for arch in ARCHITECTURES.values() for name in (arch.name, *arch.aliases)]
    assert len(spellings) == len(set(spellings))


@pytest.mark.parametrize("bad", ["sparc99", "", "arm65", "linux/arm64"])
def test_unknown_names_raise_listing_the_valid_ones(bad: str) -> None:
    with pytest.raises(UnknownArchitectureError) as caught:
        resolve(bad)
    message = str(caught.value)
    assert repr(bad) in message
    assert "valid names: x86_64, i686, aarch64, armv7l, ppc64le, s390x, riscv64" in message
    assert "arm64" in message  # aliases are listed too
    assert caught.value.value == bad
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("host", "target", "native"),
    [
        ("x86_64", "x86_64", True),
        ("x86_64", "i686", True),
        ("amd64", "i386", True),
        ("x86_64", "aarch64", False),
        ("x86_64", "armv7l", False),
        ("x86_64", "riscv64", False),
        ("aarch64", "aarch64", True),
        ("arm64", "armhf", False),  # AArch32 is not assumed on aarch64
        ("aarch64", "x86_64", False),
        ("i686", "x86_64", False),
        ("s390x", "s390x", True),
    ],
)
def test_runs_natively(host: str, target: str, native: bool) -> None:
    assert runs_natively(host, target) is native


def test_runs_natively_rejects_unknown_names() -> None:
    with pytest.raises(UnknownArchitectureError, match="sparc99"):
        runs_natively("x86_64", "sparc99")
    with pytest.raises(UnknownArchitectureError, match="vax"):
        runs_natively("vax", "x86_64")


def test_needing_emulation_dedups_keeps_order_and_drops_native() -> None:
    needed = needing_emulation(
        "x86_64", ["s390x", "arm64", "x86_64", "aarch64", "i686", "amd64", "armhf", "s390x"]
    )
    assert [arch.name for arch in needed] == ["s390x", "aarch64", "armv7l"]
    assert [arch.qemu for arch in needed] == ["s390x", "aarch64", "arm"]


def test_needing_emulation_on_aarch64_host() -> None:
    needed = needing_emulation("arm64", ["aarch64", "x86_64", "armv7l", "i686"])
    assert [arch.name for arch in needed] == ["x86_64", "armv7l", "i686"]


def test_needing_emulation_of_nothing_foreign_is_empty() -> None:
    assert needing_emulation("x86_64", ["x86_64", "i686"]) == []
    assert needing_emulation("x86_64", []) == []


def test_needing_emulation_fails_on_the_first_unknown_name() -> None:
    with pytest.raises(UnknownArchitectureError, match="'mips'"):
        needing_emulation("x86_64", ["aarch64", "mips"])
