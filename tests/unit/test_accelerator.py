"""wheelfleet.accelerator: which jobs are accelerated, their wrappers and environment, the
settings hash and manifest mode, the project and role switches, the toolchain archive."""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.unit.test_cli_release import request
from wheelfleet import accelerator, job_settings, manifest, options
from wheelfleet.identifiers import Identifier

ZIG = accelerator.TOOLCHAIN_ID
ROLE = {"accelerate": True}


def settings_of(document: dict, identifier: str, role: dict | None = None) -> dict:
    config = options.from_document(document)
    return job_settings.for_job(config, Identifier.parse(identifier), role or ROLE)


def test_only_emulated_targets_on_a_toolchain_host_are_accelerated():
    assert accelerator.requested("aarch64", None, True) == ZIG
    assert accelerator.requested("x86_64", None, True) is None
    assert accelerator.requested("aarch64", False, True) is None
    assert accelerator.requested("aarch64", None, False) is None
    assert accelerator.requested("aarch64", None, "false") is None
    assert accelerator.requested("aarch64", True, None) == ZIG
    assert accelerator.for_job("aarch64", ZIG, emulated=False, host_arch="x86_64") is None
    assert accelerator.for_job("aarch64", None, emulated=True, host_arch="x86_64") is None
    # No toolchain is pinned for an aarch64 host (emulating x86_64 there builds plainly).
    assert accelerator.for_job("x86_64", ZIG, emulated=True, host_arch="aarch64") is None
    job = accelerator.for_job("aarch64", ZIG, emulated=True, host_arch="x86_64")
    assert job is not None
    assert job["key"] == f"{ZIG}-x86_64" and job["target"] == "aarch64-linux-gnu"
    assert set(job["files"]) == {"bin/cc", "bin/c++", "bin/ld.lld"}


def test_wrappers_use_the_containers_gcc_installation_and_lld():
    files = accelerator.wrapper_files("aarch64-linux-gnu")
    cc, cxx, lld = files["bin/cc"], files["bin/c++"], files["bin/ld.lld"]
    for script in files.values():
        assert script.startswith("#!/bin/sh\n") and script.rstrip().endswith('"$@"')
    for script in (cc, cxx):
        assert f"exec {accelerator.INSTALL_DIR}/zig clang --" in script
        assert "--target=aarch64-linux-gnu" in script
        # The container's root: its headers, glibc, crt files, libgcc and libstdc++.
        assert "--sysroot=/ " in script
        assert f"-resource-dir {accelerator.INSTALL_DIR}/lib" in script
        assert f"--ld-path={accelerator.INSTALL_DIR}/bin/ld.lld" in script
        assert "-Qunused-arguments" in script
        assert "libc++" not in script and "-stdlib" not in script
    assert "--driver-mode=g++" in cxx and "--driver-mode" not in cc
    assert f"exec {accelerator.INSTALL_DIR}/zig ld.lld " in lld


def test_build_environment_names_the_wrappers():
    env = accelerator.build_environment(ZIG)
    tool = f"{accelerator.INSTALL_DIR}/bin"
    assert env == {
        "CC": f"{tool}/cc",
        "CXX": f"{tool}/c++",
        "LDSHARED": f"{tool}/cc -shared",
        "LDCXXSHARED": f"{tool}/c++ -shared",
        "WHEELFLEET_ACCELERATOR": ZIG,
    }


def test_project_key_and_role_variable_turn_it_off_and_change_the_hash():
    on = settings_of({}, "cp311-manylinux_aarch64")
    assert on["accelerator"] == ZIG
    off = settings_of({"tool": {"wheelfleet": {"accelerate": False}}}, "cp311-manylinux_aarch64")
    assert off["accelerator"] is None
    role_off = settings_of({}, "cp311-manylinux_aarch64", {"accelerate": False})
    assert role_off["accelerator"] is None
    assert on["settings_hash"] != off["settings_hash"]
    assert on["settings_hash"] != role_off["settings_hash"]
    # The same request, however it was made, is the same hash.
    assert (
        role_off["settings_hash"]
        == settings_of({}, "cp311-manylinux_aarch64", {"accelerate": False})["settings_hash"]
    )


def test_native_architectures_keep_their_hash():
    """x86_64 jobs are never accelerated: the switch leaves their hash as it was."""
    plain = settings_of({}, "cp311-manylinux_x86_64", {})
    assert plain["accelerator"] is None
    off = settings_of({}, "cp311-manylinux_x86_64", {"accelerate": False})
    assert plain["settings_hash"] == off["settings_hash"]
    config = options.from_document({})
    before = job_settings.settings_hash(
        config.settings(Identifier.parse("cp311-manylinux_x86_64")).to_dict(), {}
    )
    assert plain["settings_hash"] == before


def test_accelerate_in_overrides_and_bad_values():
    document = {
        "tool": {
            "wheelfleet": {
                "overrides": [{"select": "cp313-*", "accelerate": False}],
            }
        }
    }
    assert settings_of(document, "cp311-manylinux_aarch64")["accelerator"] == ZIG
    assert settings_of(document, "cp313-manylinux_aarch64")["accelerator"] is None
    with pytest.raises(options.OptionsError, match="expected true or false"):
        options.from_document({"tool": {"wheelfleet": {"accelerate": "no"}}})
    # cibuildwheel's table does not know the key: a warning, not applied.
    config = options.from_document({"tool": {"cibuildwheel": {"accelerate": False}}})
    assert any(w.key == "accelerate" for w in config.warnings)
    assert config.settings(Identifier.parse("cp311-manylinux_aarch64")).accelerate is None


def test_a_project_that_sets_its_own_compiler_is_not_accelerated():
    # The accelerator's wrappers would be overridden by the project's CC: the job must
    # not be called accelerated (manifest, settings hash), and the plan says why.
    own = {"tool": {"cibuildwheel": {"environment": "CFLAGS=-O1 CC=gcc-12"}}}
    settings = settings_of(own, "cp311-manylinux_aarch64")
    assert settings["accelerator"] is None
    assert any("sets CC" in note and "plain emulation" in note for note in settings["notes"])
    plain = settings_of(own, "cp311-manylinux_aarch64", {"accelerate": False})
    assert settings["settings_hash"] == plain["settings_hash"]
    passed = {"tool": {"cibuildwheel": {"environment-pass": ["CXX"]}}}
    assert settings_of(passed, "cp311-manylinux_aarch64")["accelerator"] is None
    # Flags alone leave the compiler to the accelerator; native jobs get no note.
    flags = {"tool": {"cibuildwheel": {"environment": {"CFLAGS": "-O1"}}}}
    assert settings_of(flags, "cp311-manylinux_aarch64")["accelerator"] == ZIG
    assert not settings_of(own, "cp311-manylinux_x86_64")["notes"]
    assert accelerator.own_compiler(["LDSHARED", "CFLAGS", "CC"]) == ["CC", "LDSHARED"]


def test_manifest_mode_and_description():
    record = {"toolchain": ZIG, "target": "aarch64-linux-gnu", "mode": "accelerated"}
    assert accelerator.build_mode(False, None) == "native"
    assert accelerator.build_mode(True, None) == "emulated"
    assert accelerator.build_mode(True, record) == "accelerated"
    fallback = dict(record, mode="fallback", step="build", reason="step build failed\nmore")
    assert accelerator.build_mode(True, fallback) == "fallback"
    assert accelerator.describe(True, record) == f"emulated, accelerated by {ZIG}"
    text = accelerator.describe(True, fallback)
    assert "failed at build: step build failed;" in text and "plain emulation" in text
    job = {
        "project": "p",
        "arch": "aarch64",
        "python_tag": "cp311-cp311",
        "image": "i",
        "emulated": True,
        "source_hash": "s",
        "settings_hash": "h",
        "id": "j",
        "run_id": "r",
    }
    wheel = {"file": "p.whl", "sha256": "0" * 64, "size": 1}
    entry = manifest.entry(job, wheel, host="h", timings={}, accelerator=fallback)
    assert entry["mode"] == "fallback" and entry["accelerator"]["reason"].startswith("step")
    assert entry["toolchain_mode"] == "emulated"
    plain = manifest.entry(job, wheel, host="h", timings={})
    assert plain["mode"] == "emulated" and plain["toolchain_mode"] == "emulated"
    accelerated = manifest.entry(job, wheel, host="h", timings={}, accelerator=record)
    assert accelerated["mode"] == "accelerated"
    assert accelerated["toolchain_mode"] == f"accelerated:{ZIG}"


def test_wanted_archives_once_for_jobs_to_build():
    accelerated = accelerator.for_job("aarch64", ZIG, emulated=True, host_arch="x86_64")
    jobs = [
        {"status": "build", "accelerator": accelerated},
        {"status": "build", "accelerator": accelerated},
        {"status": "up-to-date", "accelerator": accelerated},
        {"status": "build", "accelerator": None},
    ]
    assert accelerator.wanted_archives(jobs) == [f"{ZIG}-x86_64"]
    assert accelerator.wanted_archives(jobs[2:]) == []


def test_pack_keeps_the_binaries_headers_and_licences(tmp_path: Path):
    zig = tmp_path / "ziglang-0-py3-none-any.whl"
    with zipfile.ZipFile(zig, "w") as archive:
        archive.writestr("ziglang/zig", b"\x7fELF binary")
        archive.writestr("ziglang/LICENSE", "MIT")
        archive.writestr("ziglang/lib/include/stddef.h", "/* clang */")
        archive.writestr("ziglang/lib/libc/glibc/abilists", "not shipped")
        archive.writestr("ziglang/__init__.py", "")
        archive.writestr("ziglang-0.dist-info/RECORD", "")
    uv = tmp_path / "uv-0-py3-none-musllinux_1_1_x86_64.whl"
    with zipfile.ZipFile(uv, "w") as archive:
        archive.writestr("uv-0.data/scripts/uv", b"\x7fELF static")
        archive.writestr("uv-0.data/scripts/uvx", b"\x7fELF not shipped")
        archive.writestr("uv-0.dist-info/licenses/LICENSE-MIT", "MIT")
        archive.writestr("uv/__init__.py", "")
    dest = tmp_path / "toolchain.tar.gz"
    accelerator.pack({accelerator.TOOLCHAIN: zig, accelerator.INSTALLER: uv}, dest)
    with tarfile.open(dest) as tar:
        members = {member.name: member for member in tar.getmembers()}
    assert set(members) == {
        "wheelfleet-toolchain/zig",
        "wheelfleet-toolchain/LICENSE",
        "wheelfleet-toolchain/lib/include/stddef.h",
        "wheelfleet-toolchain/installer/uv",
        "wheelfleet-toolchain/installer/LICENSE-MIT",
    }
    assert members["wheelfleet-toolchain/zig"].mode == 0o755
    assert members["wheelfleet-toolchain/installer/uv"].mode == 0o755
    assert accelerator.INSTALLER_DIR.endswith("/installer")


def test_uv_installs_the_build_environment_unless_the_project_configures_pip():
    wheelhouse = "/work/wheelhouse"

    def installer(**settings):
        job = accelerator.for_job("aarch64", ZIG, True, "x86_64", settings, wheelhouse)
        assert job is not None
        return job["installer"], job["env"]

    chosen, env = installer(frontend="build", environment="export CFLAGS=-O1\n")
    assert chosen == "uv"
    assert env["WHEELFLEET_UV"] == f"{accelerator.INSTALLER_DIR}/uv"
    assert env["UV_FIND_LINKS"] == wheelhouse and env["UV_NO_INDEX"] == "1"
    assert env["UV_OFFLINE"] == "1" and env["UV_NO_CONFIG"] == "1"
    refusals = {
        "the frontend is pip": {"frontend": "pip"},
        "choose the installer": {"frontend_args": ["--installer=pip"]},
        "from an index": {"requirements_source": "index"},
        "sets PIP_CONSTRAINT": {"environment": "export PIP_CONSTRAINT=/c.txt\n"},
        "sets UV_INDEX_URL": {"environment_pass": ["UV_INDEX_URL"]},
    }
    for reason, settings in refusals.items():
        chosen, env = installer(**settings)
        assert chosen.startswith("pip: ") and reason in chosen, (reason, chosen)
        assert not any(name.startswith(("UV_", "WHEELFLEET_UV")) for name in env)
    # Without a wheelhouse in the container, pip.
    job = accelerator.for_job("aarch64", ZIG, True, "x86_64", {"frontend": "build"})
    assert job is not None and job["installer"].startswith("pip: ")


def test_ensure_uses_the_cache_and_refuses_unknown_toolchains(tmp_path: Path):
    key = f"{ZIG}-x86_64"
    cached = accelerator.archive_path(tmp_path, key)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"packed")
    made = accelerator.ensure(key, tmp_path)
    assert made["archive"] == str(cached) and made["changed"] is False
    with pytest.raises(accelerator.ToolchainError, match="ships"):
        accelerator.ensure("ziglang-0.1.0-x86_64", tmp_path)
    # Check mode: nothing is downloaded, the path is named.
    missing = accelerator.ensure(key, tmp_path / "empty", download=False)
    assert missing["changed"] is False and not Path(missing["archive"]).exists()


def test_the_pinned_digest_is_a_sha256():
    for platform, digest in accelerator.TOOLCHAIN_WHEELS["x86_64"].values():
        assert platform.endswith("_x86_64")
        assert len(digest) == len(hashlib.sha256().hexdigest())
        int(digest, 16)


def test_cli_no_accelerate_sets_the_role_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n')
    made = request("release", str(tmp_path), "--no-accelerate", "--check")
    assert made.extravars["wheel_build_accelerate"] is False
    made = request("release", str(tmp_path), "--check")
    assert "wheel_build_accelerate" not in made.extravars


def test_bench_shows_the_accelerated_ratios_against_their_goals():
    from wheelfleet import bench, bench_goals

    accelerated = {
        "mode": "accelerated",
        "build": bench_goals.goal("accelerated_build", 14.0 / 5.0),
        "wall": bench_goals.goal("accelerated_wall", 30.0 / 20.0),
        "plain_build": 8.0,
        "plain_wall": 3.0,
        "speedup_build": 40.0 / 14.0,
        "speedup_wall": 2.0,
    }
    assert accelerated["build"]["met"] is False and accelerated["wall"]["met"] is True
    results = {
        "split": {"method": "m", "projects": [{"label": "demo", "accelerated": accelerated}]}
    }
    rows = {figure: value for _, figure, value in bench.summary_rows(results)}
    assert rows["demo aarch64 (accelerated) / x86_64: build step"].startswith(
        "2.80x (goal <= 1.5x: not met); plain emulation 8.00x"
    )
    assert rows["demo aarch64 (accelerated) / x86_64: whole job"].startswith(
        "1.50x (goal <= 2.0x: met)"
    )
    text = bench.render_markdown(results)
    assert "build step (goal <= 1.5x)" in text and "| demo | accelerated |" in text


def test_link_commands_keep_the_interpreters_flags():
    from wheelfleet.launchers import linker_commands

    env = accelerator.build_environment(ZIG)
    debian = {
        "CC": "aarch64-linux-gnu-gcc",
        "CXX": "aarch64-linux-gnu-g++",
        "LDSHARED": "aarch64-linux-gnu-gcc -shared -Wl,-O1 -Wl,-Bsymbolic-functions   -g -O2 ",
        "LDCXXSHARED": "aarch64-linux-gnu-g++ -shared -Wl,-O1 -Wl,-Bsymbolic-functions",
    }
    assert linker_commands(debian, env) == {
        "LDSHARED": f"{env['CC']} -shared -Wl,-O1 -Wl,-Bsymbolic-functions -g -O2",
        "LDCXXSHARED": f"{env['CXX']} -shared -Wl,-O1 -Wl,-Bsymbolic-functions",
    }
    manylinux = {"CC": "gcc -pthread", "CXX": "g++ -pthread", "LDSHARED": "gcc -pthread -shared"}
    assert linker_commands(manylinux, env) == {"LDSHARED": f"{env['CC']} -pthread -shared"}
    # Commands that do not start with the compiler are left to the plain "<cc> -shared".
    assert linker_commands({"CC": "cc", "LDSHARED": "ld -shared"}, env) == {}
    assert linker_commands({}, env) == {}
