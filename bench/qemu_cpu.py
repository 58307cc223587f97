"""Emulated jobs on QEMU's default aarch64 CPU against wheelfleet's CPU model.

    python bench/qemu_cpu.py [--python cp313] [--repeat 2]

The example project (examples/yamlcount) is released for aarch64 on this machine (the
embedded localhost inventory, an emulated job: QEMU user emulation) with ``--force``,
alternately with the role's default ``wheel_build_qemu_cpu`` (``max,pauth-impdef=on``)
and with ``wheel_build_qemu_cpu={}`` (QEMU's default CPU, ``max`` with QARMA5 pointer
authentication), ``--repeat`` times each. The builder image is the one of the Python
tag (``cp313``: wheelfleet/forky, whose Debian userland is built with branch
protection; ``cp311``: wheelfleet/bookworm). Each job's steps come from the manifest.
The ratios are default CPU / model (above 1: the model is faster) of the best run of
each. Results: bench/results/<date>-qemu-cpu-<tag>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from wheelfleet import bench

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
BIN = Path(sys.executable).parent
PROJECT = REPO / "examples" / "yamlcount"
WAYS = {"model": {}, "default": {"wheel_build_qemu_cpu": {}}}
STEPS = ("before_all", "build", "repair", "test")


def release(python_tag: str, extravars: dict[str, Any], wheelhouse: Path) -> dict[str, Any]:
    """One forced release of the example; its wall and the aarch64 job's manifest entry."""
    argv = [str(BIN / "wheelfleet"), "release", str(PROJECT), "--arch", "aarch64"]
    argv += ["--python", python_tag, "--force", "--skip-provision", "--skip-images"]
    argv += ["-w", str(wheelhouse), "-e", json.dumps(extravars)]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"release failed ({done.returncode}):\n{done.stderr[-3000:]}")
    (entry,) = json.loads((wheelhouse / "manifest.json").read_text())["wheels"].values()
    timings = entry.get("timings") or {}
    return {
        "wall": round(wall, 1),
        "job": round(sum(timings.values()), 1),
        "qemu_cpu": entry.get("qemu_cpu"),
        "steps": {step: round(timings.get(step, 0.0), 1) for step in STEPS},
    }


def measure(python_tag: str, repeat: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory(prefix="wfbench-qemu-cpu-") as scratch:
        for index in range(repeat):
            for way, extravars in WAYS.items():
                wheelhouse = Path(scratch) / f"{way}-{index}"
                runs[way].append(release(python_tag, extravars, wheelhouse))
                print(f"  {way} #{index + 1}: {runs[way][-1]}", flush=True)
    best = {way: min(items, key=lambda run: run["job"]) for way, items in runs.items()}

    def ratio(key: str, step: str | None = None) -> float | None:
        pick = (lambda run: run["steps"][step]) if step else (lambda run: run[key])
        slow, fast = pick(best["default"]), pick(best["model"])
        return round(slow / fast, 2) if fast else None

    return {
        "python": python_tag,
        "repeat": repeat,
        "runs": runs,
        "best": best,
        "ratios": {
            "job": ratio("job"),
            "release_wall": ratio("wall"),
            **{step: ratio("", step) for step in STEPS},
        },
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores,"
        f" {platform.platform()}",
    }


def markdown(results: dict[str, Any]) -> str:
    best, ratios = results["best"], results["ratios"]
    lines = [
        f"# Emulated aarch64 job on QEMU's default CPU and on wheelfleet's model"
        f" ({results['python']})",
        "",
        f"examples/yamlcount, one forced release per way, alternating, {results['repeat']} of"
        " each; best job (sum of its steps) of each way. Ratio = default CPU / model.",
        "",
        "| | model (max,pauth-impdef=on) | default (max) | ratio |",
        "|---|---|---|---|",
        f"| release wall | {best['model']['wall']} s | {best['default']['wall']} s"
        f" | {ratios['release_wall']}x |",
        f"| job (its steps) | {best['model']['job']} s | {best['default']['job']} s"
        f" | {ratios['job']}x |",
    ]
    for step in STEPS:
        lines.append(
            f"| {step} | {best['model']['steps'][step]} s | {best['default']['steps'][step]} s"
            f" | {ratios[step]}x |"
        )
    lines += ["", f"Machine: {results['machine']}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default="cp313", help="the Python tag (default cp313)")
    parser.add_argument("--repeat", type=int, default=2, help="releases per way (default 2)")
    args = parser.parse_args(argv)
    results = measure(args.python, max(1, args.repeat))
    results["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    text = markdown(results)
    stem = f"{datetime.date.today().isoformat()}-qemu-cpu-{args.python}"
    bench.write_json_and_markdown(RESULTS, stem, results, text, sort_keys=False)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
