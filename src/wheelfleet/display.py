"""How a run looks: a live rich view on a terminal, plain lines elsewhere (CI logs).

Both displays print the same things (plays, one line per task result, failure
messages, warnings, the final summary); the live view also keeps, per host, the
role and task running now and for how long, and for a release each job's host
(and slot), state, step and time, from the jobs' progress records.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from wheelfleet.progress import (
    Announcement,
    JobChanged,
    JobPhase,
    Message,
    Notice,
    Outcome,
    PlayStarted,
    Progress,
    TaskResult,
)
from wheelfleet.summary import HostStats, RunSummary

_STYLES: dict[Outcome, str] = {
    Outcome.OK: "green",
    Outcome.CHANGED: "yellow",
    Outcome.FAILED: "bold red",
    Outcome.UNREACHABLE: "bold magenta",
    Outcome.SKIPPED: "cyan",
    Outcome.IGNORED: "dim red",
}
_LABEL_WIDTH = max(len(o.value) for o in Outcome)
_INDENT = " " * (_LABEL_WIDTH + 2)
CANCELLED_NOTE = "cancelled: hosts may be partly changed; run the command again to finish"


def format_seconds(seconds: float | None) -> str:
    """``4.2s``, ``1m05s``, ``2h03m``."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def task_title(role: str | None, task: str) -> str:
    """``role : task``, the way ansible names a role's task."""
    return f"{role} : {task}" if role else task


def result_line(result: TaskResult) -> str:
    """One plain line for a task result (without the failure message)."""
    duration = format_seconds(result.duration)
    line = f"{result.outcome.value:<{_LABEL_WIDTH}}  {result.host}  "
    line += task_title(result.role, result.task)
    return f"{line}  ({duration})" if duration else line


_JOB_STYLES: dict[JobPhase, str] = {
    JobPhase.QUEUED: "dim",
    JobPhase.BUILDING: "yellow",
    JobPhase.REPAIRING: "yellow",
    JobPhase.TESTING: "yellow",
    JobPhase.PUBLISHING: "yellow",
    JobPhase.DONE: "green",
    JobPhase.UP_TO_DATE: "cyan",
    JobPhase.FAILED: "bold red",
}
_REASON_LINES = 6


def job_line(change: JobChanged) -> str:
    """One plain line for a job changing phase: ``job  cp311-manylinux_x86_64  b  done (31s)``."""
    line = f"{'job':<{_LABEL_WIDTH}}  {change.identifier}  {change.host}  {change.phase.value}"
    if change.phase is JobPhase.FAILED and change.step:
        line += f" at {change.step}"
    if change.moved_from:
        line += f" (moved from {change.moved_from}, which failed)"
    if (
        change.phase.finished
        and change.elapsed is not None
        and change.phase is not JobPhase.UP_TO_DATE
    ):
        line += f"  ({format_seconds(change.elapsed)})"
    return line


def reason_text(reason: str | None) -> str:
    """The first lines of a job's failure reason (the report has all of it)."""
    lines = str(reason or "").strip().splitlines()
    if len(lines) > _REASON_LINES:
        lines = [*lines[:_REASON_LINES], "... (the report and the job's log have the rest)"]
    return "\n".join(lines)


def indent(text: str, prefix: str = _INDENT) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def stats_line(name: str, stats: HostStats) -> str:
    return (
        f"{name}  ok={stats.ok} changed={stats.changed} unreachable={stats.unreachable}"
        f" failed={stats.failed} skipped={stats.skipped} rescued={stats.rescued}"
        f" ignored={stats.ignored}"
    )


def summary_lines(summary: RunSummary) -> Iterator[str]:
    """The plain-text summary (the rich display draws the same as a table)."""
    mode = " (check mode)" if summary.check else ""
    yield ""
    yield (
        f"{summary.command}{mode}: {summary.status} in {format_seconds(summary.elapsed)}"
        f" (exit code {int(summary.exit_code)})"
    )
    width = max((len(name) for name in summary.hosts), default=0)
    for name, stats in summary.hosts.items():
        yield "  " + stats_line(name.ljust(width), stats)
    if summary.status == "canceled":
        yield f"  {CANCELLED_NOTE}"
    elif not summary.hosts:
        yield "  no host ran a task"
    for failure in summary.failures:
        kind = "UNREACHABLE" if failure.unreachable else "FAILED"
        yield f"{kind}: {failure.host} | {task_title(failure.role, failure.task)}"
        yield indent(failure.msg, "  ")
    for error in summary.errors:
        yield f"error: {error}"


class Display(Protocol):
    def __enter__(self) -> Display: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def show(self, notice: Notice) -> None: ...

    def cancelling(self) -> None: ...

    def summary(self, summary: RunSummary) -> None: ...


class PlainDisplay:
    """Line-by-line output for logs: no colours, no cursor movement."""

    def __init__(self, stream: IO[str], *, verbosity: int = 0) -> None:
        self.stream = stream
        self.verbosity = verbosity

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stream.flush()

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def show(self, notice: Notice) -> None:
        match notice:
            case PlayStarted(name):
                self._print(f"\nPLAY [{name}]")
            case TaskResult() as result:
                self._print(result_line(result))
                if result.msg:
                    self._print(indent(result.msg))
                if result.diff:
                    self._print(indent(result.diff))
                if self.verbosity and result.output:
                    self._print(indent(result.output))
            case Announcement(text):
                self._print(f"\n{text}\n")
            case JobChanged() as change:
                self._print(job_line(change))
                if change.reason:
                    self._print(indent(reason_text(change.reason)))
            case Message("output", text):
                if self.verbosity:
                    self._print(text)
            case Message(level, text):
                self._print(f"{level}: {text}")

    def cancelling(self) -> None:
        self._print("\nCancelling: stopping ansible-playbook (Ctrl-C again to force)...")

    def summary(self, summary: RunSummary) -> None:
        for line in summary_lines(summary):
            self._print(line)


class RichDisplay:
    """A live per-host view with task results scrolling above it."""

    def __init__(self, console: Console, progress: Progress, *, verbosity: int = 0) -> None:
        self.console = console
        self.progress = progress
        self.verbosity = verbosity
        self._cancelling = False
        self._live = Live(
            get_renderable=self._render,
            console=console,
            refresh_per_second=4,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def __enter__(self) -> RichDisplay:
        self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.stop()

    def _render(self) -> RenderableType:
        now = datetime.now(UTC)
        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        table.add_column("host")
        table.add_column("task", overflow="ellipsis", no_wrap=True, ratio=1)
        table.add_column("time", justify="right")
        for outcome in (Outcome.OK, Outcome.CHANGED, Outcome.FAILED, Outcome.SKIPPED):
            table.add_column(outcome.value, justify="right", style=_STYLES[outcome])
        for host in self.progress.hosts.values():
            task = Text(task_title(host.role, host.task or ""))
            if host.detail:
                task.append(f"  [{host.detail}]", style="dim")
            if host.running:
                task.stylize("bold")
            elif host.outcome is not None:
                task.stylize("dim")
            counts = host.counts
            table.add_row(
                host.name,
                task,
                format_seconds(host.elapsed(now)),
                str(counts[Outcome.OK]),
                str(counts[Outcome.CHANGED]),
                str(counts[Outcome.FAILED] + counts[Outcome.UNREACHABLE]),
                str(counts[Outcome.SKIPPED]),
            )
        parts: list[RenderableType] = []
        if self.progress.play:
            parts.append(Text(f"PLAY [{self.progress.play}]", style="bold"))
        parts.append(table)
        if self.progress.jobs:
            jobs = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
            jobs.add_column("job")
            jobs.add_column("host")
            jobs.add_column("state")
            jobs.add_column("step")
            jobs.add_column("time", justify="right")
            for job in self.progress.jobs.values():
                state = Text(job.phase.value, style=_JOB_STYLES[job.phase])
                if job.moved_from and not job.phase.finished:
                    state.append(f" (from {job.moved_from})", style="dim")
                step = job.step if job.phase is not JobPhase.QUEUED else None
                host = job.host if job.slot is None else f"{job.host}/{job.slot}"
                jobs.add_row(
                    job.identifier, host, state, step or "", format_seconds(job.elapsed(now))
                )
            parts.append(jobs)
        if self._cancelling:
            parts.append(Text("Cancelling... (Ctrl-C again to force)", style="bold yellow"))
        return Group(*parts)

    def show(self, notice: Notice) -> None:
        out = self.console
        match notice:
            case PlayStarted(name):
                out.print(f"\n[bold]PLAY \\[{escape(name)}][/bold]")
            case TaskResult() as result:
                style = _STYLES[result.outcome]
                line = Text(f"{result.outcome.value:<{_LABEL_WIDTH}}", style=style)
                line.append(f"  {result.host}  ", style="bold")
                line.append(task_title(result.role, result.task))
                if result.duration is not None:
                    line.append(f"  ({format_seconds(result.duration)})", style="dim")
                out.print(line)
                if result.msg:
                    out.print(Text(indent(result.msg), style=_STYLES[result.outcome]))
                if result.diff:
                    out.print(Text(indent(result.diff)))
                if self.verbosity and result.output:
                    out.print(Text(indent(result.output), style="dim"))
            case Announcement(text):
                out.print(Text(f"\n{text}\n", style="bold"))
            case JobChanged() as change:
                # The live table shows every phase; the scrollback keeps the milestones.
                if change.phase.finished or change.phase is JobPhase.QUEUED:
                    out.print(Text(job_line(change), style=_JOB_STYLES[change.phase]))
                    if change.reason:
                        out.print(Text(indent(reason_text(change.reason)), style="red"))
            case Message("output", text):
                if self.verbosity:
                    out.print(Text(text, style="dim"))
            case Message(level, text):
                style = "bold red" if level == "error" else "magenta"
                out.print(Text(f"{level}: {text}", style=style))

    def cancelling(self) -> None:
        self._cancelling = True
        self.console.print("[bold yellow]Cancelling: stopping ansible-playbook...[/]")

    def summary(self, summary: RunSummary) -> None:
        out = self.console
        mode = " (check mode)" if summary.check else ""
        style = "green" if summary.exit_code == 0 else "bold red"
        out.print()
        out.print(
            Text(
                f"{summary.command}{mode}: {summary.status} in "
                f"{format_seconds(summary.elapsed)} (exit code {int(summary.exit_code)})",
                style=style,
            )
        )
        if summary.hosts:
            table = Table(box=None, header_style="bold", pad_edge=False)
            table.add_column("host")
            names = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
            styles = ("green", "yellow", "magenta", "red", "cyan", "", "")
            for name, column_style in zip(names, styles, strict=True):
                table.add_column(name, justify="right", style=column_style)
            for host, stats in summary.hosts.items():
                table.add_row(host, *(str(getattr(stats, name)) for name in names))
            out.print(table)
        if summary.status == "canceled":
            out.print(CANCELLED_NOTE, style="yellow")
        elif not summary.hosts:
            out.print("no host ran a task")
        for failure in summary.failures:
            kind = "UNREACHABLE" if failure.unreachable else "FAILED"
            title = task_title(failure.role, failure.task)
            out.print(Text(f"{kind}: {failure.host} | {title}", style="bold red"))
            out.print(Text(indent(failure.msg, "  ")))
        for error in summary.errors:
            out.print(Text(f"error: {error}", style="bold red"))


def make_display(
    stream: IO[str], progress: Progress, *, verbosity: int = 0, force_plain: bool = False
) -> Display:
    """The live view when ``stream`` is an interactive terminal, plain lines otherwise."""
    console = Console(file=stream, highlight=False)
    # The stream itself decides, not rich's guess (FORCE_COLOR would make a CI log
    # look like a terminal and fill it with cursor movements).
    interactive = stream.isatty() and not console.is_dumb_terminal
    if force_plain or not interactive:
        return PlainDisplay(stream, verbosity=verbosity)
    return RichDisplay(console, progress, verbosity=verbosity)
