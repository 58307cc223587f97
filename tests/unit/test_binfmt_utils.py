"""binfmt_misc registration lines and kernel entries (plugins/module_utils/binfmt.py).

The registration lines are Debian's own files from qemu-user-static; the kernel
entries are the text the kernel prints in /proc/sys/fs/binfmt_misc/<name>.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils.binfmt import (
    BinfmtError,
    BinfmtMisc,
    Registration,
    package_conf,
    parse_entry,
    parse_flags,
    parse_line,
)

from tests.conftest import BINFMT

DEBIAN_DIR = Path("/usr/lib/binfmt.d")
# QEMU target -> (ELF class, data encoding, e_machine) that its handler matches.
QEMU_ELF = {
    "aarch64": (2, 1, 183),
    "arm": (1, 1, 40),
    "ppc64le": (2, 1, 21),
    "s390x": (2, 2, 22),
    "riscv64": (2, 1, 243),
}
ALL_QEMU_CONFS = sorted(DEBIAN_DIR.glob("qemu-*.conf"))


def registration_line(conf: Path) -> str:
    return next(line for line in conf.read_text(encoding="latin-1").splitlines() if line.strip())


@pytest.mark.parametrize("target", sorted(QEMU_ELF))
def test_parse_debian_conf(target: str) -> None:
    reg = parse_line(registration_line(DEBIAN_DIR / f"qemu-{target}.conf"))
    elf_class, data, machine = QEMU_ELF[target]
    assert reg.name == f"qemu-{target}"
    assert reg.kind == "M"
    assert reg.offset == 0
    assert reg.interpreter == f"/usr/libexec/qemu-binfmt/{target}-binfmt-P"
    assert Path(reg.interpreter).exists()
    # Debian ships OPF; the kernel and this module print them as POF.
    assert reg.flags == frozenset("OPF")
    assert reg.flag_string() == "POF"
    assert reg.enabled
    assert len(reg.magic) == len(reg.mask) == 20
    assert reg.magic[:4] == b"\x7fELF"
    assert (reg.magic[4], reg.magic[5]) == (elf_class, data)
    order = "little" if data == 1 else "big"
    assert reg.magic[18:20] == machine.to_bytes(2, order)
    # e_type is matched as ET_EXEC or ET_DYN: the mask clears the bit that separates 2 from 3.
    e_type_mask = reg.mask[16:18] if order == "little" else reg.mask[16:18][::-1]
    assert e_type_mask[0] == 0xFE


def test_parse_python_conf_without_mask_or_flags() -> None:
    reg = parse_line(registration_line(DEBIAN_DIR / "python3.11.conf"))
    assert reg.name == "python3.11"
    assert reg.magic == b"\xa7\x0d\x0d\x0a"
    assert reg.mask == b""
    assert reg.flags == frozenset()
    assert reg.masked_magic() == reg.magic
    assert reg.interpreter == "/usr/bin/python3.11"


@pytest.mark.parametrize("conf", ALL_QEMU_CONFS, ids=lambda p: p.name)
def test_line_round_trips_every_debian_conf(conf: Path) -> None:
    reg = parse_line(registration_line(conf))
    line = reg.line()
    assert parse_line(line) == reg
    assert line.startswith(f":{reg.name}:M::\\x7f\\x45\\x4c\\x46")
    assert line.endswith(f":{reg.interpreter}:POF")


def test_line_writes_offset_and_escapes_every_byte() -> None:
    reg = Registration("t", "/bin/t", frozenset("F"), "M", 4, b"A:\\", b"\xff\x00\xff")
    assert reg.line() == r":t:M:4:\x41\x3a\x5c:\xff\x00\xff:/bin/t:F"
    assert parse_line(reg.line()) == reg


def test_parse_line_accepts_another_delimiter_and_literal_magic() -> None:
    reg = parse_line("|w|M|2|MZ\\x90||/usr/bin/wine|")
    assert (reg.name, reg.offset, reg.magic, reg.interpreter) == (
        "w",
        2,
        b"MZ\x90",
        "/usr/bin/wine",
    )


def test_extension_registration_round_trips() -> None:
    reg = parse_line(":wf-ext:E::wfzz::/usr/bin/true:")
    assert (reg.kind, reg.magic) == ("E", b"wfzz")
    # The kernel takes an extension verbatim: no \xHH escapes, no offset, no mask.
    assert reg.line() == ":wf-ext:E::wfzz::/usr/bin/true:"
    assert parse_line(reg.line()) == reg


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "empty binfmt_misc registration line"),
        (":qemu-x:M::\\x7f", "needs 7 fields"),
        (":qemu-x:Q::\\x7f::/bin/x:F", "unsupported binfmt_misc type 'Q'"),
        (":qemu-x:M::\\x7f::/bin/x:FZ", "unknown binfmt_misc flag(s) 'Z'"),
    ],
)
def test_parse_line_errors(line: str, message: str) -> None:
    with pytest.raises(BinfmtError) as caught:
        parse_line(line)
    assert message in str(caught.value)


KERNEL_AARCH64 = """enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""


def test_parse_entry_of_kernel_text() -> None:
    reg = parse_entry("qemu-aarch64", KERNEL_AARCH64)
    assert reg.name == "qemu-aarch64"
    assert reg.enabled
    assert reg.interpreter == "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
    assert reg.flags == frozenset("POF")
    assert reg.offset == 0
    assert reg.magic == bytes.fromhex("7f454c460201010000000000000000000200b700")
    assert reg.mask == bytes.fromhex("ffffffffffffff00fffffffffffffffffeffffff")
    shipped = parse_line(registration_line(DEBIAN_DIR / "qemu-aarch64.conf"))
    assert reg.same_handler(shipped)
    assert reg == shipped


def test_parse_entry_disabled_without_mask_or_flags() -> None:
    text = "disabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n"
    reg = parse_entry("python3.11", text)
    assert not reg.enabled
    assert reg.flags == frozenset()
    assert reg.mask == b""
    assert reg.describe() == "python3.11: /usr/bin/python3.11 flags= (disabled)"
    assert reg.same_handler(parse_line(":python3.11:M::\\xa7\\x0d\\x0d\\x0a::/usr/bin/python3.11:"))


def test_parse_entry_extension_matches_its_registration_line() -> None:
    # The kernel prints "extension .wfzz" for a line that registered "wfzz".
    reg = parse_entry("wf-ext", "enabled\ninterpreter /usr/bin/true\nflags: \nextension .wfzz\n")
    assert (reg.kind, reg.magic) == ("E", b"wfzz")
    assert reg.same_handler(parse_line(":wf-ext:E::wfzz::/usr/bin/true:"))


def test_parse_entry_rejects_unknown_kernel_flags() -> None:
    with pytest.raises(BinfmtError, match="'X'"):
        parse_entry("x", "enabled\ninterpreter /x\nflags: PX\n")


BASE = parse_line(registration_line(DEBIAN_DIR / "qemu-aarch64.conf"))


def variant(**changes: object) -> Registration:
    fields = {
        "name": BASE.name,
        "interpreter": BASE.interpreter,
        "flags": BASE.flags,
        "kind": BASE.kind,
        "offset": BASE.offset,
        "magic": BASE.magic,
        "mask": BASE.mask,
        "enabled": BASE.enabled,
    }
    fields.update(changes)
    return Registration(**fields)  # type: ignore[arg-type]


def test_same_handler_is_reflexive_and_ignores_name_and_enabled() -> None:
    assert BASE.same_handler(BASE)
    assert BASE.same_handler(variant(enabled=False))
    assert BASE.same_handler(variant(name="qemu-other"))


@pytest.mark.parametrize(("mine", "theirs"), [("POF", "OF"), ("POF", "POCF"), ("F", "OF")])
def test_different_flags_are_not_the_same_handler(mine: str, theirs: str) -> None:
    assert not BASE.with_flags(mine).same_handler(BASE.with_flags(theirs))


@pytest.mark.parametrize(("requested", "shown"), [("CF", "OCF"), ("PCF", "POCF")])
def test_credentials_flag_implies_open_binary(requested: str, shown: str) -> None:
    assert BASE.with_flags(requested).same_handler(BASE.with_flags(shown))
    assert BASE.with_flags(shown).same_handler(BASE.with_flags(requested))


def test_magic_is_compared_under_the_mask() -> None:
    # Byte 7 (EI_ABIVERSION) is masked out (0x00) and byte 16's low bit too (0xfe).
    assert BASE.mask[7] == 0x00
    assert BASE.mask[16] == 0xFE
    noisy = bytearray(BASE.magic)
    noisy[7] = 0x05
    noisy[16] |= 0x01
    assert BASE.same_handler(variant(magic=bytes(noisy)))
    assert variant(magic=bytes(noisy)).masked_magic() == BASE.masked_magic()
    noisy[18] = 0x99  # e_machine is fully masked in: a different architecture
    assert not BASE.same_handler(variant(magic=bytes(noisy)))


def test_mask_differences_matter_but_a_missing_mask_means_all_ones() -> None:
    assert not BASE.same_handler(variant(mask=b"\xff" * 20))
    plain = variant(mask=b"")
    assert plain.same_handler(variant(mask=b"\xff" * 20))
    assert plain.masked_magic() == BASE.magic


@pytest.mark.parametrize(
    "changes",
    [{"interpreter": "/usr/bin/qemu-aarch64-static"}, {"offset": 1}, {"kind": "E"}],
    ids=["interpreter", "offset", "kind"],
)
def test_other_differences_are_not_the_same_handler(changes: dict[str, object]) -> None:
    assert not BASE.same_handler(variant(**changes))


def test_with_flags_keeps_everything_else() -> None:
    changed = BASE.with_flags("PCF")
    assert changed.flags == frozenset("PCF")
    assert changed.flag_string() == "PCF"
    assert variant(flags=frozenset("PCF")) == changed


def test_parse_flags() -> None:
    assert parse_flags("FOP") == frozenset("POF")
    assert parse_flags("") == frozenset()


def test_parse_flags_error_names_the_bad_flags_and_the_valid_ones() -> None:
    with pytest.raises(BinfmtError) as caught:
        parse_flags("PXZ")
    message = str(caught.value)
    assert "'XZ'" in message
    assert "'PXZ'" in message
    for valid in ("P (preserve argv0)", "O (open binary)", "C (credentials)", "F (fix binary)"):
        assert valid in message


def test_package_conf_finds_the_debian_file() -> None:
    path, reg = package_conf("aarch64", [str(DEBIAN_DIR)])
    assert path == str(DEBIAN_DIR / "qemu-aarch64.conf")
    assert reg == parse_line(registration_line(DEBIAN_DIR / "qemu-aarch64.conf"))


def test_package_conf_error_names_the_target_and_directories(tmp_path: Path) -> None:
    with pytest.raises(BinfmtError) as caught:
        package_conf("sparc99", [str(tmp_path), str(DEBIAN_DIR)])
    message = str(caught.value)
    assert "'sparc99'" in message
    assert "qemu-sparc99.conf or qemu-sparc99-static.conf" in message
    assert f"{tmp_path}, {DEBIAN_DIR}" in message
    assert "qemu user-emulation package" in message.lower()


def test_package_conf_finds_fedora_names_skips_comments_and_honours_dir_order(
    tmp_path: Path,
) -> None:
    fedora = tmp_path / "fedora"
    fedora.mkdir()
    (fedora / "qemu-aarch64-static.conf").write_text(
        "# shipped by qemu-user-static-aarch64\n\n"
        ":qemu-aarch64:M::\\x7fELF::/usr/bin/qemu-aarch64-static:F\n"
    )
    path, reg = package_conf("aarch64", [str(fedora), str(DEBIAN_DIR)])
    assert path == str(fedora / "qemu-aarch64-static.conf")
    assert (reg.interpreter, reg.magic, reg.flags) == (
        "/usr/bin/qemu-aarch64-static",
        b"\x7fELF",
        frozenset("F"),
    )
    path, _ = package_conf("aarch64", [str(DEBIAN_DIR), str(fedora)])
    assert path == str(DEBIAN_DIR / "qemu-aarch64.conf")


def test_package_conf_without_a_registration_line(tmp_path: Path) -> None:
    (tmp_path / "qemu-aarch64.conf").write_text("# nothing here\n; nor here\n")
    with pytest.raises(BinfmtError, match="holds no registration line"):
        package_conf("aarch64", [str(tmp_path)])


def test_binfmt_misc_elsewhere_is_not_mounted_and_writes_fail_with_a_message(
    tmp_path: Path,
) -> None:
    kernel = BinfmtMisc(str(tmp_path / "missing"))
    assert not kernel.mounted()
    assert kernel.read("qemu-aarch64") is None
    with pytest.raises(BinfmtError) as caught:
        kernel.register(BASE)
    assert "'register'" in str(caught.value)
    assert "'qemu-aarch64'" in str(caught.value)
    assert "No such file or directory" in str(caught.value)


@pytest.mark.emulation
@pytest.mark.parametrize("target", sorted(QEMU_ELF))
def test_registered_kernel_handlers_match_the_package_files(target: str) -> None:
    """Read-only: the provisioned handlers are what the package ships, with flags POF."""
    kernel = BinfmtMisc()
    assert kernel.root == str(BINFMT)
    assert kernel.mounted()
    assert f"qemu-{target}" in kernel.names()
    assert "register" not in kernel.names()
    current = kernel.read(f"qemu-{target}")
    assert current is not None
    _, shipped = package_conf(target, [str(DEBIAN_DIR)])
    assert current.same_handler(shipped.with_flags("POF"))
    assert current.flag_string() == "POF"
    assert kernel.read("qemu-wheelfleet-never-registered") is None
