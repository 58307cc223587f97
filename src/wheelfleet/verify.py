"""``wheelfleet verify``: rebuild a wheelhouse's wheels and compare their bytes.

Each chosen wheel is rebuilt from the very source its release built from (the
packed source the wheelhouse keeps under ``.sources/<source hash>.tar.gz``),
under the SOURCE_DATE_EPOCH its manifest entry records, by a release
(playbooks/release.yml through ansible-runner) with ``--force``, the wheel's
job given explicitly and the run limited to the verifying host, into a
temporary wheelhouse. The wheelhouse being verified is only read.

A wheel is identical when its file, its manifest entry and the rebuild have one
sha256. Otherwise the row says why, from what the two manifest entries record
of what entered the bytes (image, settings, SOURCE_DATE_EPOCH, toolchain mode,
tool versions); with every recorded input equal, something of the run or the
host entered the build, and the row says that.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wheelfleet import manifest, source_epoch

COMPARED_INPUTS = (
    ("source_hash", "source"),
    ("image_id", "builder image"),
    ("settings_hash", "build settings"),
    ("source_date_epoch", "SOURCE_DATE_EPOCH"),
    ("toolchain_mode", "toolchain mode"),
)
TOOLS = ("auditwheel", "patchelf", "zlib", "build_backend_wheel", "requirements")
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class VerifyInputError(ValueError):
    """The wheelhouse, a wheel or a host given to verify is not usable (exit code 2)."""


@dataclass
class Check:
    """One wheel to verify: its manifest entry, and the host that rebuilds it."""

    wheel: str
    entry: dict[str, Any]
    verifying_host: str
    file_sha256: str | None = None
    problem: str | None = None
    """Why it cannot be rebuilt at all (no kept source, an older manifest entry)."""


@dataclass
class Row:
    """A line of verify's table."""

    wheel: str
    original_host: str
    verifying_host: str
    identical: bool
    reason: str = ""
    rebuilt_sha256: str | None = None


@dataclass
class Rebuild:
    """One release of verify: the wheels of one source rebuilt on one host."""

    host: str
    source_hash: str
    source_date_epoch: int
    project: str
    checks: list[Check] = field(default_factory=list)

    @property
    def jobs(self) -> list[str]:
        return list(dict.fromkeys(check.entry["identifier"] for check in self.checks))


def select(wheels: Mapping[str, Any], names: Sequence[str]) -> list[dict[str, Any]]:
    """The manifest entries to verify: those named (by file name), else all of them."""
    if not wheels:
        raise VerifyInputError("the wheelhouse's manifest lists no wheel: nothing to verify")
    if not names:
        return [dict(wheels[name]) for name in sorted(wheels)]
    unknown = [name for name in names if name not in wheels]
    if unknown:
        raise VerifyInputError(
            f"--wheel {', '.join(unknown)}: not in the wheelhouse's manifest; it lists "
            + ", ".join(sorted(wheels))
        )
    return [dict(wheels[name]) for name in dict.fromkeys(names)]


def choose_host(original: str, candidates: Sequence[str], turn: int = 0) -> str:
    """The verifying host: one other than the original (taking turns among them), else the
    original itself."""
    others = [host for host in candidates if host != original]
    if others:
        return others[turn % len(others)]
    return original


def unverifiable(entry: Mapping[str, Any], wheelhouse: Path) -> str | None:
    """Why an entry cannot be rebuilt as it was, or None."""
    if entry.get("source_date_epoch") is None or not entry.get("normalized"):
        return (
            "recorded by a wheelfleet without reproducible builds (no SOURCE_DATE_EPOCH or"
            " normalized archive in its manifest entry): release it again with --force, then verify"
        )
    try:
        kept = manifest.kept_source(wheelhouse, str(entry.get("source_hash") or ""))
    except manifest.PublishError:
        return "its manifest entry has no valid source hash"
    if not kept.is_file():
        return (
            f"the wheelhouse does not keep its source ({manifest.SOURCES}/"
            f"{entry.get('source_hash')}.tar.gz): it was released by an older wheelfleet"
        )
    return None


def plan_checks(
    wheelhouse: Path,
    entries: Sequence[Mapping[str, Any]],
    hosts: Sequence[str],
    chosen: Sequence[str],
) -> list[Check]:
    """Each entry with its verifying host, the sha256 of its file, and what stops it."""
    if chosen:
        unknown = [host for host in chosen if host not in hosts]
        if unknown:
            raise VerifyInputError(
                f"--host {', '.join(unknown)}: not a build host of the inventory; it has "
                + (", ".join(hosts) or "none")
            )
    candidates = list(dict.fromkeys(chosen)) or list(hosts)
    if not candidates:
        raise VerifyInputError("the inventory has no build host (group build_hosts)")
    checks = []
    turns: dict[str, int] = {}
    for entry in entries:
        original = str(entry.get("host") or "")
        turn = turns.get(original, 0)
        turns[original] = turn + 1
        check = Check(str(entry["file"]), dict(entry), choose_host(original, candidates, turn))
        path = wheelhouse / check.wheel
        check.file_sha256 = manifest.sha256_file(path) if path.is_file() else None
        check.problem = unverifiable(entry, wheelhouse)
        checks.append(check)
    return checks


def rebuilds(checks: Iterable[Check]) -> list[Rebuild]:
    """The releases verify runs: one per (verifying host, source, SOURCE_DATE_EPOCH)."""
    found: dict[tuple[str, str, int], Rebuild] = {}
    for check in checks:
        if check.problem:
            continue
        entry = check.entry
        key = (check.verifying_host, entry["source_hash"], int(entry["source_date_epoch"]))
        found.setdefault(
            key, Rebuild(key[0], key[1], key[2], str(entry.get("project") or "project"))
        ).checks.append(check)
    return list(found.values())


def unpack_source(wheelhouse: Path, rebuild: Rebuild, into: Path) -> Path:
    """The kept source unpacked as a project directory named after the project (a project
    without a declared name takes its directory's)."""
    name = rebuild.project if _PLAIN.match(rebuild.project) else "project"
    scratch = into / "unpacked"
    with tarfile.open(manifest.kept_source(wheelhouse, rebuild.source_hash)) as archive:
        archive.extractall(scratch, filter="data")
    target = into / name
    (scratch / "src").rename(target)
    shutil.rmtree(scratch, ignore_errors=True)
    return target


def differences(original: Mapping[str, Any], rebuilt: Mapping[str, Any]) -> list[str]:
    """What the two entries record differently of what entered the bytes."""
    found = []
    for key, label in COMPARED_INPUTS:
        if original.get(key) != rebuilt.get(key):
            found.append(f"{label} {original.get(key)} -> {rebuilt.get(key)}")
    before, after = original.get("tools") or {}, rebuilt.get("tools") or {}
    for tool in TOOLS:
        if before.get(tool) != after.get(tool):
            if tool == "requirements":
                gone = sorted(set(before.get(tool) or []) - set(after.get(tool) or []))
                new = sorted(set(after.get(tool) or []) - set(before.get(tool) or []))
                found.append(f"requirement wheels {', '.join(gone)} -> {', '.join(new)}")
            else:
                found.append(f"{tool} {before.get(tool)} -> {after.get(tool)}")
    if original.get("file") != rebuilt.get("file"):
        found.append(f"wheel name {original.get('file')} -> {rebuilt.get('file')}")
    return found


def compare(check: Check, rebuilt: Mapping[str, Any] | None, failure: str | None = None) -> Row:
    """The table row of one wheel, from its rebuilt manifest entry (None: no wheel)."""
    entry = check.entry
    row = Row(check.wheel, str(entry.get("host") or "?"), check.verifying_host, False)
    recorded = entry.get("sha256")
    if check.file_sha256 is None:
        row.reason = "the wheel file is missing from the wheelhouse"
        return row
    if check.file_sha256 != recorded:
        # The file was changed after its release: the rebuild cannot vouch for it.
        row.reason = (
            f"the file's sha256 {check.file_sha256[:12]} is not the manifest's {str(recorded)[:12]}"
            " (changed after its release)"
        )
        if rebuilt is not None:
            row.rebuilt_sha256 = rebuilt.get("sha256")
            row.reason += f"; the rebuild gives {str(rebuilt.get('sha256'))[:12]}"
        return row
    if check.problem:
        row.reason = f"cannot verify: {check.problem}"
        return row
    if rebuilt is None:
        row.reason = f"the rebuild made no wheel: {failure or 'its job failed'}"
        return row
    row.rebuilt_sha256 = rebuilt.get("sha256")
    if rebuilt.get("sha256") == recorded:
        row.identical = True
        notes = differences(entry, rebuilt)
        if notes:
            row.reason = "identical although: " + "; ".join(notes)
        elif row.verifying_host == row.original_host:
            row.reason = "rebuilt on the host that built it (no other host was chosen)"
        return row
    found = differences(entry, rebuilt)
    if found:
        row.reason = "different inputs: " + "; ".join(found)
    else:
        row.reason = (
            "same recorded inputs, different bytes: the wheel was changed after its build, or"
            " something of the run or the host entered it (a backend that embeds the build"
            " time or a path?); compare the two wheels with diffoscope"
        )
    return row


def rebuilt_entry(wheels: Mapping[str, Any], original: Mapping[str, Any]) -> dict | None:
    """The rebuild's entry for an original entry: the same wheel name, else the same job."""
    if original["file"] in wheels:
        return dict(wheels[original["file"]])
    for entry in wheels.values():
        if entry.get("job") == original.get("job") and entry.get("project") == original.get(
            "project"
        ):
            return dict(entry)
    return None


def render(rows: Sequence[Row]) -> str:
    """The table: wheel, original host, verifying host, identical or not, and why not."""
    header = ("wheel", "original host", "verifying host", "identical", "reason")
    lines = [
        (row.wheel, row.original_host, row.verifying_host, "yes" if row.identical else "NO",
         row.reason)
        for row in rows
    ]  # fmt: skip
    widths = [max(len(str(item[col])) for item in [header, *lines]) for col in range(4)]

    def line(cells: Sequence[str]) -> str:
        fixed = "  ".join(
            str(cell).ljust(width) for cell, width in zip(cells, widths, strict=False)
        )
        return (fixed + "  " + cells[4]).rstrip()

    same = sum(row.identical for row in rows)
    summary = f"{same} of {len(rows)} wheels identical"
    return "\n".join([line(header), *(line(cells) for cells in lines), "", summary])


ReleaseRunner = Callable[[Rebuild, Path, Path], str | None]
"""Runs one rebuild's release: (rebuild, project directory, temporary wheelhouse) -> None,
or the failure's message."""


def verify(
    wheelhouse: Path,
    checks: Sequence[Check],
    release: ReleaseRunner,
    workdir: Path | None = None,
    on_rebuild: Callable[[Rebuild], None] | None = None,
) -> list[Row]:
    """Rebuild what can be rebuilt (one release per :func:`rebuilds`) into temporary
    wheelhouses under ``workdir`` and compare; the rows in the checks' order."""
    rows: dict[str, Row] = {}
    with tempfile.TemporaryDirectory(prefix="wheelfleet-verify-", dir=workdir) as scratch:
        for index, rebuild in enumerate(rebuilds(checks)):
            if on_rebuild is not None:
                on_rebuild(rebuild)
            place = Path(scratch) / str(index)
            place.mkdir()
            project = unpack_source(wheelhouse, rebuild, place)
            temporary = place / "wheelhouse"
            failure = release(rebuild, project, temporary)
            try:
                wheels = manifest.load(temporary).get("wheels", {})
            except manifest.ManifestError as exc:
                wheels, failure = {}, failure or str(exc)
            for check in rebuild.checks:
                rows[check.wheel] = compare(check, rebuilt_entry(wheels, check.entry), failure)
    return [rows.get(check.wheel) or compare(check, None) for check in checks]


def release_extravars(rebuild: Rebuild, project: Path, temporary: Path) -> dict[str, Any]:
    """The release's variables: the kept source, the temporary wheelhouse, --force and
    the wheels' jobs."""
    return {
        "project": str(project),
        "wheel_build_wheelhouse": str(temporary),
        "wheel_build_force": True,
        "wheelfleet_jobs": rebuild.jobs,
    }


def release_environment(rebuild: Rebuild) -> dict[str, str]:
    """SOURCE_DATE_EPOCH as the original release recorded it (the unpacked source's own
    times are not the original's)."""
    return {source_epoch.ENV: str(rebuild.source_date_epoch)}


def exit_code(rows: Sequence[Row]) -> int:
    return 0 if rows and all(row.identical for row in rows) else 1


def as_json(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [
        {
            "wheel": row.wheel,
            "original_host": row.original_host,
            "verifying_host": row.verifying_host,
            "identical": row.identical,
            "reason": row.reason,
            "rebuilt_sha256": row.rebuilt_sha256,
        }
        for row in rows
    ]


def default_workdir() -> Path | None:
    """Where temporary wheelhouses go ($TMPDIR by default)."""
    value = os.environ.get("WHEELFLEET_VERIFY_TMPDIR")
    return Path(value) if value else None
