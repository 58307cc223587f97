"""The repository key check (plugins/module_utils/gpg_keys.py) with the real gpg, on keys
made by the test in a throw-away GNUPGHOME."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils import gpg_keys

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="needs gpg")

DOCKER = "9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88"


def make_key(home: Path, name: str, out: Path, armor: bool = True) -> str:
    """A new signing key; exported to ``out``; returns its fingerprint."""
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback"]
    subprocess.run(
        [
            *gpg,
            "--passphrase",
            "",
            "--quick-gen-key",
            f"{name} <{name}@example.org>",
            "ed25519",
            "sign",
            "never",
        ],
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        [*gpg, "--with-colons", "--list-keys", f"{name}@example.org"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    export = [*gpg, *(["--armor"] if armor else []), "--export", f"{name}@example.org"]
    out.write_bytes(subprocess.run(export, check=True, capture_output=True).stdout)
    return gpg_keys.primary_fingerprints(listing)[0]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keys")
    home = directory / "gnupg"
    home.mkdir(mode=0o700)
    made = {
        "good": make_key(home, "good", directory / "good.asc"),
        "other": make_key(home, "other", directory / "other.asc"),
        "binary": make_key(home, "binary", directory / "binary.gpg", armor=False),
    }
    yield directory, made
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


def spaced(fingerprint: str) -> str:
    """As publishers print it: groups of four, lower case here."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4)).lower()


def test_a_matching_key_is_accepted(keys):
    directory, made = keys
    assert gpg_keys.check(str(directory / "good.asc"), spaced(made["good"])) == made["good"]
    assert gpg_keys.check(str(directory / "binary.gpg"), made["binary"]) == made["binary"]


def test_a_mismatch_names_both_fingerprints(keys):
    directory, made = keys
    with pytest.raises(gpg_keys.KeyCheckError) as error:
        gpg_keys.check(str(directory / "other.asc"), DOCKER)
    message = str(error.value)
    assert made["other"] in message
    assert "9DC858229FC7DD38854AE2D88D81803C0EBFCD88" in message
    assert "not installed" in message


def test_a_file_with_two_keys_is_refused(keys, tmp_path):
    directory, made = keys
    both = tmp_path / "both.asc"
    both.write_bytes((directory / "good.asc").read_bytes() + (directory / "other.asc").read_bytes())
    with pytest.raises(gpg_keys.KeyCheckError, match=made["other"]):
        gpg_keys.check(str(both), made["good"])


def test_not_a_key_is_refused(tmp_path):
    page = tmp_path / "gpg"
    page.write_text("<html>captive portal</html>\n")
    with pytest.raises(gpg_keys.KeyCheckError, match="holds no OpenPGP key"):
        gpg_keys.check(str(page), DOCKER)


@pytest.mark.parametrize("bad", ["", "9DC8", "not a fingerprint", DOCKER + " 00"])
def test_a_malformed_expected_fingerprint_is_named(bad):
    with pytest.raises(gpg_keys.KeyCheckError, match="is not a key fingerprint"):
        gpg_keys.normalize(bad)


def test_the_published_fingerprint_normalizes():
    assert gpg_keys.normalize(DOCKER) == "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
    assert gpg_keys.normalize("0x9dc858229fc7dd38854ae2d88d81803c0ebfcd88").startswith("9DC8")


def test_install_is_atomic_and_sets_the_mode(keys, tmp_path):
    directory, _ = keys
    dest = tmp_path / "keyrings" / "docker.asc"
    dest.parent.mkdir()
    gpg_keys.install(str(directory / "good.asc"), str(dest), 0o644)
    assert dest.read_bytes() == (directory / "good.asc").read_bytes()
    assert oct(dest.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in dest.parent.iterdir()] == ["docker.asc"]
