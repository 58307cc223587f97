# Copyright: wheelfleet developers
# Apache License 2.0
"""A wheel's archive rewritten so that equal contents give equal bytes.

Runs on the build host, after the repair and before the test, so that the
tested bytes are the published bytes. Only the archive changes, never a
member's content:

- entries sorted by name, the ``.dist-info`` directory last with its RECORD
  the very last entry, as the wheel specification recommends;
- every timestamp is SOURCE_DATE_EPOCH (zip cannot say a time before 1980, so
  earlier ones are 1980-01-01), in UTC;
- permissions 0644, or 0755 for a member that was executable; no owners, no
  extra fields (they carry times), no comment;
- the RECORD's lines sorted the same way, RECORD's own line last;
- one compression: deflate at level 6 (zlib's default).

Deflate's bytes depend on the zlib that writes them: :data:`ZLIB_VERSION` is
recorded next to the result.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
import zipfile
import zlib

from ansible_collections.wheelfleet.fleet.plugins.module_utils.atomic_file import replace

ZIP_EPOCH = 315532800
"""1980-01-01T00:00:00Z, the earliest time a zip entry can hold."""
COMPRESS_LEVEL = 6
ZLIB_VERSION = zlib.ZLIB_RUNTIME_VERSION
FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755


def zip_time(epoch: int) -> tuple:
    """The zip date_time of SOURCE_DATE_EPOCH (UTC, clamped to 1980, even seconds)."""
    return time.gmtime(max(int(epoch), ZIP_EPOCH))[:6]


def _record_name(names: list) -> str | None:
    found = [
        name
        for name in names
        if name.count("/") == 1 and name.endswith("/RECORD") and ".dist-info/" in name
    ]
    return found[0] if len(found) == 1 else None


def entry_order(names: list) -> list:
    """Names sorted, the top-level ``*.dist-info/`` entries after the others and the
    RECORD last of all."""
    record = _record_name(names)

    def key(name: str) -> tuple:
        top = name.split("/", 1)[0]
        in_dist_info = top.endswith(".dist-info") and "/" in name
        return (in_dist_info, name == record, name)

    return sorted(names, key=key)


def sorted_record(data: bytes, record: str) -> bytes:
    """The RECORD's lines in entry order (RECORD's own line last), written with ``\\n``."""
    rows = [row for row in csv.reader(io.StringIO(data.decode("utf-8"))) if row]
    by_path = {}
    for row in rows:
        by_path.setdefault(row[0], row)
    ordered = entry_order(list(by_path))
    if record in by_path:
        ordered = [name for name in ordered if name != record] + [record]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for name in ordered:
        writer.writerow(by_path[name])
    return out.getvalue().encode("utf-8")


def _mode(info: zipfile.ZipInfo) -> int:
    if info.is_dir():
        return DIR_MODE
    return EXEC_MODE if (info.external_attr >> 16) & 0o111 else FILE_MODE


def normalize(data: bytes, epoch: int) -> bytes:
    """The normalized archive of a wheel's bytes (a pure function of ``data``, ``epoch``
    and this zlib). Raises ``zipfile.BadZipFile`` or ``ValueError`` on a broken wheel."""
    stamp = zip_time(epoch)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        infos = {}
        for info in source.infolist():
            if info.filename in infos:
                raise ValueError(f"the wheel has {info.filename} twice")
            infos[info.filename] = info
        record = _record_name(list(infos))
        with zipfile.ZipFile(out, "w") as target:
            for name in entry_order(list(infos)):
                info = infos[name]
                member = zipfile.ZipInfo(name, date_time=stamp)
                member.create_system = 3  # Unix: the mode bits below are read
                kind = 0o040000 if info.is_dir() else 0o100000
                member.external_attr = (kind | _mode(info)) << 16
                if info.is_dir():
                    member.external_attr |= 0x10  # MS-DOS directory flag
                    member.compress_type = zipfile.ZIP_STORED
                    target.writestr(member, b"")
                    continue
                member.compress_type = zipfile.ZIP_DEFLATED
                content = source.read(info)
                if name == record:
                    content = sorted_record(content, record)
                target.writestr(member, content, compresslevel=COMPRESS_LEVEL)
    return out.getvalue()


def normalize_file(path: str, epoch: int) -> dict:
    """Normalize a wheel file in place (atomically); its new sha256 and size, and whether
    the bytes changed."""
    with open(path, "rb") as handle:
        data = handle.read()
    result = normalize(data, epoch)
    if result != data:
        replace(path, result)
    return {
        "sha256": hashlib.sha256(result).hexdigest(),
        "size": len(result),
        "changed": result != data,
        "zlib": ZLIB_VERSION,
        "source_date_epoch": int(epoch),
    }
