"""src/wheelfleet/release.py: a release's inputs, and its rounds until every wheel is in."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelfleet import release
from wheelfleet.plan import Host, Job, make_plan, matrix_jobs

PROJECT = "yamlcount"


def plan_document(*hosts: Host, archs=("x86_64", "aarch64"), pythons=("cp311",)) -> dict:
    return make_plan(matrix_jobs(archs, pythons), hosts).to_json()


A = Host("a", "x86_64", 1, frozenset({"aarch64"}))
B = Host("b", "x86_64", 1, frozenset({"aarch64"}))
ARM = Host("arm", "aarch64", 1)


def entry(job: str, run: str, file: str | None = None) -> dict:
    return {
        "file": file or f"{job}.whl",
        "job": job,
        "run_id": run,
        "project": PROJECT,
        "emulated": job.endswith("aarch64"),
        "timings": {"build": 3.0, "repair": 1.0},
    }


def manifest(*entries: dict) -> dict:
    return {"version": 1, "wheels": {e["file"]: e for e in entries}}


def build_outcome(**extra) -> dict:
    """The wheel_build role's wheel_build_outcome (contract section 5)."""
    return {
        "host_failure": None,
        "input_error": None,
        "built": [],
        "up_to_date": [],
        "failed": [],
        "unfinished": [],
        **extra,
    }


def healthy(round_number: int = 1, error: dict | None = None, **build) -> dict:
    """A host's round outcome (wheelfleet_round_outcome) when it answers at the end."""
    return {
        "round": round_number,
        "answers": True,
        "answer_reason": "",
        "build": build_outcome(**build),
        "error": error,
    }


def lost(reason: str, round_number: int = 1, **build) -> dict:
    """A host's round outcome when it no longer answers at the end of the round."""
    return {
        "round": round_number,
        "answers": False,
        "answer_reason": reason,
        "build": build_outcome(**build) if build else None,
        "error": None,
    }


# --- inputs -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _a_project_in_tmp_path(tmp_path: Path) -> None:
    """Release inputs read the project's build configuration: make tmp_path a project."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\n')


def test_inputs_leave_the_matrix_to_the_project_and_make_the_path_absolute(
    tmp_path: Path,
) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "1"\n'
        '[tool.cibuildwheel.linux]\narchs = ["auto", "ppc64le"]\n'
    )
    checked = release.check_inputs(project="proj", cwd=tmp_path, environ={})
    assert checked["project"] == str(tmp_path / "proj")
    assert checked["jobs"] == [] and checked["options"] == {}
    assert checked["architectures"] == ["ppc64le"]  # auto: the hosts' own, known when planning
    assert (checked["max_rounds"], checked["publish"]) == (3, False)


def test_the_project_is_read_once_and_its_snapshot_replaces_later_reads(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "1"\n[tool.cibuildwheel]\ntest-sources = ["tests"]\n'
    )
    (project / "tests" / "test_p.py").write_text("def test(): pass\n")
    cache = tmp_path / "cache"
    first = release.check_inputs(
        project=str(project), environ={}, source_cache_dir=str(cache), pack=True
    )
    snapshot = first["project_snapshot"]
    assert snapshot["name"] == "p" and snapshot["changed"]
    assert Path(snapshot["archive"]) == cache / "sources" / f"{snapshot['source_hash']}.tar.gz"
    assert Path(snapshot["archive"]).is_file()
    assert {"pyproject.toml", "tests", "tests/test_p.py"} <= set(snapshot["paths"])

    # Given that snapshot, the project is not read again: a change made since is not seen
    # (a release builds the source it checked), and its test-sources still check out.
    (project / "pyproject.toml").write_text('[project]\nname = "changed"\nversion = "2"\n')
    again = release.check_inputs(
        project=str(project),
        environ={},
        source_cache_dir=str(cache),
        pack=True,
        project_snapshot=snapshot,
    )
    assert again["project_snapshot"]["source_hash"] == snapshot["source_hash"]
    assert again["project_snapshot"]["name"] == "p" and not again["project_snapshot"]["changed"]

    # A snapshot of another path, or whose archive has gone, is not used: the project is read.
    Path(snapshot["archive"]).unlink()
    fresh = release.check_inputs(
        project=str(project),
        environ={},
        source_cache_dir=str(cache),
        pack=True,
        project_snapshot=snapshot,
    )
    assert fresh["project_snapshot"]["name"] == "changed"
    assert not release.usable_snapshot(snapshot, str(tmp_path / "other"), pack=False)


def test_inputs_take_aliases_strings_and_explicit_jobs(tmp_path: Path) -> None:
    checked = release.check_inputs(
        wheel_build_project=str(tmp_path), architectures="arm64", pythons=["cp312"], environ={}
    )
    assert checked["jobs"] == []
    assert checked["options"] == {"archs": ["arm64"], "build": ["cp312-*"]}
    assert checked["architectures"] == ["aarch64"]
    checked = release.check_inputs(
        project=str(tmp_path), jobs=["cp313t-manylinux_x86_64"], max_rounds="2", environ={}
    )
    assert [job["python"] for job in checked["jobs"]] == ["cp313t"]
    assert checked["max_rounds"] == 2


def test_inputs_check_the_projects_options_and_the_explicit_ones(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.cibuildwheel]\nbuild-frontend = "poetry"\n')
    with pytest.raises(release.ReleaseInputError) as error:
        release.check_inputs(project=str(tmp_path), environ={})
    assert "build-frontend" in str(error.value) and "pyproject.toml" in str(error.value)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    with pytest.raises(release.ReleaseInputError, match=r"test-comand.*test-command"):
        release.check_inputs(
            project=str(tmp_path), build_options={"test-comand": "pytest"}, environ={}
        )


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"project": None}, "no project: give the project to release"),
        ({"project": "nowhere"}, "project 'nowhere' does not exist"),
        ({"architectures": ["sparc"]}, "wheelfleet_architectures: unknown architecture 'sparc'"),
        ({"pythons": ["py3"]}, "wheelfleet_pythons: 'py3' is not a CPython tag"),
        ({"jobs": ["cp311-musllinux_x86_64"]}, "manylinux wheels only"),
        (
            {"jobs": ["cp311-manylinux_x86_64"], "architectures": ["x86_64"]},
            "conflicting options: wheelfleet_jobs and wheelfleet_architectures",
        ),
        ({"wheel_build_jobs": [{"arch": "x86_64"}]}, "conflicting options: wheel_build_jobs"),
        ({"wheel_build_project": "/elsewhere"}, "conflicting options: project"),
        ({"max_rounds": 21}, "wheelfleet_max_rounds 21: expected a whole number from 1 to 20"),
        ({"max_rounds": 0}, "wheelfleet_max_rounds 0: expected a whole number from 1 to 20"),
        ({"max_rounds": "many"}, "wheelfleet_max_rounds 'many': expected a whole number"),
        ({"max_rounds": True}, "wheelfleet_max_rounds True: expected a whole number"),
        ({"emulation_factor": 0.5}, "wheelfleet_emulation_factor 0.5"),
        ({"publish": "maybe"}, "wheelfleet_publish 'maybe': expected true or false"),
        ({"publish": True}, "wheelfleet_publish_repository_url is not set"),
        (
            {"publish": True, "repository_url": "ftp://x"},
            "wheelfleet_publish_repository_url 'ftp://x': expected an http(s) URL",
        ),
        (
            {"publish": True, "repository_url": "https://upload.example/legacy/"},
            "publishing needs credentials; missing a user name",
        ),
    ],
)
def test_bad_inputs_are_named(tmp_path: Path, arguments: dict, words: str) -> None:
    arguments = {"project": str(tmp_path), **arguments}
    with pytest.raises(release.ReleaseInputError) as caught:
        release.check_inputs(**arguments, environ={}, cwd=tmp_path)
    assert words in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(release.ReleaseInputError) as caught:
        release.check_inputs(project="gone", architectures=["sparc"], pythons=["cp2"], cwd=tmp_path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3, lines


def test_credentials_from_variables_or_environment(tmp_path: Path) -> None:
    common = {"project": str(tmp_path), "publish": "true", "repository_url": "https://x/legacy/"}
    with pytest.raises(release.ReleaseInputError, match="missing a password or token"):
        release.check_inputs(**common, has_username=True, environ={})
    assert release.check_inputs(**common, has_username=True, has_password=True, environ={})[
        "publish"
    ]
    environ = {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": "pypi-secret"}
    checked = release.check_inputs(**common, environ=environ)
    # The values themselves are never part of the result.
    assert "pypi-secret" not in repr(checked)


def test_job_names_link_the_plan_and_the_role() -> None:
    assert release.job_names("cp313t-manylinux_aarch64", "My Project") == {
        "identifier": "cp313t-manylinux_aarch64",
        "architecture": "aarch64",
        "python": "cp313t",
        "python_tag": "cp313-cp313t",
        "job": "my-project-cp313-cp313t-aarch64",
    }
    assert release.run_id("20250101T000000-abcdef", 2) == "20250101T000000-abcdef-r2"


def test_builder_images_for_a_hosts_jobs() -> None:
    recipe = [
        {"name": "bookworm", "source": "bootstrap", "suite": "bookworm", "architectures": []},
        {"name": "other", "source": "bootstrap", "suite": "trixie", "architectures": ["x86_64"]},
    ]
    assert release.builder_images(recipe, "bookworm", ["arm64", "x86_64", "aarch64"]) == [
        {**recipe[0], "architectures": ["aarch64", "x86_64"]}
    ]
    assert release.builder_images(recipe, "bookworm", []) == []
    with pytest.raises(release.ReleaseInputError, match=r"'missing' has no recipe.*other"):
        release.builder_images(recipe, "missing", ["x86_64"])


# --- rounds ---------------------------------------------------------------------------


def test_start_assigns_round_one_native_first() -> None:
    state = release.start(plan_document(A, ARM), release_id="rel", project=PROJECT)
    assert state["round"] == 1 and not state["complete"]
    assert state["assignments"] == {
        "a": ["cp311-manylinux_x86_64"],
        "arm": ["cp311-manylinux_aarch64"],
    }
    assert release.host_jobs(state, "arm") == [{"arch": "aarch64", "python": "cp311-cp311"}]
    assert state["rounds"][0]["run_id"] == "rel-r1"
    assert state["jobs"]["cp311-manylinux_aarch64"]["job"] == "yamlcount-cp311-cp311-aarch64"
    assert state["jobs"]["cp311-manylinux_aarch64"]["native"] is True


def test_a_clean_round_completes_the_release() -> None:
    state = release.start(plan_document(A, B), release_id="rel", project=PROJECT)
    built = manifest(
        entry("yamlcount-cp311-cp311-x86_64", "rel-r1"),
        entry("yamlcount-cp311-cp311-aarch64", "rel-r1"),
    )
    done = release.advance(state, {host: healthy() for host in state["assignments"]}, built)
    assert done["complete"] and done["assignments"] == {}
    assert {job["status"] for job in done["jobs"].values()} == {"done"}
    assert done["jobs"]["cp311-manylinux_x86_64"]["seconds"] == 4.0
    assert done["jobs"]["cp311-manylinux_aarch64"]["native"] is False
    assert release.counts(done)["built"] == 2
    assert release.failed_jobs(done) == []
    assert release.finished_wheels(done, built) == sorted(built["wheels"])
    # The state is JSON-ready and advance did not change its input.
    assert state["round"] == 1 and not state["complete"]


def test_an_unchanged_rerelease_builds_nothing_and_says_so() -> None:
    state = release.start(plan_document(A, B), release_id="rel2", project=PROJECT)
    earlier = manifest(
        entry("yamlcount-cp311-cp311-x86_64", "rel-r1"),
        entry("yamlcount-cp311-cp311-aarch64", "rel-r1"),
    )
    outcomes = {
        "a": healthy(up_to_date=["yamlcount-cp311-cp311-aarch64"]),
        "b": healthy(up_to_date=["yamlcount-cp311-cp311-x86_64"]),
    }
    done = release.advance(state, outcomes, earlier)
    assert done["complete"]
    assert release.counts(done) == {
        "jobs": 2,
        "built": 0,
        "up_to_date": 2,
        "failed": 0,
        "queued": 0,
        "moved": 0,
    }
    assert "nothing to build: every wheel is up to date" in release.summary_text(done)
    assert release.finished_wheels(done, earlier) == sorted(earlier["wheels"])


def test_a_broken_build_on_a_healthy_host_fails_without_moving() -> None:
    state = release.start(plan_document(A, B), release_id="rel", project=PROJECT)
    failure = {"id": "yamlcount-cp311-cp311-aarch64", "message": "exit 1"}
    outcomes = {
        "a": healthy(failed=[failure]),
        "b": healthy(),
    }
    built = manifest(entry("yamlcount-cp311-cp311-x86_64", "rel-r1"))
    done = release.advance(state, outcomes, built)
    assert done["complete"] and done["moves"] == []
    [failed] = release.failed_jobs(done)
    assert (failed["identifier"], failed["step"], failed["reason"]) == (
        "cp311-manylinux_aarch64",
        "build",
        "exit 1",
    )
    text = release.summary_text(done)
    assert "FAILED cp311-manylinux_aarch64 on a at step build:\n    exit 1" in text
    assert failed["kind"] == "job" and release.failure_kind(done) == "job"


def test_a_failed_job_keeps_where_and_when_it_ran_for_the_timeline() -> None:
    state = release.start(plan_document(A, B), release_id="rel", project=PROJECT)
    steps = [{"step": "build", "start": 100.0, "end": 104.0}]
    failure = {"id": "yamlcount-cp311-cp311-aarch64", "message": "exit 1"}
    failure.update(slot=0, steps=steps)
    built = manifest(entry("yamlcount-cp311-cp311-x86_64", "rel-r1"))
    done = release.advance(state, {"a": healthy(failed=[failure]), "b": healthy()}, built)
    [failed] = release.failed_jobs(done)
    assert (failed["host"], failed["slot"], failed["steps"]) == ("a", 0, steps)


def test_a_failed_host_s_jobs_move_and_finished_wheels_stay() -> None:
    state = release.start(plan_document(A, B), release_id="rel", project=PROJECT)
    assert state["assignments"] == {
        "a": ["cp311-manylinux_aarch64"],
        "b": ["cp311-manylinux_x86_64"],
    }
    gone = lost(
        "the host stopped answering: Task failed: Failed to create temporary"
        " directory. In some cases, you may have been able to authenticate...",
        # What the dying host recorded does not count: its jobs are not its fault.
        failed=[{"id": "yamlcount-cp311-cp311-aarch64", "message": "gone"}],
    )
    built = manifest(entry("yamlcount-cp311-cp311-x86_64", "rel-r1"))
    second = release.advance(state, {"a": gone, "b": healthy()}, built)
    assert not second["complete"] and second["round"] == 2
    assert second["assignments"] == {"b": ["cp311-manylinux_aarch64"]}
    assert second["failed_hosts"] == {
        "a": "the host stopped answering: Failed to create temporary directory"
    }
    [move] = second["moves"]
    assert (move["job"], move["from"], move["to"], move["round"]) == (
        "cp311-manylinux_aarch64",
        "a",
        "b",
        2,
    )
    # The x86_64 wheel built on b in round 1 is done: never rebuilt.
    assert second["jobs"]["cp311-manylinux_x86_64"]["status"] == "done"
    assert second["rounds"][1]["run_id"] == "rel-r2"
    built = manifest(
        entry("yamlcount-cp311-cp311-x86_64", "rel-r1"),
        entry("yamlcount-cp311-cp311-aarch64", "rel-r2"),
    )
    done = release.advance(second, {"b": healthy(2)}, built)
    assert done["complete"] and release.failed_jobs(done) == []
    assert [a["outcome"] for a in done["jobs"]["cp311-manylinux_aarch64"]["attempts"]] == [
        "host failed",
        "done",
    ]
    text = release.summary_text(done)
    assert "replanned cp311-manylinux_aarch64: a failed" in text
    assert "rebuilt on b in round 2" in text


def test_a_wheel_published_just_before_its_host_died_is_kept() -> None:
    state = release.start(plan_document(A, B), release_id="rel", project=PROJECT)
    built = manifest(entry("yamlcount-cp311-cp311-aarch64", "rel-r1"))
    after = release.advance(state, {"a": None, "b": healthy(up_to_date=[])}, built)
    # a reported nothing, but its wheel is in the manifest: done. b's job reported nothing
    # either, on a healthy host: it failed, not moved.
    assert after["jobs"]["cp311-manylinux_aarch64"]["status"] == "done"
    assert after["failed_hosts"] == {
        "a": "the host reported nothing (it failed or became unreachable)"
    }
    assert after["complete"]


def test_jobs_without_a_remaining_capable_host_fail_naming_it() -> None:
    native_only = Host("a", "x86_64", 1)
    state = release.start(plan_document(native_only, ARM), release_id="rel", project=PROJECT)
    built = manifest(entry("yamlcount-cp311-cp311-x86_64", "rel-r1"))
    done = release.advance(state, {"a": healthy(), "arm": lost("engine gone")}, built)
    assert done["complete"]
    [failed] = release.failed_jobs(done)
    assert failed["identifier"] == "cp311-manylinux_aarch64" and failed["step"] == "plan"
    assert failed["reason"].startswith("its host arm failed and no available host can build")


def test_rounds_are_bounded() -> None:
    hosts = [Host(name, "x86_64", 1) for name in ("a", "b", "c")]
    state = release.start(
        plan_document(*hosts, archs=("x86_64",)), release_id="rel", project=PROJECT, max_rounds=2
    )
    empty = manifest()
    for number in (1, 2):
        [host] = state["assignments"]
        state = release.advance(state, {host: lost(f"lost in round {number}", number)}, empty)
    assert state["complete"] and state["round"] == 2
    [failed] = release.failed_jobs(state)
    assert failed["step"] == "release" and failed["kind"] == "host"
    assert failed["reason"].startswith("not built after 2 round(s) (failed hosts: ")
    assert release.failure_kind(state) == "host"


def test_hosts_failed_before_round_one_are_planned_around() -> None:
    state = release.start(
        plan_document(A, B), release_id="rel", project=PROJECT, failed_hosts={"a": "no images"}
    )
    assert state["assignments"] == {"b": ["cp311-manylinux_aarch64", "cp311-manylinux_x86_64"]}
    assert [m["from"] for m in state["moves"]] == ["a"]


def test_unschedulable_jobs_of_the_plan_fail_at_once() -> None:
    state = release.start(
        plan_document(B, archs=("x86_64", "s390x")), release_id="rel", project=PROJECT
    )
    assert state["jobs"]["cp311-manylinux_s390x"]["status"] == "failed"
    assert "no host runs s390x natively" in state["jobs"]["cp311-manylinux_s390x"]["reason"]
    assert state["assignments"] == {"b": ["cp311-manylinux_x86_64"]}


def test_state_round_trips_through_the_wheelhouse(tmp_path: Path) -> None:
    state = release.start(plan_document(A), release_id="rel", project=PROJECT)
    assert release.load_state(tmp_path) is None
    path = release.write_state(tmp_path / "wh", state)
    assert Path(path).name == "release.json"
    assert release.load_state(tmp_path / "wh") == state
    (tmp_path / "wh" / "release.json").write_text("{not json")
    assert release.load_state(tmp_path / "wh") is None


def test_outcomes_of_another_round_do_not_count() -> None:
    hostvars = {"a": {"wheelfleet_round_outcome": {"round": 1, "healthy": True}}, "b": {}}
    found = release.outcomes_from_hostvars(["a", "b"], hostvars, "wheelfleet_round_outcome", 2)
    assert found == {"a": None, "b": None}
    found = release.outcomes_from_hostvars(["a"], hostvars, "wheelfleet_round_outcome", 1)
    assert found == {"a": {"round": 1, "healthy": True}}


def test_a_release_that_stops_early_fails_what_is_left() -> None:
    state = release.start(plan_document(A, B), release_id="rel", project=PROJECT)
    ended = release.finish(state)
    assert ended["complete"] and ended["assignments"] == {}
    assert {job["status"] for job in ended["jobs"].values()} == {"failed"}
    assert all(
        job["reason"] == "not built: the release ended after round 1 (failed hosts: none)"
        for job in ended["jobs"].values()
    )
    assert release.finish(ended) == ended


def test_jobs_carry_their_image_from_the_plan_to_the_hosts_and_the_image_step() -> None:
    jobs = [
        Job.build("cp311", "x86_64", image="bookworm"),
        Job.build("cp314", "x86_64", image="forky"),
        Job.build("cp314", "aarch64", image="forky"),
    ]
    state = release.start(make_plan(jobs, [A]).to_json(), release_id="rel", project=PROJECT)
    assigned = release.host_jobs(state, "a")
    assert sorted(assigned, key=lambda job: (job["python"], job["arch"])) == [
        {"arch": "x86_64", "python": "cp311-cp311", "image": "bookworm"},
        {"arch": "aarch64", "python": "cp314-cp314", "image": "forky"},
        {"arch": "x86_64", "python": "cp314-cp314", "image": "forky"},
    ]
    recipe = [
        {"name": "bookworm", "suite": "bookworm", "architectures": ["x86_64", "aarch64"]},
        {"name": "forky", "suite": "forky", "architectures": ["x86_64", "aarch64"]},
    ]
    images = release.job_images(recipe, "bookworm", assigned)
    assert [(entry["name"], sorted(entry["architectures"])) for entry in images] == [
        ("bookworm", ["x86_64"]),
        ("forky", ["aarch64", "x86_64"]),
    ]
    # A job without an image (an explicit matrix) uses the default image.
    assert release.job_images(recipe, "bookworm", [{"arch": "aarch64", "python": "cp311"}]) == [
        {**recipe[0], "architectures": ["aarch64"]}
    ]


# --- host failures, failure kinds and hosts that answer again --------------------------

X86 = "yamlcount-cp311-cp311-x86_64"
ARM64 = "yamlcount-cp311-cp311-aarch64"


def test_max_rounds_is_no_longer_capped_at_three(tmp_path: Path) -> None:
    checked = release.check_inputs(project=str(tmp_path), max_rounds=20, environ={})
    assert checked["max_rounds"] == 20
    hosts = [Host(f"h{n}", "x86_64", 1) for n in range(6)]
    state = release.start(
        plan_document(*hosts, archs=("x86_64",)), release_id="rel", project=PROJECT, max_rounds=6
    )
    # Every host in turn goes away for good: the job moves on each time, round after round.
    for number in range(1, 6):
        [host] = state["assignments"]
        state = release.advance(state, {host: lost("gone", number)}, manifest())
        assert not state["complete"] and state["round"] == number + 1
    [host] = state["assignments"]
    state = release.advance(state, {host: healthy(6)}, manifest(entry(X86, "rel-r6")))
    assert state["complete"] and release.failed_jobs(state) == []
    assert len(state["jobs"]["cp311-manylinux_x86_64"]["attempts"]) == 6


def test_an_engine_restarted_mid_job_is_a_host_failure_and_its_job_runs_again() -> None:
    """The decision for a host that failed but answers again at the end of its round: it
    stays in the release and its unfinished jobs run again there in the next round."""
    state = release.start(plan_document(A, archs=("x86_64",)), release_id="rel", project=PROJECT)
    restarted = healthy(
        host_failure="the Docker engine restarted during step build", unfinished=[X86]
    )
    second = release.advance(state, {"a": restarted}, manifest())
    assert not second["complete"] and second["round"] == 2
    assert second["assignments"] == {"a": ["cp311-manylinux_x86_64"]}
    job = second["jobs"]["cp311-manylinux_x86_64"]
    assert job["status"] == "queued" and job["attempts"] == [
        {
            "round": 1,
            "host": "a",
            "outcome": "host failed",
            "reason": "the Docker engine restarted during step build",
        }
    ]
    # Not left out, not moved; the round and the release remember the failure.
    assert second["failed_hosts"] == {} and second["moves"] == []
    assert second["rounds"][0]["failed_hosts"] == {
        "a": "the Docker engine restarted during step build"
    }
    assert second["host_failures"] == [
        {
            "host": "a",
            "round": 1,
            "reason": "the Docker engine restarted during step build",
            "rejoined": True,
        }
    ]
    done = release.advance(second, {"a": healthy(2)}, manifest(entry(X86, "rel-r2")))
    assert done["complete"] and release.failed_jobs(done) == []
    assert release.failure_kind(done) is None
    assert "host a failed in round 1 (the Docker engine restarted" in release.summary_text(done)


def test_a_host_that_fails_twice_is_left_out_even_when_it_answers() -> None:
    state = release.start(plan_document(A, B), release_id="rel", project=PROJECT)
    flapping = healthy(host_failure="engine restarted", unfinished=[ARM64])
    state = release.advance(state, {"a": flapping, "b": healthy()}, manifest(entry(X86, "rel-r1")))
    assert state["assignments"] == {"a": ["cp311-manylinux_aarch64"]}
    state = release.advance(state, {"a": {**flapping, "round": 2}}, manifest())
    # Second failure: a is out, its job moves to b (which emulates aarch64).
    assert state["failed_hosts"] == {"a": "engine restarted (its failure number 2 in this release)"}
    assert state["assignments"] == {"b": ["cp311-manylinux_aarch64"]}
    assert [item["rejoined"] for item in state["host_failures"]] == [True, False]


@pytest.mark.parametrize(
    ("outcome", "host_failure"),
    [
        (None, "the host reported nothing (it failed or became unreachable)"),
        (lost("the host stopped answering: timeout"), "the host stopped answering: timeout"),
        (healthy(host_failure="connection lost mid-watch"), "connection lost mid-watch"),
        (healthy(unfinished=[X86]), f"its jobs were left unfinished: {X86}"),
        # The round ended on a host-kind failure, or on one of no kind that no job explains
        # (its builder images failed): the host failed.
        (healthy(error={"kind": "host", "msg": "docker gone"}), "docker gone"),
        (healthy(error={"kind": None, "msg": "image build failed"}), "image build failed"),
        (
            {"round": 1, "answers": True, "build": None, "error": {"msg": "x"}},
            "x",
        ),
    ],
)
def test_what_makes_a_host_failure(outcome: dict | None, host_failure: str) -> None:
    assert release.read_outcome(outcome).host_failure == host_failure


@pytest.mark.parametrize(
    "outcome",
    [
        healthy(),
        # The role's own report of its failed jobs, of kind job or of none.
        healthy(failed=[{"id": X86, "message": "exit 1"}], error={"kind": "job", "msg": "1 job"}),
        healthy(failed=[{"id": X86, "message": "exit 1"}], error={"kind": None, "msg": "1 job"}),
        healthy(input_error="no pyproject.toml"),
        healthy(error={"kind": "input", "msg": "no pyproject.toml"}),
    ],
)
def test_job_and_input_failures_are_not_host_failures(outcome: dict) -> None:
    assert release.read_outcome(outcome).host_failure is None


def test_an_input_error_fails_the_hosts_jobs_as_input() -> None:
    state = release.start(plan_document(A, B), release_id="rel", project=PROJECT)
    refused = {"kind": "input", "msg": "the project's requirements are refused: --index-url"}
    done = release.advance(
        state, {"a": healthy(error=refused), "b": healthy(input_error=refused["msg"])}, manifest()
    )
    assert done["complete"]
    assert {(job["step"], job["kind"]) for job in release.failed_jobs(done)} == {("input", "input")}
    assert release.failure_kind(done) == "input"


def test_failure_kinds_of_a_release_mix_to_the_worst() -> None:
    state = release.start(plan_document(A, B), release_id="rel", project=PROJECT)
    done = release.advance(
        state,
        {
            "a": healthy(input_error="refused"),
            "b": healthy(failed=[{"id": X86, "message": "exit 1"}]),
        },
        manifest(),
    )
    assert release.failure_kind(done) == "job"


def test_answers_given_as_text_are_read_as_booleans() -> None:
    assert release.read_outcome({**healthy(), "answers": "False"}).host_failure is not None
    assert release.read_outcome({**healthy(), "answers": "True"}).host_failure is None
