"""Runs against the installed (repaired) wheel, not the source tree."""

from pathlib import Path

import pytest
import yamlcount


def test_counts_the_events_of_a_document() -> None:
    # stream, document, mapping, key, sequence, 1, 2, /sequence, /mapping, /document, /stream
    assert yamlcount.count_events("a: [1, 2]\n") == 11


def test_reports_invalid_yaml() -> None:
    with pytest.raises(ValueError, match="invalid YAML"):
        yamlcount.count_events("a: [1, 2\n")


def test_uses_the_grafted_libyaml() -> None:
    assert yamlcount.libyaml_version().startswith("0.")
    # The repaired wheel carries libyaml in yamlcount.libs/; that copy is the one loaded.
    with Path("/proc/self/maps").open() as maps:
        loaded = {line.split()[-1] for line in maps if "libyaml" in line}
    assert loaded, "libyaml is not loaded"
    assert all("/yamlcount.libs/" in path for path in loaded), loaded
