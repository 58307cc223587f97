"""Byte-identical wheels across releases and hosts, and ``wheelfleet verify``.

On test_release's fleet (two container hosts sharing this machine's engine), with
the example, x86_64 cp311 only: two forced releases, each limited to one of the
two hosts, give the same sha256 for every wheel; ``wheelfleet verify`` rebuilds a
wheelhouse's wheel on the other host and finds it identical (exit 0), and finds
a tampered copy's wheel different (exit 1), leaving both wheelhouses untouched.
The releases run at once, then the two verifies: about 2.5 minutes on two cores.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import document, wheelfleet
from tests.integration.test_release import (  # noqa: F401 (fixtures)
    CP311,
    builder_images,
    fleet,
    inventory,
    manifest,
    record_timing,
    release_args,
)

pytestmark = [pytest.mark.engine]


def snapshot(wheelhouse: Path) -> dict[str, str]:
    """Every file of a wheelhouse (hidden state included) by its sha256."""
    return {
        str(path.relative_to(wheelhouse)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(wheelhouse.rglob("*"))
        if path.is_file()
    }


def verify(wheelhouse: Path, hosts: Path, cwd: Path, *more: str) -> tuple[Any, float]:
    started = time.monotonic()
    run = wheelfleet("verify", str(wheelhouse), "-i", str(hosts), "--json", *more, cwd=cwd)
    return run, time.monotonic() - started


@pytest.fixture(scope="module")
def two_releases(fleet, inventory) -> dict[str, Any]:  # noqa: F811
    """The example released twice with --force, once on each host of the fleet, both
    releases at once (each into its own wheelhouse)."""

    def release(host: str, name: str) -> dict[str, Any]:
        wheelhouse = fleet["dir"] / f"wheelhouse-{name}"
        run = wheelfleet(
            *release_args(inventory, wheelhouse, name, "--arch", "x86_64", *CP311),
            *("--force", "--limit", host),
            cwd=fleet["dir"],
        )
        assert run.returncode == 0, run.stderr[-6000:]
        document(run)
        return {"wheelhouse": wheelhouse, "host": host, "manifest": manifest(wheelhouse)}

    started = time.monotonic()
    names = ("repro-1", "repro-2")
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(release, fleet["names"], names))
    record_timing("two forced releases at once, one per host", time.monotonic() - started)
    return dict(zip(names, done, strict=True))


@pytest.fixture(scope="module")
def verified(two_releases, inventory, fleet) -> dict[str, Any]:  # noqa: F811
    """wheelfleet verify of the first release's wheelhouse, and of a tampered copy of the
    second's, both at once: a wheel replaced together with its manifest entry (the hashes
    agree, the bytes are not the build's)."""
    release = two_releases["repro-2"]
    tampered = fleet["dir"] / "wheelhouse-tampered"
    shutil.copytree(release["wheelhouse"], tampered)
    name = sorted(release["manifest"])[0]
    path = tampered / name
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("yamlcount/backdoor.py", "print('not from the source')\n")
    document_path = tampered / "manifest.json"
    data = json.loads(document_path.read_text())
    data["wheels"][name].update(
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size
    )
    document_path.write_text(json.dumps(data, indent=2))
    untouched = two_releases["repro-1"]["wheelhouse"]
    before = {"untouched": snapshot(untouched), "tampered": snapshot(tampered)}
    with ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(
                lambda args: verify(*args),
                [(untouched, inventory, fleet["dir"]),
                 (tampered, inventory, fleet["dir"], "--wheel", name)],
            )
        )  # fmt: skip
    for (_, seconds), label in zip(runs, ("untouched", "tampered"), strict=True):
        record_timing(f"wheelfleet verify of one wheel on the other host ({label})", seconds)
    return {
        "untouched": {"run": runs[0][0], "before": before["untouched"], "path": untouched},
        "tampered": {"run": runs[1][0], "before": before["tampered"], "path": tampered},
        "tampered_wheel": name,
    }


def test_two_forced_releases_on_two_hosts_give_the_same_bytes(two_releases) -> None:
    first, second = two_releases["repro-1"], two_releases["repro-2"]
    assert first["manifest"] and sorted(first["manifest"]) == sorted(second["manifest"])
    for name, entry in first["manifest"].items():
        other = second["manifest"][name]
        assert (entry["host"], other["host"]) == (first["host"], second["host"])
        assert entry["run_id"] != other["run_id"]
        assert entry["sha256"] == other["sha256"], name
        for wheelhouse in (first["wheelhouse"], second["wheelhouse"]):
            data = (wheelhouse / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        # What entered the bytes is recorded, and the same in both.
        for key in ("source_hash", "image_id", "settings_hash", "source_date_epoch", "tools"):
            assert entry[key] == other[key] and entry[key], key
        assert entry["source_date_epoch_origin"] == "git"
        assert entry["toolchain_mode"] == "native" and entry["normalized"] is True
        tools = entry["tools"]
        assert tools["auditwheel"] and tools["patchelf"] and tools["zlib"]
        # The builder images carry auditwheel 6.8 (the repair read its .dist-info).
        assert tools["auditwheel"].startswith("6.8."), tools
        assert tools["build_backend"] == "setuptools.build_meta"
        assert tools["build_backend_wheel"].startswith("setuptools-")
        # The archive is normalized: sorted, dist-info last, every time SOURCE_DATE_EPOCH.
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            assert names[-1].endswith(".dist-info/RECORD")
            stamps = {info.date_time for info in archive.infolist()}
            assert stamps == {time.gmtime(entry["source_date_epoch"])[:6]}
        kept = first["wheelhouse"] / ".sources" / f"{entry['source_hash']}.tar.gz"
        assert kept.is_file()


def test_verify_finds_an_untouched_wheelhouse_identical(two_releases, verified) -> None:
    release = two_releases["repro-1"]
    run = verified["untouched"]["run"]
    assert run.returncode == 0, run.stdout + run.stderr[-6000:]
    rows = document(run)["wheels"]
    assert [row["wheel"] for row in rows] == sorted(release["manifest"])
    for row in rows:
        assert row["identical"] is True, row
        assert row["original_host"] == release["host"]
        assert row["verifying_host"] == two_releases["repro-2"]["host"]
        assert row["rebuilt_sha256"] == release["manifest"][row["wheel"]]["sha256"]
    assert snapshot(release["wheelhouse"]) == verified["untouched"]["before"]


def test_verify_reports_a_tampered_wheel_and_exits_1(two_releases, verified, inventory) -> None:  # noqa: F811
    release = two_releases["repro-2"]
    run = verified["tampered"]["run"]
    name = verified["tampered_wheel"]
    assert run.returncode == 1, run.stdout + run.stderr[-6000:]
    (row,) = document(run)["wheels"]
    assert row["wheel"] == name and row["identical"] is False
    assert row["verifying_host"] == two_releases["repro-1"]["host"]
    assert row["rebuilt_sha256"] == release["manifest"][name]["sha256"]
    assert row["reason"].startswith("same recorded inputs, different bytes"), row
    tampered = verified["tampered"]["path"]
    assert snapshot(tampered) == verified["tampered"]["before"]
    # Bad input is refused before anything runs (exit 2).
    shown = wheelfleet("verify", str(tampered), "-i", str(inventory), "--wheel", "nope.whl",
                       cwd=tampered.parent)  # fmt: skip
    assert shown.returncode == 2 and "--wheel nope.whl: not in the wheelhouse" in shown.stderr
