"""The tools' versions that enter a wheel's reproducibility record: auditwheel's from the
repair helper's inspect (its .dist-info name, no import), patchelf's from one command."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ansible_collections.wheelfleet.fleet.plugins.module_utils.build_tools import (
    AUDITWHEEL_VERSION_FACT,
    container_tools,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.wheel_files import HELPER


def inspect(tmp_path: Path, python_args: list[str], env: dict[str, str] | None = None) -> dict:
    wheel = tmp_path / "p-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("p/__init__.py", "")
    done = subprocess.run(
        [sys.executable, *python_args, "-c", HELPER, "inspect", str(wheel), str(tmp_path), "[]"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(done.stdout)


def test_inspect_reports_the_auditwheel_this_interpreter_imports(tmp_path: Path) -> None:
    found = inspect(tmp_path, [])
    assert found["exists"] and found["auditwheel_version"] == version("auditwheel")
    # The first distribution on the path wins, as an import would find it; none: null.
    site = tmp_path / "site"
    (site / "Auditwheel-9.9.1.dist-info").mkdir(parents=True)
    (site / "auditwheel_extra-1.0.dist-info").mkdir()
    shadowed = inspect(tmp_path, ["-S"], {"PYTHONPATH": str(site)})
    assert shadowed["auditwheel_version"] == "9.9.1"
    assert inspect(tmp_path, ["-S"], {"PYTHONPATH": str(tmp_path / "none")}) == dict(
        shadowed, auditwheel_version=None
    )


class Container:
    """What container_tools uses of a BuildContainer: its facts and one command."""

    def __init__(self, output: str) -> None:
        self.facts: dict[str, Any] = {}
        self.output = output
        self.commands: list[str] = []

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        self.commands.append(argv[-1])
        return 0, self.output, ""


def test_the_repairs_auditwheel_version_saves_its_process() -> None:
    asked = Container("auditwheel 6.8.2 installed at /x (python 3.11)\npatchelf 0.18.0\n")
    assert container_tools(asked) == {"auditwheel": "6.8.2", "patchelf": "0.18.0"}
    assert "auditwheel --version" in asked.commands[0]
    repaired = Container("patchelf 0.18.0\n")
    repaired.facts[AUDITWHEEL_VERSION_FACT] = "6.8.2"
    assert container_tools(repaired) == {"auditwheel": "6.8.2", "patchelf": "0.18.0"}
    assert repaired.commands == ["patchelf --version 2>&1 | head -n 1"]
    # Once per container.
    container_tools(repaired)
    assert len(repaired.commands) == 1
