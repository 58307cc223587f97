"""Resolved jobs for the build engine's tests, as the role gets them from the plan.

``jobs.plan`` (src/wheelfleet/jobs.py) resolves each job (group, steps, test steps,
repair, network, limits, requirements key), as the role's plan does. This module also
lays out the host work directory the role copies: the source archive of
``source.prepare``, the requirement tars of ``requirements.ensure``, named by each
job's ``requirements_key``, and the accelerator's toolchain archive of
``accelerator.ensure`` when a job is accelerated.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from wheelfleet import accelerator, confinement, job_settings, jobs, manifest, requirements, source

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
    "accelerate": True,
}
CACHE = Path("~/.cache/wheelfleet").expanduser()


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
    toolchains_in_workdir: bool = True,
) -> list[dict[str, Any]]:
    """Resolved jobs of a project for one architecture (on this x86_64 host), with
    ``workdir`` holding what the engine copies in (the accelerator's toolchain too, unless
    ``toolchains_in_workdir`` is false: the caller hands the archives to the action)."""
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
        limits=confinement.container_limits(),
    )
    for request in jobs.wheelhouse_requests(planned, prepared):
        made = requirements.ensure(
            request["requirements"],
            request["arch"],
            request["python_tag"],
            request["glibc"],
            CACHE,
        )
        # As the role does: one archive per request key (a job may need two: its own and
        # the host interpreter's for the host's userland).
        shutil.copyfile(made["archive"], workdir / f"requirements-{request['key']}.tar")
    resolved = [job for job in planned if job["status"] == "build"]
    for key in accelerator.wanted_archives(resolved):
        made = accelerator.ensure(key, CACHE)
        if toolchains_in_workdir:
            shutil.copyfile(made["archive"], workdir / f"toolchain-{key}.tar.gz")
    return resolved
