"""The host-free logic of bench/run (src/wheelfleet/bench.py): figures, parsing, results."""

from __future__ import annotations

import json

import pytest

from wheelfleet import bench

# Step timings as the wheel_build role records them in manifest.json.
TIMINGS = {
    "before_all": 6.476,
    "build": 3.583,
    "container_start": 1.411,
    "copy_in": 2.307,
    "copy_out": 0.598,
    "install": 2.182,
    "repair": 1.361,
    "requirements": 0.0,
    "test": 0.436,
    "test_start": 3.689,
}

# What `wheelfleet release --json` prints on stderr (plain display), one job.
RELEASE_LINES = """\

PLAY [Check the release inputs before any host is changed]
ok           localhost  Check the project, the matrix and the publishing options  (0.1s)
skipped      localhost  Read each host's architecture (changes nothing)  (0.0s)

PLAY [Start the release]
job          cp311-manylinux_x86_64  localhost  queued
ok           localhost  Show the first round  (0.0s)

PLAY [Build round 1]
changed      localhost  wheel_build : Copy the source archive to the build host  (1.0s)
job          cp311-manylinux_x86_64  localhost  building
changed      localhost  wheel_build : Wait for the builds, polling every few seconds  (17.1s)
job          cp311-manylinux_x86_64  localhost  repairing
job          cp311-manylinux_x86_64  localhost  publishing
job          cp311-manylinux_x86_64  localhost  done  (1m05s)
changed      localhost  wheel_build : Remove the batch's containers  (1.2s)

PLAY [Build round 2 (the jobs of hosts that failed in round 1)]
skipped      localhost  Note the start of the round  (0.0s)

PLAY [Report the release]
changed      localhost  Write release.json, report.md and report.html into the wheelhouse  (0.0s)
"""


def timed(text: str, times: list[float]) -> list[bench.Line]:
    lines = text.splitlines()
    assert len(lines) == len(times)
    return [bench.parse_line(at, line) for at, line in zip(times, lines, strict=True)]


def release_lines() -> list[bench.Line]:
    count = len(RELEASE_LINES.splitlines())
    return timed(RELEASE_LINES, [float(i) for i in range(count)])


# --- numbers -------------------------------------------------------------------------------


def test_ratio_is_none_without_a_denominator() -> None:
    assert bench.ratio(8.0, 2.0) == 4.0
    assert bench.ratio(8.0, 0.0) is None
    assert bench.ratio(None, 2.0) is None
    assert bench.ratio(8.0, None) is None


def test_split_groups_the_roles_steps_and_keeps_every_second() -> None:
    split = bench.split_timings(TIMINGS)
    assert list(split) == [*bench.SPLIT_NAMES, "other_steps"]
    assert split["build_requirements"] == pytest.approx(6.476)  # download 0 + before_all
    assert split["test"] == pytest.approx(3.689 + 2.182 + 0.436)
    assert split["build"] == pytest.approx(3.583)
    assert split["other_steps"] == 0
    assert sum(split.values()) == pytest.approx(bench.steps_total(TIMINGS))


def test_unknown_steps_are_not_lost() -> None:
    split = bench.split_timings({"build": 2.0, "sign": 1.5})
    assert split["other_steps"] == 1.5
    assert split["container_start"] == 0.0


def test_ideal_and_bound() -> None:
    jobs = [20.0, 20.0, 80.0]
    assert bench.ideal_seconds(jobs, 1) == 120.0
    assert bench.ideal_seconds(jobs, 3) == 40.0
    # The longest job bounds any schedule, whatever the slots.
    assert bench.bound_seconds(jobs, 3) == 80.0
    assert bench.bound_seconds(jobs, 1) == 120.0
    with pytest.raises(ValueError, match="slots"):
        bench.ideal_seconds(jobs, 0)


def test_scaling_table_compares_every_way_with_the_sequential_one() -> None:
    jobs = {"a": 20.0, "b": 20.0, "c": 80.0}
    ways = [
        bench.Way("1 host, sequential", 1, 1, wall=140.0, span=125.0, jobs=jobs),
        bench.Way("1 host, concurrent", 1, 2, wall=110.0, span=95.0, jobs=jobs),
        bench.Way("fleet of 3 hosts", 3, 3, wall=100.0, span=85.0, jobs=jobs),
    ]
    rows = bench.scaling_table(ways)
    assert [row["way"] for row in rows] == [way.name for way in ways]
    sequential, concurrent, fleet = rows
    assert sequential["speedup_wall"] == 1.0 and sequential["efficiency"] == 0.96
    assert concurrent["speedup_wall"] == round(140 / 110, 2)
    assert concurrent["speedup_span"] == round(125 / 95, 2)
    assert concurrent["ideal_span"] == 60.0 and concurrent["bound_span"] == 80.0
    assert fleet["ideal_span"] == 40.0 and fleet["bound_span"] == 80.0
    assert fleet["efficiency"] == round(40 / 85, 2)
    assert fleet["of_bound"] == round(80 / 85, 2)
    assert fleet["ideal_speedup"] == round(125 / 40, 2)


def test_scaling_table_takes_job_times_from_the_named_baseline() -> None:
    ways = [
        bench.Way("fleet", 2, 2, wall=50.0, span=40.0, jobs={"a": 30.0, "b": 30.0}),
        bench.Way("alone", 1, 1, wall=80.0, span=70.0, jobs={"a": 20.0, "b": 20.0}),
    ]
    fleet, alone = bench.scaling_table(ways, baseline="alone")
    assert fleet["ideal_span"] == 20.0
    assert fleet["speedup_wall"] == 1.6 and alone["speedup_wall"] == 1.0
    assert bench.scaling_table([]) == []


def test_a_way_without_a_span_has_no_span_figures() -> None:
    [row] = bench.scaling_table([bench.Way("w", 1, 1, wall=10.0, span=None, jobs={})])
    assert row["span"] is None and row["speedup_span"] is None and row["ideal_span"] is None


# --- wheelfleet's progress lines -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("4.2s", 4.2), ("0.0s", 0.0), ("1m05s", 65.0), ("2h03m", 7380.0), ("", None), ("x", None)],
)
def test_durations_as_wheelfleet_prints_them(text: str, seconds: float | None) -> None:
    assert bench.parse_duration(text) == seconds


def test_lines_are_classified() -> None:
    play = bench.parse_line(1.0, "PLAY [Build round 1]")
    assert (play.kind, play.name, play.at) == ("play", "Build round 1", 1.0)
    task = bench.parse_line(
        2.0, "changed      localhost  wheel_build : Copy the source in: x-cp311  (0.8s)"
    )
    assert (task.kind, task.outcome, task.host) == ("task", "changed", "localhost")
    assert task.name == "wheel_build : Copy the source in: x-cp311" and task.duration == 0.8
    untimed = bench.parse_line(2.5, "ok           wf-a  Gather facts")
    assert untimed.kind == "task" and untimed.duration is None and untimed.host == "wf-a"
    job = bench.parse_line(3.0, "job          cp311-manylinux_i686  wf-b  done  (35.6s)")
    assert (job.kind, job.name, job.host, job.outcome, job.duration) == (
        "job",
        "cp311-manylinux_i686",
        "wf-b",
        "done",
        35.6,
    )
    moved = bench.parse_line(
        4.0, "job          cp311-manylinux_x86_64  b  queued (moved from a, which failed)"
    )
    assert moved.outcome == "queued" and moved.duration is None
    fresh = bench.parse_line(5.0, "job          cp311-manylinux_x86_64  a  up to date")
    assert fresh.outcome == "up to date"
    assert bench.parse_line(6.0, "The release plan:").kind == "text"


def test_job_walls_prefer_wheelfleets_own_time() -> None:
    jobs = bench.job_walls(release_lines())
    job = jobs["cp311-manylinux_x86_64"]
    assert job["host"] == "localhost" and job["phase"] == "done"
    assert job["wall"] == 65.0  # "done  (1m05s)", not the 4 s between the lines
    assert job["end"] - job["start"] == 4.0
    assert bench.jobs_span(jobs) == 4.0


def test_job_walls_fall_back_on_the_lines_times() -> None:
    lines = timed(
        "job  cp311-manylinux_i686  a  building\njob  cp311-manylinux_i686  a  failed",
        [10.0, 25.0],
    )
    assert bench.job_walls(lines)["cp311-manylinux_i686"]["wall"] == 15.0
    assert bench.jobs_span({}) is None


def test_peak_parallel_counts_overlapping_jobs() -> None:
    jobs = {
        "a": {"start": 0.0, "end": 10.0},
        "b": {"start": 5.0, "end": 12.0},
        "c": {"start": 12.0, "end": 20.0},  # starts as b ends
        "d": {"start": 1.0, "end": None},  # never finished: not counted
    }
    assert bench.peak_parallel(jobs) == 2
    assert bench.peak_parallel({"a": jobs["a"], "c": jobs["c"]}) == 1
    assert bench.peak_parallel({}) == 0


def test_release_phases_cover_the_wall_time() -> None:
    lines = release_lines()
    wall = 20.0
    phases = bench.release_phases(lines, wall)
    assert list(phases) == ["before_jobs", "jobs", "after_jobs"]
    assert phases["before_jobs"] == 11.0  # first "building" on line 11
    assert phases["jobs"] == 4.0  # last "done" on line 15
    assert phases["after_jobs"] == 5.0
    assert sum(phases.values()) == pytest.approx(wall)


def test_release_phases_read_job_records_not_play_names() -> None:
    renamed = timed(
        "PLAY [Any name at all]\njob  cp311-manylinux_x86_64  localhost  building\n"
        "job  cp311-manylinux_x86_64  localhost  done  (3.0s)\nPLAY [Another]",
        [2.0, 4.0, 7.0, 8.0],
    )
    assert bench.release_phases(renamed, 10.0) == {
        "before_jobs": 4.0,
        "jobs": 3.0,
        "after_jobs": 3.0,
    }


def test_release_phases_of_a_release_that_built_nothing() -> None:
    lines = timed(
        "PLAY [Build round 1]\njob  cp311-manylinux_x86_64  localhost  up to date\n",
        [5.0, 6.0],
    )
    phases = bench.release_phases(lines, 10.0)
    assert phases == {"before_jobs": 10.0, "jobs": 0.0, "after_jobs": 0.0}
    assert sum(phases.values()) == pytest.approx(10.0)


def test_task_seconds_adds_the_printed_durations() -> None:
    assert bench.task_seconds(release_lines()) == pytest.approx(0.1 + 1.0 + 17.1 + 1.2)


# --- the hand run ----------------------------------------------------------------------------


def test_hand_split_from_the_scripts_marks() -> None:
    stderr = (
        "@@bench started 100.25\nsome apt output\n@@bench copy_in 100.5\n"
        "@@bench before_all 103.5\nLooking in links: /hand/wheelhouse\n"
        "@@bench build 106.0\n@@bench repair 106.5\n"
    )
    marks = bench.parse_marks(stderr)
    assert marks == {
        "started": 100.25,
        "copy_in": 100.5,
        "before_all": 103.5,
        "build": 106.0,
        "repair": 106.5,
    }
    split = bench.hand_split(marks, launched=100.0, ended=107.0)
    assert split == {
        "container_start": 0.25,
        "copy_in": 0.25,
        "build_requirements": 3.0,
        "build": 2.5,
        "repair": 0.5,
        "copy_out": 0.5,
    }
    assert sum(split.values()) == pytest.approx(7.0)


def test_hand_split_needs_every_mark() -> None:
    with pytest.raises(ValueError, match="repair"):
        bench.hand_split({"started": 1, "copy_in": 2, "before_all": 3, "build": 4}, 0, 5)


def test_overhead_rows_put_both_runs_side_by_side() -> None:
    wheelfleet = {
        "phases": {"before_jobs": 8.0, "jobs": 9.0},
        "split": bench.split_timings({**TIMINGS, "test_start": 0, "install": 0, "test": 0}),
        "between_steps": 6.0,
    }
    hand = {"container_start": 0.2, "copy_in": 0.1, "build": 2.5}
    rows = {row["part"]: row for row in bench.overhead_rows(wheelfleet, hand)}
    assert "test" not in rows  # a job without a test has no test row
    assert rows["container start"]["wheelfleet"] == 1.41
    assert rows["container start"]["hand"] == 0.2
    assert rows["container start"]["difference"] == 1.21
    assert rows["Ansible between steps"] == {
        "part": "Ansible between steps",
        "wheelfleet": 6.0,
        "hand": None,
        "difference": 6.0,
    }
    assert rows["before the first job builds (checks, plan, round setup)"]["wheelfleet"] == 8.0
    assert rows["after the last job (round end, report, exit)"]["wheelfleet"] is None


# --- /proc ---------------------------------------------------------------------------------


def test_cpu_times_of_proc_stat() -> None:
    stat = "cpu  100 5 50 1000 20 1 4 7 0 0\ncpu0 50 2 25 500 10 0 2 3 0 0\nintr 1\n"
    times = bench.parse_cpu_times(stat)
    assert times == bench.CpuTimes(busy=100 + 5 + 50 + 1 + 4, idle=1020, steal=7)
    assert times.total == 160 + 1020 + 7
    with pytest.raises(ValueError):
        bench.parse_cpu_times("intr 1\n")


def test_process_stat_with_an_awkward_name() -> None:
    text = (
        "4242 (ansible (x) p) S 4200 4242 4200 0 -1 4194560 100 0 0 0 "
        "150 30 5 2 20 0 1 0 987654 52000000 12000 18446744073709551615 0 0 0 0 0 0 0"
    )
    stat = bench.parse_process_stat(text)
    assert stat.pid == 4242 and stat.comm == "ansible (x) p" and stat.state == "S"
    assert stat.ppid == 4200 and stat.cpu_ticks == 180
    assert stat.start_ticks == 987654 and stat.rss_pages == 12000


def test_descendants_follow_the_tree_only() -> None:
    parents = {10: 1, 11: 10, 12: 11, 13: 10, 20: 1, 21: 20}
    assert bench.descendants(parents, 10) == {11, 12, 13}
    assert bench.descendants(parents, 12) == set()


def test_container_of_a_cgroup() -> None:
    cid = "a" * 64
    assert bench.container_of(f"4:memory:/docker/{cid}\n2:cpuacct:/docker/{cid}\n") == cid
    assert bench.container_of(f"0::/system.slice/docker-{cid}.scope\n") == cid
    assert bench.container_of("4:memory:/process_api/8afc\n0::/\n") is None


def test_loadavg() -> None:
    assert bench.parse_loadavg("0.47 0.95 1.43 2/106 10536\n") == [0.47, 0.95, 1.43]


def test_a_window_is_contended_by_other_work_or_steal() -> None:
    calm = bench.Window(10, 1.2, 0.0, 0.8, 0.3, 0.05, 0.05, 0.0, 1.0, 1.1)
    busy = bench.Window(10, 1.9, 0.0, 0.8, 0.3, 0.05, 0.75, 0.5, 1.0, 1.9)
    stolen = bench.Window(10, 1.0, 0.3, 0.8, 0.1, 0.05, 0.05, 0.0, 1.0, 1.0)
    assert not calm.contended and busy.contended and stolen.contended
    document = busy.to_json()
    assert document["contended"] is True and document["foreign"] == 0.75
    assert bench.cores(30.0, 60.0) == 0.5 and bench.cores(1.0, 0.0) == 0.0


# --- rendering and results -------------------------------------------------------------------


def test_formats() -> None:
    assert bench.fmt_seconds(None) == "-"
    assert bench.fmt_seconds(5.04) == "5.0 s"
    assert bench.fmt_seconds(125) == "2 min 05 s"
    assert bench.fmt_ratio(8.123) == "8.12x" and bench.fmt_ratio(None) == "-"
    assert bench.fmt_mib(224.3) == "224 MiB"


def test_text_table_aligns_columns() -> None:
    table = bench.text_table(("Figure", "Value"), [("a", "1.5 s"), ("longer name", "12.0 s")])
    lines = table.splitlines()
    assert lines[0].startswith("Figure       ")
    assert set(lines[1]) == {"-", " "}
    assert lines[2] == "a            1.5 s" and lines[3] == "longer name  12.0 s"
    assert lines[1] == "-----------  ------"


def test_markdown_table_escapes_pipes() -> None:
    table = bench.markdown_table(("A", "B"), [("x|y", 1)])
    assert table.splitlines() == ["| A | B |", "|---|---|", "| x\\|y | 1 |"]


def results() -> dict:
    split = bench.split_timings(TIMINGS)
    job = {"mode": "native", "wall": 30.0, "steps": 22.0, "between_steps": 8.0, "split": split}
    emulated = {**job, "mode": "emulated", "wall": 90.0, "steps": 70.0}
    ways = [
        bench.Way("1 host, sequential", 1, 1, 140.0, 125.0, {"a": 20.0, "b": 80.0}),
        bench.Way("fleet of 2 hosts", 2, 2, 100.0, 85.0, {"a": 25.0, "b": 82.0}, parallel=2),
    ]
    window = bench.Window(10, 1.2, 0.0, 0.8, 0.3, 0.05, 0.5, 0.1, 1.0, 1.1).to_json()
    hand = bench.hand_split(
        {"started": 1.0, "copy_in": 1.5, "before_all": 3.0, "build": 6.0, "repair": 6.5}, 0.0, 7.0
    )
    return {
        "date": "2026-11-22",
        "mode": "full",
        "sections": list(bench.SECTIONS),
        "seconds": 1200.0,
        "source": {"commit": "0123456789abcdef", "how": "git archive of HEAD"},
        "machine": {"cores": 2, "memory_gib": 23.6, "os": "Debian GNU/Linux 12 (bookworm)"},
        "load": {"before": {"foreign": 0.1, "wall": 5.0, "loadavg_start": 0.5}},
        "split": {
            "method": "how the split is measured",
            "projects": [
                {
                    "name": "yamlcount",
                    "label": "yamlcount",
                    "jobs": {"x86_64": job, "aarch64": emulated},
                    "emulation": {
                        "wall": 3.0,
                        "steps": 3.18,
                        "build": 4.0,
                        "hand": 6.5,
                        "hand_build": 8.25,
                    },
                    "window": window,
                    "hand": {
                        "x86_64": {"wall": 6.0, "split": hand},
                        "aarch64": {"wall": 39.0, "split": {**hand, "build": 33.0}},
                    },
                }
            ],
        },
        "overhead": {
            "method": "how",
            "wheelfleet_wall": 30.0,
            "hand_wall": 6.0,
            "ratio": 5.0,
            "steps_ratio": 2.0,
            "rows": bench.overhead_rows({"split": split}, {"build": 2.0}),
            "samples": [[30.0, 6.0]],
        },
        "scaling": {
            "method": "how",
            "table": bench.scaling_table(ways),
            "windows": {"fleet of 2 hosts": window},
        },
        "reprovision": {
            "provision": {"title": "provision", "wall": 40.0, "changed": 0, "recap_text": "x"},
            "rerelease_full": {"title": "again", "skipped": "not clean"},
            "rerelease_skip": {
                "title": "again",
                "wall": 20.0,
                "built": 0,
                "up_to_date": 2,
                "ratio_to_first": 0.5,
            },
        },
        "controller": {
            "method": "how",
            "releases": [
                {
                    "name": "split-yamlcount",
                    "wall": 120.0,
                    "cpu_user": 50.0,
                    "cpu_sys": 8.0,
                    "cpu_seconds": 58.0,
                    "cpu_cores": 0.48,
                    "peak_rss_mib": 230.0,
                    "max_process_rss_mib": 64.0,
                    "peak_processes": 9,
                }
            ],
        },
        "windows": {"split-yamlcount": window},
        "notes": ["a note"],
        "errors": [],
    }


def test_summary_rows_name_every_headline_figure() -> None:
    rows = bench.summary_rows(results())
    sections = [section for section, _, _ in rows]
    assert sections[0] == "1 split" and sections[-1] == "5 controller"
    text = "\n".join(" | ".join(row) for row in rows)
    assert "yamlcount emulation ratio (aarch64 / x86_64): job wall, steps, build" in text
    assert "3.00x, 3.18x, 4.00x" in text
    assert "yamlcount emulation ratio by hand (one docker run): wall, build | 6.50x, 8.25x" in text
    assert "30.0 s / 6.0 s = 5.00x" in text
    assert "fleet of 2 hosts (2 slot(s), peak 2 at once)" in text
    assert "skipped: not clean" in text
    assert "20.0 s (built=0, up to date=2, 0.50x the first release)" in text
    assert "230 MiB, 58.0 s (0.48 cores over 2 min 00 s)" in text


def test_markdown_summary_has_every_section() -> None:
    markdown = bench.render_markdown(results())
    for heading in (
        "# wheelfleet benchmarks, 2026-11-22",
        "## Headline figures",
        "## 1. Per-job time split",
        "## 2. Orchestration overhead",
        "## 3. Concurrency and fleet scaling",
        "## 4. Re-provisioning and unchanged re-release",
        "## 5. Controller cost",
        "## Notes",
    ):
        assert heading in markdown, heading
    assert "Contended measurements (other work above 0.2 cores): split-yamlcount." in markdown
    assert "yes (other work 0.50 cores)" in markdown
    assert "The same builds by hand, one `docker run` each" in markdown
    assert "| yamlcount | aarch64 | 1.0 s | 0.5 s | 1.5 s | 33.0 s | 0.5 s | 0.5 s | 39.0 s |" in (
        markdown
    )
    assert "## Not measured" not in markdown


def test_sanitize_replaces_machine_paths_everywhere() -> None:
    document = {
        "command": "/scratch/x/code/bin/wheelfleet release /scratch/x/code/examples",
        "list": ["/repo/bench", 3, None],
        "/scratch/x/key": {"nested": "/scratch/x"},
    }
    clean = bench.sanitize(
        document, {"/scratch/x": "<scratch>", "/scratch/x/code": "<code>", "/repo": "<repo>"}
    )
    assert clean == {
        "command": "<code>/bin/wheelfleet release <code>/examples",
        "list": ["<repo>/bench", 3, None],
        "<scratch>/key": {"nested": "<scratch>"},
    }


def test_results_stem_says_what_ran() -> None:
    assert bench.results_stem("2026-11-22", "full", bench.SECTIONS) == "2026-11-22"
    assert bench.results_stem("2026-11-22", "quick", bench.SECTIONS) == "2026-11-22-quick"
    assert (
        bench.results_stem("2026-11-22", "full", ["split", "overhead"])
        == "2026-11-22-split-overhead"
    )


def test_write_results_writes_json_and_markdown(tmp_path) -> None:
    json_path, md_path = bench.write_results(tmp_path / "results", "2026-11-22", results())
    assert json_path.name == "2026-11-22.json" and md_path.name == "2026-11-22.md"
    assert json.loads(json_path.read_text())["overhead"]["ratio"] == 5.0
    assert md_path.read_text() == bench.render_markdown(results())
    assert sorted(p.name for p in json_path.parent.iterdir()) == [
        "2026-11-22.json",
        "2026-11-22.md",
    ]


def test_write_json_and_markdown_writes_both_files_atomically(tmp_path) -> None:
    data = {"zeta": [1, 2.5, None], "alpha": {"name": "é", "ok": True}}
    text = "# Title\n\n| a | b |\n|---|---|\n\nno trailing newline"
    json_path, md_path = bench.write_json_and_markdown(
        tmp_path / "results", "2026-12-07-ssh-overhead", data, text, sort_keys=False
    )
    assert json_path == tmp_path / "results" / "2026-12-07-ssh-overhead.json"
    assert md_path == tmp_path / "results" / "2026-12-07-ssh-overhead.md"
    assert json.loads(json_path.read_text(encoding="utf-8")) == data
    # As the bench scripts wrote it: indent 2, their key order, a trailing newline.
    assert json_path.read_text(encoding="utf-8") == json.dumps(data, indent=2) + "\n"
    assert md_path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in json_path.parent.iterdir()) == [
        "2026-12-07-ssh-overhead.json",
        "2026-12-07-ssh-overhead.md",
    ]


def test_replace_block_keeps_the_rest_of_the_readme() -> None:
    text = f"# Bench\n\nintro\n{bench.README_START}\nold figures\n{bench.README_END}\nafter\n"
    new = bench.replace_block(text, "new figures\n")
    assert (
        new == f"# Bench\n\nintro\n{bench.README_START}\nnew figures\n{bench.README_END}\nafter\n"
    )
    assert bench.replace_block(new, "new figures") == new
    with pytest.raises(ValueError, match="block"):
        bench.replace_block("no markers", "x")


# --- issue 18's figures (wheelfleet.bench_goals) ---------------------------------------

from wheelfleet import bench_goals  # noqa: E402


def steps(*spans: tuple[str, float, float]) -> list[dict[str, object]]:
    return [{"step": name, "start": start, "end": end} for name, start, end in spans]


def test_a_jobs_interval_runs_from_its_first_step_to_its_last() -> None:
    job = steps(("container_start", 100.0, 101.5), ("build", 102.0, 122.0), ("test", 123, 125))
    assert bench_goals.steps_interval(job) == (100.0, 125.0)
    assert bench_goals.steps_seconds(job) == pytest.approx(1.5 + 20.0 + 2.0)
    assert bench_goals.steps_interval([]) is None
    assert bench_goals.steps_interval(None) is None


def test_peak_counts_overlapping_jobs_but_not_a_slot_handed_over() -> None:
    # One slot: each job starts as the one before ends.
    assert bench_goals.peak_running([(0, 10), (10, 20), (20, 30)]) == 1
    # Two hosts, two jobs each, side by side.
    assert bench_goals.peak_running([(0, 10), (1, 11), (10, 20), (11, 21)]) == 2
    # Three at once for a moment.
    assert bench_goals.peak_running([(0, 10), (5, 15), (9, 12), (20, 30)]) == 3
    assert bench_goals.peak_running([]) == 0


def test_intervals_prefer_the_manifests_steps() -> None:
    entries = {
        "cp311-manylinux_x86_64": {"steps": steps(("build", 10.0, 30.0))},
        "cp313-manylinux_x86_64": {"steps": steps(("build", 30.0, 50.0))},
    }
    intervals, source = bench_goals.job_intervals(entries, [], 0.0)
    assert source == "steps"
    assert intervals == {
        "cp311-manylinux_x86_64": (10.0, 30.0),
        "cp313-manylinux_x86_64": (30.0, 50.0),
    }


def test_without_steps_the_progress_lines_give_the_intervals() -> None:
    text = (
        "job          cp311-manylinux_x86_64  host-a  building\n"
        "job          cp313-manylinux_x86_64  host-b  building\n"
        "job          cp311-manylinux_x86_64  host-a  done  (20.0s)\n"
        "job          cp313-manylinux_x86_64  host-b  done  (21.0s)\n"
    )
    arrivals = zip((5, 6, 25, 27), text.splitlines(), strict=True)
    lines = [bench.parse_line(at, line) for at, line in arrivals]
    entries = {
        "cp311-manylinux_x86_64": {"timings": {"build": 19.0}},
        "cp313-manylinux_x86_64": {"timings": {"build": 20.0}},
    }
    intervals, source = bench_goals.job_intervals(entries, lines, 1000.0)
    assert source == "progress"
    assert intervals == {
        "cp311-manylinux_x86_64": (1005.0, 1025.0),
        "cp313-manylinux_x86_64": (1006.0, 1027.0),
    }
    assert bench_goals.peak_running(intervals.values()) == 2


def test_last_the_publish_time_and_the_timings_give_the_intervals() -> None:
    entries = {"a": {"built_at": "2026-12-06T10:00:30Z", "timings": {"build": 20.0, "repair": 5}}}
    intervals, source = bench_goals.job_intervals(entries)
    assert source == "timings"
    start, end = intervals["a"]
    assert end - start == pytest.approx(25.0)
    assert end == pytest.approx(1796551230.0)


def fleet(hosts: int, wall: float, intervals: list[tuple[float, float]]) -> bench_goals.FleetRun:
    return bench_goals.FleetRun(
        hosts, wall, {f"job{i}": value for i, value in enumerate(intervals)}, "steps"
    )


def test_scaling_rows_compare_each_fleet_with_n_over_k_job_times() -> None:
    one = fleet(1, 95.0, [(0, 20), (20, 40), (40, 60), (60, 80)])  # one job = 20 s
    two = fleet(2, 55.0, [(0, 21), (0, 21), (21, 42), (21, 43)])
    three = fleet(3, 50.0, [(0, 20), (0, 20), (0, 20), (20, 40)])
    rows = bench_goals.scaling_rows([one, two, three], jobs=4)
    assert [row["one_job"] for row in rows] == [20.0, 20.0, 20.0]
    assert [row["ideal"] for row in rows] == [80.0, 40.0, pytest.approx(26.7)]
    # ceil(4/3) = 2 whole job times on three slots.
    assert [row["schedulable"] for row in rows] == [80.0, 40.0, 40.0]
    assert [row["span"] for row in rows] == [80.0, 43.0, 40.0]
    assert [row["span_goal"]["value"] for row in rows] == [1.0, 1.075, 1.0]
    assert all(row["span_goal"]["met"] for row in rows)
    assert [row["peak"] for row in rows] == [1, 2, 3]
    assert all(row["peak_goal_met"] for row in rows)
    assert rows[1]["wall_ratio"] == pytest.approx(55.0 / 40.0, abs=1e-3)


def test_a_fleet_that_builds_one_job_at_a_time_misses_both_goals() -> None:
    one = fleet(1, 95.0, [(0, 20), (20, 40), (40, 60), (60, 80)])
    serial = fleet(2, 95.0, [(0, 20), (20, 40), (40, 60), (60, 80)])
    row = bench_goals.scaling_rows([one, serial], jobs=4)[1]
    assert row["span_goal"] == {"value": 2.0, "goal": 1.1, "strict": False, "met": False}
    assert row["peak"] == 1
    assert not row["peak_goal_met"]


def test_goals_say_met_or_not_and_nothing_without_a_value() -> None:
    assert bench_goals.goal("rerelease", 0.04)["met"] is True
    assert bench_goals.goal("rerelease", 0.5)["met"] is False
    assert bench_goals.goal("groups", 1.0, strict=True)["met"] is False
    assert bench_goals.goal("groups", 0.8, strict=True)["met"] is True
    assert bench_goals.goal("overhead_wall", None)["met"] is None
    assert bench_goals.fmt_goal(bench_goals.goal("overhead_wall", 4.84)) == (
        "4.84x (goal <= 1.5x: not met)"
    )
    assert bench_goals.fmt_goal(None) == "-"


def test_top_tasks_are_the_slowest_task_results() -> None:
    lines = [bench.parse_line(float(i), line) for i, line in enumerate(RELEASE_LINES.splitlines())]
    top = bench_goals.top_tasks(lines, 2)
    assert len(top) == 2
    assert top[0]["task"] == "wheel_build : Wait for the builds, polling every few seconds"
    assert top[0]["seconds"] == 17.1
    durations = [line.duration for line in lines if line.kind == "task" and line.duration]
    assert top[1]["seconds"] == sorted(durations)[-2]
    assert top[0]["host"] == "localhost"


def test_plays_share_the_wall_from_one_play_line_to_the_next() -> None:
    lines = [
        bench.Line(1.0, "play", "Check"),
        bench.Line(3.0, "play", "Build round 1"),
        bench.Line(20.0, "play", "Report the release"),
    ]
    assert bench_goals.play_seconds(lines, 22.5) == [
        {"play": "Check", "seconds": 2.0},
        {"play": "Build round 1", "seconds": 17.0},
        {"play": "Report the release", "seconds": 2.5},
    ]


def test_the_hand_tests_marks_split_its_wall() -> None:
    marks = {"started": 10.5, "copy_in": 10.7, "install": 13.0, "test": 14.0}
    split = bench_goals.marks_split(marks, ("started", "copy_in", "install", "test"), 10.0, 14.4)
    assert split == {
        "container_start": 0.5,
        "copy_in": 0.2,
        "install": 2.3,
        "test": 1.0,
        "exit": 0.4,
    }
    with pytest.raises(ValueError, match="install"):
        bench_goals.marks_split({"started": 1.0}, ("started", "install"), 0.0, 2.0)


def test_the_summary_shows_issue_18s_goals() -> None:
    one = fleet(1, 95.0, [(0, 20), (20, 40), (40, 60), (60, 80)])
    results = {
        "scaling": {"wait": {"rows": bench_goals.scaling_rows([one], jobs=4)}},
        "groups": {
            "method": "one release of three jobs against three releases",
            "goal": bench_goals.goal("groups", 0.8, strict=True),
            "group": {"wall": 80.0, "before_all_runs": 1},
            "separate": {"wall": 100.0, "before_all_runs": 3},
            "steps_ratio": 0.7,
        },
    }
    rows = bench.summary_rows(results)
    assert any("peak 1 at once (goal 1: met)" in value for _, _, value in rows)
    assert any("0.80x (goal < 1.0x: met)" in value for _, _, value in rows)
    text = bench.render_markdown(results)
    assert "## Wait-bound fleet (issue 18)" in text
    assert "## A job group against separate jobs" in text


def test_task_time_adds_up_by_role() -> None:
    lines = [
        bench.Line(1.0, "task", "docker_engine : Install Docker Engine", "h", "ok", 6.0),
        bench.Line(2.0, "task", "docker_engine : Ask the socket", "h", "ok", 1.5),
        bench.Line(3.0, "task", "Gathering Facts", "h", "ok", 1.4),
        bench.Line(4.0, "task", "wheel_build : Look up the builder images", "h", "ok", 1.7),
        bench.Line(5.0, "job", "cp311-manylinux_x86_64", "h", "done", 30.0),
    ]
    assert bench_goals.role_seconds(lines) == [
        {"role": "docker_engine", "seconds": 7.5, "tasks": 2},
        {"role": "wheel_build", "seconds": 1.7, "tasks": 1},
        {"role": "(play)", "seconds": 1.4, "tasks": 1},
    ]
