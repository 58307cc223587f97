"""Looking at a report page in a real browser: Debian's Chromium, headless.

:func:`measure` loads a copy of the page with ``browser_check.js`` injected and returns
what that script measured (rows, job groups and their step rects, anything that runs
out of the SVG or the viewport); :func:`screenshot` takes a PNG of the page as it is.
Each call starts its own Chromium with a fresh profile directory and waits for it to
exit (about a second).
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHECK_SCRIPT = Path(__file__).with_name("browser_check.js")
RESULT = '<pre id="wheelfleet-check">'
"""The element the check script writes its findings into (JSON)."""
# Without the background-networking flags Chromium's own connections are refused here,
# and it waits for them.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the report's browser tests need Debian's Chromium"
            " (apt-get install chromium; scripts/test installs it)"
        )
    return CHROMIUM


def _run(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = work / f"profile-{len(list(work.glob('profile-*')))}"
    profile.mkdir(parents=True)
    try:
        return subprocess.run(
            [str(chromium()), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def measure(page: Path, work: Path, width: int = 1280, height: int = 1000) -> dict[str, Any]:
    """Load ``page`` in a ``width`` x ``height`` window and return the check's findings."""
    text = page.read_text(encoding="utf-8")
    assert text.count("</body>") == 1, "the page has one body"
    script = f"<script>\n{CHECK_SCRIPT.read_text(encoding='utf-8')}\n</script>\n</body>"
    copy = work / f"checked-{width}-{page.name}"
    copy.write_text(text.replace("</body>", script), encoding="utf-8")
    run = _run(work, f"--window-size={width},{height}", "--dump-dom", copy.as_uri())
    start = run.stdout.rfind(RESULT)
    assert start >= 0, f"the check script left no result: {run.stderr[-2000:]}"
    end = run.stdout.index("</pre>", start)
    return json.loads(html.unescape(run.stdout[start + len(RESULT) : end]))


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 1000) -> Path:
    """A PNG of ``page`` as a ``width`` x ``height`` window shows it."""
    work = png.parent
    _run(work, f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri())
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "a PNG"
    size = (int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big"))
    assert size == (width, height), size
    # A blank page compresses to a few KiB; a drawn report does not.
    assert png.stat().st_size > 20_000, "the screenshot shows something"
    return png
