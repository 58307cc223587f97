"""The binfmt_handlers module on the real kernel, through `ansible localhost -m`.

Every test registers its own handler, qemu-wftest<random>, from a conf file in a
temporary directory. Its magic (an ELF with e_machine 0x9999) matches no real
binary, and its interpreter is the real static aarch64 emulator, so the kernel
accepts it (flag F opens it) while the handlers other people rely on stay as they
are. A finalizer removes it whatever happens.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils.binfmt import parse_line

from tests.conftest import (
    BINFMT,
    ModuleRun,
    binfmt_entry,
    binfmt_snapshot,
    binfmt_write,
    run_module,
)

pytestmark = pytest.mark.emulation

MODULE = "wheelfleet.fleet.binfmt_handlers"
# ELF64 LSB, EI_ABIVERSION 5 (masked out below), ET_EXEC, e_machine 0x9999 (no such CPU).
MAGIC = b"\x7fELF\x02\x01\x01\x05" + bytes(8) + b"\x02\x00\x99\x99"
MASK = b"\xff" * 7 + b"\x00" + b"\xff" * 8 + b"\xfe\xff\xff\xff"
HEADER = "# Written by wheelfleet (qemu_binfmt role)\n"


def escaped(data: bytes) -> str:
    return "".join(f"\\x{byte:02x}" for byte in data)


@dataclass(frozen=True)
class Handler:
    name: str
    target: str
    conf_dir: Path
    interpreter: str
    line: str

    def apply(self, *, check: bool = False, **params: Any) -> ModuleRun:
        args = {"qemu_targets": [self.target], "conf_dirs": [str(self.conf_dir)], **params}
        return run_module(MODULE, args, check=check, diff=True)

    def entry(self) -> str | None:
        return binfmt_entry(self.name)


@pytest.fixture
def handler(tmp_path: Path, binfmt_mounted: None) -> Iterator[Handler]:
    target = f"wftest{secrets.token_hex(4)}"
    name = f"qemu-{target}"
    interpreter = str(Path("/usr/libexec/qemu-binfmt/aarch64-binfmt-P").resolve(strict=True))
    line = f":{name}:M::{escaped(MAGIC)}:{escaped(MASK)}:{interpreter}:OPF"
    conf_dir = tmp_path / "binfmt.d"
    conf_dir.mkdir()
    (conf_dir / f"{name}.conf").write_text(f"# test registration\n{line}\n", encoding="latin-1")
    try:
        yield Handler(name, target, conf_dir, interpreter, line)
    finally:
        if (BINFMT / name).exists():
            binfmt_write(name, "-1")
    assert binfmt_entry(name) is None


def only_handler(run: ModuleRun) -> dict[str, Any]:
    assert run.rc == 0, run.result.get("msg", run.result)
    assert not run.result.get("failed", False)
    (entry,) = run.result["handlers"]
    return entry


def test_registers_once_then_reports_unchanged(handler: Handler) -> None:
    assert handler.entry() is None
    first = handler.apply()
    assert only_handler(first) == {
        "name": handler.name,
        "qemu_target": handler.target,
        "interpreter": handler.interpreter,
        "flags": "POF",
        "action": "registered",
        "persisted": None,
    }
    assert first.result["changed"] is True
    assert first.result["removed"] == []
    assert first.result["diff"] == {
        "before": "\n",
        "after": f"{handler.name}: {handler.interpreter} flags=POF\n",
    }
    assert handler.entry() == (
        "enabled\n"
        f"interpreter {handler.interpreter}\n"
        "flags: POF\n"
        "offset 0\n"
        f"magic {MAGIC.hex()}\n"
        f"mask {MASK.hex()}\n"
    )

    second = handler.apply()
    assert only_handler(second)["action"] == "unchanged"
    assert second.result["changed"] is False
    assert second.result["diff"]["before"] == second.result["diff"]["after"]


def test_check_mode_predicts_without_registering(handler: Handler) -> None:
    dry = handler.apply(check=True)
    assert only_handler(dry)["action"] == "registered"
    assert dry.result["changed"] is True
    assert handler.entry() is None

    handler.apply()
    again = handler.apply(check=True)
    assert only_handler(again)["action"] == "unchanged"
    assert again.result["changed"] is False


def test_other_flags_replace_the_registration(handler: Handler) -> None:
    handler.apply()
    replaced = handler.apply(flags="PF")
    assert only_handler(replaced)["action"] == "replaced"
    assert only_handler(replaced)["flags"] == "PF"
    assert replaced.result["changed"] is True
    assert replaced.result["diff"]["before"] == f"{handler.name}: {handler.interpreter} flags=POF\n"
    assert "flags: PF\n" in (handler.entry() or "")

    # A dry run back to POF reports the replacement and leaves PF registered.
    dry = handler.apply(check=True, flags="POF")
    assert only_handler(dry)["action"] == "replaced"
    assert dry.result["changed"] is True
    assert "flags: PF\n" in (handler.entry() or "")


def test_credentials_flag_is_stable_although_the_kernel_adds_open_binary(
    handler: Handler,
) -> None:
    first = handler.apply(flags="CF")
    assert only_handler(first)["action"] == "registered"
    assert "flags: OCF\n" in (handler.entry() or "")
    second = handler.apply(flags="CF")
    assert only_handler(second)["action"] == "unchanged"
    assert second.result["changed"] is False


def test_force_registers_an_identical_handler_again(handler: Handler) -> None:
    handler.apply()
    entry = handler.entry()
    dry = handler.apply(check=True, force=True)
    assert only_handler(dry)["action"] == "reregistered"
    assert dry.result["changed"] is True
    forced = handler.apply(force=True)
    assert only_handler(forced)["action"] == "reregistered"
    assert forced.result["changed"] is True
    assert handler.entry() == entry
    assert handler.apply().result["changed"] is False


def test_a_disabled_handler_is_enabled(handler: Handler) -> None:
    handler.apply()
    binfmt_write(handler.name, "0")
    assert (handler.entry() or "").startswith("disabled\n")

    dry = handler.apply(check=True)
    assert only_handler(dry)["action"] == "enabled"
    assert dry.result["changed"] is True
    assert (handler.entry() or "").startswith("disabled\n")

    run = handler.apply()
    assert only_handler(run)["action"] == "enabled"
    assert run.result["changed"] is True
    assert (handler.entry() or "").startswith("enabled\n")
    assert handler.apply().result["changed"] is False


def test_persist_dir_is_written_idempotently_and_absent_removes_both(
    handler: Handler, tmp_path: Path
) -> None:
    persist_dir = tmp_path / "etc" / "binfmt.d"  # created by the module
    persisted = persist_dir / f"{handler.name}.conf"

    first = handler.apply(persist_dir=str(persist_dir))
    entry = only_handler(first)
    assert entry["action"] == "registered"
    assert entry["persisted"] == str(persisted)
    content = persisted.read_text(encoding="latin-1")
    assert content.startswith(HEADER)
    assert parse_line(content.splitlines()[1]) == parse_line(handler.line)
    assert oct(persisted.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in persist_dir.iterdir()] == [persisted.name]  # no leftover .tmp

    second = handler.apply(persist_dir=str(persist_dir))
    assert only_handler(second)["action"] == "unchanged"
    assert second.result["changed"] is False
    assert persisted.read_text(encoding="latin-1") == content

    # A stale persisted file is rewritten even though the kernel is already right.
    persisted.write_text("# stale\n", encoding="latin-1")
    rewritten = handler.apply(persist_dir=str(persist_dir))
    assert only_handler(rewritten)["action"] == "unchanged"
    assert rewritten.result["changed"] is True
    assert persisted.read_text(encoding="latin-1") == content

    dry = handler.apply(check=True, state="absent", persist_dir=str(persist_dir))
    assert only_handler(dry)["action"] == "removed"
    assert dry.result["changed"] is True
    assert handler.entry() is not None
    assert persisted.exists()

    removed = handler.apply(state="absent", persist_dir=str(persist_dir))
    assert only_handler(removed)["action"] == "removed"
    assert only_handler(removed)["persisted"] == str(persisted)
    assert removed.result["changed"] is True
    assert handler.entry() is None
    assert not persisted.exists()

    gone = handler.apply(state="absent", persist_dir=str(persist_dir))
    assert only_handler(gone)["action"] == "absent"
    assert gone.result["changed"] is False


def test_exclusive_in_check_mode_lists_other_qemu_handlers_without_removing(
    handler: Handler, tmp_path: Path
) -> None:
    handler.apply()
    # A handler of another package, which exclusive must never touch.
    other = f"wftestother{secrets.token_hex(4)}"
    (BINFMT / "register").write_text(f":{other}:E::{other}::/usr/bin/true:", encoding="latin-1")
    try:
        before = binfmt_snapshot()
        others = sorted(n for n in before if n.startswith("qemu-") and n != handler.name)
        assert {"qemu-aarch64", "qemu-arm", "qemu-ppc64le", "qemu-s390x", "qemu-riscv64"} <= set(
            others
        )

        dry = handler.apply(check=True, exclusive=True)
        assert only_handler(dry)["action"] == "unchanged"
        assert dry.result["removed"] == others
        assert other not in dry.result["removed"]
        assert dry.result["changed"] is True
        assert binfmt_snapshot() == before
    finally:
        binfmt_write(other, "-1")


def test_unknown_target_fails_naming_it_and_the_directories(handler: Handler) -> None:
    run = run_module(
        MODULE, {"qemu_targets": ["wftest-nosuch"], "conf_dirs": [str(handler.conf_dir)]}
    )
    assert run.rc != 0
    assert run.result["failed"] is True
    assert "'wftest-nosuch'" in run.result["msg"]
    assert str(handler.conf_dir) in run.result["msg"]
    assert "Traceback" not in run.stderr


def test_missing_emulator_fails_before_registering(handler: Handler, tmp_path: Path) -> None:
    conf = handler.conf_dir / f"{handler.name}.conf"
    conf.write_text(handler.line.replace(handler.interpreter, "/nonexistent/qemu-wftest") + "\n")
    run = handler.apply()
    assert run.rc != 0
    assert run.result["failed"] is True
    assert "/nonexistent/qemu-wftest" in run.result["msg"]
    assert str(conf) in run.result["msg"]
    assert handler.entry() is None


def test_invalid_flags_are_rejected_with_the_choices(handler: Handler) -> None:
    run = handler.apply(flags="PO")
    assert run.rc != 0
    assert "flags" in run.result["msg"]
    assert "POF" in run.result["msg"]
    assert "got: PO" in run.result["msg"]
    assert handler.entry() is None
