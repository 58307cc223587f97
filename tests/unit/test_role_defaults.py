"""src/wheelfleet/role_defaults.py: the wheel_build settings both plans read, from the role's
own defaults file."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelfleet import job_settings, role_defaults

ROOT = Path(__file__).resolve().parents[2]


def test_every_plan_setting_has_a_role_default_and_argument_spec() -> None:
    defaults = role_defaults.load_defaults(role_defaults.defaults_path(ROOT))
    specs = (ROOT / "roles" / "wheel_build" / "meta" / "argument_specs.yml").read_text()
    for name in role_defaults.SETTINGS:
        assert f"wheel_build_{name}" in defaults, name
        assert f"wheel_build_{name}:" in specs, name
    # The settings hashed into every job are among them.
    assert set(job_settings.ROLE_ONLY) <= set(role_defaults.SETTINGS)
    assert set(job_settings.ROLE_OPTIONS) <= set(role_defaults.SETTINGS)


def test_host_variables_override_the_defaults_and_are_rendered() -> None:
    defaults = role_defaults.load_defaults(role_defaults.defaults_path(ROOT))
    host = {"wheel_build_before_all": "{{ script }}", "wheel_build_plat": "manylinux_2_28"}
    settings = role_defaults.build_settings(
        defaults, host, lambda v: v.replace("{{ script }}", "x")
    )
    assert settings["before_all"] == "x" and settings["plat"] == "manylinux_2_28"
    assert settings["repair_lib_sdir"] == defaults["wheel_build_repair_lib_sdir"]
    assert settings["environment_pass_deny"] == list(job_settings.DEFAULT_ENVIRONMENT_PASS_DENY)


def test_a_missing_defaults_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(role_defaults.RoleDefaultsError, match="defaults"):
        role_defaults.load_defaults(tmp_path / "main.yml")
