"""src/wheelfleet/report.py: the release report as data, Markdown, static HTML and text."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import wheelfleet.cli as cli
from tests.unit.timeline_release import FAILING, STEP_KINDS, multi_host_release
from wheelfleet import release, report
from wheelfleet.plan import Host, make_plan, matrix_jobs

PROJECT = "yamlcount"


def wheel_entry(arch: str, python_tag: str, run: str, host: str, **extra) -> dict:
    job = f"{PROJECT}-{python_tag}-{arch}"
    file = f"{PROJECT}-1.0.0-{python_tag}-manylinux_2_17_{arch}.whl"
    return {
        "file": file,
        "sha256": "ab" * 32,
        "size": 68499,
        "tags": {"platform": [f"manylinux_2_17_{arch}"]},
        "project": PROJECT,
        "version": "1.0.0",
        "architecture": arch,
        "python_tag": python_tag,
        "python": python_tag.split("-")[-1],
        "identifier": f"{python_tag.split('-')[-1]}-manylinux_{arch}",
        "grafted": ["libyaml-0-8ec1a697.so.2.0.9"],
        "host": host,
        "image": f"wheelfleet/bookworm:{arch}",
        "image_id": "sha256:" + "cd" * 32,
        "image_digests": [],
        "image_digest": "sha256:" + "cd" * 32,
        "emulated": arch == "aarch64",
        "build_seconds": 3.2,
        "timings": {"build": 3.2, "repair": 1.0, "test": 0.8},
        "job": job,
        "run_id": run,
        **extra,
    }


def manifest(*entries: dict) -> dict:
    return {"version": 1, "wheels": {e["file"]: e for e in entries}}


def finished_release() -> tuple[dict, dict]:
    """A release of x86_64 + aarch64 x cp311 + cp312 on hosts a and b, where b failed in
    round 1 and its aarch64 cp312 job moved to a, and cp311 aarch64 failed to build."""
    hosts = [Host("a", "x86_64", 2, frozenset({"aarch64"})), Host("b", "x86_64", 2)]
    hosts[1] = Host("b", "x86_64", 2, frozenset({"aarch64"}))
    plan = make_plan(matrix_jobs(["x86_64", "aarch64"], ["cp311", "cp312"]), hosts).to_json()
    state = release.start(plan, release_id="rel", project=PROJECT)
    assignments = state["assignments"]
    entries = []
    outcomes = {}
    for host, names in assignments.items():
        if host == "b":
            outcomes[host] = {"round": 1, "answers": False, "answer_reason": "engine <gone> & lost"}
            continue
        failed = []
        for name in names:
            job = state["jobs"][name]
            if name == "cp311-manylinux_aarch64":
                failed.append(
                    {"id": job["job"], "step": "build", "message": "error: <stdio.h> `x` | y"}
                )
            else:
                entries.append(wheel_entry(job["architecture"], job["python_tag"], "rel-r1", host))
        outcomes[host] = {"round": 1, "answers": True, "build": {"failed": failed}}
    state = release.advance(state, outcomes, manifest(*entries))
    for host, names in state["assignments"].items():
        for name in names:
            job = state["jobs"][name]
            entries.append(wheel_entry(job["architecture"], job["python_tag"], "rel-r2", host))
        outcomes = {host: {"round": 2, "answers": True, "build": {"failed": []}}}
    state = release.advance(state, outcomes, manifest(*entries))
    return state, manifest(*entries)


def test_report_of_a_release_with_a_move_and_a_failure() -> None:
    state, document = finished_release()
    built = report.Report.build(document, state, "/srv/wh")
    assert not built.complete
    assert built.counts() == {"jobs": 4, "built": 3, "up_to_date": 0, "failed": 1, "wheels": 3}
    assert built.architectures() == ["x86_64", "aarch64"]
    assert built.pythons() == ["cp311", "cp312"]
    cell = built.cell("cp311", "aarch64")
    assert cell is not None and cell.status == "FAILED" and cell.step == "build"
    done = built.cell("cp312", "x86_64")
    assert done is not None and done.status == "built" and done.mode == "native"
    assert done.seconds == 5.0 and done.host in ("a", "b")
    assert built.failed_hosts == {"b": "engine <gone> & lost"}
    assert built.moves and all(move["from"] == "b" for move in built.moves)
    data = built.to_json()
    assert data["matrix"]["cp311"]["aarch64"]["status"] == "FAILED"
    assert data["failures"][0]["reason"] == "error: <stdio.h> `x` | y"
    json.dumps(data)  # JSON-ready


def test_markdown_has_the_matrix_rows_python_columns_architecture() -> None:
    state, document = finished_release()
    text = report.Report.build(document, state, "/srv/wh").markdown()
    assert text.startswith("# Release report: yamlcount 1.0.0\n")
    assert "| Python | x86_64 | aarch64 |" in text
    row = next(line for line in text.splitlines() if line.startswith("| cp311 |"))
    cells = [cell.strip() for cell in row.strip("|").split(" | ")]
    assert cells[0] == "cp311" and cells[1].startswith("built on ")
    assert cells[2].startswith("FAILED on a")
    assert "## Replanned" in text and "Host b failed: engine \\<gone\\> & lost" in text
    assert "### cp311-manylinux_aarch64 on a, step build\n" in text
    # A failure's reason is kept whole in a code block.
    assert "```\nerror: <stdio.h> `x` | y\n```" in text
    assert "libyaml-0-8ec1a697.so.2.0.9" in text


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_static_and_escapes_everything() -> None:
    state, document = finished_release()
    page = report.Report.build(document, state, "/srv/<wh>").html()
    assert page.startswith("<!DOCTYPE html>")
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "<gone>" not in page and "&lt;gone&gt; &amp; lost" in page
    assert "&lt;stdio.h&gt;" in page and "/srv/&lt;wh&gt;" in page
    text = "".join(parser.text)
    assert "engine <gone> & lost" in text and "error: <stdio.h> `x` | y" in text
    # The matrix: a header row of architectures, one row per Python tag.
    matrix = page[page.index('<table class="matrix">') : page.index("</table>")]
    assert re.findall(r"<th>([^<]+)</th>", matrix) == [
        "Python",
        "x86_64",
        "aarch64",
        "cp311",
        "cp312",
    ]
    assert matrix.count('class="failed"') == 1


def test_a_manifest_without_release_state_still_reports(tmp_path: Path) -> None:
    document = manifest(
        wheel_entry("x86_64", "cp311-cp311", "r1", "localhost"),
        wheel_entry("aarch64", "cp311-cp311", "r1", "localhost"),
    )
    (tmp_path / "manifest.json").write_text(json.dumps(document))
    built = report.Report.from_wheelhouse(tmp_path)
    assert built.complete and built.release_id is None
    assert built.counts()["built"] == 2
    paths = built.write(tmp_path)
    assert Path(paths["markdown"]).read_text().startswith("# Release report: yamlcount 1.0.0")
    assert "emulated" in Path(paths["html"]).read_text()


def test_up_to_date_jobs_show_their_earlier_wheels() -> None:
    plan = make_plan(matrix_jobs(["x86_64"], ["cp311"]), [Host("a", "x86_64", 1)]).to_json()
    state = release.start(plan, release_id="rel2", project=PROJECT)
    earlier = manifest(wheel_entry("x86_64", "cp311-cp311", "rel1-r1", "a"))
    job = state["jobs"]["cp311-manylinux_x86_64"]["job"]
    outcome = {"round": 1, "answers": True, "build": {"up_to_date": [job]}}
    state = release.advance(state, {"a": outcome}, earlier)
    built = report.Report.build(earlier, state, "wh")
    assert [w.file for w in built.wheels] == list(earlier["wheels"])
    assert built.cell("cp311", "x86_64").status == "up to date"
    assert "nothing was built" in built.headline()


def test_text_summary_for_the_terminal() -> None:
    state, document = finished_release()
    data = report.Report.build(document, state, "/srv/wh").to_json()
    text = report.text_summary(
        data, {"markdown": "/srv/wh/report.md", "html": "/srv/wh/report.html"}
    )
    lines = text.splitlines()
    assert lines[0].startswith("yamlcount 1.0.0: 4 job(s): 3 built")
    assert lines[1].split() == ["x86_64", "aarch64"]
    assert lines[2].split()[:2] == ["cp311", "built"]
    assert "host b failed: engine <gone> & lost" in text
    assert "FAILED cp311-manylinux_aarch64 on a at step build:" in text
    assert lines[-2:] == ["wheelhouse: /srv/wh", "report: /srv/wh/report.md, /srv/wh/report.html"]


@pytest.mark.parametrize(
    ("seconds", "text"), [(4.25, "4.2 s"), (65, "1 min 05 s"), (3725, "1 h 02 min")]
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert report.format_seconds(seconds) == text


def test_format_size() -> None:
    assert report.format_size(512) == "512 B"
    assert report.format_size(68499) == "66.9 KiB"
    assert report.format_size(5 * 1024 * 1024) == "5.0 MiB"


# --- wheelfleet report ------------------------------------------------------------------


def test_wheelfleet_report_renders_without_running_anything(tmp_path, monkeypatch, capsys):
    def no_run(*args, **kwargs):
        raise AssertionError("wheelfleet report runs nothing")

    monkeypatch.setattr(cli, "run_playbook", no_run)
    state, document = finished_release()
    (tmp_path / "manifest.json").write_text(json.dumps(document))
    release.write_state(tmp_path, state)
    assert cli.main(["report", str(tmp_path)]) == 1  # the release has a failed job
    out = capsys.readouterr().out
    assert out.startswith("# Release report: yamlcount 1.0.0")
    assert cli.main(["report", str(tmp_path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["counts"]["failed"] == 1
    assert cli.main(["report", str(tmp_path), "--format", "html", "--write"]) == 1
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")
    assert (tmp_path / "report.md").is_file() and (tmp_path / "report.html").is_file()


def test_wheelfleet_report_defaults_to_the_wheelhouse_here(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["report"]) == 2
    assert "no manifest.json in" in capsys.readouterr().err
    (tmp_path / "wheelhouse").mkdir()
    document = manifest(wheel_entry("x86_64", "cp311-cp311", "r1", "localhost"))
    (tmp_path / "wheelhouse" / "manifest.json").write_text(json.dumps(document))
    assert cli.main(["report"]) == 0
    assert "| cp311 | built on localhost, native, 5.0 s |" in capsys.readouterr().out


def test_a_dry_run_is_not_finished_and_has_no_failures() -> None:
    plan = make_plan(matrix_jobs(["x86_64"], ["cp311"]), [Host("a", "x86_64", 1)]).to_json()
    state = release.start(plan, release_id="rel", project=PROJECT)
    built = report.Report.build(manifest(), state, "wh")
    assert not built.complete and built.failures == []
    assert built.cell("cp311", "x86_64").status == "not built"
    assert built.headline().endswith("not finished (a dry run, or interrupted): 1 job(s) not built")


def test_what_the_fleet_cannot_build_is_in_every_view() -> None:
    plan = make_plan(matrix_jobs(["x86_64"], ["cp311"]), [Host("a", "x86_64", 1)]).to_json()
    plan["selection"] = {
        "unavailable": [
            {
                "subject": "ppc64le",
                "kind": "arch",
                "reason": "archs lists ppc64le but no build host or image provides it",
                "identifiers": ["cp311-manylinux_ppc64le", "cp312-manylinux_ppc64le"],
            }
        ]
    }
    state = release.start(plan, release_id="rel", project=PROJECT)
    assert state["not_built"][0]["identifiers"] == [
        "cp311-manylinux_ppc64le",
        "cp312-manylinux_ppc64le",
    ]
    built = report.Report.build(manifest(), state, "wh")
    assert "## Selected but not built on this fleet" in built.markdown()
    assert "ppc64le: archs lists ppc64le" in built.markdown()
    assert "<h2>Selected but not built on this fleet</h2>" in built.html()
    text = report.text_summary(built.to_json())
    assert "selected but not built on this fleet: 2 (see the report)" in text


# --- the timeline -------------------------------------------------------------------------


class _SvgCollector(HTMLParser):
    """The timeline's job groups: data-job, data-steps, failed, and their step rects."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.jobs: list[dict] = []
        self.rows: list[dict] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "g" and "job" in classes:
            self.jobs.append({**found, "rects": [], "failed": "failed" in classes})
        elif tag == "g" and "row" in classes:
            self.rows.append({**found, "idle": "idle" in classes})
        elif tag == "rect" and "step" in classes and self.jobs:
            self.jobs[-1]["rects"].append(found)


def timeline_release():
    state, document = multi_host_release()
    return state, document, FAILING


def test_the_timeline_of_a_multi_host_release() -> None:
    state, document, failing = timeline_release()
    built = report.Report.build(document, state, "/srv/wh")
    drawn = built.timeline()
    assert len(drawn.bars) == 8 and drawn.left_off == ()
    assert [(r.host, r.slot) for r in drawn.rows] == [
        ("fleet-amd64-1", 0),
        ("fleet-amd64-1", 1),
        ("fleet-amd64-2", 0),
        ("fleet-amd64-2", 1),
        ("fleet-arm64", 0),
        ("fleet-arm64", 1),
    ]
    [failed] = [bar for bar in drawn.bars if bar.failed]
    assert failed.identifier == failing and "FAILED at test" in failed.title
    assert [s.kind for s in failed.segments] == ["start", "before_all", "build", "repair", "test"]
    # The figures, from the step records themselves.
    job_seconds = sum(
        step["end"] - step["start"] for job in state["jobs"].values() for step in job["steps"]
    )
    wall = state["finished_at"] - state["started_at"]
    figures = built.to_json()["timeline"]
    assert figures["wall"] == round(wall, 1) and figures["slots"] == 6
    assert figures["job_seconds"] == round(job_seconds, 1)
    assert figures["efficiency"] == round(job_seconds / (wall * 6), 3)
    assert figures["hosts"]["fleet-arm64"]["jobs"] == 4
    assert figures["jobs_without_steps"] == []
    # Markdown: the same figures as tables.
    text = built.markdown()
    efficiency = f"{job_seconds / (wall * 6) * 100:.0f} %"
    assert (
        f"| {report.format_seconds(wall)} | {report.format_seconds(job_seconds)} | 6"
        f" | {efficiency} |"
    ) in text
    busy = sum(
        s["end"] - s["start"]
        for job in state["jobs"].values()
        if job["host"] == "fleet-arm64"
        for s in job["steps"]
    )
    assert f"| fleet-arm64 | 2 | 4 | {report.format_seconds(busy)} |" in text


def test_the_html_timeline_draws_one_group_per_job_with_its_steps() -> None:
    state, document, failing = timeline_release()
    page = report.Report.build(document, state, "/srv/wh").html()
    parser = _SvgCollector()
    parser.feed(page)
    assert "script" not in parser.tags and parser.tags.count("svg") >= 1
    assert len(parser.jobs) == 8 and len(parser.rows) == 6
    by_job = {job["job"]: job for job in state["jobs"].values()}
    for group in parser.jobs:
        kinds = [rect["data-kind"] for rect in group["rects"]]
        assert int(group["data-steps"]) == len(kinds)
        # One rect per kind of step the job went through (the contract's grouping).
        expected = [STEP_KINDS[step["step"]] for step in by_job[group["data-job"]]["steps"]]
        assert kinds == list(dict.fromkeys(expected)), group["data-job"]
    assert [j["data-job"] for j in parser.jobs if j["failed"]] == [state["jobs"][failing]["job"]]
    assert "<th>Parallel efficiency</th>" in page


def test_jobs_without_steps_are_left_off_with_a_note() -> None:
    state, document, _ = timeline_release()
    old = "cp311-manylinux_aarch64"
    del state["jobs"][old]["steps"]
    for entry in document["wheels"].values():
        if entry["identifier"] == old:
            del entry["steps"]
    built = report.Report.build(document, state, "/srv/wh")
    assert len(built.timeline().bars) == 7
    job = state["jobs"][old]["job"]
    assert built.timeline().left_off == (job,)
    assert built.to_json()["timeline"]["jobs_without_steps"] == [job]
    assert "1 job(s) without step times" in built.markdown()
    assert f"not in its figures: {job}.</p>" in built.html()


def test_steps_come_from_the_manifest_when_release_json_has_none() -> None:
    state, document, failing = timeline_release()
    for name, job in state["jobs"].items():
        if name != failing:
            del job["steps"], job["slot"]
    drawn = report.Report.build(document, state, "/srv/wh").timeline()
    assert len(drawn.bars) == 8
    entry = next(e for e in document["wheels"].values() if e["slot"] == 1)
    bar = next(b for b in drawn.bars if b.identifier == entry["identifier"])
    assert bar.slot == 1 and bar.host == entry["host"]


def test_up_to_date_jobs_are_not_on_the_timeline() -> None:
    plan = make_plan(matrix_jobs(["x86_64"], ["cp311"]), [Host("a", "x86_64", 1)]).to_json()
    state = release.start(plan, release_id="rel2", project=PROJECT)
    steps = [{"step": "build", "start": 1000.0, "end": 1010.0}]
    earlier = manifest(wheel_entry("x86_64", "cp311-cp311", "rel1-r1", "a", steps=steps))
    # The round found the job up to date (release.json as the rounds leave it).
    state["jobs"]["cp311-manylinux_x86_64"].update(status=release.UP_TO_DATE, round=1)
    state.update(complete=True, assignments={}, finished_at=state["started_at"] + 5)
    built = report.Report.build(earlier, state, "wh")
    assert built.cell("cp311", "x86_64").status == "up to date"
    assert built.timeline().empty and built.timeline().left_off == ()
    assert "there is no timeline" in built.markdown()
    assert "<svg" not in built.html()


def test_without_release_state_the_timeline_shows_the_manifests_last_run() -> None:
    def steps(start: float) -> list[dict]:
        return [
            {"step": "build", "start": start, "end": start + 10},
            {"step": "test", "start": start + 10, "end": start + 12},
        ]

    document = manifest(
        wheel_entry("x86_64", "cp311-cp311", "r1", "a", steps=steps(1000.0), slot=0),
        wheel_entry("x86_64", "cp312-cp312", "r2", "a", steps=steps(5000.0), slot=0),
        wheel_entry("aarch64", "cp312-cp312", "r2", "b", steps=steps(5001.0), slot=1),
        wheel_entry("aarch64", "cp311-cp311", "r2", "b"),
    )
    drawn = report.Report.build(document, None, "wh").timeline()
    assert sorted(bar.identifier for bar in drawn.bars) == [
        "cp312-manylinux_aarch64",
        "cp312-manylinux_x86_64",
    ]
    assert drawn.left_off == ("yamlcount-cp311-cp311-aarch64",)
    assert drawn.figures.wall == 13.0
    assert [(row.host, row.slot) for row in drawn.rows] == [("a", 0), ("b", 1)]


def test_hostile_names_in_the_timeline_are_escaped() -> None:
    state, document, failing = timeline_release()
    hostile = '"><script>alert(1)</script>'
    state["jobs"][failing]["host"] = hostile
    state["jobs"][failing]["reason"] = "```\n<img src=x onerror=alert(1)>\n```"
    built = report.Report.build(document, state, "/srv/`wh`")
    page = built.html()
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = built.markdown()
    assert f'### {failing} on "\\>\\<script\\>alert\\(1\\)\\</script\\>, step test\n' in text
    # A reason holding a fence is kept whole inside a longer fence; a code span too.
    assert "\n````\n```\n<img src=x onerror=alert(1)>\n```\n````\n" in text
    assert "- Wheelhouse: `` /srv/`wh` ``\n" in text


def test_a_host_the_first_plan_left_out_is_named_with_its_reason() -> None:
    state, document = finished_release()
    reason = "unreachable: ssh: connect to host 127.0.0.1 port 40803: Connection refused <x>"
    state["initial_plan"]["hosts"]["gone"] = {
        "architecture": None,
        "capacity": 4,
        "healthy": False,
        "jobs": [],
        "note": reason,
    }
    built = report.Report.build(document, state, "/srv/wh")
    assert built.left_out == {"gone": reason}
    assert "gone" not in built.fleet  # not a timeline row: it had no slot in the release
    data = built.to_json()
    assert data["left_out"] == {"gone": reason}
    text = built.markdown()
    assert "## Hosts left out" in text
    assert "- Host gone was left out of the plan: unreachable: ssh: connect to host" in text
    assert "\\<x\\>" in text  # escaped for Markdown like every other value
    assert "Host gone was left out of the plan: unreachable" in built.html()
    assert "&lt;x&gt;" in built.html()
    summary = report.text_summary(data)
    assert "host gone left out of the plan: unreachable: ssh: connect" in summary


def test_a_release_whose_hosts_were_all_planned_names_none_left_out() -> None:
    state, document = finished_release()
    built = report.Report.build(document, state, "/srv/wh")
    assert built.left_out == {}
    assert "Hosts left out" not in built.markdown() and "Hosts left out" not in built.html()
