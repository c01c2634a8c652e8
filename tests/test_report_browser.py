"""The demo report rendered in headless Chromium: the DOM after the page's script ran, the filter and search, no
console errors, and a screenshot.

Needs Debian's ``chromium`` (``apt-get install chromium``; ``./setup.sh`` installs it when run as root); the test
installs nothing and skips without it. ``MSP_NLP_UPDATE_SCREENSHOT=1`` also refreshes ``docs/report.png`` (the
README's screenshot) from this run; otherwise the screenshot goes to a temporary folder only, so running the tests
never changes the repository.
"""

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from msp_nlp.batch import run_check
from msp_nlp.io import ColumnMapping
from msp_nlp.report import write_report

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "case_notes.csv"
CHROMIUM = Path("/usr/bin/chromium")
DEMO_MAPPING = ColumnMapping(note_id="Note ID", case_id="Episode ID", date="Date Recorded", note_type="Note Type",
                             adult_name="Person Known As", author="Worker", team="Team", text="Case Note")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium not installed (apt-get install chromium)")


def chromium(tmp: Path, url: str, *extra: str, timeout: int = 120) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def console_problems(stderr: str, page: Path) -> list[str]:
    """Console messages from the page (with --enable-logging every console message is an INFO "CONSOLE" line, so
    the level cannot tell errors apart): the report's script logs nothing, so any message from the page, and any
    error, uncaught exception or blocked resource from anywhere, is a problem."""
    lines = [ln for ln in stderr.splitlines() if "CONSOLE" in ln]
    return [ln for ln in lines if page.as_uri() in ln or re.search(r"error|uncaught|refused|violat|failed", ln, re.I)]


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    out = base / "out" / "demo"
    run_check([DEMO], out, DEMO_MAPPING, include_text=True, progress=False)
    cwd = os.getcwd()
    os.chdir(base)  # so the page names its results folder "out/demo", as after ./setup.sh
    try:
        write_report(Path("out/demo"))
    finally:
        os.chdir(cwd)
    return out / "report.html"


def test_rendered_dom_has_summary_cases_and_highlights(demo_report, tmp_path):
    r = chromium(tmp_path, demo_report.as_uri(), "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    assert re.search(r'<html[^>]*data-js="ready"', dom), "the page's script did not run to the end"
    assert 'id="summary"' in dom and "notes checked" in dom and 'id="measure-views"' in dom
    assert dom.count('<details class="case"') == 10
    assert 'data-case-id="ENQ-1001"' in dom
    marks = re.findall(r'<mark class="hl[^"]*"[^>]*? data-labels="([^"]+)"[^>]*title="([^"]+)"', dom)
    assert len(marks) > 50 and any("adult_views" in labels for labels, _ in marks)
    assert all("score" in title for _, title in marks)
    assert re.search(r'<span id="shown">10</span>', dom)
    assert "Flags are prompts for a human reviewer, not judgements." in dom
    assert console_problems(r.stderr, demo_report) == []


def test_filter_and_search_from_the_address(demo_report, tmp_path):
    page = demo_report.read_text(encoding="utf-8")
    with_flag = len(re.findall(r'data-flags="[^"]*\bcoercion_unexplored\b', page))
    assert 0 < with_flag < 10
    r = chromium(tmp_path, demo_report.as_uri() + "#flag=coercion_unexplored", "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    visible = re.findall(r'<details class="case"(?![^>]*\bhidden\b)[^>]*data-flags="([^"]*)"', r.stdout)
    assert len(visible) == with_flag and all("coercion_unexplored" in f for f in visible)
    assert f'<span id="shown">{with_flag}</span>' in r.stdout
    assert console_problems(r.stderr, demo_report) == []

    r = chromium(tmp_path, demo_report.as_uri() + "#q=kyle", "--dump-dom")
    visible = re.findall(r'<details class="case"(?![^>]*\bhidden\b)[^>]*data-case-id="([^"]*)"', r.stdout)
    assert visible == ["ENQ-1001"]
    assert console_problems(r.stderr, demo_report) == []


def test_screenshot(demo_report, tmp_path):
    shot = tmp_path / "report.png"
    r = chromium(tmp_path, demo_report.as_uri(), f"--screenshot={shot}", "--window-size=1280,1600",
                 "--hide-scrollbars")
    assert r.returncode == 0, r.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1600)
    assert len(data) > 50_000  # a rendered page, not a blank one
    assert console_problems(r.stderr, demo_report) == []
    if os.environ.get("MSP_NLP_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / "report.png")
