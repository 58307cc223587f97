# Copyright: wheelfleet developers
# Apache License 2.0
"""Which of a list of operating-system packages a host already has, read from its package
database in a few milliseconds: the package managers' own modules load their whole cache
to answer the same question, which makes an unchanged re-provisioning seconds slower per
task. Names that carry a version or a pattern are never taken as installed here, so the
package manager decides for them."""

from __future__ import annotations

import re
from dataclasses import dataclass

# What a plain package name may contain (Debian policy and RPM's practice); anything else
# (a version, an architecture qualifier, a glob) is left to the package manager.
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]*$")

DPKG_FORMAT = "${Package}\\t${db:Status-Abbrev}\\t${Version}\\n"
RPM_FORMAT = "%{NAME}\\t%{VERSION}-%{RELEASE}\\n"


@dataclass(frozen=True)
class PackageStatus:
    installed: dict[str, str]
    """Name to installed version."""
    missing: list[str]
    """The names to hand to the package manager, in the order given."""


def plain_names(names: list[str]) -> list[str]:
    return [name for name in names if PLAIN_NAME.match(name)]


def dpkg_query_argv(names: list[str]) -> list[str]:
    return ["dpkg-query", "--show", "--showformat", DPKG_FORMAT, "--", *plain_names(names)]


def rpm_query_argv(names: list[str]) -> list[str]:
    return ["rpm", "--query", "--queryformat", RPM_FORMAT, "--", *plain_names(names)]


def parse_dpkg(names: list[str], output: str) -> PackageStatus:
    """dpkg-query's lines for the names it knows; 'ii' is installed and configured
    (anything else, such as 'rc' for removed with its configuration kept, is not)."""
    installed: dict[str, str] = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[1].startswith("ii") and fields[2]:
            installed[fields[0]] = fields[2]
    return _status(names, installed)


def parse_rpm(names: list[str], output: str) -> PackageStatus:
    """rpm's lines: 'NAME<TAB>VERSION' for an installed package; a name it does not have
    gives 'package NAME is not installed', which has no tab."""
    installed: dict[str, str] = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) == 2 and fields[0] and fields[1]:
            installed[fields[0]] = fields[1]
    return _status(names, installed)


def _status(names: list[str], installed: dict[str, str]) -> PackageStatus:
    known = {
        name: installed[name] for name in names if name in installed and PLAIN_NAME.match(name)
    }
    missing = [name for name in dict.fromkeys(names) if name not in known]
    return PackageStatus(installed=known, missing=missing)
