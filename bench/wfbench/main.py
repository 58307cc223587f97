"""``bench/run``: run the benchmarks, print a table, write bench/results/<date>.json and .md.

Exit codes: 0 when every requested figure was measured, 1 when a section could
not measure its figures (the results say which and why), 2 on bad arguments,
130 when interrupted (nothing is written; the benchmark's containers are
removed). No figure is ever judged against a threshold.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wfbench import goals, harness, sections
from wfbench.harness import Context
from wheelfleet import bench

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MATRIX = "x86_64,i686,aarch64"
QUICK_MATRIX = "x86_64,i686"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description=(
            "Measure wheelfleet: the per-job time split and the emulation ratio, the"
            " orchestration overhead against a hand-run docker build, concurrency and fleet"
            " scaling, re-provisioning and re-release, and the controller's cost. Prints a table"
            " and writes bench/results/<date>.json and .md. Every comparison is a ratio measured"
            " side by side in this run; nothing is judged against a threshold."
        ),
        epilog="sections: " + ", ".join(bench.SECTIONS),
    )
    parser.add_argument(
        "--only",
        metavar="SECTIONS",
        help="comma-separated sections to run (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller runs: yamlcount only in the split, one overhead sample, a 2-job matrix,"
        " no hand-run emulation ratio (about 10 minutes)",
    )
    parser.add_argument(
        "--source",
        default="HEAD",
        metavar="REV",
        help="the commit to measure, exported with git archive (default HEAD): uncommitted"
        " changes in the checkout are not measured",
    )
    parser.add_argument(
        "--worktree",
        action="store_true",
        help="measure the checkout as it is, uncommitted changes included, instead of a commit",
    )
    parser.add_argument("--pyyaml-version", default="6.0.3", metavar="VERSION")
    parser.add_argument(
        "--matrix",
        metavar="ARCHES",
        help=f"architectures of the scaling matrix (default {DEFAULT_MATRIX};"
        f" with --quick {QUICK_MATRIX})",
    )
    parser.add_argument(
        "--wait-pythons",
        default="cp311,cp313,cp314,cp315",
        metavar="TAGS",
        help="the wait-bound fleet's jobs: x86_64 for each of these CPythons (default"
        " cp311,cp313,cp314,cp315, the offline builder images' four)",
    )
    parser.add_argument(
        "--wait-seconds",
        type=int,
        metavar="S",
        help="the wait-bound project's before-build sleep (default 20; 10 with --quick)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        metavar="N",
        help="samples of the overhead comparison (default 2; 1 with --quick)",
    )
    parser.add_argument(
        "--hand-emulated",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also build each split project by hand for x86_64 and aarch64, for a hand-run"
        " emulation ratio (default: on, off with --quick)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=REPO / "bench" / "results",
        metavar="DIR",
        help="where to write the results (default bench/results)",
    )
    parser.add_argument("--date", help="the date in the results' names (default: today, UTC)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument(
        "--no-readme",
        action="store_true",
        help="do not update the figures in bench/README.md after a full run",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every task")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in (args.only or ",".join(bench.SECTIONS)).split(",") if s.strip()]
    unknown = [s for s in chosen if s not in bench.SECTIONS]
    if unknown or not chosen:
        parser.error(
            f"--only: unknown section(s) {unknown}; choose from {', '.join(bench.SECTIONS)}"
        )
    args.sections = [s for s in bench.SECTIONS if s in chosen]
    args.matrix = [
        a.strip()
        for a in (args.matrix or (QUICK_MATRIX if args.quick else DEFAULT_MATRIX)).split(",")
        if a.strip()
    ]
    bad = [a for a in args.matrix if a not in sections.DOCKER_PLATFORMS]
    if bad or len(args.matrix) < 2:
        parser.error(
            f"--matrix: give 2 or more of {', '.join(sections.DOCKER_PLATFORMS)}; got {args.matrix}"
        )
    args.wait_pythons = [t.strip() for t in args.wait_pythons.split(",") if t.strip()]
    if not args.wait_pythons:
        parser.error("--wait-pythons: give one or more CPython tags")
    if args.wait_seconds is None:
        args.wait_seconds = 10 if args.quick else 20
    if args.repeat is None:
        args.repeat = 1 if args.quick else 2
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    if args.hand_emulated is None:
        args.hand_emulated = not args.quick
    return args


def _git(*argv: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), *argv], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise sections.SectionError(f"git {' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout.strip()


def snapshot(revision: str, destination: Path) -> dict[str, Any]:
    """Export a commit with git archive: the benchmark measures committed code only."""
    commit = _git("rev-parse", "--verify", f"{revision}^{{commit}}")
    destination.mkdir(parents=True)
    with subprocess.Popen(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit], stdout=subprocess.PIPE
    ) as archive:
        unpacked = subprocess.run(
            ["tar", "-x", "-C", str(destination)], stdin=archive.stdout, check=False
        )
    if archive.returncode != 0 or unpacked.returncode != 0:
        raise sections.SectionError(f"cannot export {revision} with git archive")
    return {
        "commit": commit,
        "subject": _git("log", "-1", "--format=%s", commit),
        "how": f"git archive of {revision}",
        "checkout_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def readme_block(results: dict[str, Any], stem: str) -> str:
    machine = results.get("machine") or {}
    source = results.get("source") or {}
    lines = [
        f"Latest full run: [`results/{stem}.md`](results/{stem}.md) ({results['date']}, commit"
        f" `{str(source.get('commit', '?'))[:12]}`, {machine.get('cores')} cores,"
        f" {machine.get('memory_gib')} GiB, {machine.get('os')}, Docker"
        f" {machine.get('docker_version')}, QEMU {machine.get('qemu')}; took"
        f" {bench.fmt_seconds(results.get('seconds'))}).",
        "",
        bench.markdown_table(("Section", "Figure", "Value"), bench.summary_rows(results)),
    ]
    contended = [n for n, w in (results.get("windows") or {}).items() if w.get("contended")]
    lines += [
        "",
        "Contended measurements (other work above"
        f" {bench.CONTENDED_CORES} cores): {', '.join(contended) if contended else 'none'}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    date = args.date or datetime.now(UTC).strftime("%Y-%m-%d")
    subreaper = harness.become_subreaper()
    scratch = Path(tempfile.mkdtemp(prefix="wfbench-"))
    ctx = Context(repo=REPO, root=REPO, scratch=scratch, verbose=args.verbose)
    b = sections.Bench(
        ctx=ctx,
        quick=args.quick,
        repeat=args.repeat,
        matrix=args.matrix,
        pyyaml_version=args.pyyaml_version,
        hand_emulated=args.hand_emulated,
        wait_pythons=args.wait_pythons,
        wait_seconds=args.wait_seconds,
    )
    results: dict[str, Any] = {}
    errors: list[str] = []
    interrupted = False
    source: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    load: dict[str, Any] = {}
    mode = "quick" if args.quick else "full"
    ctx.say(f"wheelfleet benchmarks ({mode}): {', '.join(args.sections)}; run {ctx.token}")
    with harness.signals_raise():
        try:
            if args.worktree:
                source = {
                    "commit": _git("rev-parse", "HEAD"),
                    "how": "the checkout, uncommitted changes included",
                    "checkout_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
                }
            else:
                ctx.root = scratch / "code"
                source = snapshot(args.source, ctx.root)
            ctx.say(f"measuring commit {source['commit'][:12]} ({source['how']})")
            facts = harness.machine_facts(ctx)
            facts["subreaper"] = subreaper
            ctx.say("idle probe (5 s): what other work uses the CPUs")
            load["before"] = harness.idle_probe(ctx)
            for name in args.sections:
                ctx.say(f"\n== {name}")
                section_started = time.monotonic()
                try:
                    results[name] = goals.SECTIONS[name](b)
                except (sections.SectionError, harness.MeasureError) as exc:
                    errors.append(f"{name}: {exc}")
                    ctx.say(f"  {name}: not measured: {exc}")
                results.setdefault(name, {})["seconds"] = round(
                    time.monotonic() - section_started, 1
                )
            load["after"] = harness.idle_probe(ctx)
        except KeyboardInterrupt:
            interrupted = True
            ctx.say("\ninterrupted: stopping and cleaning up")
        except sections.SectionError as exc:
            errors.append(str(exc))
        finally:
            stopped = harness.stop_tree(grace=5)
            removed = harness.cleanup(ctx)
            if stopped:
                ctx.say(f"stopped leftover processes: {', '.join(map(str, stopped))}")
            ctx.say(f"removed {len(removed)} container(s) of this run")
            if args.keep:
                ctx.say(f"scratch kept: {scratch}")
            else:
                shutil.rmtree(scratch, ignore_errors=True)
    if interrupted:
        return 130
    notes = list(b.notes)
    cores = facts.get("cores")
    notes.append(
        f"This machine has {cores} cores, shared by everything the benchmark runs (the"
        " controller, the builds, the container hosts) and by other work: figures are"
        " ratios of runs made side by side, and windows where other work was seen are marked"
        " contended."
    )
    if source.get("checkout_dirty") and not args.worktree:
        notes.append(
            "The checkout had uncommitted changes; they were not measured (the code is the"
            f" commit {source.get('commit', '?')[:12]}, exported with git archive)."
        )
    for item in b.prepared.get("images", []):
        notes.append(
            f"Builder images built before measuring: {', '.join(item['built'])}"
            f" ({bench.fmt_seconds(item['seconds'])}, not part of any figure)."
        )
    for item in b.prepared.get("fleet", []):
        notes.append(
            f"{item['hosts']} container hosts prepared (python3-docker from apt) in"
            f" {bench.fmt_seconds(item['seconds'])}, not part of any figure."
        )
    windows = {m.name: m.window.to_json() for m in b.measurements}
    document: dict[str, Any] = {
        "schema": bench.SCHEMA,
        "date": date,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "mode": mode,
        "sections": args.sections,
        "options": {
            "matrix": args.matrix,
            "repeat": args.repeat,
            "pyyaml_version": args.pyyaml_version,
            "hand_emulated": args.hand_emulated,
            "wait_pythons": args.wait_pythons,
            "wait_seconds": args.wait_seconds,
        },
        "source": source,
        "machine": facts,
        "load": load,
        "prepared": b.prepared,
        **results,
        "windows": windows,
        "contended": any(w.get("contended") for w in windows.values()),
        "measurements": [m.summary() for m in b.measurements],
        # The benchmark's own process (its /proc sampler included), over the whole run.
        "bench_process": {
            "cpu_user": round(resource.getrusage(resource.RUSAGE_SELF).ru_utime, 1),
            "cpu_sys": round(resource.getrusage(resource.RUSAGE_SELF).ru_stime, 1),
        },
        "notes": notes,
        "errors": errors,
    }
    replacements = {str(scratch): "<scratch>", str(REPO): "<repo>", str(Path.home()): "~"}
    with contextlib.suppress(OSError):
        replacements[str(scratch.resolve())] = "<scratch>"
    document = bench.sanitize(document, replacements)
    table = bench.text_table(("Section", "Figure", "Value"), bench.summary_rows(document))
    print("\n" + table)
    contended = [n for n, w in windows.items() if w.get("contended")]
    print(
        "\ncontended measurements (other work above"
        f" {bench.CONTENDED_CORES} cores): {', '.join(contended) if contended else 'none'}"
    )
    if not args.no_write:
        stem = bench.results_stem(date, mode, args.sections)
        json_path, md_path = bench.write_results(args.results, stem, document)
        for path in (json_path, md_path):
            text = path.read_text()
            leaks = [word for word in _machine_paths(scratch) if word in text]
            if leaks:
                ctx.say(f"warning: {path.name} mentions {', '.join(leaks)}")
        print(f"results: {_relative(json_path)}, {_relative(md_path)}")
        readme = REPO / "bench" / "README.md"
        default_dir = args.results.resolve() == (REPO / "bench" / "results").resolve()
        if (
            mode == "full"
            and args.sections == list(bench.SECTIONS)
            and not errors
            and default_dir
            and not args.no_readme
            and readme.is_file()
        ):
            try:
                readme.write_text(
                    bench.replace_block(readme.read_text(), readme_block(document, stem))
                )
                print(f"updated the latest figures in {_relative(readme)}")
            except ValueError as exc:
                ctx.say(f"bench/README.md not updated: {exc}")
    if errors:
        print("\nnot measured:\n" + "\n".join(f"  {e.splitlines()[0]}" for e in errors))
        return 1
    return 0


def _machine_paths(scratch: Path) -> list[str]:
    """Paths of this machine that results must not mention (they are replaced)."""
    return sorted({str(REPO), str(scratch), tempfile.gettempdir() + os.sep, str(Path.home())})


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
