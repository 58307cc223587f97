"""src/wheelfleet/build_outcome.py: the role's wheel_build_outcome and summary."""

from __future__ import annotations

from wheelfleet import build_outcome

PLANNED = [
    {"id": "a", "status": "build", "python_tag": "cp311", "arch": "x86_64"},
    {"id": "b", "status": "build", "python_tag": "cp312", "arch": "x86_64"},
    {"id": "c", "status": "build", "python_tag": "cp313", "arch": "x86_64"},
    {"id": "d", "status": "up-to-date", "python_tag": "cp314", "arch": "x86_64", "entries": []},
    {"id": "e", "status": "failed", "python_tag": "cp39", "arch": "x86_64", "step": "image",
     "reason": "Python tag cp39 is not in image"},
]  # fmt: skip
WATCHED = {
    "jobs": {
        "a": {"status": "built", "published": ["/wh/a.whl"], "timings": {"build": 2.0}},
        "b": {
            "status": "failed",
            "failure": {"kind": "job", "step": "build", "message": "cc: 1"},
            "slot": 1,
            "steps": [{"step": "build", "start": 10.0, "end": 12.5}],
        },
        "c": {"status": "unfinished", "failure": {"kind": "host", "message": "gone"}},
    },
    "host_failure": "engine restarted",
}


def test_every_job_lands_in_one_list() -> None:
    outcome = build_outcome.outcome(PLANNED, WATCHED)
    assert outcome == {
        "host_failure": "engine restarted",
        "input_error": None,
        "built": ["a"],
        "up_to_date": ["d"],
        "failed": [
            {
                "id": "b",
                "message": "cc: 1",
                "slot": 1,
                "steps": [{"step": "build", "start": 10.0, "end": 12.5}],
            },
            {"id": "e", "message": "Python tag cp39 is not in image"},
        ],
        "unfinished": ["c"],
        "failure_kind": "host",
    }


def test_nothing_ran_in_check_mode_and_everything_is_unfinished_on_a_host_failure() -> None:
    checked = build_outcome.outcome(PLANNED[:2])
    assert checked["unfinished"] == [] and checked["built"] == []
    lost = build_outcome.outcome(PLANNED[:2], {}, host_failure="unreachable")
    assert lost["unfinished"] == ["a", "b"]
    refused = build_outcome.outcome([], None, input_error="no pyproject.toml")
    assert refused["input_error"] == "no pyproject.toml"


def test_the_summary_names_each_failure_with_its_step() -> None:
    summary = build_outcome.summary(PLANNED, WATCHED, "h1")
    text = summary["text"]
    assert text.splitlines()[0] == "h1: the host failed:"
    assert "h1: 1 built, 1 up to date (skipped), 2 failed, 1 unfinished" in text
    assert "FAILED cp312 x86_64 (b) at step build:\n    cc: 1" in text
    assert "FAILED cp39 x86_64 (e) at step image:" in text
    assert "built cp311 x86_64 (native): a.whl [build 2.0s]" in text
    assert [f["step"] for f in summary["failed"]] == ["build", "image"]


def test_the_outcome_says_the_kind_its_failure_stops_with() -> None:
    planned = [{"id": "a", "status": "build"}, {"id": "b", "status": "build"}]
    built = {"status": "built"}
    failed = {"status": "failed", "failure": {"kind": "job", "message": "cc: 1"}}
    clean = build_outcome.outcome(planned, {"jobs": {"a": built, "b": built}})
    assert clean["failure_kind"] is None
    one_failed = build_outcome.outcome(planned, {"jobs": {"a": built, "b": failed}})
    assert one_failed["failure_kind"] == "job"
    lost = build_outcome.outcome(planned, {"jobs": {"a": built}, "host_failure": "gone"})
    assert lost["failure_kind"] == "host"
    refused = build_outcome.outcome(planned, {}, input_error="bad project")
    assert refused["failure_kind"] == "input"
