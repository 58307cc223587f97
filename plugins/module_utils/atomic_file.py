# Copyright: wheelfleet developers
# Apache License 2.0
"""A file replaced whole or not at all: written beside its final name, then renamed, so
that a reader (another run, a container through a mount) never sees half of it."""

from __future__ import annotations

import os
import tempfile


def replace(path: str, data: bytes, mode: int = 0o644) -> None:
    """``data`` as the file ``path`` (created or replaced atomically, with ``mode``)."""
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, partial = tempfile.mkstemp(prefix=".wheelfleet-", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(partial, mode)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
