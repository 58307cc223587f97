"""The HTML report in a real browser (Debian's Chromium, headless): it renders, the
timeline has one bar group per job with its step rectangles, nothing runs out of the SVG
or the page."""

from __future__ import annotations

import json
from pathlib import Path

from tests import browser
from tests.unit.timeline_release import FAILING, HOSTS, STEP_KINDS, multi_host_release
from wheelfleet import release, report
from wheelfleet.plan import Host


def written_report(home: Path, state: dict, document: dict) -> Path:
    """report.html as a release writes it into its wheelhouse."""
    home.mkdir()
    (home / "manifest.json").write_text(json.dumps(document))
    release.write_state(home, state)
    return Path(report.Report.from_wheelhouse(home).write(home)["html"])


def expected_kinds(state: dict) -> dict[str, list[str]]:
    """Each job's kinds of step, in order, from its step records."""
    return {
        job["job"]: list(dict.fromkeys(STEP_KINDS[step["step"]] for step in job["steps"]))
        for job in state["jobs"].values()
    }


def test_a_multi_host_release_report_in_chromium(tmp_path: Path) -> None:
    state, document = multi_host_release()
    page = written_report(tmp_path / "wheelhouse", state, document)
    found = browser.measure(page, tmp_path)
    assert found["title"] == "Release report: yamlcount 1.0.0"
    assert found["overflow"] == []
    assert found["scroll_width"] <= found["viewport"]
    # The chart is drawn at its own size beside its figures on a 1280-pixel page.
    assert found["svg"]["width"] == 880 and found["svg"]["height"] > 150
    assert [(row["host"], row["slot"]) for row in found["rows"]] == [
        (host.name, slot) for host in HOSTS for slot in range(host.capacity)
    ]
    kinds = expected_kinds(state)
    assert sorted(job["job"] for job in found["jobs"]) == sorted(kinds)
    for job in found["jobs"]:
        assert job["rects"] == job["steps"] == len(kinds[job["job"]]), job
        assert job["kinds"] == kinds[job["job"]]
        assert job["painted"] and job["width"] > 20
        assert job["job"] in job["title"]
    assert [job["job"] for job in found["jobs"] if job["failed"]] == [state["jobs"][FAILING]["job"]]
    assert sum(job["label"] is not None for job in found["jobs"]) == 8
    figures = report.Report.from_wheelhouse(page.parent).to_json()["timeline"]
    assert found["figures"]["Parallel efficiency"] == f"{figures['efficiency'] * 100:.0f} %"
    assert found["figures"]["Slots"] == "6"
    assert len(found["legend"]) == 7 and found["legend"][-1] == "failed job"

    # On a narrow page the chart shrinks with it, and still nothing overflows.
    narrow = browser.measure(page, tmp_path, width=720)
    assert narrow["overflow"] == [] and narrow["scroll_width"] <= narrow["viewport"]
    assert narrow["svg"]["width"] < 720 and len(narrow["jobs"]) == 8

    browser.screenshot(page, tmp_path / "report.png")


def test_long_host_names_and_many_short_jobs_stay_inside_the_chart(tmp_path: Path) -> None:
    long_names = tuple(
        Host(f"{host.name}-build-runner-with-a-long-inventory-name.example.internal", *rest)
        for host, *rest in ((h, h.architecture, h.capacity, h.emulates) for h in HOSTS)
    )
    pythons = ("cp38", "cp39", "cp310", "cp311", "cp312", "cp313", "cp314")
    state, document = multi_host_release(long_names, pythons)
    page = written_report(tmp_path / "wheelhouse", state, document)
    found = browser.measure(page, tmp_path)
    assert found["overflow"] == []
    assert len(found["jobs"]) == 14 == len(expected_kinds(state))
    # Host names are cut to fit; the slot numbers stay.
    assert [row["label"].split("\u2026")[1] for row in found["rows"]] == [
        f" slot {slot}" for _ in HOSTS for slot in (0, 1)
    ]
    browser.screenshot(page, tmp_path / "long-names.png")


def test_the_check_sees_what_overflows(tmp_path: Path) -> None:
    """The same check on a spoiled copy of a report: each overflow is reported."""
    state, document = multi_host_release()
    page = written_report(tmp_path / "wheelhouse", state, document)
    text = page.read_text()
    label = text.index('class="bar-label"')
    close = text.index("</text>", label)
    text = text[: text.index(">", label) + 1] + "x" * 80 + text[close:]
    step = text.index('<rect class="step')
    x = text.index(' x="', step)
    text = text[: x + 4] + "5000" + text[text.index('"', x + 4) :]
    text = text.replace("</body>", '<div class="wide" style="width:4000px">wide</div>\n</body>')
    spoiled = tmp_path / "spoiled.html"
    spoiled.write_text(text)
    found = browser.measure(spoiled, tmp_path)
    problems = "\n".join(found["overflow"])
    assert "label wider than its bar: text.bar-label" in problems
    assert "outside the SVG: rect.step" in problems
    assert 'outside the viewport: div.wide "wide"' in problems
    assert found["scroll_width"] > found["viewport"]
