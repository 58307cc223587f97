"""The release planner: native first, balanced by capacity, deterministic, fault-tolerant."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from wheelfleet.identifiers import KNOWN_PYTHON_TAGS, Identifier
from wheelfleet.plan import (
    DEFAULT_EMULATION_FACTOR,
    Assignment,
    Host,
    Job,
    Plan,
    PlanInputError,
    host_from_vars,
    make_plan,
    matrix_jobs,
    replan,
)

PYTHONS = ["cp310", "cp311", "cp312", "cp313"]


def x86(name="x86-1", capacity=2, emulates=("aarch64",), **kw):
    return Host(name, "x86_64", capacity, frozenset(emulates), **kw)


def arm(name="arm-1", capacity=2, emulates=(), **kw):
    return Host(name, "aarch64", capacity, frozenset(emulates), **kw)


def jobs_by_host(plan):
    return plan.assignments()


# ---------------------------------------------------------------- jobs


def test_job_from_identifier():
    job = Job.from_identifier("cp311-manylinux_aarch64", settings_hash="abc", weight=2)
    assert (job.identifier, job.python, job.architecture) == (
        "cp311-manylinux_aarch64",
        "cp311",
        "aarch64",
    )
    assert (job.weight, job.settings_hash) == (2.0, "abc")
    assert Job.from_identifier("cp313t-manylinux_x86_64").python == "cp313t"
    # wheelfleet.identifiers resolves an aliased architecture to the canonical name.
    assert Job.from_identifier("cp312-manylinux_arm64").identifier == "cp312-manylinux_aarch64"


def test_job_from_an_identifier_object_and_a_settings_hash():
    job = Job.from_build(Identifier("cp312", "s390x"), settings_hash="f00d")
    assert job == Job("cp312-manylinux_s390x", "s390x", "cp312", 1.0, "f00d")


@pytest.mark.parametrize(
    ("identifier", "words"),
    [
        ("cp311", "'cp311' is not a build identifier"),
        ("cp27-manylinux_x86_64", "'cp27' is not a CPython tag"),
        ("cp311-manylinux_sparc", "unknown architecture 'sparc'; valid names: x86_64"),
        ("cp311-musllinux_x86_64", "manylinux wheels only"),
    ],
)
def test_bad_identifiers_are_named(identifier, words):
    with pytest.raises(PlanInputError) as caught:
        Job.from_identifier(identifier)
    assert words in str(caught.value)


def test_job_weight_must_be_positive():
    with pytest.raises(PlanInputError, match="weight: must be > 0"):
        Job.build("cp311", "x86_64", weight=0)
    with pytest.raises(PlanInputError, match="expected a number"):
        Job.build("cp311", "x86_64", weight="heavy")


def test_matrix_resolves_aliases_and_drops_duplicates():
    jobs = matrix_jobs(["x86_64", "arm64", "aarch64"], ["cp312", "cp311", "cp311"])
    # Ordered as wheelfleet.identifiers orders builds: architecture table order, then version.
    assert [j.identifier for j in jobs] == [
        "cp311-manylinux_x86_64",
        "cp312-manylinux_x86_64",
        "cp311-manylinux_aarch64",
        "cp312-manylinux_aarch64",
    ]


@pytest.mark.parametrize(
    ("archs", "pythons", "words"),
    [
        (["sparc99"], ["cp311"], "unknown architecture 'sparc99'; valid names: x86_64, i686"),
        (["x86_64"], ["py2"], "'py2' is not a CPython tag"),
        (["x86_64"], ["pp310"], ", ".join(KNOWN_PYTHON_TAGS)),
        ([], ["cp311"], "no architecture requested"),
        (["x86_64"], [], "no Python tag requested"),
    ],
)
def test_matrix_names_bad_values_and_valid_ones(archs, pythons, words):
    with pytest.raises(PlanInputError) as caught:
        matrix_jobs(archs, pythons)
    assert words in str(caught.value)


def test_job_json_forms():
    job = Job.from_identifier("cp312-manylinux_s390x", settings_hash="h1", weight=3)
    assert Job.from_json(job.to_json()) == job
    assert Job.from_json("cp312-manylinux_s390x") == Job.from_identifier("cp312-manylinux_s390x")
    assert Job.from_json({"python": "cp312", "architecture": "s390x"}).identifier == (
        "cp312-manylinux_s390x"
    )
    with pytest.raises(PlanInputError, match="needs 'identifier'"):
        Job.from_json({"weight": 2})
    with pytest.raises(PlanInputError, match="architecture 'x86_64' contradicts the identifier"):
        Job.from_json({"identifier": "cp312-manylinux_s390x", "architecture": "x86_64"})


# ---------------------------------------------------------------- hosts


def test_host_normalises_architectures():
    host = Host("h", "amd64", 4, frozenset({"arm64", "i686", "x86_64", "s390x"}))
    assert host.architecture == "x86_64"
    # Native ones (x86_64 itself, i686 on x86_64) are not "emulated".
    assert host.emulates == {"aarch64", "s390x"}
    assert host.runs_natively("i686")
    assert host.can_build("s390x")
    assert not host.can_build("riscv64")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"architecture": "sparc"}, "host h: architecture: unknown architecture 'sparc'"),
        ({"capacity": -1}, "capacity must be 0 or more"),
        ({"capacity": 1.5}, "capacity must be a whole number"),
        ({"emulates": frozenset({"mips"})}, "host h: emulates: unknown architecture 'mips'"),
        ({"architecture": None}, "its architecture is unknown"),
    ],
)
def test_bad_hosts_are_named(kwargs, words):
    values = {"name": "h", "architecture": "x86_64", "capacity": 1} | kwargs
    with pytest.raises(PlanInputError, match=words):
        Host(**values)


def test_host_from_gathered_facts():
    host = host_from_vars(
        "builder",
        {
            "ansible_facts": {"architecture": "x86_64", "processor_nproc": 6, "processor_vcpus": 8},
            "wheelfleet_emulated_architectures": ["aarch64", "s390x"],
        },
    )
    assert host == Host("builder", "x86_64", 6, frozenset({"aarch64", "s390x"}))


def test_inventory_variables_override_facts():
    host = host_from_vars(
        "builder",
        {
            "ansible_facts": {"architecture": "x86_64", "processor_nproc": 6},
            "wheelfleet_emulated_architectures": ["aarch64"],
            "wheelfleet_architecture": "arm64",
            "wheelfleet_capacity": "3",
            "wheelfleet_emulates": ["x86_64"],
        },
    )
    assert host == Host("builder", "aarch64", 3, frozenset({"x86_64"}))


def test_host_described_in_inventory_needs_no_facts():
    host = host_from_vars("arm", {"wheelfleet_architecture": "aarch64", "wheelfleet_capacity": 0})
    assert host == Host("arm", "aarch64", 0)
    assert not host.usable


def test_vcpus_then_one_slot_when_nproc_is_missing():
    assert host_from_vars("a", {"ansible_facts": {"architecture": "x86_64"}}).capacity == 1
    facts = {"architecture": "x86_64", "processor_vcpus": 4}
    assert host_from_vars("a", {"ansible_facts": facts}).capacity == 4


def test_host_without_facts_is_unavailable():
    host = host_from_vars("ghost", {"ansible_host": "192.0.2.1"})
    assert not host.healthy
    assert "not reached" in host.note
    assert "wheelfleet_architecture" in host.note


def test_unreachable_host_keeps_its_reason():
    host = host_from_vars(
        "down", {"wheelfleet_architecture": "x86_64", "wheelfleet_unavailable": "unreachable: ssh"}
    )
    assert (host.healthy, host.note) == (False, "unreachable: ssh")


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"wheelfleet_architecture": "sparc"}, "host h: wheelfleet_architecture: unknown"),
        ({"wheelfleet_architecture": "x86_64", "wheelfleet_capacity": "many"}, "capacity"),
        ({"wheelfleet_architecture": "x86_64", "wheelfleet_emulates": "aarch64"}, "a list"),
        ({"wheelfleet_architecture": "x86_64", "wheelfleet_emulates": ["m68k"]}, "'m68k'"),
    ],
)
def test_bad_host_variables_are_named(variables, words):
    with pytest.raises(PlanInputError, match=words):
        host_from_vars("h", variables)


# ---------------------------------------------------------------- native first


def test_aarch64_goes_to_the_aarch64_host():
    plan = make_plan(matrix_jobs(["x86_64", "aarch64"], PYTHONS), [x86(), arm()])
    assert plan.ok
    for name, identifiers in jobs_by_host(plan).items():
        wanted = "x86_64" if name == "x86-1" else "aarch64"
        assert identifiers
        assert all(i.endswith(wanted) for i in identifiers), (name, identifiers)
    assert all(a.native for h in plan.hosts for a in h.assignments)


def test_native_first_even_when_the_emulating_host_is_idle_and_bigger():
    plan = make_plan(matrix_jobs(["aarch64"], PYTHONS), [x86(capacity=64), arm(capacity=1)])
    assert jobs_by_host(plan)["x86-1"] == []
    assert len(jobs_by_host(plan)["arm-1"]) == 4


def test_emulation_only_without_a_native_host():
    plan = make_plan(matrix_jobs(["x86_64", "aarch64"], ["cp311"]), [x86()])
    assignments = {a.job.architecture: a for a in plan.host("x86-1").assignments}
    assert assignments["x86_64"].native
    assert not assignments["aarch64"].native
    assert assignments["aarch64"].cost == DEFAULT_EMULATION_FACTOR


def test_i686_is_native_on_x86_64():
    plan = make_plan(matrix_jobs(["i686"], ["cp311"]), [arm(emulates=("i686",)), x86()])
    assert jobs_by_host(plan) == {"arm-1": [], "x86-1": ["cp311-manylinux_i686"]}
    assert plan.host("x86-1").assignments[0].native


def test_emulation_when_the_native_host_is_unavailable():
    down = arm(healthy=False, note="unreachable: timeout")
    plan = make_plan(matrix_jobs(["aarch64"], ["cp311"]), [down, x86()])
    assert jobs_by_host(plan) == {"arm-1": [], "x86-1": ["cp311-manylinux_aarch64"]}
    assert not plan.host("x86-1").assignments[0].native


# ---------------------------------------------------------------- balance and capacity


def test_balanced_over_equal_hosts():
    hosts = [x86(f"x86-{i}", capacity=2) for i in range(3)]
    plan = make_plan(matrix_jobs(["x86_64"], [*PYTHONS, "cp38", "cp39"]), hosts)
    assert sorted(len(v) for v in jobs_by_host(plan).values()) == [2, 2, 2]
    assert plan.estimated_finish == 1.0


def test_capacity_sets_the_share():
    big, small = x86("big", capacity=3), x86("small", capacity=1)
    jobs = [Job.build(p, a) for p in PYTHONS for a in ("x86_64", "i686")]
    plan = make_plan(jobs, [big, small])
    counts = {name: len(ids) for name, ids in jobs_by_host(plan).items()}
    assert counts == {"big": 6, "small": 2}
    assert plan.host("big").estimated_finish == 2.0
    assert plan.host("small").estimated_finish == 2.0


def test_capacity_limits_parallel_builds():
    # 5 unit jobs on 2 slots: 3 rounds, not 2.5 - a slot runs one build at a time.
    plan = make_plan(matrix_jobs(["x86_64"], [*PYTHONS, "cp39"]), [x86(capacity=2)])
    assert plan.estimated_finish == 3.0
    plan = make_plan(matrix_jobs(["x86_64"], [*PYTHONS, "cp39"]), [x86(capacity=5)])
    assert plan.estimated_finish == 1.0


def test_capacity_zero_takes_nothing():
    plan = make_plan(matrix_jobs(["x86_64"], PYTHONS), [x86("off", capacity=0), x86("on")])
    assert jobs_by_host(plan)["off"] == []
    assert len(jobs_by_host(plan)["on"]) == 4


def test_emulated_jobs_count_eight_times():
    # One x86_64 host with 2 slots: the two emulated builds take a slot each,
    # the four native ones queue behind them, balanced.
    plan = make_plan(
        [*matrix_jobs(["aarch64"], ["cp311", "cp312"]), *matrix_jobs(["x86_64"], PYTHONS)],
        [x86(capacity=2)],
    )
    order = [a.job.identifier for a in plan.host("x86-1").assignments]
    assert order[:2] == ["cp311-manylinux_aarch64", "cp312-manylinux_aarch64"]
    assert plan.estimated_finish == 10.0  # 8 + two native on each slot


def test_emulation_factor_is_configurable():
    plan = make_plan(matrix_jobs(["aarch64"], ["cp311"]), [x86()], emulation_factor=5)
    assert plan.host("x86-1").assignments[0].cost == 5.0
    with pytest.raises(PlanInputError, match="emulation factor: must be >= 1"):
        make_plan([], [x86()], emulation_factor=0.5)


def test_heavy_jobs_first_lpt():
    jobs = [
        Job.build("cp311", "x86_64", weight=3),
        Job.build("cp312", "x86_64", weight=3),
        Job.build("cp313", "x86_64", weight=2),
        Job.build("cp310", "x86_64", weight=2),
        Job.build("cp39", "x86_64", weight=2),
    ]
    plan = make_plan(jobs, [x86("a", capacity=1), x86("b", capacity=1)])
    # Longest first: the 3s go to a and b, the 2s alternate, the tie goes to "a" by name.
    # (Greedy, not optimal: 3+3 / 2+2+2 would end at 6.)
    assert plan.estimated_finish == 7.0
    assert {h.name: h.estimated_finish for h in plan.hosts} == {"a": 7.0, "b": 5.0}


def test_the_greedy_plan_stays_within_capacity_and_covers_every_job():
    rng = random.Random(7)
    archs = ["x86_64", "aarch64", "i686", "s390x"]
    hosts = [
        Host(f"h{i}", rng.choice(["x86_64", "aarch64"]), rng.randint(1, 4), frozenset(archs))
        for i in range(5)
    ]
    jobs = [
        Job.build(p, a, weight=rng.choice([1, 2, 5])) for p, a in itertools.product(PYTHONS, archs)
    ]
    plan = make_plan(jobs, hosts)
    placed = [a.job.identifier for h in plan.hosts for a in h.assignments]
    assert sorted(placed) == sorted(j.identifier for j in jobs)
    assert len(set(placed)) == len(placed)
    # The greedy rule's bound: no later than average work per slot plus the longest job.
    total_slots = sum(h.capacity for h in hosts)
    work = sum(a.cost for h in plan.hosts for a in h.assignments)
    longest = max(a.cost for h in plan.hosts for a in h.assignments)
    assert plan.estimated_finish <= work / total_slots + longest


# ---------------------------------------------------------------- determinism


def test_same_input_same_plan_whatever_the_order():
    jobs = matrix_jobs(["x86_64", "aarch64", "s390x"], PYTHONS)
    hosts = [x86("b"), x86("a", emulates=("aarch64", "s390x")), arm("c", emulates=("s390x",))]
    reference = make_plan(jobs, hosts)
    rng = random.Random(1)
    for _ in range(10):
        shuffled_jobs, shuffled_hosts = list(jobs), list(hosts)
        rng.shuffle(shuffled_jobs)
        rng.shuffle(shuffled_hosts)
        again = make_plan(shuffled_jobs, shuffled_hosts)
        assert again == reference
        assert json.dumps(again.to_json()) == json.dumps(reference.to_json())


def test_ties_go_to_the_first_host_name_then_identifier():
    plan = make_plan(matrix_jobs(["x86_64"], ["cp312", "cp311"]), [x86("b", 1), x86("a", 1)])
    assert jobs_by_host(plan) == {
        "a": ["cp311-manylinux_x86_64"],
        "b": ["cp312-manylinux_x86_64"],
    }
    assert [h.name for h in plan.hosts] == ["a", "b"]


def test_duplicates_are_refused():
    with pytest.raises(PlanInputError, match="job 'cp311-manylinux_x86_64' is listed twice"):
        make_plan([Job.build("cp311", "x86_64")] * 2, [x86()])
    with pytest.raises(PlanInputError, match="host 'x86-1' is listed twice"):
        make_plan([], [x86(), x86()])


# ---------------------------------------------------------------- unschedulable


def test_unschedulable_names_the_architecture_and_the_fix():
    plan = make_plan(matrix_jobs(["x86_64", "riscv64"], ["cp311"]), [x86()])
    assert not plan.ok
    [problem] = plan.unschedulable
    assert problem.job.identifier == "cp311-manylinux_riscv64"
    assert problem.reason == (
        "no host runs riscv64 natively and none emulates it;"
        " provision one with qemu_binfmt_architectures including riscv64"
    )
    assert plan.problems() == [f"cp311-manylinux_riscv64: {problem.reason}"]
    assert jobs_by_host(plan) == {"x86-1": ["cp311-manylinux_x86_64"]}


def test_unschedulable_because_capable_hosts_are_unavailable():
    hosts = [
        arm("arm-1", healthy=False, note="unreachable: connection refused"),
        x86("x86-1", emulates=("aarch64",), capacity=0),
    ]
    plan = make_plan(matrix_jobs(["aarch64"], ["cp311"]), hosts)
    [problem] = plan.unschedulable
    assert problem.reason.startswith("no available host can build aarch64: ")
    assert "arm-1 (runs it natively) is unavailable: unreachable: connection refused" in (
        problem.reason
    )
    assert "x86-1 (emulates it) has capacity 0" in problem.reason


def test_empty_fleet():
    plan = make_plan(matrix_jobs(["x86_64"], ["cp311"]), [])
    assert "no build host" in plan.unschedulable[0].reason


# ---------------------------------------------------------------- replan


def fleet_plan():
    jobs = matrix_jobs(["x86_64", "aarch64"], PYTHONS)
    return make_plan(jobs, [x86("x86-1", capacity=2), arm("arm-1", capacity=2)])


def test_replan_moves_only_the_failed_hosts_unfinished_jobs():
    plan = fleet_plan()
    done = ["cp310-manylinux_aarch64", "cp311-manylinux_aarch64", "cp310-manylinux_x86_64"]
    after = replan(plan, ["arm-1"], done)
    assert after.ok
    arm_host = after.host("arm-1")
    assert not arm_host.host.healthy
    # Finished wheels stay where they were built, marked finished.
    assert [(a.job.identifier, a.finished) for a in arm_host.assignments] == [
        ("cp310-manylinux_aarch64", True),
        ("cp311-manylinux_aarch64", True),
    ]
    x86_jobs = after.host("x86-1").assignments
    # x86-1 keeps its own jobs in their order; cp310 x86_64 is marked done.
    assert [a.job.identifier for a in x86_jobs[:4]] == plan.assignments()["x86-1"]
    assert x86_jobs[0].finished
    moved = x86_jobs[4:]
    assert {a.job.identifier for a in moved} == {
        "cp312-manylinux_aarch64",
        "cp313-manylinux_aarch64",
    }
    assert all(a.moved_from == "arm-1" and not a.native for a in moved)
    assert all(a.cost == DEFAULT_EMULATION_FACTOR for a in moved)
    # Every job is still in the plan exactly once.
    placed = [a.job.identifier for h in after.hosts for a in h.assignments]
    assert sorted(placed) == sorted(j for ids in plan.assignments().values() for j in ids)


def test_replan_prefers_a_remaining_native_host():
    jobs = matrix_jobs(["aarch64"], PYTHONS)
    plan = make_plan(jobs, [arm("arm-1", capacity=1), arm("arm-2", capacity=1), x86()])
    after = replan(plan, {"arm-1": "unreachable: host stopped"}, [])
    assert after.host("arm-1").assignments == ()
    assert after.host("arm-1").host.note == "unreachable: host stopped"
    assert len(after.host("arm-2").assignments) == 4
    assert all(a.native for a in after.host("arm-2").assignments)
    assert after.host("x86-1").assignments == ()


def test_replan_balances_moved_jobs_over_remaining_work():
    jobs = matrix_jobs(["x86_64"], [*PYTHONS, "cp38", "cp39"])
    plan = make_plan(jobs, [x86("a", 1), x86("b", 1), x86("c", 1)])
    after = replan(plan, ["c"], [])
    counts = {h.name: len(h.assignments) for h in after.hosts}
    assert counts == {"a": 3, "b": 3, "c": 0}


def test_replan_without_any_capable_host_left():
    plan = make_plan(matrix_jobs(["aarch64"], ["cp311"]), [arm(), x86(emulates=())])
    after = replan(plan, ["arm-1"], [])
    [problem] = after.unschedulable
    assert problem.reason.startswith("its host arm-1 failed and no available host can build")
    assert "arm-1 (runs it natively) is unavailable: failed during the release" in problem.reason


def test_finished_jobs_are_never_repeated_on_a_second_replan():
    plan = fleet_plan()
    first = replan(plan, ["arm-1"], ["cp310-manylinux_aarch64"])
    second = replan(first, ["x86-1"], ["cp312-manylinux_aarch64"])
    # No host left: everything unfinished is unschedulable, nothing finished is.
    finished = {a.job.identifier for h in second.hosts for a in h.assignments if a.finished}
    assert finished == {"cp310-manylinux_aarch64", "cp312-manylinux_aarch64"}
    assert not finished & {u.job.identifier for u in second.unschedulable}
    assert len(second.unschedulable) == 8 - 2


def test_replan_refuses_unknown_names():
    plan = fleet_plan()
    with pytest.raises(PlanInputError, match=r"unknown host.*nosuch.*arm-1, x86-1"):
        replan(plan, ["nosuch"], [])
    with pytest.raises(PlanInputError, match="cp27-x are not assigned"):
        replan(plan, [], ["cp27-x"])


# ---------------------------------------------------------------- JSON and text


def test_json_round_trip():
    plan = replan(fleet_plan(), ["arm-1"], ["cp310-manylinux_aarch64"])
    document = json.loads(json.dumps(plan.to_json()))
    assert Plan.from_json(document) == plan
    assert Plan.from_json(plan.dumps()) == plan
    assert document["schema"] == 1
    assert document["counts"] == {
        "jobs": 8,
        "native": 5,
        "emulated": 3,
        "finished": 1,
        "unschedulable": 0,
    }
    job = document["hosts"]["x86-1"]["jobs"][-1]
    assert set(job) >= {"identifier", "architecture", "python", "native", "cost", "moved_from"}


def test_json_round_trip_with_unschedulable_and_unhealthy_hosts():
    hosts = [Host("ghost", None, 1, healthy=False, note="no facts"), x86()]
    plan = make_plan(matrix_jobs(["riscv64", "x86_64"], ["cp311"]), hosts)
    assert Plan.from_json(plan.to_json()) == plan


def test_from_json_refuses_other_documents():
    with pytest.raises(PlanInputError, match="not a wheelfleet plan"):
        Plan.from_json({"hosts": {}})
    with pytest.raises(PlanInputError, match="malformed plan"):
        Plan.from_json({"schema": 1, "hosts": {"a": {}}, "emulation_factor": 8})


def test_render_shows_hosts_jobs_modes_and_problems():
    hosts = [x86(), arm(healthy=False, note="unreachable: timeout")]
    text = make_plan(matrix_jobs(["aarch64", "riscv64"], ["cp311"]), hosts).render()
    lines = text.splitlines()
    assert lines[0].split() == ["host", "arch", "slots", "job", "mode", "cost"]
    assert lines[1].split() == ["arm-1", "aarch64", "2", "-", "unavailable"]
    assert lines[2].split() == ["x86-1", "x86_64", "2", "cp311-manylinux_aarch64", "emulated", "8"]
    assert "arm-1 is left out: unreachable: timeout" in text
    assert "1 job(s): 0 native, 1 emulated" in text
    assert "8x under emulation" in text
    assert "1 job(s) cannot be built:" in text
    assert "cp311-manylinux_riscv64: no host runs riscv64 natively" in text


def test_render_marks_done_and_moved_jobs():
    text = replan(fleet_plan(), ["arm-1"], ["cp310-manylinux_aarch64"]).render()
    assert "done" in text
    assert "moved from arm-1" in text


def test_assignment_json():
    assignment = Assignment(Job.build("cp311", "aarch64"), native=False, cost=8.0)
    assert Assignment.from_json(assignment.to_json()) == assignment


def test_unschedulable_reason_names_hosts_that_could_not_be_read():
    hosts = [Host("ghost", None, 1, healthy=False, note="unreachable: timeout"), x86(emulates=())]
    [problem] = make_plan(matrix_jobs(["aarch64"], ["cp311"]), hosts).unschedulable
    assert problem.reason == (
        "no host runs aarch64 natively and none emulates it"
        " (not counted, as they could not be read: ghost);"
        " provision one with qemu_binfmt_architectures including aarch64"
    )


def test_jobs_carry_their_image_through_json_and_the_table_shows_it():
    jobs = [
        Job.build("cp311", "x86_64", image="bookworm"),
        Job.build("cp314", "x86_64", image="forky"),
    ]
    plan = make_plan(jobs, [x86()])
    assert Plan.from_json(plan.to_json()) == plan
    lines = plan.render().splitlines()
    assert lines[0].split() == ["host", "arch", "slots", "job", "image", "mode", "cost"]
    assert lines[1].split()[-3:] == ["bookworm", "native", "1"] or lines[2].split()[-3:] == [
        "bookworm",
        "native",
        "1",
    ]
    assert {job["image"] for job in plan.to_json()["hosts"]["x86-1"]["jobs"]} == {
        "bookworm",
        "forky",
    }
    with pytest.raises(PlanInputError, match="image must be an image name"):
        Job("cp311-manylinux_x86_64", "x86_64", "cp311", image=3)  # type: ignore[arg-type]
