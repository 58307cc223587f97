"""wheelfleet verify's logic: which wheels, which hosts, the comparison and its table."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from wheelfleet import manifest, source, verify

WHEEL = "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
ARM = "demo-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"
CONTENT = b"the wheel's bytes"
SHA = hashlib.sha256(CONTENT).hexdigest()
TOOLS = {"auditwheel": "6.8.0", "patchelf": "0.18.0", "zlib": "1.2.13",
         "build_backend_wheel": "setuptools-80.9.0-py3-none-any.whl",
         "requirements": ["setuptools-80.9.0-py3-none-any.whl"]}  # fmt: skip


def entry(name: str = WHEEL, host: str = "a", **changes) -> dict:
    found = {
        "file": name,
        "sha256": SHA,
        "host": host,
        "project": "demo",
        "job": "demo-cp311-cp311-x86_64",
        "identifier": "cp311-manylinux_x86_64",
        "source_hash": "ab" * 32,
        "image_id": "sha256:image",
        "settings_hash": "s1",
        "source_date_epoch": 1_700_000_000,
        "toolchain_mode": "native",
        "normalized": True,
        "tools": dict(TOOLS),
    }
    found.update(changes)
    return found


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    (tmp_path / WHEEL).write_bytes(CONTENT)
    files = [source.SourceFile("pyproject.toml", "file", False, b'[project]\nname = "demo"\n')]
    archive = tmp_path / "packed.tar.gz"
    source.write_archive(files, archive)
    manifest.keep_source(tmp_path, archive, "ab" * 32)
    return tmp_path


def check_of(wheelhouse: Path, original: dict, hosts=("a", "b"), chosen=()) -> verify.Check:
    (check,) = verify.plan_checks(wheelhouse, [original], list(hosts), list(chosen))
    return check


def test_the_same_bytes_are_identical(wheelhouse: Path) -> None:
    row = verify.compare(check_of(wheelhouse, entry()), entry(host="b"))
    assert (row.identical, row.original_host, row.verifying_host, row.reason) == (
        True, "a", "b", ""
    )  # fmt: skip


def test_an_identical_rebuild_says_what_differed_or_that_it_is_the_same_host(wheelhouse) -> None:
    emulated = verify.compare(check_of(wheelhouse, entry()), entry(toolchain_mode="emulated"))
    assert emulated.identical and emulated.reason == (
        "identical although: toolchain mode native -> emulated"
    )
    alone = verify.compare(check_of(wheelhouse, entry(), hosts=["a"]), entry())
    assert alone.identical and alone.verifying_host == "a" and "host that built it" in alone.reason


def test_a_rebuild_with_other_bytes_names_the_inputs_that_differ(wheelhouse: Path) -> None:
    tools = dict(TOOLS, patchelf="0.17.2", requirements=["setuptools-75.0.0-py3-none-any.whl"])
    rebuilt = entry(host="b", sha256="0" * 64, image_id="sha256:other", tools=tools)
    row = verify.compare(check_of(wheelhouse, entry()), rebuilt)
    assert not row.identical
    assert row.reason == (
        "different inputs: builder image sha256:image -> sha256:other; patchelf 0.18.0 -> "
        "0.17.2; requirement wheels setuptools-80.9.0-py3-none-any.whl -> "
        "setuptools-75.0.0-py3-none-any.whl"
    )


def test_other_bytes_from_the_same_inputs_say_the_build_is_not_reproducible(wheelhouse) -> None:
    row = verify.compare(check_of(wheelhouse, entry()), entry(host="b", sha256="1" * 64))
    assert not row.identical and row.reason.startswith("same recorded inputs, different bytes")


def test_a_tampered_file_is_a_mismatch_even_when_the_rebuild_matches(wheelhouse: Path) -> None:
    (wheelhouse / WHEEL).write_bytes(b"changed after the release")
    row = verify.compare(check_of(wheelhouse, entry()), entry(host="b"))
    assert not row.identical
    assert "is not the manifest's" in row.reason and "the rebuild gives" in row.reason


def test_an_entry_of_an_older_release_is_reported_not_rebuilt(wheelhouse: Path) -> None:
    old = {k: v for k, v in entry().items() if k not in ("source_date_epoch", "normalized")}
    check = check_of(wheelhouse, old)
    assert check.problem and "without reproducible builds" in check.problem
    assert verify.rebuilds([check]) == []
    row = verify.compare(check, None)
    assert not row.identical and row.reason.startswith("cannot verify: recorded by a wheelfleet")
    missing = check_of(wheelhouse, entry(source_hash="cd" * 32))
    assert "does not keep its source" in str(missing.problem)


def test_a_failed_rebuild_says_why(wheelhouse: Path) -> None:
    row = verify.compare(check_of(wheelhouse, entry()), None, "image x is not on b's engine")
    assert row.reason == "the rebuild made no wheel: image x is not on b's engine"


def test_hosts_other_than_the_original_are_chosen_in_turn() -> None:
    assert verify.choose_host("a", ["a", "b", "c"], 0) == "b"
    assert verify.choose_host("a", ["a", "b", "c"], 1) == "c"
    assert verify.choose_host("a", ["a"]) == "a"  # a fleet of one: the same host
    assert verify.choose_host("a", ["b"]) == "b"


def test_bad_wheels_and_hosts_are_refused_naming_the_valid_ones(wheelhouse: Path) -> None:
    wheels = {WHEEL: entry(), ARM: entry(ARM)}
    assert [e["file"] for e in verify.select(wheels, [])] == [ARM, WHEEL]
    assert [e["file"] for e in verify.select(wheels, [WHEEL, WHEEL])] == [WHEEL]
    with pytest.raises(verify.VerifyInputError, match=rf"--wheel nope.whl: .* {ARM}, {WHEEL}"):
        verify.select(wheels, ["nope.whl"])
    with pytest.raises(verify.VerifyInputError, match="lists no wheel"):
        verify.select({}, [])
    with pytest.raises(verify.VerifyInputError, match=r"--host c: .* it has a, b"):
        verify.plan_checks(wheelhouse, [entry()], ["a", "b"], ["c"])


def test_one_release_per_host_and_source(wheelhouse: Path) -> None:
    checks = verify.plan_checks(
        wheelhouse,
        [entry(), entry(ARM, identifier="cp311-manylinux_aarch64"), entry("x.whl", host="b")],
        ["a", "b"],
        [],
    )
    releases = verify.rebuilds(checks)
    assert [(r.host, r.jobs) for r in releases] == [
        ("b", ["cp311-manylinux_x86_64", "cp311-manylinux_aarch64"]),
        ("a", ["cp311-manylinux_x86_64"]),
    ]
    assert verify.release_environment(releases[0]) == {"SOURCE_DATE_EPOCH": "1700000000"}
    variables = verify.release_extravars(releases[0], Path("/p"), Path("/w"))
    assert variables["wheel_build_force"] is True
    assert variables["wheelfleet_jobs"] == releases[0].jobs


def test_the_kept_source_unpacks_to_the_same_source_hash(wheelhouse: Path, tmp_path) -> None:
    (release,) = verify.rebuilds([check_of(wheelhouse, entry())])
    project = verify.unpack_source(wheelhouse, release, tmp_path / "scratch")
    assert project.name == "demo"
    files = [source.SourceFile("pyproject.toml", "file", False, b'[project]\nname = "demo"\n')]
    assert source.inspect(project)[0].source_hash == source.content_hash(files)


def test_the_table_shows_each_wheel_and_a_count(wheelhouse: Path) -> None:
    good = verify.compare(check_of(wheelhouse, entry()), entry(host="b"))
    bad = verify.compare(check_of(wheelhouse, entry()), entry(host="b", sha256="1" * 64))
    lines = verify.render([good, bad]).splitlines()
    assert lines[0].split() == ["wheel", "original", "host", "verifying", "host", "identical",
                                "reason"]  # fmt: skip
    assert lines[1].split() == [WHEEL, "a", "b", "yes"]
    assert lines[2].split()[:4] == [WHEEL, "a", "b", "NO"] and "same recorded" in lines[2]
    assert lines[-1] == "1 of 2 wheels identical"
    assert verify.exit_code([good]) == 0 and verify.exit_code([good, bad]) == 1
    assert json.loads(json.dumps(verify.as_json([bad])))[0]["identical"] is False


def test_the_inventorys_build_hosts_are_read_as_ansible_reads_them(tmp_path: Path) -> None:
    from wheelfleet import verify_cli

    path = tmp_path / "fleet.yml"
    path.write_text(
        "all:\n  children:\n    build_hosts:\n      hosts:\n        a: {}\n        b: {}\n"
        "    others:\n      hosts:\n        c: {}\n"
    )
    assert verify_cli.build_hosts([path]) == ["a", "b"]


def test_bad_input_exits_2_before_anything_runs(wheelhouse: Path, tmp_path: Path, capsys) -> None:
    from wheelfleet import cli

    assert cli.main(["verify", str(tmp_path / "nowhere")]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    document = {"version": 1, "wheels": {WHEEL: entry()}}
    (wheelhouse / "manifest.json").write_text(json.dumps(document))
    assert cli.main(["verify", str(wheelhouse), "--host", "elsewhere"]) == 2
    assert "--host elsewhere: not a build host of the inventory; it has localhost" in (
        capsys.readouterr().err
    )
    assert cli.main(["verify", str(wheelhouse), "--wheel", "other.whl"]) == 2
    assert f"it lists {WHEEL}" in capsys.readouterr().err
