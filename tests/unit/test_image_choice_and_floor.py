"""The manylinux image each architecture asks for, the policy floor, and mirror URLs:
chosen and checked before any host is contacted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import wheelfleet.cli as cli
from tests.unit.test_report import finished_release
from wheelfleet import image_choice, jobs, manylinux, mirrors, release, release_matrix, report
from wheelfleet.identifiers import Identifier
from wheelfleet.inputs import InputError
from wheelfleet.options import Capabilities, OptionsError, load
from wheelfleet.settings_hash import settings_hash

PROJECT = '[project]\nname = "floor"\nversion = "1.0"\n'
FLEET = Capabilities(
    archs=("x86_64", "aarch64"), pythons=("cp311", "cp312"), native_archs=("x86_64",)
)


def config(tmp_path: Path, text: str = "", environ=None, overrides=None):
    (tmp_path / "pyproject.toml").write_text(PROJECT + text)
    return load(tmp_path, environ=environ or {}, overrides=overrides)


# --------------------------------------------------------------------------- policies


@pytest.mark.parametrize(
    ("policy", "glibc"),
    [("manylinux1", (2, 5)), ("manylinux2014", (2, 17)), ("manylinux_2_28", (2, 28))],
)
def test_policies_and_their_glibc(policy: str, glibc: tuple[int, int]) -> None:
    assert manylinux.glibc(policy) == glibc
    assert manylinux.check_policy_floor(policy) == policy


@pytest.mark.parametrize("value", ["musllinux_1_2", "manylinux2015", "2.28", "", "linux", 228])
def test_a_floor_that_is_not_a_manylinux_policy_is_refused_naming_the_forms(value) -> None:
    with pytest.raises(manylinux.PolicyError) as caught:
        manylinux.check_policy_floor(value)
    message = str(caught.value)
    assert repr(value) in message
    assert "manylinux2014" in message and "manylinux_X_Y" in message


def test_the_policy_of_a_wheel_is_its_most_portable_tag() -> None:
    name = "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    assert manylinux.policy_of_wheel(name) == "manylinux_2_17"
    assert manylinux.policy_of_wheel("pkg-1.0-cp311-cp311-manylinux_2_34_aarch64.whl") == (
        "manylinux_2_34"
    )
    assert manylinux.policy_of_wheel("pkg-1.0-cp311-cp311-linux_x86_64.whl") is None
    assert manylinux.above_floor("manylinux_2_34", "manylinux_2_28")
    assert not manylinux.above_floor("manylinux2014", "manylinux_2_28")


# --------------------------------------------------------------------------- image choice


def test_without_a_choice_each_arch_gets_cibuildwheels_default(tmp_path: Path) -> None:
    chosen = config(tmp_path)
    x86 = image_choice.choose(chosen, "x86_64")
    assert x86.to_json() == {
        "arch": "x86_64",
        "reference": "quay.io/pypa/manylinux_2_28_x86_64",
        "policy": "manylinux_2_28",
        "origin": "cibuildwheel default",
        "kind": "default",
        "where": "defaults",
        "official": True,
        "identifiers": [],
    }
    assert image_choice.choose(chosen, "armv7l").reference == ("quay.io/pypa/manylinux_2_31_armv7l")
    assert image_choice.choose(chosen, "riscv64").policy == "manylinux_2_39"


def test_the_project_the_environment_and_the_options_choose_in_that_order(
    tmp_path: Path,
) -> None:
    text = '[tool.cibuildwheel]\nmanylinux-x86_64-image = "manylinux2014"\n'
    project = image_choice.choose(config(tmp_path, text), "x86_64")
    assert (project.reference, project.policy) == (
        "quay.io/pypa/manylinux2014_x86_64",
        "manylinux2014",
    )
    assert project.origin == "project manylinux-x86_64-image"
    assert project.where.endswith("pyproject.toml [tool.cibuildwheel]")
    environ = {"CIBW_MANYLINUX_X86_64_IMAGE": "manylinux_2_34"}
    variable = image_choice.choose(config(tmp_path, text, environ), "x86_64")
    assert (variable.policy, variable.origin) == ("manylinux_2_34", "CIBW_MANYLINUX_X86_64_IMAGE")
    explicit = image_choice.choose(
        config(tmp_path, text, environ, {"manylinux-x86_64-image": "registry.example/img:1"}),
        "x86_64",
    )
    assert (explicit.reference, explicit.policy, explicit.official) == (
        "registry.example/img:1",
        None,
        False,
    )
    assert explicit.origin == "wheelfleet_options manylinux-x86_64-image"


def test_overrides_split_an_archs_jobs_over_two_images(tmp_path: Path) -> None:
    text = (
        '[[tool.cibuildwheel.overrides]]\nselect = "cp312-*"\n'
        'manylinux-x86_64-image = "manylinux_2_34"\n'
    )
    chosen = image_choice.for_jobs(
        config(tmp_path, text),
        [Identifier("cp311", "x86_64"), Identifier("cp312", "x86_64")],
    )
    assert [(c.policy, c.identifiers) for c in chosen] == [
        ("manylinux_2_28", ("cp311-manylinux_x86_64",)),
        ("manylinux_2_34", ("cp312-manylinux_x86_64",)),
    ]


@pytest.mark.parametrize(
    ("place", "text", "environ"),
    [
        ("pyproject.toml", '[tool.cibuildwheel]\nmanylinux-x86_64-image = "manylinux_2_99"\n', {}),
        ("CIBW_MANYLINUX_X86_64_IMAGE", "", {"CIBW_MANYLINUX_X86_64_IMAGE": "manylinux_2_99"}),
    ],
)
def test_an_unknown_short_name_is_refused_naming_it_and_the_valid_ones(
    tmp_path: Path, place: str, text: str, environ: dict
) -> None:
    with pytest.raises(OptionsError) as caught:
        config(tmp_path, text, environ)
    message = str(caught.value)
    assert place in message and "'manylinux_2_99'" in message
    assert "manylinux2014, manylinux_2_28, manylinux_2_34" in message


def test_the_plan_shows_each_archs_image_and_the_floor(tmp_path: Path) -> None:
    text = '[tool.wheelfleet]\npolicy-floor = "manylinux_2_28"\n'
    (tmp_path / "pyproject.toml").write_text(PROJECT + text)
    project, loaded = release_matrix.load_project(
        str(tmp_path), {}, {}, {"CIBW_ARCHS": "x86_64 aarch64", "HOME": "/root"}
    )
    selection = release_matrix.select(project, loaded, FLEET).to_json()
    assert selection["archs_origin"] == "CIBW_ARCHS"
    assert selection["policy_floor"] == "manylinux_2_28"
    assert [image["reference"] for image in selection["manylinux_images"]] == [
        "quay.io/pypa/manylinux_2_28_x86_64",
        "quay.io/pypa/manylinux_2_28_aarch64",
    ]
    text = release_matrix.render(selection)
    assert "archs: x86_64, aarch64 (from CIBW_ARCHS)" in text
    assert (
        "manylinux image aarch64: quay.io/pypa/manylinux_2_28_aarch64 (manylinux_2_28;"
        " from cibuildwheel default)"
    ) in text
    assert "policy floor: manylinux_2_28" in text


# --------------------------------------------------------------------------- the floor


def test_the_floor_is_read_from_wheelfleet_and_explicit_options_only(tmp_path: Path) -> None:
    table = config(tmp_path, '[tool.wheelfleet]\npolicy-floor = "manylinux2014"\n')
    assert table.value("policy-floor")[0] == "manylinux2014"
    explicit = config(tmp_path, "", overrides={"policy_floor": "manylinux_2_28"})
    assert explicit.value("policy-floor") == ("manylinux_2_28", "explicit overrides")
    cibw = config(tmp_path, '[tool.cibuildwheel]\npolicy-floor = "manylinux_2_28"\n')
    assert cibw.value("policy-floor")[0] is None
    assert [w.code for w in cibw.warnings] == ["unknown-key"]
    # Not a cibuildwheel variable: an unknown one, warned about and ignored.
    variable = config(tmp_path, "", {"CIBW_POLICY_FLOOR": "manylinux_2_28"})
    assert variable.value("policy-floor")[0] is None


def test_a_bad_floor_in_the_project_names_the_file_and_the_forms(tmp_path: Path) -> None:
    with pytest.raises(OptionsError) as caught:
        config(tmp_path, '[tool.wheelfleet]\npolicy-floor = "musllinux_1_2"\n')
    message = str(caught.value)
    assert "[tool.wheelfleet]: policy-floor = 'musllinux_1_2': not a manylinux policy" in message
    assert "manylinux_X_Y" in message


def test_a_floor_changes_the_settings_hash_and_no_floor_keeps_it(tmp_path: Path) -> None:
    x86 = Identifier("cp311", "x86_64")
    plain = config(tmp_path).settings(x86)
    floored = config(tmp_path, overrides={"policy-floor": "manylinux_2_28"}).settings(x86)
    assert "policy_floor" not in plain.to_dict()
    assert floored.policy_floor == "manylinux_2_28"
    assert settings_hash(floored.to_dict(), {}) != settings_hash(plain.to_dict(), {})


@pytest.mark.parametrize(
    ("plat", "floor", "image_plat", "target"),
    [
        (None, None, "manylinux_2_36_x86_64", None),  # the image's own policy
        ("manylinux2014", None, "manylinux_2_36_x86_64", "manylinux2014_x86_64"),
        (None, "manylinux_2_28", "manylinux_2_36_x86_64", "manylinux_2_28_x86_64"),
        (None, "manylinux_2_36", "manylinux_2_36_x86_64", "manylinux_2_36_x86_64"),
        # A floor above the image's policy: no wheel built there can exceed it.
        (None, "manylinux_2_39", "manylinux_2_28_aarch64", None),
        (None, "manylinux_2_28", None, "manylinux_2_28_aarch64"),
    ],
)
def test_the_repair_target_is_the_floor(plat, floor, image_plat, target) -> None:
    arch = (image_plat or "x_aarch64").rsplit("_", 1)[-1]
    arch = "x86_64" if arch == "64" else arch
    assert jobs.repair_plat(plat, floor, image_plat, arch) == target


def test_a_floor_and_a_plat_together_are_refused() -> None:
    with pytest.raises(jobs.PlanError, match="wheel_build_plat 'manylinux2014' and the policy"):
        jobs.repair_plat("manylinux2014", "manylinux_2_28", None, "x86_64")


def test_release_inputs_refuse_a_bad_floor_and_a_mirror_without_scheme(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    with pytest.raises(release.ReleaseInputError) as caught:
        release.check_inputs(
            project=str(tmp_path),
            policy_floor="manylinux_2_2x",
            mirrors={"builder_image_debian_mirror": "deb.debian.org/debian"},
        )
    message = str(caught.value)
    assert "wheelfleet_policy_floor 'manylinux_2_2x' is not a manylinux policy" in message
    assert "builder_image_debian_mirror 'deb.debian.org/debian' is not a mirror URL" in message
    checked = release.check_inputs(project=str(tmp_path), policy_floor="manylinux_2_28")
    assert checked["policy_floor"] == "manylinux_2_28"
    assert checked["options"]["policy-floor"] == "manylinux_2_28"


def test_the_cli_passes_the_floor_and_checks_it_up_front(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    args = cli.build_parser().parse_args(
        ["plan", str(tmp_path), "--policy-floor", "manylinux_2_28"]
    )
    assert cli._plan_extravars(args, {})["wheelfleet_policy_floor"] == "manylinux_2_28"
    bad = cli.build_parser().parse_args(["plan", str(tmp_path), "--policy-floor", "glibc_2_28"])
    with pytest.raises(InputError, match="'glibc_2_28' is not a manylinux policy"):
        cli._plan_extravars(bad, {})
    with pytest.raises(InputError, match=re.escape("'ftp.example/debian' is not a mirror URL")):
        cli._plan_extravars(args, {"builder_image_debian_mirror": "ftp.example/debian"})


# --------------------------------------------------------------------------- mirrors


@pytest.mark.parametrize("value", ["", None, "http://deb.debian.org/debian", "https://m.example/"])
def test_mirror_urls_with_a_scheme_or_empty_are_accepted(value) -> None:
    assert mirrors.check_mirror_url("builder_image_debian_mirror", value) == (value or "")


@pytest.mark.parametrize("value", ["deb.debian.org/debian", "ftp://m.example/", "http://", 3])
def test_mirror_urls_without_a_scheme_are_refused(value) -> None:
    with pytest.raises(mirrors.MirrorError, match="is not a mirror URL: expected http or https"):
        mirrors.check_mirror_url("builder_image_debian_mirror", value)


def test_role_variables_are_checked_in_lists_too() -> None:
    problems = mirrors.check_role_variables(
        {
            "builder_image_debian_mirror": "http://deb.debian.org/debian",
            "builder_image_registry_mirror": "mirror.local:5000",
            "builder_image_images": [{"name": "a"}, {"name": "b", "mirror": "deb.example/x"}],
            "builder_image_repository": "wheelfleet",
        }
    )
    assert problems == [
        "builder_image_registry_mirror 'mirror.local:5000' is not a mirror URL: expected http"
        " or https://HOST/PATH (for example http://deb.debian.org/debian), or empty for none",
        "builder_image_images[1].mirror 'deb.example/x' is not a mirror URL: expected http or"
        " https://HOST/PATH (for example http://deb.debian.org/debian), or empty for none",
    ]


# --------------------------------------------------------------------------- the report


def test_the_report_and_release_json_show_each_wheels_policy() -> None:
    state, document = finished_release()
    built = report.Report.build(document, state, "/srv/wh")
    assert {wheel["policy"] for wheel in built.to_json()["wheels"]} == {"manylinux_2_17"}
    assert "| Wheel | Policy |" in built.markdown()
    assert "<th>Policy</th>" in built.html()
    assert "wheel policies: manylinux_2_17 (3)" in report.text_summary(built.to_json())
    done = [job for job in state["jobs"].values() if job["status"] == "done"]
    assert done and all(set(job["policies"].values()) == {"manylinux_2_17"} for job in done)


def test_role_validation_refuses_a_mirror_without_scheme() -> None:
    from ansible_collections.wheelfleet.fleet.plugins.action.validate_role_inputs import (
        mirror_problems,
    )

    assert mirror_problems({"builder_image_debian_mirror": "http://deb.debian.org/debian"}) == []
    (problem,) = mirror_problems({"builder_image_debian_mirror": "deb.debian.org/debian"})
    assert problem.startswith("builder_image_debian_mirror 'deb.debian.org/debian' is not a")
