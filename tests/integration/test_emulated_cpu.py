"""The emulated CPU model (wheelfleet.qemu_cpu) on this machine's real QEMU.

An aarch64 container of the builder image, run through the engine's BuildContainer:
QEMU accepts the planned model (``max,pauth-impdef=on``) and the engine then gives it
to every command; a model QEMU refuses leaves the commands on QEMU's default CPU,
instead of failing them. Under the model, the emulated process sees the same CPU
features (HWCAPs, pointer authentication included) as under the default one.
"""

from __future__ import annotations

import uuid

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_container import (
    BuildContainer,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.emulated_cpu import FACT, apply

from wheelfleet import qemu_cpu

pytestmark = [pytest.mark.engine, pytest.mark.emulation]

IMAGE = "wheelfleet/bookworm:aarch64"
PYTHON = "/opt/python/cp311-cp311/bin/python"
HWCAPS = [
    PYTHON,
    "-c",
    "import ctypes; libc = ctypes.CDLL(None); libc.getauxval.restype = ctypes.c_ulong;"
    " print(libc.getauxval(16), libc.getauxval(26))",
]
"""What an aarch64 program learns of its CPU: AT_HWCAP and AT_HWCAP2 (getauxval)."""
HWCAP_PACA = 1 << 30
"""Pointer authentication (address keys)."""


@pytest.fixture()
def container(docker_client):
    started = BuildContainer.start(
        docker_client,
        name=f"pytest-qemu-cpu-{uuid.uuid4().hex[:8]}",
        image=IMAGE,
        platform="linux/arm64",
        labels={"org.wheelfleet.owner": "pytest-qemu-cpu"},
    )
    try:
        yield started
    finally:
        started.remove()


def test_the_planned_model_is_taken_and_keeps_the_cpu_features(container) -> None:
    model = qemu_cpu.for_job("aarch64", emulated=True)
    assert model == "max,pauth-impdef=on"
    rc, default_features, err = container.run(HWCAPS)
    assert rc == 0, err
    assert apply(container, model) == model
    assert container.exec_env == {"QEMU_CPU": model}
    # Every command now runs with it, and sees the CPU it saw before: PAC included.
    rc, environ, _ = container.run(["sh", "-c", "echo $QEMU_CPU"])
    assert rc == 0 and environ.strip() == model
    rc, features, err = container.run(HWCAPS)
    assert rc == 0 and features == default_features, (features, default_features, err)
    assert int(features.split()[0]) & HWCAP_PACA, features


def test_a_model_qemu_refuses_leaves_the_default_cpu(container) -> None:
    assert apply(container, "max,no-such-property=on") == ""
    assert container.facts[FACT] == "" and container.exec_env == {}
    rc, out, _ = container.run(["sh", "-c", "echo ran"])
    assert (rc, out.strip()) == (0, "ran")


def test_only_emulated_jobs_of_a_known_architecture_get_a_model() -> None:
    assert qemu_cpu.for_job("aarch64", emulated=False) is None
    assert qemu_cpu.for_job("x86_64", emulated=True) is None
    assert qemu_cpu.for_job("ppc64le", emulated=True) is None
    assert apply(object(), None) == ""  # nothing planned: the container is not asked
