"""wheelfleet.qemu_cpu: which CPU model an emulated job's QEMU runs, and the role setting."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from wheelfleet import qemu_cpu, role_defaults


def test_the_default_model_applies_to_emulated_aarch64_jobs_only():
    assert qemu_cpu.for_job("aarch64", emulated=True) == "max,pauth-impdef=on"
    assert qemu_cpu.for_job("aarch64", emulated=False) is None
    assert qemu_cpu.for_job("ppc64le", emulated=True) is None


def test_the_role_setting_replaces_or_turns_off_the_models():
    models = {"aarch64": "cortex-a72", "ppc64le": "power9"}
    assert qemu_cpu.for_job("ppc64le", True, models) == "power9"
    assert qemu_cpu.for_job("aarch64", True, {}) is None
    assert qemu_cpu.for_job("aarch64", True, {"aarch64": ""}) is None
    # The role's defaults file carries the same default as the code.
    defaults = role_defaults.load_defaults(role_defaults.defaults_path(REPO))
    assert defaults["wheel_build_qemu_cpu"] == qemu_cpu.MODELS
    assert "qemu_cpu" in role_defaults.SETTINGS


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("max", "expected a mapping"),
        ({"aarch64": "max; rm -rf /"}, "aarch64: 'max; rm -rf /' is not a QEMU CPU model"),
        ({"aarch64": 3}, "aarch64: 3 is not a QEMU CPU model"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_entry(value, named):
    with pytest.raises(qemu_cpu.QemuCpuError, match="wheel_build_qemu_cpu") as raised:
        qemu_cpu.for_job("aarch64", True, value)
    assert named in str(raised.value)


def test_the_release_refuses_a_bad_model_before_any_host_changes(tmp_path):
    from wheelfleet import release

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n')
    with pytest.raises(release.ReleaseInputError) as caught:
        release.check_inputs(project=str(tmp_path), qemu_cpu_models={"aarch64": "max; reboot"})
    assert "wheel_build_qemu_cpu: aarch64: 'max; reboot' is not a QEMU CPU model" in str(
        caught.value
    )
    checked = release.check_inputs(project=str(tmp_path), qemu_cpu_models=qemu_cpu.MODELS)
    assert checked["project"] == str(tmp_path)
