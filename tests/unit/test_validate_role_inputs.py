"""The validate_role_inputs action names the list element an error is in."""

from __future__ import annotations

from ansible_collections.wheelfleet.fleet.plugins.action.validate_role_inputs import (
    load_spec,
    located_errors,
)


def test_errors_in_a_list_of_dicts_name_the_element() -> None:
    spec = load_spec("builder_image")
    provided = {
        "builder_image_images": [
            {"name": "good", "suite": "bookworm", "architectures": ["x86_64"]},
            {"name": "bad", "suite": "bookworm", "architectures": ["sparc99"]},
            {"architectures": ["x86_64"], "source": "registry", "colour": "red"},
        ]
    }
    located = located_errors(spec, provided)
    messages = [f"{where}: {message}" for where, message in located["builder_image_images"]]
    assert messages[0].startswith("[1] (name: bad): value of architectures must be one or more of:")
    assert "Got no match for: sparc99" in messages[0]
    assert "[2]: missing required arguments: name" in messages
    assert "[2]: source is registry but all of the following are missing: base" in messages
    assert any(m.startswith("[2]: unknown option colour. Supported parameters") for m in messages)
    assert len(messages) == 4


def test_other_options_are_left_to_the_role_wide_check() -> None:
    spec = load_spec("qemu_binfmt")
    assert located_errors(spec, {"qemu_binfmt_architectures": ["sparc99"]}) == {}
