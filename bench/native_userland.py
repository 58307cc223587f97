"""Emulated jobs with a native userland: the build step and apt run by the host's own
x86_64 programs inside the aarch64 build container.

    python bench/native_userland.py [--repeat 2]

Issue 16's accelerator runs the compiler natively and leaves Python, pip, the build
backend and apt under QEMU; their emulated start-up and imports are now most of an
emulated job. This benchmark measures, side by side in one run, what running those
natively too would give. It runs no wheelfleet release: each way is one ``docker run``
of the builder images, so the ways differ only in what runs natively.

The native userland is the x86_64 builder image of the same suite
(``wheelfleet/bookworm:x86_64``, the same CPython 3.11 and apt as the aarch64 image): its
root filesystem, exported once, is mounted read-only at ``/opt/wheelfleet-native`` in
the aarch64 container, and the x86_64 loader is linked where x86_64 programs look for
it (``/lib64``, ``/usr/lib/x86_64-linux-gnu``; paths the aarch64 userland does not use).
The kernel then runs those programs natively, as it runs the accelerator's static zig.

Build step, ``python -m build --wheel --no-isolation`` (the build requirements are
installed beforehand, outside the timing: setuptools from the image, Cython's wheel of
the interpreter's architecture):

- ``native``: in the x86_64 image, with its gcc (the reference);
- ``accelerated``: in the aarch64 image under QEMU, with the accelerator's zig wrappers
  as CC and LDSHARED (wheelfleet's default for emulated jobs today);
- ``cross``: in the same aarch64 container, the x86_64 CPython runs build and the
  backend natively with the target's sysconfig (``_PYTHON_HOST_PLATFORM=linux-aarch64``
  and the aarch64 image's ``_sysconfigdata`` module), and the same zig wrappers.

before_all, ``apt-get update`` then ``apt-get install libyaml-dev``: ``native`` (x86_64
image), ``emulated`` (aarch64 image, its own apt under QEMU) and ``native apt`` (the
x86_64 apt-get on the aarch64 container, ``APT::Architecture=arm64``; dpkg and the
maintainer scripts stay the container's, under QEMU).

Every cross wheel is checked: tagged ``linux_aarch64``, repaired by auditwheel in the
aarch64 container to the same platform tags as the accelerated wheel, installed and
imported under emulation. Each way's repair is timed, and the cross wheel is repaired a
second time by the x86_64 image's auditwheel run natively (told the target architecture:
it reads ``platform.machine()``); its files are compared with the emulated repair's.
Results: bench/results/<date>-native-userland.json and .md. The controller must reach
PyPI (the PyYAML sdist, Cython's wheels, the toolchain).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from wheelfleet import accelerator, bench

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"

IMAGES = {"x86_64": "wheelfleet/bookworm:x86_64", "aarch64": "wheelfleet/bookworm:aarch64"}
PYTHON = "/opt/python/cp311-cp311/bin/python"
NATIVE_ROOT = "/opt/wheelfleet-native"
PYYAML = "pyyaml==6.0.3"
CYTHON_PLATFORMS = {"x86_64": "manylinux_2_17_x86_64", "aarch64": "manylinux_2_17_aarch64"}
BUILD_WAYS = ("native", "accelerated", "cross")
APT_WAYS = ("native", "emulated", "native apt")

# The x86_64 loader where x86_64 programs look for it, and their libraries where that
# loader searches by default: the aarch64 userland uses neither path.
LINK_NATIVE = f"""
mkdir -p /lib64
ln -sf {NATIVE_ROOT}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
ln -sfn {NATIVE_ROOT}/usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu
"""

CLOCK = """
ms() { echo $(( $(date +%s%N) / 1000000 )); }
"""

BUILD_SCRIPT = (
    CLOCK
    + r"""
set -e
way=$1 checker=$2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq libyaml-dev >/dev/null
cp -a /project /tmp/src && cd /tmp/src
arch=aarch64; case $way in native|cross) arch=x86_64 ;; esac
for wheel in /cython/$arch/*.whl; do
  $PY -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall("/tmp/requires")' $wheel
done
export PYTHONPATH=/tmp/requires
python=$PY
case $way in
  accelerated|cross)
    export CC=$TC/bin/cc CXX=$TC/bin/c++
    export LDSHARED="$TC/bin/cc -shared" LDCXXSHARED="$TC/bin/c++ -shared" ;;
esac
if [ $way = cross ]; then
  LINK_NATIVE
  mkdir -p /tmp/target-sysconfig
  cp /usr/lib/python3.11/_sysconfigdata__linux_aarch64-linux-gnu.py /tmp/target-sysconfig/
  export _PYTHON_HOST_PLATFORM=linux-aarch64
  export _PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__linux_aarch64-linux-gnu
  site=NATIVE_ROOT/opt/python/cp311-cp311/lib/python3.11/site-packages
  export PYTHONPATH=/tmp/target-sysconfig:$site:/tmp/requires
  python=NATIVE_ROOT/usr/bin/python3.11
fi
start=$(ms)
$python -m build --wheel --no-isolation --outdir /tmp/dist . >/tmp/build.log 2>&1 ||
  { tail -40 /tmp/build.log; exit 1; }
end=$(ms)
unset PYTHONPATH _PYTHON_HOST_PLATFORM _PYTHON_SYSCONFIGDATA_NAME
echo "WHEELFLEET-BENCH build_ms=$((end - start))"
echo "WHEELFLEET-BENCH wheel=$(basename /tmp/dist/*.whl)"
start=$(ms)
auditwheel repair -w /tmp/repaired /tmp/dist/*.whl >/tmp/repair.log 2>&1 ||
  { tail -20 /tmp/repair.log; exit 1; }
end=$(ms)
echo "WHEELFLEET-BENCH repair_ms=$((end - start))"
echo "WHEELFLEET-BENCH repaired=$(basename /tmp/repaired/*.whl)"
if [ $way = cross ]; then
  # auditwheel of the x86_64 image, run natively. It reads the target architecture
  # from platform.machine() and has no option for it: the launcher sets it.
  tools=NATIVE_ROOT/opt/wheelfleet/tools
  start=$(ms)
  PATH=$tools/bin:$PATH NATIVE_ROOT/usr/bin/python3.11 -c "$NATIVE_AUDITWHEEL" $tools \
    repair -w /tmp/repaired-native /tmp/dist/*.whl >/tmp/repair-native.log 2>&1 ||
    { tail -20 /tmp/repair-native.log; exit 1; }
  end=$(ms)
  echo "WHEELFLEET-BENCH native_repair_ms=$((end - start))"
  mkdir /tmp/emulated-files /tmp/native-files
  $PY -m zipfile -e /tmp/repaired/*.whl /tmp/emulated-files
  $PY -m zipfile -e /tmp/repaired-native/*.whl /tmp/native-files
  same=no; diff -r /tmp/emulated-files /tmp/native-files >/dev/null && same=yes
  echo "WHEELFLEET-BENCH native_repaired=$(basename /tmp/repaired-native/*.whl) same_files=$same"
fi
$PY -m pip install -q --no-index --no-deps /tmp/repaired/*.whl
cd / && $PY -c "$checker"
echo "WHEELFLEET-BENCH imported=yes"
""".replace("LINK_NATIVE", LINK_NATIVE).replace("NATIVE_ROOT", NATIVE_ROOT)
)

NATIVE_AUDITWHEEL = """
import glob, platform, sys
tools = sys.argv.pop(1)
sys.path[:0] = glob.glob(tools + "/lib/python3*/site-packages")
platform.machine = lambda: "aarch64"
sys.argv[0] = "auditwheel"
from auditwheel.main import main
sys.exit(main())
"""
"""Runs the native auditwheel on an aarch64 wheel (``python -c`` arguments: the tools
venv, then auditwheel's)."""

APT_SCRIPT = (
    CLOCK
    + r"""
set -e
way=$1
export DEBIAN_FRONTEND=noninteractive
apt=apt-get
if [ "$way" = "native apt" ]; then
  LINK_NATIVE
  apt="NATIVE_ROOT/usr/bin/apt-get -o APT::Architecture=arm64 -o APT::Architectures::=arm64"
  apt="$apt -o Dir::Bin::Methods=NATIVE_ROOT/usr/lib/apt/methods"
fi
start=$(ms)
$apt update -qq >/tmp/update.log 2>&1 || { tail -20 /tmp/update.log; exit 1; }
updated=$(ms)
$apt install -y -qq libyaml-dev >/tmp/install.log 2>&1 || { tail -20 /tmp/install.log; exit 1; }
end=$(ms)
dpkg-query -W -f '${Status} ${Architecture}\n' libyaml-dev | grep -q '^install ok installed'
test -e /usr/include/yaml.h
echo "WHEELFLEET-BENCH update_ms=$((updated - start)) install_ms=$((end - updated))"
echo "WHEELFLEET-BENCH package=$(dpkg-query -W -f '${Architecture}' libyaml-dev)"
""".replace("LINK_NATIVE", LINK_NATIVE).replace("NATIVE_ROOT", NATIVE_ROOT)
)

CHECKERS = {
    "yamlcount": (
        "import platform, yamlcount; print(platform.machine(), yamlcount.libyaml_version())"
    ),
    "PyYAML": (
        "import platform, yaml; assert yaml.__with_libyaml__;"
        " print(platform.machine(), yaml.load('a: [1, 2]', Loader=yaml.CLoader))"
    ),
}


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv[:6])} ... failed ({done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def marks(output: str) -> dict[str, str]:
    """The ``WHEELFLEET-BENCH key=value`` lines a container script printed."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith("WHEELFLEET-BENCH "):
            for pair in line.split()[1:]:
                key, _, value = pair.partition("=")
                found[key] = value
    return found


def prepare(scratch: Path) -> dict[str, Path]:
    """Outside any timing: the x86_64 image's root filesystem, the accelerator's
    toolchain with its wrappers, the PyYAML sdist and Cython's wheels."""
    native = scratch / "native-root"
    native.mkdir()
    container = run(["docker", "create", IMAGES["x86_64"]]).stdout.strip()
    try:
        # tar(1) as docker export's own format: absolute symlinks and device nodes included.
        export = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
        unpacked = subprocess.run(
            ["tar", "-x", "-C", str(native)], stdin=export.stdout, check=False
        )
        if export.wait() != 0 or unpacked.returncode != 0:
            raise SystemExit(f"docker export of {IMAGES['x86_64']} failed")
    finally:
        run(["docker", "rm", container])

    key = accelerator.archive_key(accelerator.TOOLCHAIN_ID, "x86_64")
    found = accelerator.ensure(key, Path("~/.cache/wheelfleet").expanduser())
    toolchain = scratch / "toolchain"
    with tarfile.open(found["archive"]) as archive:
        archive.extractall(toolchain, filter="tar")
    top = toolchain / accelerator.ARCHIVE_TOP
    for relative, text in accelerator.wrapper_files(accelerator.TARGETS["aarch64"]).items():
        path = top / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)

    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
    sdists = scratch / "sdists"
    run([*pip, "--no-binary", ":all:", PYYAML, "-d", str(sdists)])
    (sdist,) = sdists.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(sdists, filter="data")
    cython = scratch / "cython"
    for arch, plat in CYTHON_PLATFORMS.items():
        run(
            [
                *pip,
                "--only-binary",
                ":all:",
                "--platform",
                plat,
                "--python-version",
                "3.11",
                "cython",
                "-d",
                str(cython / arch),
            ]
        )
    pyyaml = next(p for p in sdists.iterdir() if p.is_dir())
    return {
        "native": native,
        "toolchain": top,
        "cython": cython,
        "yamlcount": REPO / "examples" / "yamlcount",
        "PyYAML": pyyaml,
    }


def docker_run(
    arch: str, paths: dict[str, Path], script: str, *args: str, project: Path | None = None
) -> dict[str, str]:
    argv = [
        "docker",
        "run",
        "--rm",
        "-e",
        f"PY={PYTHON}",
        "-e",
        f"NATIVE_AUDITWHEEL={NATIVE_AUDITWHEEL}",
        "-e",
        f"TC={accelerator.INSTALL_DIR}",
        "-v",
        f"{paths['native']}:{NATIVE_ROOT}:ro",
        "-v",
        f"{paths['toolchain']}:{accelerator.INSTALL_DIR}:ro",
        "-v",
        f"{paths['cython']}:/cython:ro",
    ]
    if project is not None:
        argv += ["-v", f"{project}:/project:ro"]
    argv += [IMAGES[arch], "sh", "-c", script, "bench", *args]
    return marks(run(argv).stdout)


def measure(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="wfbench-native-userland-") as scratch:
        paths = prepare(Path(scratch))
        builds: dict[str, dict[str, list[dict[str, str]]]] = {
            project: {way: [] for way in BUILD_WAYS} for project in CHECKERS
        }
        apt: dict[str, list[dict[str, str]]] = {way: [] for way in APT_WAYS}
        for index in range(repeat):
            for project, checker in CHECKERS.items():
                for way in BUILD_WAYS:
                    arch = "x86_64" if way == "native" else "aarch64"
                    got = docker_run(
                        arch, paths, BUILD_SCRIPT, way, checker, project=paths[project]
                    )
                    builds[project][way].append(got)
                    print(f"  {project} {way} #{index + 1}: {got}", flush=True)
            for way in APT_WAYS:
                arch = "x86_64" if way == "native" else "aarch64"
                got = docker_run(arch, paths, APT_SCRIPT, way)
                apt[way].append(got)
                print(f"  apt {way} #{index + 1}: {got}", flush=True)
    return summarize(builds, apt, repeat)


def repair_row(ways: dict[str, list[dict[str, str]]], seconds: Any) -> dict[str, Any]:
    """auditwheel repair: native (x86_64 image), emulated (the accelerated way's wheel)
    and the x86_64 auditwheel run natively on the cross wheel; whether the latter gave
    the same files as the emulated repair of that wheel in every run."""
    row = {
        "native": min(seconds(run["repair_ms"]) for run in ways["native"]),
        "emulated": min(seconds(run["repair_ms"]) for run in ways["accelerated"]),
        "native auditwheel": min(seconds(run["native_repair_ms"]) for run in ways["cross"]),
        "same_files": all(run.get("same_files") == "yes" for run in ways["cross"]),
    }
    row["ratio_to_native"] = {
        way: round(row[way] / row["native"], 2) for way in ("emulated", "native auditwheel")
    }
    return row


def summarize(
    builds: dict[str, dict[str, list[dict[str, str]]]],
    apt: dict[str, list[dict[str, str]]],
    repeat: int,
) -> dict[str, Any]:
    def seconds(ms: str) -> float:
        return round(int(ms) / 1000, 2)

    build_rows = {}
    for project, ways in builds.items():
        best = {way: min(seconds(run["build_ms"]) for run in runs) for way, runs in ways.items()}
        policies = {
            way: sorted({run["repaired"].split("-", 4)[-1] for run in runs})
            for way, runs in ways.items()
        }
        build_rows[project] = {
            "seconds": best,
            "ratio_to_native": {way: round(best[way] / best["native"], 2) for way in best},
            "wheels": {way: sorted({run["wheel"] for run in runs}) for way, runs in ways.items()},
            "repaired_tags": policies,
            "same_tags_as_accelerated": policies["cross"] == policies["accelerated"],
            "repair": repair_row(ways, seconds),
        }
    apt_rows = {}
    for way, runs in apt.items():
        r = min(runs, key=lambda run: int(run["update_ms"]) + int(run["install_ms"]))
        apt_rows[way] = {
            "seconds": round(seconds(r["update_ms"]) + seconds(r["install_ms"]), 2),
            "update": seconds(r["update_ms"]),
            "install": seconds(r["install_ms"]),
            "package": r["package"],
        }
    native_apt = apt_rows["native"]["seconds"]
    for row in apt_rows.values():
        row["ratio_to_native"] = round(row["seconds"] / native_apt, 2)
    return {
        "repeat": repeat,
        "build": build_rows,
        "apt": apt_rows,
        "runs": {"build": builds, "apt": apt},
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores,"
        f" {platform.platform()}",
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Emulated aarch64 jobs with a native userland (Python and apt of the x86_64 image)",
        "",
        f"One `docker run` per way and project, alternating, {results['repeat']} of each;"
        " best of each. Ratio = way / native (x86_64 image).",
        "",
        "## Build step (`python -m build --wheel --no-isolation`)",
        "",
        "| project | native | accelerated (emulated Python, native zig)"
        " | cross (native Python and zig) | cross wheel repaired to the accelerated wheel's tags |",
        "|---|---|---|---|---|",
    ]
    for project, row in results["build"].items():
        s, r = row["seconds"], row["ratio_to_native"]
        lines.append(
            f"| {project} | {s['native']} s | {s['accelerated']} s ({r['accelerated']}x)"
            f" | {s['cross']} s ({r['cross']}x)"
            f" | {'yes' if row['same_tags_as_accelerated'] else 'NO'}"
            f" ({', '.join(row['repaired_tags']['cross'])}) |"
        )
    lines += [
        "",
        "## Repair (`auditwheel repair`)",
        "",
        "| project | native | emulated | x86_64 auditwheel run natively |"
        " same files as the emulated repair |",
        "|---|---|---|---|---|",
    ]
    for project, row in results["build"].items():
        r = row["repair"]
        lines.append(
            f"| {project} | {r['native']} s | {r['emulated']} s"
            f" ({r['ratio_to_native']['emulated']}x) | {r['native auditwheel']} s"
            f" ({r['ratio_to_native']['native auditwheel']}x)"
            f" | {'yes' if r['same_files'] else 'NO'} |"
        )
    lines += [
        "",
        "## before_all: `apt-get update`, `apt-get install libyaml-dev`",
        "",
        "| way | update | install | total | ratio |",
        "|---|---|---|---|---|",
    ]
    for way, row in results["apt"].items():
        lines.append(
            f"| {way} ({row['package']}) | {row['update']} s | {row['install']} s"
            f" | {row['seconds']} s | {row['ratio_to_native']}x |"
        )
    lines += ["", f"Machine: {results['machine']}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per way (default 2)")
    args = parser.parse_args(argv)
    results = measure(max(1, args.repeat))
    results["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    text = markdown(results)
    stem = f"{datetime.date.today().isoformat()}-native-userland"
    bench.write_json_and_markdown(RESULTS, stem, results, text, sort_keys=False)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
