"""src/wheelfleet/jobs.py: planning a host's matrix into resolved jobs: naming, groups, steps."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from wheelfleet import job_settings, jobs, launchers, manifest

PROJECT = {
    "name": "YAML_count",
    "version": "1.0",
    "path": "/src/yaml_count",
    "source_hash": "src1",
    "build_requires": ["setuptools>=61"],
    "dependencies": ["packaging"],
    "build_config": {
        "tool": {
            "cibuildwheel": {"test-requires": ["pytest"]},
            "wheelfleet": {"before-all": "apt-get install -y libyaml-dev"},
        }
    },
}
SETTINGS = {"frontend": "pip", "requirements_source": "wheelhouse", "plat": "", "environment": {}}


def config(role: dict | None = None, project: dict | None = None, **extra):
    return job_settings.project_config(project or PROJECT, role or SETTINGS, extra)


def image(arch: str, docker_arch: str, plat: str, image_id: str = "sha256:img") -> dict:
    return {
        "Id": f"{image_id}-{arch}",
        "RepoTags": [f"wheelfleet/bookworm:{arch}"],
        "RepoDigests": [],
        "Architecture": docker_arch,
        "Config": {"Env": ["PATH=/usr/bin", f"AUDITWHEEL_PLAT={plat}"], "Labels": {}},
    }


IMAGES = [
    image("x86_64", "amd64", "manylinux_2_36_x86_64"),
    image("aarch64", "arm64", "manylinux_2_36_aarch64"),
]


def plan(tmp_path: Path, **overrides) -> list[dict]:
    arguments = {
        "project": PROJECT,
        "config": config(),
        "role": SETTINGS,
        "architectures_wanted": ["x86_64", "arm64"],
        "python_tags": ["cp311-cp311", "cp312-cp312"],
        "images": IMAGES,
        "image_repository": "wheelfleet/bookworm",
        "host": "builder-1",
        "host_arch": "x86_64",
        "wheelhouse_manifest": manifest.load(tmp_path),
        "wheelhouse": str(tmp_path),
        "run_id": "20250101T000000-abcdef",
    }
    arguments.update(overrides)
    return jobs.plan(**arguments)


def test_names_are_unique_per_run_and_docker_safe() -> None:
    run = jobs.new_run_id(now=0, token="abc123")
    assert run == "19700101T000000-abc123"
    assert jobs.new_run_id() != jobs.new_run_id()
    identifier = jobs.job_id("YAML_count", "cp311-cp311", "aarch64")
    assert identifier == "yaml_count-cp311-cp311-aarch64"
    name = jobs.container_name(run, identifier)
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name)
    assert jobs.container_name(run, identifier, "test") == name + "-test"
    assert jobs.safe_name("My Project!") == "my-project"


def test_plan_covers_the_matrix_with_emulation_and_images(tmp_path: Path) -> None:
    planned = plan(tmp_path)
    assert [(j["python_tag"], j["arch"]) for j in planned] == [
        ("cp311-cp311", "x86_64"),
        ("cp312-cp312", "x86_64"),
        ("cp311-cp311", "aarch64"),
        ("cp312-cp312", "aarch64"),
    ]
    arm = planned[2]
    assert arm["emulated"] is True and planned[0]["emulated"] is False
    assert arm["image"] == "wheelfleet/bookworm:aarch64" and arm["image_id"] == "sha256:img-aarch64"
    assert arm["platform"] == "linux/arm64" and arm["glibc"] == "2.36"
    assert arm["python"] == "/opt/python/cp311-cp311/bin/python"
    assert {j["status"] for j in planned} == {"build"}
    assert len({j["container"] for j in planned}) == 4


def test_missing_image_fails_its_jobs_only(tmp_path: Path) -> None:
    planned = plan(tmp_path, images=IMAGES[:1])
    statuses = {j["arch"]: j["status"] for j in planned}
    assert statuses == {"x86_64": "build", "aarch64": "failed"}
    failed = next(j for j in planned if j["status"] == "failed")
    assert "wheelfleet/bookworm:aarch64 is not on builder-1" in failed["reason"]
    assert "playbooks/images.yml" in failed["reason"]


def test_explicit_jobs_replace_the_matrix(tmp_path: Path) -> None:
    explicit = [
        {"arch": "arm64", "python": "cp312-cp312"},
        {"arch": "x86_64", "python": "cp311-cp311"},
        {"arch": "aarch64", "python": "cp312-cp312"},  # the same job again: dropped
    ]
    planned = plan(tmp_path, matrix=explicit, architectures_wanted=[], python_tags=[])
    assert [(j["python_tag"], j["arch"]) for j in planned] == [
        ("cp312-cp312", "aarch64"),
        ("cp311-cp311", "x86_64"),
    ]
    assert planned[0]["emulated"] is True and planned[1]["emulated"] is False
    with pytest.raises(jobs.PlanError, match=r"wheel_build_jobs\[0\]: .*sparc"):
        plan(tmp_path, matrix=[{"arch": "sparc", "python": "cp311-cp311"}])
    with pytest.raises(jobs.PlanError, match=r"wheel_build_jobs\[1\]: expected a mapping"):
        plan(tmp_path, matrix=[{"arch": "x86_64", "python": "cp311-cp311"}, {"arch": "x86_64"}])
    with pytest.raises(jobs.PlanError, match=r"wheel_build_jobs\[0\]: .*python3\.11"):
        plan(tmp_path, matrix=[{"arch": "x86_64", "python": "python3.11"}])


def test_bad_tags_and_empty_matrix_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cp311-cp311"):
        plan(tmp_path, python_tags=["python3.11"])
    with pytest.raises(jobs.PlanError, match="wheel_build_architectures"):
        plan(tmp_path, architectures_wanted=[])


def test_settings_hash_follows_the_output_changing_settings(tmp_path: Path) -> None:
    def first_hash(role: dict, **extra) -> str:
        return plan(tmp_path, role=role, config=config(role, **extra))[0]["settings_hash"]

    base = first_hash(SETTINGS)
    assert base == first_hash(dict(SETTINGS, index_url="https://elsewhere/simple"))  # unused
    assert base != first_hash(dict(SETTINGS, plat="manylinux2014"))
    assert base != first_hash(dict(SETTINGS, before_build="make"))
    assert base != first_hash(SETTINGS, **{"config-settings": {"a": "b"}})
    # The manylinux image a project asks for is not where the job runs: not hashed.
    assert base == first_hash(SETTINGS, **{"manylinux-x86_64-image": "manylinux2014"})


def test_role_settings_override_the_project_and_the_project_fills_the_rest(
    tmp_path: Path,
) -> None:
    role = dict(SETTINGS, before_all="mine", environment={"B": "2"})
    job = plan(tmp_path, role=role, config=config(role))[0]
    assert job["settings"]["before_all"] == "mine"
    assert not job["tested"]  # no test-command: nothing to test
    assert job["settings"]["environment"] == 'export B="2"\n'
    tested = dict(SETTINGS, test_command="pytest")
    job = plan(tmp_path, role=tested, config=config(tested))[0]
    assert job["tested"] and job["settings"]["test_requires"] == ["pytest"]
    assert job["settings"]["before_all"] == "apt-get install -y libyaml-dev"
    with pytest.raises(ValueError, match=r"build-frontend.*poetry"):
        config(dict(SETTINGS, frontend="poetry"))


def test_python_tags_in_either_spelling_name_the_same_job(tmp_path: Path) -> None:
    short = plan(tmp_path, python_tags=["cp311"])
    long = plan(tmp_path, python_tags=["cp311-cp311"])
    assert [j["id"] for j in short] == [j["id"] for j in long]
    assert short[0]["python"] == "/opt/python/cp311-cp311/bin/python"
    assert short[0]["identifier"] == "cp311-manylinux_x86_64"
    explicit = plan(tmp_path, matrix=[{"arch": "arm64", "python": "cp312"}])
    assert [j["id"] for j in explicit] == ["yaml_count-cp312-cp312-aarch64"]


def test_overrides_give_jobs_their_own_settings(tmp_path: Path) -> None:
    project = dict(
        PROJECT,
        build_config={
            "tool": {
                "cibuildwheel": {
                    "test-command": "pytest",
                    "overrides": [{"select": "*-manylinux_aarch64", "test-command": ""}],
                }
            }
        },
    )
    planned = plan(tmp_path, project=project, config=config(project=project))
    tested = {j["arch"]: j["tested"] for j in planned}
    assert tested == {"x86_64": True, "aarch64": False}


def test_up_to_date_jobs_are_skipped_unless_forced(tmp_path: Path) -> None:
    first = plan(tmp_path)[0]
    content = b"wheel"
    name = "yaml_count-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    (tmp_path / name).write_bytes(content)
    wheel = {"file": name, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    document = manifest.merge(
        manifest.empty(), [manifest.entry(first, wheel, host="h", timings={})]
    )
    planned = plan(tmp_path, wheelhouse_manifest=document)
    assert [j["status"] for j in planned] == ["up-to-date", "build", "build", "build"]
    assert planned[0]["entries"][0]["file"] == name
    assert plan(tmp_path, wheelhouse_manifest=document, force=True)[0]["status"] == "build"
    other_image = [image("x86_64", "amd64", "manylinux_2_36_x86_64", "sha256:new"), IMAGES[1]]
    assert plan(tmp_path, wheelhouse_manifest=document, images=other_image)[0]["status"] == "build"


def test_requirement_wheelhouses_per_target(tmp_path: Path) -> None:
    tested = dict(SETTINGS, test_command="pytest")
    planned = plan(tmp_path, role=tested, config=config(tested))
    requests = jobs.wheelhouse_requests(planned, PROJECT)
    assert len(requests) == 4
    assert requests[0]["requirements"] == ["packaging", "pytest", "setuptools>=61"]
    without_test = jobs.wheelhouse_requests(plan(tmp_path), PROJECT)
    assert without_test[0]["requirements"] == ["setuptools>=61"]


def test_build_steps_are_offline_and_in_order(tmp_path: Path) -> None:
    role = dict(SETTINGS, before_build="make -C {project} gen", environment={"CFLAGS": "-O2 $X"})
    job = plan(tmp_path, role=role, config=config(role))[0]
    steps = job["steps"]
    assert steps == jobs.build_steps(job)
    assert [s["name"] for s in steps] == ["before_build", "build"]
    assert job["before_all"]["argv"] == ["sh", "-c", "apt-get install -y libyaml-dev"]
    assert job["before_all"]["shell_env"] == 'export CFLAGS="-O2 ${X}"\n'
    assert steps[0]["argv"] == ["sh", "-c", "make -C /work/src gen"]
    assert steps[0]["path_prepend"] == ["/opt/python/cp311-cp311/bin"]
    assert steps[0]["shell_env"] == 'export CFLAGS="-O2 ${X}"\n'
    build = steps[-1]
    python, option, launcher, *frontend = build["argv"]
    assert python == "/opt/python/cp311-cp311/bin/python"
    assert (option, launcher) == ("-c", launchers.STABLE_NAMES)
    assert frontend[:2] == ["pip", "wheel"]
    assert build["env"]["TMPDIR"] == f"/work/tmp/{job['id']}"
    assert job["dist"] == f"/work/dist/{job['id']}"
    assert build["argv"][-3:] == ["--wheel-dir", job["dist"], "/work/src"]
    assert build["env"]["PIP_NO_INDEX"] == "1"
    assert build["env"]["PIP_FIND_LINKS"] == "/work/wheelhouse"
    index = dict(job, settings=dict(job["settings"], requirements_source="index", index_url="u"))
    by_index = jobs.build_steps(index)
    assert "PIP_NO_INDEX" not in by_index[-1]["env"]
    assert by_index[-1]["env"]["PIP_INDEX_URL"] == "u"


def test_the_frontend_launcher_gives_the_same_temporary_names_every_time(tmp_path: Path) -> None:
    """Run for real: a module that makes temporary directories, as a frontend makes its
    isolated environment, gets the same names in two fresh TMPDIRs, with its arguments."""
    (tmp_path / "fakefrontend.py").write_text(
        "import sys, tempfile\n"
        "print(sys.argv[1:], tempfile.mkdtemp(prefix='build-env-'), tempfile.mkdtemp())\n"
    )
    outputs = []
    for run in ("one", "two"):
        env = dict(os.environ, PYTHONPATH=str(tmp_path), TMPDIR=str(tmp_path / run / "job"))
        done = subprocess.run(
            [sys.executable, "-c", launchers.STABLE_NAMES, "fakefrontend", "--wheel", "x"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        outputs.append(done.stdout.replace(run, "RUN"))
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("['--wheel', 'x'] ") and "/RUN/job/build-env-" in outputs[0]


def test_the_build_frontend_gets_config_settings_and_its_args(tmp_path: Path) -> None:
    role = dict(SETTINGS, frontend="")
    options = {"config-settings": {"--build-option": "--cpp"}, "build-frontend": "build; args: -n"}
    job = plan(tmp_path, role=role, config=config(role, **options))[0]
    argv = jobs.build_steps(job)[-1]["argv"]
    assert argv[1] == "-c" and argv[3:5] == ["build", "--wheel"]
    assert "--config-setting=--build-option=--cpp" in argv
    assert argv[-2:] == ["-n", "/work/src"]
    job = plan(tmp_path, role=SETTINGS, config=config(SETTINGS, **{"config-settings": "a=b"}))[0]
    assert "--config-settings=a=b" in jobs.build_steps(job)[-1]["argv"]


def test_test_steps_install_the_repaired_wheel_offline(tmp_path: Path) -> None:
    options = {
        "test-command": "pytest {project}/t",
        "test-sources": ["tests", "conftest.py"],
        "test-extras": ["speed"],
        "before-test": "echo ready",
        "test-environment": {"T": "1"},
    }
    job = plan(tmp_path, config=config(**options))[0]
    steps = job["test_steps"]
    assert [s["name"] for s in steps] == [
        "test_sources",
        "test_sources",
        "before_test",
        "install",
        "test",
    ]
    assert steps[0]["argv"][-2:] == ["/work/src/tests", "/work/test-cwd/tests"]
    install = steps[3]
    assert install["argv"][-2:] == ["{wheels}[speed]", "pytest"]
    assert install["env"]["PIP_NO_INDEX"] == "1"
    assert steps[4]["argv"] == ["sh", "-c", "pytest /work/src/t"]
    assert steps[4]["workdir"] == "/work/test-cwd"
    assert steps[4]["shell_env"] == 'export T="1"\n'


def test_failure_messages_from_loops_and_auditwheel() -> None:
    loop = {
        "msg": "One or more items failed",
        "results": [
            {"failed": False},
            {
                "failed": True,
                "msg": "cannot repair to manylinux_2_17_x86_64: too-recent versioned symbols",
                "error_kind": "too-recent-symbols",
                "offending_versions": {"libc.so.6": ["GLIBC_2.36"]},
            },
        ],
    }
    message = jobs.failure_message(loop)
    assert "too-recent" in message and "libc.so.6: GLIBC_2.36" in message
    assert "One or more" not in message
    assert jobs.failure_message({"msg": "plain"}) == "plain"


def test_test_groups_and_extras_become_test_requirements(tmp_path: Path) -> None:
    project = dict(
        PROJECT,
        build_config={
            "tool": {
                "cibuildwheel": {
                    "test-command": "pytest",
                    "test-groups": ["dev"],
                    "test-extras": ["speed"],
                    "environment-pass": ["CI_BUILD_NUMBER"],
                }
            },
            "project": {"optional-dependencies": {"speed": ["ujson>=5"]}},
            "dependency-groups": {
                "dev": ["pytest>=8", {"include-group": "lint"}],
                "lint": ["ruff"],
            },
        },
    )
    (job,) = plan(
        tmp_path, project=project, config=config(project=project), python_tags=["cp311"],
        architectures_wanted=["x86_64"],
    )  # fmt: skip
    assert job["settings"]["test_requires"] == ["ujson>=5", "pytest>=8", "ruff"]
    assert job["settings"]["environment_pass"] == ["CI_BUILD_NUMBER"]
    requests = jobs.wheelhouse_requests([job], project)
    assert {"ujson>=5", "pytest>=8", "ruff"} <= set(requests[0]["requirements"])
    install = job["test_steps"][-2]
    assert install["argv"][-4:] == ["{wheels}[speed]", "ujson>=5", "pytest>=8", "ruff"]


def test_a_bad_dependency_group_is_named(tmp_path: Path) -> None:
    def planned(groups: dict) -> list[dict]:
        project = dict(
            PROJECT,
            build_config={
                "tool": {"cibuildwheel": {"test-command": "pytest", "test-groups": ["dev"]}},
                "dependency-groups": groups,
            },
        )
        return plan(tmp_path, project=project, config=config(project=project))

    with pytest.raises(jobs.PlanError, match=r"test-groups names 'dev'.*defined: other"):
        planned({"other": ["x"]})
    with pytest.raises(jobs.PlanError, match=r"includes itself \(dev -> lint -> dev\)"):
        planned({"dev": [{"include-group": "lint"}], "lint": [{"include-group": "dev"}]})


def test_a_job_that_names_its_image_is_built_in_it(tmp_path: Path) -> None:
    forky = {
        **image("x86_64", "amd64", "manylinux_2_41_x86_64", "sha256:forky"),
        "RepoTags": ["wheelfleet/forky:x86_64"],
    }
    explicit = [
        {"arch": "x86_64", "python": "cp314-cp314", "image": "forky"},
        {"arch": "x86_64", "python": "cp311-cp311"},
    ]
    planned = plan(
        tmp_path, matrix=explicit, images=[*IMAGES, forky], architectures_wanted=[], python_tags=[]
    )
    assert [(j["python_tag"], j["image"]) for j in planned] == [
        ("cp314-cp314", "wheelfleet/forky:x86_64"),
        ("cp311-cp311", "wheelfleet/bookworm:x86_64"),
    ]
    assert planned[0]["image_id"] == "sha256:forky-x86_64" and planned[0]["glibc"] == "2.41"
    assert jobs.image_reference("registry:5000/team/bookworm", "forky", "aarch64") == (
        "registry:5000/team/forky:aarch64"
    )


def test_jobs_are_resolved_for_the_engine(tmp_path: Path) -> None:
    limits = {"memory": "8589934592", "pids_limit": 4096, "cpus": 2.0}
    planned = plan(tmp_path, limits=limits)
    x86_311, x86_312, arm_311, arm_312 = planned
    # One build container per image and before-all: the Pythons of one image share it.
    assert x86_311["group"] == x86_312["group"] != arm_311["group"] == arm_312["group"]
    assert x86_311["requirements_key"] != x86_312["requirements_key"]
    requests = jobs.wheelhouse_requests(planned, PROJECT)
    assert {r["key"] for r in requests} == {j["requirements_key"] for j in planned}
    assert x86_311["repaired"] == f"/work/repaired/{x86_311['id']}"
    assert x86_311["repair"] == {
        "plat": None, "exclude": [], "strip": False, "only_plat": False,
        "lib_sdir": ".libs", "pure": "fail", "env": {},
    }  # fmt: skip
    assert x86_311["limits"] == limits
    # before-all installs system packages online; the build and test stay offline.
    assert x86_311["network"] == {
        "before_all_online": True, "build_network_mode": None, "test_network_mode": "none",
    }  # fmt: skip
    offline = plan(tmp_path, before_all_network=False)[0]
    assert offline["network"]["build_network_mode"] == "none"
    assert not offline["network"]["before_all_online"]
    assert offline["group"] != x86_311["group"]
    # A different before-all is another container.
    role = dict(SETTINGS, before_all="true")
    assert plan(tmp_path, role=role, config=config(role))[0]["group"] != x86_311["group"]
    tested = plan(tmp_path, config=config(**{"test-command": "pytest"}))[0]
    (install,) = [s for s in tested["test_steps"] if s["name"] == "install"]
    assert install["argv"][3:5] == ["install", "{wheels}"]
    assert x86_311["test_steps"] == []


def test_the_source_date_epoch_reaches_the_build_and_auditwheel(tmp_path: Path) -> None:
    """SOURCE_DATE_EPOCH comes with the project (wheel_source) and goes to the build steps
    and the repair, never to before-all (the group's, shared by every job)."""
    project = dict(PROJECT, source_date_epoch=1700000000, source_date_epoch_origin="git")
    project["archive"] = "/cache/sources/src1.tar.gz"
    x86, _, arm, _ = plan(tmp_path, project=project)
    assert x86["source_date_epoch"] == 1700000000 and x86["source_date_epoch_origin"] == "git"
    assert x86["source_archive"] == "/cache/sources/src1.tar.gz"  # kept when published
    (build,) = [step for step in x86["steps"] if step["name"] == "build"]
    assert build["env"]["SOURCE_DATE_EPOCH"] == "1700000000"
    assert x86["repair"]["env"] == {"SOURCE_DATE_EPOCH": "1700000000"}
    assert "SOURCE_DATE_EPOCH" not in (x86["before_all"] or {}).get("env", {})
    assert (x86["toolchain_mode"], arm["toolchain_mode"]) == ("native", "emulated")
    assert x86["group"] == plan(tmp_path)[0]["group"]


def test_a_python_the_image_lacks_fails_its_job_with_the_ones_it_has(tmp_path: Path) -> None:
    labelled = [dict(i, Config=dict(i["Config"], Labels={jobs.PYTHON_TAGS_LABEL: "cp311-cp311"}))
                for i in IMAGES]  # fmt: skip
    planned = plan(tmp_path, images=labelled, architectures_wanted=["x86_64"])
    assert [j["status"] for j in planned] == ["build", "failed"]
    assert planned[1]["reason"] == (
        "Python tag cp312-cp312 is not in image wheelfleet/bookworm:x86_64 on builder-1;"
        " the image has: cp311-cp311"
    )
