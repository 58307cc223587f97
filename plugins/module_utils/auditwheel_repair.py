# Copyright: wheelfleet developers
# Apache License 2.0
"""Analysing and repairing one wheel with auditwheel, where the wheel lives.

Used by the auditwheel module and by the build engine. Runs auditwheel's
command line (its supported interface) through a target that runs commands on
this host or inside a container; the file work next to the wheel is the
standard-library helper of wheel_files, one process per operation.
"""

from __future__ import annotations

import json
import posixpath
from typing import NoReturn, Protocol

from ansible_collections.wheelfleet.fleet.plugins.module_utils.auditwheel_report import (
    AuditwheelFailure,
    explain_repair_failure,
    normalize_analysis,
    repaired_path,
    too_recent_versions,
    wheel_tags,
)
from ansible_collections.wheelfleet.fleet.plugins.module_utils.wheel_files import HELPER

RECORD_DIR = ".wheelfleet"


class RepairError(Exception):
    """The repair could not be done (not auditwheel's verdict); ``details`` go in the result."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Target(Protocol):
    """Where the wheel is: exec_target's HostTarget/ContainerTarget or a BuildContainer."""

    def describe(self) -> str: ...

    def getenv(self, name: str) -> str | None: ...

    def run(self, argv: list, env: dict | None = None) -> tuple: ...


DEFAULTS = {
    "state": "repaired",
    "dest": None,
    "plat": None,
    "exclude": [],
    "strip": False,
    "only_plat": False,
    "lib_sdir": ".libs",
    "pure": "fail",
    "auditwheel": "auditwheel",
    "python": None,
    "analyse_first": True,
    "env": None,
}


class Auditwheel:
    """One wheel, analysed or repaired where it lives.

    ``params`` are the auditwheel module's options (missing ones take their defaults).
    Raises AuditwheelFailure (auditwheel refused the wheel) or RepairError; errors of
    the target (TargetError, HostFailure) pass through.
    """

    def __init__(self, params: dict, target: Target, check_mode: bool = False) -> None:
        self.params = dict(DEFAULTS, **{k: v for k, v in params.items() if v is not None})
        self.check_mode = check_mode
        self.target = target
        self.python = self.params["python"] or self._auditwheel_python()
        self.version: str | None = None
        """auditwheel's version (its distribution's), once :meth:`run` has looked."""

    def fail(self, msg: str, **extra: object) -> NoReturn:
        raise RepairError(msg, target=self.target.describe(), **extra)

    def helper(self, *args: str) -> dict:
        rc, out, err = self.target.run([self.python, "-c", HELPER, *args])
        if rc != 0:
            detail = err.strip() or out.strip()
            self.fail(f"file operation {args[0]} failed in {self.target.describe()}: {detail}")
        return json.loads(out)

    def _auditwheel_python(self) -> str:
        """The interpreter named in the auditwheel script's first line (one process)."""
        command = self.params["auditwheel"]
        script = 'path=$(command -v "$0") || exit 127; echo "$path"; head -n 1 "$path"'
        rc, out, _ = self.target.run(["sh", "-c", script, command])
        lines = out.splitlines()
        if rc != 0 or not lines:
            self.fail(
                f"auditwheel ({command}) is not installed in {self.target.describe()}; "
                "use a wheelfleet builder image or a manylinux image, or set auditwheel/python"
            )
        shebang = lines[1] if len(lines) > 1 else ""
        words = shebang[2:].split() if shebang.startswith("#!") else []
        if not words:
            where = self.target.describe()
            self.fail(f"cannot tell which Python runs {lines[0]} in {where}; set the python option")
        return words[1] if posixpath.basename(words[0]) == "env" and len(words) > 1 else words[0]

    def analyse(self) -> dict:
        rc, out, err = self.target.run(
            [self.params["auditwheel"], "show", "--json", self.params["wheel"]]
        )
        try:
            analysis = json.loads(out)
        except ValueError:
            hint = (
                " (auditwheel older than 6.8 has no --json)"
                if "unrecognized arguments" in err
                else ""
            )
            self.fail(
                f"auditwheel show failed with status {rc}{hint}: {(err or out).strip()[-2000:]}",
                error_kind="analysis",
            )
        return normalize_analysis(analysis)

    def run(self) -> dict:
        plat = self.params["plat"] or self.target.getenv("AUDITWHEEL_PLAT") or "auto"
        options = [
            plat,
            sorted(self.params["exclude"]),
            self.params["strip"],
            self.params["only_plat"],
            self.params["lib_sdir"],
        ]
        record_dir = posixpath.join(self.params["dest"] or "/", RECORD_DIR)
        # A real repair gets its scratch directory from the same process (one exec less).
        scratch_in = [self.params["dest"]] if self.repairs() else []
        found = self.helper(
            "inspect", self.params["wheel"], record_dir, json.dumps(options), *scratch_in
        )
        if not found["exists"]:
            self.fail(f"wheel {self.params['wheel']} does not exist in {self.target.describe()}")
        self.version = found.get("auditwheel_version")
        if self.params["state"] == "analyzed":
            return {"changed": False, "analysis": self.analyse(), "input_sha256": found["sha256"]}
        if found["record"]:
            return dict(found["record"], changed=False, plat=plat)
        return self.repair(found["sha256"], plat, found["record_path"], found.get("scratch"))

    def repairs(self) -> bool:
        return self.params["state"] == "repaired" and not self.check_mode

    def repair(
        self, input_sha256: str, plat: str, record_path: str, scratch: str | None = None
    ) -> dict:
        # Without analyse_first, auditwheel show runs only when the repair fails (to say why,
        # or to find a pure wheel): one auditwheel process less on the way that succeeds.
        base = {"input_sha256": input_sha256, "plat": plat}
        try:
            analysis = None
            if self.params["analyse_first"] or self.check_mode:
                analysis = base["analysis"] = self.analyse()
                self._check_pure(analysis)
            if self.check_mode:
                return dict(base, changed=True)
            scratch = scratch or self.helper("mkdtemp", self.params["dest"])["path"]
            produced = self._produce(analysis, plat, scratch)
        except BaseException:
            if scratch:
                self.helper("rmtree", scratch)
            raise
        partial = dict(base, tags=wheel_tags(posixpath.basename(produced)))
        result = self.helper(
            "finish",
            produced,
            self.params["lib_sdir"],
            self.params["dest"],
            record_path,
            json.dumps(partial),
            scratch,
        )
        return dict(result, changed=True)

    def _check_pure(self, analysis: dict) -> None:
        if analysis.get("pure") and self.params["pure"] == "fail":
            raise AuditwheelFailure(
                "pure",
                "the wheel is pure Python: there is nothing to repair "
                "(set pure: copy to pass it through)",
            )

    def _produce(self, analysis: dict | None, plat: str, scratch: str) -> str:
        """Repair (or, for a pure wheel with pure=copy, copy) into the scratch directory."""
        if analysis is not None and analysis.get("pure"):
            copy = posixpath.join(scratch, posixpath.basename(self.params["wheel"]))
            rc, _, err = self.target.run(["cp", self.params["wheel"], copy])
            if rc != 0:
                self.fail(f"copying the pure wheel failed: {err.strip()}")
            return copy
        argv = [
            self.params["auditwheel"],
            "repair",
            "--plat",
            plat,
            "--wheel-dir",
            scratch,
            "--lib-sdir",
            self.params["lib_sdir"],
        ]
        for library in self.params["exclude"]:
            argv += ["--exclude", library]
        argv += ["--strip"] if self.params["strip"] else []
        argv += ["--only-plat"] if self.params["only_plat"] else []
        # SOURCE_DATE_EPOCH (the build engine's ``env``): the times auditwheel writes.
        rc, out, err = self.target.run([*argv, self.params["wheel"]], self.params.get("env"))
        output = out + err
        path = repaired_path(output)
        if (rc != 0 or path is None) and analysis is None:
            analysis = self.analyse()
            self._check_pure(analysis)
            if analysis.get("pure"):
                return self._produce(analysis, plat, scratch)
        if rc != 0 or path is None:
            offending = {}
            if "too-recent versioned symbols" in output:
                found = self.helper("policy", plat)
                offending = too_recent_versions(analysis, found["policy"], found["arch"] or "")
            failure = explain_repair_failure(rc, output, analysis, plat, offending)
            failure.details["auditwheel_output"] = output.strip()[-4000:]
            raise failure
        return path
