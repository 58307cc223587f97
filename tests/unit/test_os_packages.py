"""Which packages a host has (plugins/module_utils/os_packages.py), read from this
machine's real dpkg database and from rpm's documented output."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from ansible_collections.wheelfleet.fleet.plugins.module_utils.os_packages import (
    dpkg_query_argv,
    parse_dpkg,
    parse_rpm,
    rpm_query_argv,
)


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian-family machine")
def test_the_real_dpkg_database_tells_installed_from_missing() -> None:
    names = ["dpkg", "bash", "wheelfleet-no-such-package", "dpkg"]
    run = subprocess.run(
        dpkg_query_argv(names), capture_output=True, text=True, env={"LC_ALL": "C"}, check=False
    )
    # dpkg-query exits 1 when a name is unknown; its line is simply absent.
    assert run.returncode == 1
    status = parse_dpkg(names, run.stdout)
    assert sorted(status.installed) == ["bash", "dpkg"]
    assert all(version for version in status.installed.values())
    assert status.missing == ["wheelfleet-no-such-package"]


def test_a_removed_package_with_its_configuration_kept_is_missing() -> None:
    output = "docker.io\tii \t20.10.24+dfsg1-1+deb12u1\ncontainerd\trc \t1.6.20~ds1-1+b1\n"
    status = parse_dpkg(["docker.io", "containerd"], output)
    assert status.installed == {"docker.io": "20.10.24+dfsg1-1+deb12u1"}
    assert status.missing == ["containerd"]


def test_names_with_a_version_or_a_pattern_are_left_to_the_package_manager() -> None:
    names = ["docker-ce=5:27.3.1-1~debian.12~bookworm", "python3-*", "iptables"]
    argv = dpkg_query_argv(names)
    assert argv[-1:] == ["iptables"] and "python3-*" not in argv
    status = parse_dpkg(names, "iptables\tii \t1.8.9-2\n")
    assert status.installed == {"iptables": "1.8.9-2"}
    assert status.missing == names[:2]


def test_rpm_output_names_what_is_installed() -> None:
    names = ["qemu-user-static", "podman"]
    assert rpm_query_argv(names)[-2:] == names
    output = "qemu-user-static\t8.2.0-1.fc40\npackage podman is not installed\n"
    status = parse_rpm(names, output)
    assert status.installed == {"qemu-user-static": "8.2.0-1.fc40"}
    assert status.missing == ["podman"]
