# Copyright: wheelfleet developers
# Apache License 2.0
"""Fingerprints of OpenPGP key files, read with the host's gpg, compared with an expected one.

Runs on build hosts (any Python 3.8+), so it uses only the standard library.
``gpg --show-keys --with-colons`` lists a file's keys without importing them
anywhere: a ``pub`` record starts each primary key and the ``fpr`` record right
after it holds that key's fingerprint (field 10).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

_HEX = re.compile(r"^[0-9A-F]{40}$|^[0-9A-F]{64}$")


class KeyCheckError(Exception):
    """A key file that cannot be read or does not carry the expected fingerprint."""


def normalize(fingerprint: str) -> str:
    """A fingerprint as 40 (v4) or 64 (v5) upper-case hex digits, spaces and 0x removed."""
    text = re.sub(r"\s+", "", str(fingerprint)).upper()
    if text.startswith("0X"):
        text = text[2:]
    if not _HEX.match(text):
        raise KeyCheckError(
            f"{fingerprint!r} is not a key fingerprint: give its 40 hex digits "
            "(spaces allowed), such as '9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88'"
        )
    return text


def primary_fingerprints(colons: str) -> list:
    """The primary keys' fingerprints in ``gpg --with-colons`` output, in order."""
    found = []
    after_pub = False
    for line in colons.splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            after_pub = True
        elif fields[0] == "fpr" and after_pub and len(fields) > 9:
            found.append(fields[9].upper())
            after_pub = False
        elif fields[0] in ("sub", "sec", "ssb"):
            after_pub = False
    return found


def read_fingerprints(path: str, gpg: str = "gpg") -> list:
    """The primary keys' fingerprints of a key file (armored or binary), with gpg."""
    home = tempfile.mkdtemp(prefix="wheelfleet-gpg-")
    try:
        completed = subprocess.run(
            [
                gpg,
                "--homedir",
                home,
                "--batch",
                "--no-autostart",
                "--with-colons",
                "--with-fingerprint",
                "--show-keys",
                path,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            check=False,
        )
    except OSError as exc:
        raise KeyCheckError(f"cannot run {gpg} to read {path}: {exc}; install gnupg") from None
    finally:
        shutil.rmtree(home, ignore_errors=True)
    found = primary_fingerprints(completed.stdout)
    if completed.returncode != 0 or not found:
        raise KeyCheckError(
            f"{path} holds no OpenPGP key that gpg can read (exit {completed.returncode}): "
            f"{completed.stderr.strip()[-500:]}"
        )
    return found


def check(path: str, expected: str, gpg: str = "gpg") -> str:
    """The key file's fingerprint when it is exactly the one expected key; else the
    error names both fingerprints (what was expected and what the file holds)."""
    want = normalize(expected)
    found = read_fingerprints(path, gpg)
    if found != [want]:
        raise KeyCheckError(
            f"the key downloaded to {path} has fingerprint {', '.join(found)}, "
            f"not the expected {want}; it was not installed. Check the download URL, "
            "or set the expected fingerprint if the publisher changed its key"
        )
    return want


def same_content(first: str, second: str) -> bool:
    try:
        with open(first, "rb") as one, open(second, "rb") as two:
            return one.read() == two.read()
    except OSError:
        return False


def install(source: str, dest: str, mode: int = 0o644) -> None:
    """Copy the checked key into place atomically."""
    directory = os.path.dirname(dest) or "."
    handle, temporary = tempfile.mkstemp(prefix=".wheelfleet-key-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, dest)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
