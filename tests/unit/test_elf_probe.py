"""The tiny static ELF probes: well-formed headers, and they really run (natively or emulated)."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils.binfmt import (
    BinfmtMisc,
    parse_line,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.elf_probe import (
    EXIT_STATUS,
    SUPPORTED,
    probe,
)

from wheelfleet.architectures import ARCHITECTURES, resolve

# arch -> (EI_CLASS, EI_DATA, e_machine, readelf's Machine line, `file`'s machine text)
EXPECTED = {
    "x86_64": (2, 1, 62, "Advanced Micro Devices X86-64", "x86-64"),
    "i686": (1, 1, 3, "Intel 80386", "Intel 80386"),
    "aarch64": (2, 1, 183, "AArch64", "ARM aarch64"),
    "armv7l": (1, 1, 40, "ARM", "ARM, EABI5"),
    "ppc64le": (2, 1, 21, "PowerPC64", "64-bit PowerPC"),
    "s390x": (2, 2, 22, "IBM S/390", "IBM S/390"),
    "riscv64": (2, 1, 243, "RISC-V", "UCB RISC-V"),
}
NATIVE = ["x86_64", "i686"]
EMULATED = ["aarch64", "armv7l", "ppc64le", "s390x", "riscv64"]
PF_R, PF_X, PT_LOAD, ET_EXEC = 4, 1, 1, 2


def header(data: bytes) -> dict[str, int]:
    """The ELF and single program header fields, decoded independently of elf_probe."""
    assert data[:4] == b"\x7fELF"
    is64 = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    names = "type machine version entry phoff shoff flags ehsize phentsize phnum"
    if is64:
        values = struct.unpack_from(order + "HHIQQQIHHH", data, 16)
        ph = struct.unpack_from(order + "IIQQQQQQ", data, values[4])
        p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = ph
    else:
        values = struct.unpack_from(order + "HHIIIIIHHH", data, 16)
        ph = struct.unpack_from(order + "IIIIIIII", data, values[4])
        p_type, p_offset, p_vaddr, _, p_filesz, p_memsz, p_flags, _ = ph
    fields = dict(zip(names.split(), values, strict=True))
    fields.update(
        p_type=p_type,
        p_flags=p_flags,
        p_offset=p_offset,
        p_vaddr=p_vaddr,
        p_filesz=p_filesz,
        p_memsz=p_memsz,
    )
    return fields


@pytest.fixture
def probe_file(tmp_path: Path):
    def write(arch: str) -> Path:
        path = tmp_path / f"probe-{arch}"
        path.write_bytes(probe(arch))
        path.chmod(0o755)
        return path

    return write


def test_every_canonical_architecture_has_a_probe() -> None:
    assert set(SUPPORTED) == set(ARCHITECTURES) == set(EXPECTED)
    assert EXIT_STATUS == 42


def test_unknown_architecture_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="no probe for architecture 'arm64'; known: x86_64, i686"):
        probe("arm64")


@pytest.mark.parametrize("arch", SUPPORTED)
def test_header_is_a_valid_static_executable(arch: str) -> None:
    data = probe(arch)
    elf_class, encoding, machine, _, _ = EXPECTED[arch]
    assert data[4] == elf_class
    assert data[5] == encoding
    assert data[6] == 1  # EI_VERSION
    assert data[7:16] == bytes(9)  # System V ABI, padding
    fields = header(data)
    assert fields["type"] == ET_EXEC
    assert fields["machine"] == machine
    assert fields["version"] == 1
    ehsize, phentsize = (64, 56) if elf_class == 2 else (52, 32)
    assert (fields["ehsize"], fields["phentsize"], fields["phnum"]) == (ehsize, phentsize, 1)
    assert fields["phoff"] == ehsize
    assert fields["shoff"] == 0
    # One loadable read+execute segment maps the whole file; the entry point is inside it,
    # right after the headers, and the code there is not empty.
    assert fields["p_type"] == PT_LOAD
    assert fields["p_flags"] == PF_R | PF_X
    assert fields["p_offset"] == 0
    assert fields["p_filesz"] == fields["p_memsz"] == len(data)
    assert fields["p_vaddr"] % 0x1000 == 0
    assert fields["entry"] == fields["p_vaddr"] + ehsize + phentsize
    assert len(data) > ehsize + phentsize
    assert len(data) < 200


def test_abi_flags() -> None:
    assert header(probe("armv7l"))["flags"] == 0x05000000  # EABI version 5
    assert header(probe("ppc64le"))["flags"] == 2  # ELFv2
    assert header(probe("aarch64"))["flags"] == 0


@pytest.mark.parametrize("arch", SUPPORTED)
def test_readelf_and_file_agree(arch: str, probe_file) -> None:
    path = probe_file(arch)
    elf_class, encoding, _, machine, file_machine = EXPECTED[arch]
    readelf = subprocess.run(
        ["readelf", "-h", "-l", str(path)], capture_output=True, text=True, check=True
    )
    assert f"ELF{32 * elf_class}" in readelf.stdout
    assert ("little endian" if encoding == 1 else "big endian") in readelf.stdout
    assert f"Machine:                           {machine}" in readelf.stdout
    assert "EXEC (Executable file)" in readelf.stdout
    assert "LOAD" in readelf.stdout
    assert readelf.stderr == ""
    described = subprocess.run(
        ["file", "-b", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert described.startswith(
        f"ELF {32 * elf_class}-bit {'LSB' if encoding == 1 else 'MSB'} executable, {file_machine}"
    )
    assert "statically linked" in described


@pytest.mark.parametrize("arch", EMULATED)
def test_debian_handler_of_the_architecture_selects_its_probe(arch: str) -> None:
    """The package's registration for this arch's QEMU target matches the probe's header."""
    conf = Path(f"/usr/lib/binfmt.d/qemu-{resolve(arch).qemu}.conf")
    reg = parse_line(conf.read_text(encoding="latin-1").strip())
    head = probe(arch)[reg.offset : reg.offset + len(reg.magic)]
    assert bytes(b & m for b, m in zip(head, reg.mask, strict=True)) == reg.masked_magic()


def matching_handlers(data: bytes) -> list[str]:
    kernel = BinfmtMisc()
    matches = []
    for name in kernel.names():
        reg = kernel.read(name)
        if reg is None or not reg.enabled or reg.kind != "M":
            continue
        head = data[reg.offset : reg.offset + len(reg.magic)]
        mask = reg.mask or b"\xff" * len(reg.magic)
        if len(head) == len(reg.magic) and bytes(
            b & m for b, m in zip(head, mask, strict=True)
        ) == bytes(b & m for b, m in zip(reg.magic, mask, strict=True)):
            matches.append(name)
    return matches


@pytest.mark.parametrize("arch", NATIVE)
def test_native_probe_runs_without_any_handler(arch: str, probe_file) -> None:
    path = probe_file(arch)
    # No registered handler claims it: the kernel itself executes it.
    assert matching_handlers(path.read_bytes()) == []
    completed = subprocess.run([path], capture_output=True, timeout=30, check=False)
    assert completed.returncode == EXIT_STATUS
    assert completed.stdout == completed.stderr == b""


@pytest.mark.emulation
@pytest.mark.parametrize("arch", EMULATED)
def test_foreign_probe_runs_through_its_qemu_handler(arch: str, probe_file) -> None:
    path = probe_file(arch)
    assert matching_handlers(path.read_bytes()) == [f"qemu-{resolve(arch).qemu}"]
    completed = subprocess.run([path], capture_output=True, timeout=60, check=False)
    assert completed.returncode == EXIT_STATUS
    assert completed.stdout == completed.stderr == b""
