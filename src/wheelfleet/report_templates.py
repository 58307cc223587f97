"""Rendering the release report through its Jinja2 templates (``wheelfleet/templates``).

Both environments escape by default, because project names, log tails and failure
messages are untrusted:

* HTML (``report.html.j2``, ``timeline.svg.j2``): Jinja2's autoescape;
* Markdown (``report.md.j2``): every ``{{ value }}`` is escaped for Markdown (one
  line, markup characters backslashed) unless a filter made it :class:`Verbatim`:
  ``code`` (a code span), ``codeblock`` (a fenced block), ``verbatim`` (a value the
  report checked itself, such as a build identifier).

The value formats the report uses everywhere (times, sizes, digests) live here too.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:
    from wheelfleet.report import Report

TEMPLATES = "templates"
"""The templates' directory inside the wheelfleet package (package data)."""


# -------------------------------------------------------------------------- formats


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def format_share(share: float | None) -> str:
    """``64 %``; ``-`` when there is no figure."""
    return "-" if share is None else f"{share * 100:.0f} %"


def one_line(text: str) -> str:
    """The first three non-blank lines of ``text`` joined by `` / ``."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return " / ".join(lines) if len(lines) <= 3 else " / ".join([*lines[:3], "..."])


def short_digest(digest: str) -> str:
    """``sha256:0123456789ab`` from an image digest or reference."""
    name = str(digest)
    if "@" in name:
        name = name.split("@", 1)[1]
    algorithm, _, value = name.partition(":")
    return f"{algorithm}:{value[:12]}" if value else name[:19]


# ------------------------------------------------------------------------- Markdown


class Verbatim(str):
    """Markdown that a filter already made safe: written as it is."""

    __slots__ = ()


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]<>()#+!|"})


def markdown_text(value: Any) -> str:
    """Text safe inside a Markdown table cell or heading (no markup, no raw HTML)."""
    if isinstance(value, Verbatim):
        return str(value)
    return one_line(str(value)).translate(_MD_SPECIAL)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def code_span(value: Any) -> Verbatim:
    """A one-line code span, whatever backticks the text holds."""
    text = " ".join(str(value).split())
    fence = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Verbatim(f"{fence}{pad}{text}{pad}{fence}")


def code_block(value: Any) -> Verbatim:
    """A fenced block holding ``value`` whole: the fence is longer than any backtick run in
    it."""
    text = str(value).rstrip("\n")
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return Verbatim(f"{fence}\n{text}\n{fence}")


def verbatim(value: Any) -> Verbatim:
    return Verbatim(str(value))


# ------------------------------------------------------------------------ rendering

_FILTERS = {
    "seconds": format_seconds,
    "size": format_size,
    "share": format_share,
    "one_line": one_line,
    "short_digest": short_digest,
}


def _environment(**options: Any) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("wheelfleet", TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        **options,
    )
    environment.filters.update(_FILTERS)
    return environment


@cache
def html_environment() -> jinja2.Environment:
    return _environment(autoescape=True)


@cache
def markdown_environment() -> jinja2.Environment:
    environment = _environment(autoescape=False, finalize=markdown_text)
    environment.filters.update(code=code_span, codeblock=code_block, verbatim=verbatim)
    return environment


def render_html(report: Report) -> str:
    return html_environment().get_template("report.html.j2").render(_context(report))


def render_markdown(report: Report) -> str:
    return markdown_environment().get_template("report.md.j2").render(_context(report))


def _context(report: Report) -> dict[str, Any]:
    return {
        "report": report,
        "counts": report.counts(),
        "architectures": report.architectures(),
        "pythons": report.pythons(),
        "timeline": report.timeline(),
    }
