"""Foreign-architecture containers on this engine, run through the kernel's QEMU handlers."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.emulation]

ARM64_IMAGE = "wheelfleet-test/debian:bookworm-arm64"
AMD64_IMAGE = "wheelfleet-test/debian:bookworm"


def test_images_record_their_architecture(docker_client, base_images) -> None:
    arm64 = docker_client.images.get(ARM64_IMAGE).attrs
    amd64 = docker_client.images.get(AMD64_IMAGE).attrs
    assert (arm64["Os"], arm64["Architecture"]) == ("linux", "arm64")
    assert (amd64["Os"], amd64["Architecture"]) == ("linux", "amd64")


def test_arm64_container_reports_aarch64(base_images) -> None:
    completed = subprocess.run(
        ["docker", "run", "--rm", "--platform", "linux/arm64", ARM64_IMAGE, "uname", "-m"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "aarch64\n"


def test_arm64_userland_runs_without_an_emulator_in_the_image(docker_client, base_images) -> None:
    script = (
        "import glob, platform, sys\n"
        "head = open('/bin/ls', 'rb').read(20)\n"
        "print(platform.machine(), sys.byteorder, head[18:20].hex(),"
        " len(glob.glob('/usr/bin/qemu-*') + glob.glob('/usr/libexec/qemu-binfmt/*')))\n"
    )
    output = docker_client.containers.run(
        ARM64_IMAGE, ["python3", "-c", script], platform="linux/arm64", remove=True
    )
    # e_machine 0x00b7 (AArch64) little-endian; no qemu binary inside: the F flag supplies it.
    assert output.decode() == "aarch64 little b700 0\n"
