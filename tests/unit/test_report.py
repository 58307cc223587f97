"""src/wheelfleet/report.py: the release report as data, Markdown, static HTML and text."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import wheelfleet.cli as cli
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
