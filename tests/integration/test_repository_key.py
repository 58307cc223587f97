"""wheelfleet.fleet.repository_key through Ansible (ad hoc on localhost), with keys made
by the test: the check the docker_engine role runs before apt trusts Docker's key.
Docker's site is not reachable here, so the download itself is not part of it.
About 5 s."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import run_module
from tests.unit.test_gpg_keys import DOCKER, keys, make_key, spaced  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="needs gpg")


def test_the_expected_key_is_installed_once(keys, tmp_path):  # noqa: F811
    directory, made = keys
    dest = tmp_path / "docker.asc"
    args = {
        "src": str(directory / "good.asc"),
        "dest": str(dest),
        "fingerprint": spaced(made["good"]),
    }

    dry = run_module("wheelfleet.fleet.repository_key", args, check=True)
    assert dry.rc == 0, dry.result
    assert dry.result["changed"] is True and not dest.exists()

    first = run_module("wheelfleet.fleet.repository_key", args)
    assert first.rc == 0, first.result
    assert first.result["changed"] is True
    assert first.result["fingerprint"] == made["good"]
    assert dest.read_bytes() == (directory / "good.asc").read_bytes()

    again = run_module("wheelfleet.fleet.repository_key", args)
    assert again.result["changed"] is False


def test_another_key_fails_before_it_is_installed(keys, tmp_path):  # noqa: F811
    directory, made = keys
    dest = tmp_path / "docker.asc"
    args = {"src": str(directory / "other.asc"), "dest": str(dest), "fingerprint": DOCKER}
    run = run_module("wheelfleet.fleet.repository_key", args)
    assert run.rc != 0
    assert run.result.get("failed") is True
    assert made["other"] in run.result["msg"]
    assert "9DC858229FC7DD38854AE2D88D81803C0EBFCD88" in run.result["msg"]
    assert not dest.exists()
