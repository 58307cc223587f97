"""BinfmtMisc (plugins/module_utils/binfmt.py) against the real kernel, with throwaway handlers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils.binfmt import (
    BinfmtError,
    BinfmtMisc,
    parse_line,
)

from tests.conftest import BINFMT, binfmt_entry, binfmt_write

pytestmark = pytest.mark.emulation


@pytest.fixture
def name(binfmt_mounted: None) -> Iterator[str]:
    handler = f"wftestkernel{secrets.token_hex(4)}"
    try:
        yield handler
    finally:
        if (BINFMT / handler).exists():
            binfmt_write(handler, "-1")


def test_magic_registration_round_trips_through_the_kernel(name: str) -> None:
    wanted = parse_line(
        f":{name}:M:2:\\x99\\x98wf\\x00\\x97:\\xff\\xff\\xff\\x00\\xff\\xff:/usr/bin/true:POF"
    )
    kernel = BinfmtMisc()
    kernel.register(wanted)
    assert name in kernel.names()
    text = binfmt_entry(name) or ""
    assert "offset 2\n" in text
    assert "magic 999877660097\n" in text  # w = 0x77, f = 0x66
    current = kernel.read(name)
    assert current is not None
    assert current.enabled
    assert current.same_handler(wanted)
    assert current == wanted

    binfmt_write(name, "0")
    disabled = kernel.read(name)
    assert disabled is not None
    assert not disabled.enabled
    assert disabled.same_handler(wanted)
    kernel.enable(name)
    assert (kernel.read(name) or disabled).enabled

    kernel.remove(name)
    assert kernel.read(name) is None
    assert name not in kernel.names()


def test_extension_registration_round_trips_through_the_kernel(name: str) -> None:
    wanted = parse_line(f":{name}:E::{name}::/usr/bin/true:")
    kernel = BinfmtMisc()
    kernel.register(wanted)
    assert f"extension .{name}\n" in (binfmt_entry(name) or "")
    current = kernel.read(name)
    assert current is not None
    assert current.kind == "E"
    assert current.same_handler(wanted)


def test_registering_a_duplicate_name_fails_unless_it_is_identical(name: str) -> None:
    kernel = BinfmtMisc()
    wanted = parse_line(f":{name}:E::{name}::/usr/bin/true:")
    kernel.register(wanted)
    # Hosts sharing a kernel may register the same handler at once: accepted.
    kernel.register(wanted)
    assert kernel.read(name) is not None and kernel.read(name).same_handler(wanted)
    other = parse_line(f":{name}:E::{name}::/usr/bin/false:")
    with pytest.raises(BinfmtError) as caught:
        kernel.register(other)
    message = str(caught.value)
    assert f"for handler {name!r} failed" in message
    assert "File exists" in message
    kernel.remove(name)
    kernel.remove(name)  # already gone: accepted
    assert kernel.read(name) is None
