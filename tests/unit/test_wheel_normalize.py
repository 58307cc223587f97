"""The wheel normalizer on real zip files: equal contents give equal bytes."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from pathlib import Path

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils.wheel_normalize import (
    ZIP_EPOCH,
    entry_order,
    normalize,
    normalize_file,
    sorted_record,
)

EPOCH = 1_700_000_000
DIST = "demo-1.0.dist-info"
MEMBERS = {
    "demo/__init__.py": b"from demo._core import count\n",
    "demo/_core.cpython-311-x86_64-linux-gnu.so": b"\x7fELF fake shared object",
    "demo.libs/libyaml-0-1234abcd.so.2.0.9": b"\x7fELF grafted library",
    f"{DIST}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    f"{DIST}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n",
}
EXECUTABLE = {"demo/_core.cpython-311-x86_64-linux-gnu.so", "demo.libs/libyaml-0-1234abcd.so.2.0.9"}


def record_text(names: list[str]) -> bytes:
    lines = []
    for name in names:
        digest = hashlib.sha256(MEMBERS[name]).hexdigest()
        lines.append(f"{name},sha256={digest},{len(MEMBERS[name])}")
    lines.append(f"{DIST}/RECORD,,")
    return ("\r\n".join(lines) + "\r\n").encode()


def make_wheel(order: list[str], when: tuple, level: int, mode_bias: int = 0) -> bytes:
    """A wheel whose archive differs in every way the normalizer removes: entry order, times,
    permissions (group-writable, other bits), compression level, extra fields."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o775 if name in EXECUTABLE else 0o664
            info.external_attr = (0o100000 | (mode ^ mode_bias)) << 16
            info.extra = b"UT\x05\x00\x01" + int(time.time()).to_bytes(4, "little")
            data = record_text(list(reversed(order[:-1]))) if name.endswith("RECORD") else None
            archive.writestr(info, data if data is not None else MEMBERS[name], compresslevel=level)
    return buffer.getvalue()


def names_in(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()


ORDER_A = [*MEMBERS, f"{DIST}/RECORD"]
ORDER_B = [f"{DIST}/WHEEL", "demo.libs/libyaml-0-1234abcd.so.2.0.9", *MEMBERS, f"{DIST}/RECORD"]
ORDER_B = list(dict.fromkeys(ORDER_B))


def test_two_archives_of_the_same_contents_become_the_same_bytes() -> None:
    first = make_wheel(ORDER_A, (2024, 5, 6, 7, 8, 10), level=1)
    second = make_wheel(ORDER_B, (2026, 1, 2, 3, 4, 6), level=9, mode_bias=0o020)
    assert first != second
    assert normalize(first, EPOCH) == normalize(second, EPOCH)


def test_normalizing_twice_changes_nothing(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    wheel.write_bytes(make_wheel(ORDER_B, (2025, 1, 1, 0, 0, 0), level=9))
    first = normalize_file(str(wheel), EPOCH)
    assert first["changed"] is True
    assert first["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert first["size"] == wheel.stat().st_size
    again = normalize_file(str(wheel), EPOCH)
    assert again["changed"] is False
    assert again["sha256"] == first["sha256"]
    assert [p.name for p in tmp_path.iterdir()] == [wheel.name]  # no temporary file left


def test_entries_are_sorted_with_dist_info_last_and_record_the_very_last() -> None:
    names = names_in(normalize(make_wheel(ORDER_B, (2025, 1, 1, 0, 0, 0), 9), EPOCH))
    assert names == [
        "demo.libs/libyaml-0-1234abcd.so.2.0.9",
        "demo/__init__.py",
        "demo/_core.cpython-311-x86_64-linux-gnu.so",
        f"{DIST}/METADATA",
        f"{DIST}/WHEEL",
        f"{DIST}/RECORD",
    ]


def test_times_permissions_compression_and_extra_fields_are_fixed() -> None:
    data = normalize(make_wheel(ORDER_A, (2025, 1, 1, 0, 0, 0), level=1, mode_bias=0o022), EPOCH)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            assert info.date_time == time.gmtime(EPOCH)[:6]
            assert info.extra == b""
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.create_system == 3
            mode = (info.external_attr >> 16) & 0o7777
            assert mode == (0o755 if info.filename in EXECUTABLE else 0o644), info.filename
            if not info.filename.endswith("RECORD"):
                assert archive.read(info) == MEMBERS[info.filename]  # contents never change


def test_an_epoch_before_1980_is_clamped_to_1980() -> None:
    data = normalize(make_wheel(ORDER_A, (2025, 1, 1, 0, 0, 0), 6), 0)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {info.date_time for info in archive.infolist()} == {time.gmtime(ZIP_EPOCH)[:6]}


def test_the_record_is_sorted_and_still_hashes_every_member() -> None:
    data = normalize(make_wheel(ORDER_B, (2025, 1, 1, 0, 0, 0), 9), EPOCH)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        lines = archive.read(f"{DIST}/RECORD").decode().splitlines()
        paths = [line.split(",")[0] for line in lines]
        assert paths == names_in(data)
        for line in lines[:-1]:
            path, digest, size = line.split(",")
            content = archive.read(path)
            assert digest == "sha256=" + hashlib.sha256(content).hexdigest()
            assert int(size) == len(content)
        assert lines[-1] == f"{DIST}/RECORD,,"


def test_record_lines_keep_quoted_commas() -> None:
    record = b'b/x.py,sha256=1,1\n"a/with,comma.py",sha256=2,2\nd-1.dist-info/RECORD,,\n'
    assert sorted_record(record, "d-1.dist-info/RECORD") == (
        b'"a/with,comma.py",sha256=2,2\nb/x.py,sha256=1,1\nd-1.dist-info/RECORD,,\n'
    )


def test_entry_order_keeps_a_dist_info_named_directory_of_a_package_in_place() -> None:
    names = ["pkg/fake.dist-info/x", "a.dist-info/RECORD", "a.dist-info/METADATA", "z.py"]
    assert entry_order(names) == [
        "pkg/fake.dist-info/x",
        "z.py",
        "a.dist-info/METADATA",
        "a.dist-info/RECORD",
    ]


def test_a_broken_archive_is_refused() -> None:
    with pytest.raises(zipfile.BadZipFile):
        normalize(b"not a zip", EPOCH)
