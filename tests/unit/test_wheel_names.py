"""src/wheelfleet/wheel_names.py: a wheel name from the build
container is untrusted; only a wheel of the job may become a path in the wheelhouse."""

from __future__ import annotations

import pytest

from wheelfleet import wheel_names

JOB = {
    "id": "py_yaml-cp311-cp311-x86_64",
    "project": "Py.YAML",
    "version": "6.0.3",
    "arch": "x86_64",
    "python_tag": "cp311-cp311",
}


@pytest.mark.parametrize(
    "name",
    [
        "py_yaml-6.0.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "Py_YAML-6.0.3-cp311-cp311-manylinux_2_28_x86_64.whl",
        "py_yaml-6.0.3-cp311-cp311-musllinux_1_2_x86_64.whl",
        "py_yaml-6.0.3-cp311-cp311-linux_x86_64.whl",
        "py_yaml-6.0.3-1-cp311-cp311-manylinux1_x86_64.whl",
        "py_yaml-6.0.3-cp38-abi3-manylinux_2_17_x86_64.whl",
        "py_yaml-6.0.3-cp310.cp311-abi3-manylinux_2_17_x86_64.whl",
    ],
)
def test_a_wheel_of_the_job_is_accepted(name: str) -> None:
    assert wheel_names.check(name, JOB).file == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("SHA256SUMS", "it is not a .whl file"),
        ("release.json", "it is not a .whl file"),
        ("../x.whl", "it is not a plain file name"),
        ("x/../../y.whl", "it is not a plain file name"),
        ("..%2Fx.whl", "it is not a plain file name"),
        ("x%2F..%2F..%2Fy.whl", "five or six dash-separated parts"),
        (".py_yaml-6.0.3-cp311-cp311-manylinux_2_17_x86_64.whl", "not a plain file name"),
        ("py_yaml-6.0.3-cp311-cp311-manylinux_2_17_x86_64.whl\\x", "not a .whl file"),
        (
            "other-6.0.3-cp311-cp311-manylinux_2_17_x86_64.whl",
            "it is a wheel of 'other', not of the project 'py_yaml'",
        ),
        (
            "py_yaml_extra-6.0.3-cp311-cp311-manylinux_2_17_x86_64.whl",
            "not of the project 'py_yaml'",
        ),
        ("py_yaml-6.0.4-cp311-cp311-manylinux_2_17_x86_64.whl", "its version is 6.0.4"),
        ("py_yaml-six-cp311-cp311-manylinux_2_17_x86_64.whl", "not a PEP 440 version"),
        (
            "py_yaml-6.0.3-cp312-cp312-manylinux_2_17_x86_64.whl",
            "tags cp312-cp312 are not those of the job's cp311-cp311",
        ),
        ("py_yaml-6.0.3-cp312-abi3-manylinux_2_17_x86_64.whl", "cp312-abi3"),
        (
            "py_yaml-6.0.3-cp311-cp311-manylinux_2_17_aarch64.whl",
            "'manylinux_2_17_aarch64' is not for the job's x86_64",
        ),
        (
            "py_yaml-6.0.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_aarch64.whl",
            "'manylinux2014_aarch64' is not for the job's x86_64",
        ),
        ("py_yaml-6.0.3-cp311-cp311-win_amd64.whl", "'win_amd64' is not a Linux platform tag"),
        ("py_yaml-6.0.3-py3-none-any.whl", "tags py3-none are not those"),
        ("py_yaml-6.0.3-x-cp311-cp311-linux_x86_64.whl", "build tag 'x'"),
    ],
)
def test_a_name_the_job_may_not_publish_is_refused_with_what_was_expected(
    name: str, why: str
) -> None:
    with pytest.raises(wheel_names.WheelNameError) as raised:
        wheel_names.check(name, JOB)
    message = str(raised.value)
    assert f"the build returned a wheel named {name!r}" in message
    assert why in message
    assert (
        "expected py_yaml-6.0.3-cp311-cp311-<manylinux, musllinux or linux tags of x86_64>.whl"
        in message
    )


def test_a_pure_wheel_only_when_pure_wheels_are_copied() -> None:
    name = "py_yaml-6.0.3-py3-none-any.whl"
    assert wheel_names.check(name, JOB, allow_pure=True).platforms == ("any",)
    with pytest.raises(wheel_names.WheelNameError, match=r"or py_yaml-6\.0\.3-py3-none-any\.whl"):
        wheel_names.check("other-6.0.3-py3-none-any.whl", JOB, allow_pure=True)


def test_free_threaded_and_unknown_version_jobs() -> None:
    job = dict(JOB, python_tag="cp313-cp313t", arch="aarch64", version=None)
    assert wheel_names.check("py_yaml-7.1-cp313-cp313t-manylinux_2_28_aarch64.whl", job)
    with pytest.raises(wheel_names.WheelNameError, match="expected py_yaml-<version>-cp313"):
        wheel_names.check("py_yaml-7.1-cp313-cp313-manylinux_2_28_aarch64.whl", job)
