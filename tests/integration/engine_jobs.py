"""Resolved jobs for the build engine's tests, made the way the plan makes them.

The plan (src/wheelfleet/jobs.py) gives each job its settings; this module adds
what the engine reads (contract of issue 18, section 2) from the same
functions the role uses: the steps of ``jobs.build_steps``/``jobs.test_steps``,
the network plan and limits of ``confinement``, the wheelhouse key of
``requirements.ensure``. It also lays out the host work directory: the source
archive of ``source.prepare`` and the requirement tars.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from wheelfleet import confinement, job_settings, jobs, manifest, requirements, source

ROLE = {
    "before_all": "",
    "before_build": "",
    "environment": {},
    "frontend": "",
    "extra_build_requires": [],
    "environment_pass_allow": ["*"],
    "environment_pass_deny": [],
    "requirements_source": "wheelhouse",
    "index_url": "https://pypi.org/simple",
    "plat": "",
    "repair_exclude": [],
    "repair_strip": False,
    "repair_only_plat": False,
    "repair_lib_sdir": ".libs",
    "repair_pure": "fail",
    "test_command": "",
    "test_requires": [],
}
CACHE = Path("~/.cache/wheelfleet").expanduser()


def group_key(job: dict[str, Any]) -> str:
    """Image + platform + before_all script + environment + network plan (not the
    before_all step's PATH, which names each job's own Python)."""
    document = [
        job["image"],
        job["platform"],
        (job["before_all"] or {}).get("argv"),
        job["settings"].get("environment") or "",
        job["network"],
    ]
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:12]


def _with_dist(step: dict[str, Any], dist: str) -> dict[str, Any]:
    argv = [dist if word == jobs.DIST else word for word in step["argv"]]
    return dict(step, argv=argv)


def resolve(job: dict[str, Any], requirements_key: str) -> dict[str, Any]:
    """A planned job with the engine's fields."""
    identifier = job["id"]
    dist = f"{jobs.DIST}/{identifier}"
    build = [_with_dist(step, dist) for step in jobs.build_steps(job)]
    before_all = next((step for step in build if step["name"] == "before_all"), None)
    network = confinement.network_plan(job["settings"], True)
    limits = confinement.container_limits()
    settings = job["settings"]
    resolved = dict(
        job,
        dist=dist,
        repaired=f"{jobs.REPAIRED}/{identifier}",
        steps=[step for step in build if step["name"] != "before_all"],
        before_all=before_all,
        test_steps=jobs.test_steps(job, ["{wheels}"]) if job["tested"] else [],
        requirements_key=requirements_key,
        repair={
            "plat": job["plat"],
            "exclude": settings.get("repair_exclude") or [],
            "strip": bool(settings.get("repair_strip")),
            "only_plat": bool(settings.get("repair_only_plat")),
            "lib_sdir": settings.get("repair_lib_sdir") or ".libs",
            "pure": settings.get("repair_pure") or "fail",
        },
        network={
            "before_all_online": network["online_steps"] is not None,
            "build_network_mode": network["build_network_mode"],
            "test_network_mode": network["test_network_mode"],
        },
        limits={
            "memory": int(limits["memory"]) if limits["memory"] else None,
            "pids_limit": limits["pids_limit"],
            "cpus": limits["cpus"],
        },
    )
    resolved["group"] = group_key(resolved)
    return resolved


def plan(
    project_dir: Path,
    workdir: Path,
    *,
    image_repository: str,
    python_tags: list[str],
    image_attrs: list[dict[str, Any]],
    run_id: str,
    role: dict[str, Any] | None = None,
    arch: str = "x86_64",
) -> list[dict[str, Any]]:
    """Resolved jobs of a project for one architecture (on this x86_64 host), with
    ``workdir`` holding what the engine copies in."""
    workdir.mkdir(parents=True, exist_ok=True)
    prepared = source.prepare(project_dir, CACHE)
    shutil.copyfile(prepared["archive"], workdir / "source.tar.gz")
    settings = dict(ROLE, **(role or {}))
    config = job_settings.project_config(prepared, settings, {})
    planned = jobs.plan(
        project=prepared,
        config=config,
        role=settings,
        architectures_wanted=[arch],
        python_tags=python_tags,
        images=image_attrs,
        image_repository=image_repository,
        host="localhost",
        host_arch="x86_64",
        wheelhouse_manifest=manifest.load(workdir / "wheelhouse"),
        wheelhouse=str(workdir / "wheelhouse"),
        run_id=run_id,
        force=True,
    )
    keys = {}
    for request in jobs.wheelhouse_requests(planned, prepared):
        made = requirements.ensure(
            request["requirements"],
            request["arch"],
            request["python_tag"],
            request["glibc"],
            CACHE,
        )
        shutil.copyfile(made["archive"], workdir / f"requirements-{made['key']}.tar")
        keys.update((identifier, made["key"]) for identifier in request["jobs"])
    return [resolve(job, keys[job["id"]]) for job in planned if job["status"] == "build"]
