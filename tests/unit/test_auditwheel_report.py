"""How the auditwheel module reads auditwheel's output (pure logic, real message texts)."""

from __future__ import annotations

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils.auditwheel_report import (
    AuditwheelFailure,
    explain_repair_failure,
    missing_libraries,
    normalize_analysis,
    repaired_path,
    too_recent_versions,
    wheel_tags,
)

PLATFORM_ANALYSIS = {
    "version": 1,
    "wheel": "demo-1.0-cp311-cp311-linux_x86_64.whl",
    "pure": False,
    "overall_tag": "linux_x86_64",
    "sym_tag": "manylinux_2_34_x86_64",
    "pyfpe": False,
    "ucs2": False,
    "unsupported_isa": False,
    "versioned_symbols": {"libc.so.6": ["GLIBC_2.2.5", "GLIBC_2.34"], "libyaml-0.so.2": []},
    "external_libs": {
        "libyaml-0.so.2": "/usr/lib/x86_64-linux-gnu/libyaml-0.so.2",
        "libx.so.1": None,
    },
    "policy_upgrades": {},
}
MANYLINUX_2_17 = {
    "name": "manylinux_2_17",
    "aliases": ["manylinux2014"],
    "symbol_versions": {"x86_64": {"GLIBC": ["2.2.5", "2.3", "2.17"], "CXXABI": ["1.3"]}},
}


def test_wheel_tags_expand_compressed_tag_sets():
    tags = wheel_tags("/w/demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    assert tags == {
        "distribution": "demo",
        "version": "1.0",
        "python": ["cp311"],
        "abi": ["cp311"],
        "platform": ["manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    }
    assert wheel_tags("demo-1.0-1build-py3-none-any.whl")["platform"] == ["any"]
    with pytest.raises(ValueError, match="not a wheel"):
        wheel_tags("demo-1.0.tar.gz")


def test_normalize_analysis_reads_the_non_platform_error_as_pure():
    pure = normalize_analysis(
        {
            "version": 1,
            "wheel": "p-1.0-py3-none-any.whl",
            "error": "This does not look like a platform wheel, no ELF executable",
        }
    )
    assert pure == {"version": 1, "wheel": "p-1.0-py3-none-any.whl", "pure": True}
    assert normalize_analysis(PLATFORM_ANALYSIS) is PLATFORM_ANALYSIS


def test_normalize_analysis_rejects_other_errors_and_schema_versions():
    with pytest.raises(AuditwheelFailure) as error:
        normalize_analysis({"version": 1, "wheel": "w.whl", "error": "Invalid binary wheel"})
    assert error.value.kind == "analysis" and "Invalid binary wheel" in error.value.message
    with pytest.raises(AuditwheelFailure) as error:
        normalize_analysis({"version": 2, "wheel": "w.whl", "pure": True})
    assert error.value.kind == "unsupported" and "version 2" in error.value.message


def test_missing_libraries_are_the_unresolved_ones():
    assert missing_libraries(PLATFORM_ANALYSIS) == ["libx.so.1"]
    assert missing_libraries({"pure": True}) == []


def test_too_recent_versions_compares_against_the_policy_table():
    assert too_recent_versions(PLATFORM_ANALYSIS, MANYLINUX_2_17, "x86_64") == {
        "libc.so.6": ["GLIBC_2.34"]
    }
    assert too_recent_versions(PLATFORM_ANALYSIS, None, "x86_64") == {}


def test_repaired_path_comes_from_the_fixed_up_line():
    wheel = "/tmp/x/demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    output = f"INFO:auditwheel.main_repair:\nFixed-up wheel written to {wheel}\n"
    assert repaired_path(output) == wheel
    assert repaired_path("nothing here") is None


@pytest.mark.parametrize(
    ("output", "kind", "needle"),
    [
        (
            'auditwheel: error: cannot repair "w.whl" to "manylinux_2_17_x86_64" ABI because of '
            "the presence of too-recent versioned symbols. You'll need to compile the wheel on "
            "an older toolchain.",
            "too-recent-symbols",
            "GLIBC_2.34",
        ),
        (
            'auditwheel: error: cannot repair "w.whl" to "manylinux_2_17_x86_64" ABI because it '
            "depends on unsupported ISA extensions.",
            "unsupported-isa",
            "ISA",
        ),
        (
            'auditwheel: error: cannot repair "w.whl" to "manylinux_2_17_x86_64" ABI because it '
            "depends on black-listed symbols.",
            "blacklisted-symbols",
            "blacklisted",
        ),
        (
            "Traceback (most recent call last):\n  ...\nValueError: Cannot repair wheel, because "
            'required library "libx.so.1" could not be located',
            "missing-library",
            "libx.so.1",
        ),
        (
            "Traceback (most recent call last):\n"
            "    self._patchelf_path = str(_verify_patchelf(v))\n"
            "ValueError: patchelf 0.14.3 found. auditwheel repair requires patchelf >= 0.14.5.",
            "patchelf",
            "patchelf 0.14.3 found",
        ),
        (
            "auditwheel: error: can't repair wheel w.whl with aarch64 architecture to a wheel "
            "targeting x86_64",
            "usage",
            "aarch64 architecture",
        ),
        ("something unexpected", "failed", "something unexpected"),
    ],
)
def test_repair_failures_are_classified_with_auditwheels_reason(output, kind, needle):
    offending = {"libc.so.6": ["GLIBC_2.34"]} if kind == "too-recent-symbols" else {}
    resolved = dict(PLATFORM_ANALYSIS, external_libs={"libz.so.1": "/lib/libz.so.1"})
    analysis = PLATFORM_ANALYSIS if kind == "missing-library" else resolved
    failure = explain_repair_failure(2, output, analysis, "manylinux_2_17_x86_64", offending)
    assert failure.kind == kind
    assert needle in failure.message
    assert "Traceback" not in failure.message


def test_a_pure_wheel_failure_is_named_pure():
    failure = explain_repair_failure(1, "", {"pure": True}, "auto", {})
    assert failure.kind == "pure"


def test_an_unexplained_failure_falls_back_on_the_analysis():
    failure = explain_repair_failure(1, "odd", PLATFORM_ANALYSIS, "auto", {})
    assert failure.kind == "missing-library"
    assert failure.details["missing_libraries"] == ["libx.so.1"]
