# Copyright: wheelfleet developers
# Apache License 2.0
"""Tiny static ELF executables that prove a CPU architecture can run.

Each probe is a complete, statically linked program of a few instructions
that calls the kernel's ``exit`` with status 42. Running it on a host shows
whether that host can execute binaries of the architecture, natively or
through a binfmt_misc handler, without needing any image or toolchain.
The machine code for each architecture is written out below with the
assembly it encodes.
"""

from __future__ import annotations

import struct

EXIT_STATUS = 42

# (ELF class 1=32/2=64, data 1=LSB/2=MSB, e_machine, e_flags, code)
_PROBES = {
    # mov edi, 42 ; mov eax, 60 (exit) ; syscall
    "x86_64": (2, 1, 62, 0, bytes.fromhex("bf2a000000b83c0000000f05")),
    # mov ebx, 42 ; mov eax, 1 (exit) ; int 0x80
    "i686": (1, 1, 3, 0, bytes.fromhex("bb2a000000b801000000cd80")),
    # movz x0, #42 ; movz x8, #93 (exit) ; svc #0
    "aarch64": (2, 1, 183, 0, struct.pack("<3I", 0xD2800540, 0xD2800BA8, 0xD4000001)),
    # mov r0, #42 ; mov r7, #1 (exit) ; svc #0   (EABI version 5)
    "armv7l": (1, 1, 40, 0x05000000, struct.pack("<3I", 0xE3A0002A, 0xE3A07001, 0xEF000000)),
    # li r3, 42 ; li r0, 1 (exit) ; sc          (ELFv2 ABI)
    "ppc64le": (2, 1, 21, 2, struct.pack("<3I", 0x3860002A, 0x38000001, 0x44000002)),
    # lghi %r2, 42 ; svc 1 (exit)
    "s390x": (2, 2, 22, 0, bytes.fromhex("a729002a0a01")),
    # addi a0, zero, 42 ; addi a7, zero, 93 (exit) ; ecall
    "riscv64": (2, 1, 243, 0, struct.pack("<3I", 0x02A00513, 0x05D00893, 0x00000073)),
}

SUPPORTED = tuple(_PROBES)


def probe(arch: str) -> bytes:
    """The probe executable for ``arch`` (a canonical wheelfleet architecture name)."""
    try:
        elf_class, data, machine, flags, code = _PROBES[arch]
    except KeyError:
        raise ValueError(
            f"no probe for architecture {arch!r}; known: {', '.join(SUPPORTED)}"
        ) from None
    return _elf(elf_class, data, machine, flags, code)


def _elf(elf_class: int, data: int, machine: int, flags: int, code: bytes) -> bytes:
    """One PT_LOAD segment mapping the whole file; entry right after the headers."""
    order = "<" if data == 1 else ">"
    is64 = elf_class == 2
    base = 0x400000 if is64 else 0x10000
    ehsize, phsize = (64, 56) if is64 else (52, 32)
    entry = base + ehsize + phsize
    size = ehsize + phsize + len(code)
    ident = b"\x7fELF" + bytes([elf_class, data, 1, 0]) + bytes(8)
    ET_EXEC, EV_CURRENT, PT_LOAD, PF_R_X = 2, 1, 1, 5
    if is64:
        header = ident + struct.pack(
            order + "HHIQQQIHHHHHH",
            ET_EXEC,
            machine,
            EV_CURRENT,
            entry,
            ehsize,
            0,
            flags,
            ehsize,
            phsize,
            1,
            0,
            0,
            0,
        )
        program = struct.pack(
            order + "IIQQQQQQ", PT_LOAD, PF_R_X, 0, base, base, size, size, 0x1000
        )
    else:
        header = ident + struct.pack(
            order + "HHIIIIIHHHHHH",
            ET_EXEC,
            machine,
            EV_CURRENT,
            entry,
            ehsize,
            0,
            flags,
            ehsize,
            phsize,
            1,
            0,
            0,
            0,
        )
        program = struct.pack(
            order + "IIIIIIII", PT_LOAD, 0, base, base, size, size, PF_R_X, 0x1000
        )
    return header + program + code
