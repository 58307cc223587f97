"""Every module of the collection documents itself in YAML that parses (ansible-doc reads it)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

MODULES = sorted(
    path.stem
    for path in (Path(__file__).resolve().parents[2] / "plugins" / "modules").glob("*.py")
    if path.stem != "__init__"
)


@pytest.mark.parametrize("name", MODULES)
def test_documentation_examples_and_return_parse(name: str) -> None:
    module = importlib.import_module(f"ansible_collections.wheelfleet.fleet.plugins.modules.{name}")
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["module"] == name
    assert documentation["short_description"] and documentation["description"]
    for option, spec in (documentation.get("options") or {}).items():
        assert spec.get("description"), f"{name}: option {option} has no description"
    examples = yaml.safe_load(module.EXAMPLES)
    assert isinstance(examples, list) and examples
    assert any(f"wheelfleet.fleet.{name}" in task for task in examples)
    returned = yaml.safe_load(module.RETURN)
    assert isinstance(returned, dict) and returned
