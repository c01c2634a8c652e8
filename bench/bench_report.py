"""Benchmark of the reviewer report on a 10,000-note results folder (not a test).

Generates a synthetic export (fictional phrase bank, ~4 notes per case, teams, authors, note types and dates over a
year), checks it with ``--include-text`` (as ``check --report`` does), then measures:

* ``msp-nlp report`` end to end (read results, write report.html and report.xlsx): wall time and peak RSS;
* its parts in-process: loading + summary, rendering the HTML, writing the workbook;
* the size of report.html and report.xlsx (and notes.jsonl for scale);
* headless Chromium: time to load and render the page and dump the DOM (the page's script has run by then), the
  same with a search in the address (``#q=...``: the script searches the text of every case), a 1280x1600
  screenshot, and an empty page for the browser's own start-up time.

Writes ``bench/REPORT_RESULTS.md``. Usage: python bench/bench_report.py [--notes 10000] [--out bench/out/report]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from msp_nlp.batch import run_check  # noqa: E402
from msp_nlp.report import load_results, render_html, summarise, write_xlsx  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PHRASES = [
    "Visited {n} at home with the district nurse.", "{n} told me she is frightened of her grandson.",
    "Son present throughout the visit.", "Not seen alone as daughter answered the door and stayed.",
    "Spoke to {n} alone in the kitchen.", "Her desired outcome is to remain at home with more support.",
    "Views of adult: not obtained.", "SW to ask {n} what she wants at the next visit.",
    "Concerns that her son is taking her pension.", "{n} has vascular dementia and appeared confused today.",
    "MCA completed re finances: lacks capacity, best interests meeting to follow.", "Referral to IMCA made.",
    "Reported to police, crime ref 4471/26.", "She declined a package of care.",
    "Explored her reasons for declining, she worries about the cost.", "GP informed and DN to review the wound.",
    "Discussed the risks of letting strangers in and a safety plan was agreed with her.",
    "Explained the s42 process and what happens next.", "Daughter wants mum moved to a care home.",
    "Property cluttered, no heating, food out of date in the fridge.", "tc from dtr, no concerns, nfa",
    "Two children live at the address and were present.", "Interpreter booked, speaks little English.",
    "Outcomes partially achieved, she feels safer now but still wants contact with her son.",
    "Strategy meeting held with police, housing and the care provider; actions agreed.",
    "Care home manager reports the night carer was rough during personal care; carer suspended.",
    "If she consents we will refer to the IDVA service.", "Less restrictive options were considered.",
    "He said he is happy with his carers and does not want any changes.", "Case closed.",
]
NAMES = ["Mrs Holt", "Edna", "Mr Shah", "Joan", "Mr Nowak", "Ms Begum", "Derek", "Grace", "Mrs Pike", "Mr Fry"]
TEAMS = ["ASC North", "ASC South", "ASC East", "ASC West", "MASH", "Hospital Team", "Learning Disability Team",
         "Out of Hours"]
TYPES = ["Safeguarding concern", "S42 enquiry visit", "Telephone call", "Strategy meeting", "Case note",
         "Closure summary", ""]


def generate(path: Path, n: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    authors = [f"{a}. {b}" for a in "ABCDEFGH" for b in ("Marsh", "Khan", "Okafor", "Lewis", "Price")]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["note_id", "case_id", "date", "note_type", "author", "team", "text"])
        for i in range(n):
            parts, nw = [], 0
            while nw < 120:
                p = rnd.choice(PHRASES).format(n=rnd.choice(NAMES))
                parts.append(p)
                nw += len(p.split())
            text = (" " if rnd.random() < 0.6 else "\n").join(parts)
            case = i // 4
            date = f"2025-{1 + (case * 7 + i % 4) % 12:02d}-{1 + (i * 3) % 28:02d}T{9 + i % 8:02d}:{i % 60:02d}"
            w.writerow([f"N{i:07d}", f"C{case:06d}", date, rnd.choice(TYPES), rnd.choice(authors), rnd.choice(TEAMS),
                        text])


def timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


def chromium(url: str, *extra: str, dom: list | None = None) -> float:
    with tempfile.TemporaryDirectory() as prof:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={prof}",
               *extra, url]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-1000:])
        if dom is not None:
            head = r.stdout[:2000]
            dom.append({k: int(v) for k, v in re.findall(r'data-(ready|apply)-ms="(\d+)"', head)})
        return dt


def best_of(k: int, fn) -> float:
    return min(fn() for _ in range(k))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "report"))
    ap.add_argument("--n-process", type=int, default=min(4, os.cpu_count() or 1))
    ap.add_argument("--results-md", default=str(ROOT / "bench" / "REPORT_RESULTS.md"))
    args = ap.parse_args()

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    export = out / "export.csv"
    generate(export, args.notes)
    res_dir = out / "results"
    t_check, summary = timed(lambda: run_check([export], res_dir, n_process=args.n_process, include_text=True,
                                               progress=False))
    print(f"checked {summary.notes} notes in {summary.cases} cases in {t_check:.1f}s")

    # end to end, in a child process (peak RSS of the report alone)
    exe = Path(sys.executable).with_name("msp-nlp")
    cmd = [str(exe), "report", str(res_dir)] if exe.exists() else [sys.executable, "-m", "msp_nlp", "report",
                                                                   str(res_dir)]
    t_cli, _ = timed(lambda: subprocess.run(cmd, check=True, capture_output=True))
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    # parts, in-process
    t_load, res = timed(lambda: load_results(res_dir))
    t_sum, s = timed(lambda: summarise(res))
    t_html, page = timed(lambda: render_html(res, s))
    t_xlsx, _ = timed(lambda: write_xlsx(res, out / "parts.xlsx", s))

    html_mb = (res_dir / "report.html").stat().st_size / 1e6
    xlsx_mb = (res_dir / "report.xlsx").stat().st_size / 1e6
    jsonl_mb = (res_dir / "notes.jsonl").stat().st_size / 1e6

    rows = [
        ("results", f"{summary.notes:,} notes in {summary.cases:,} cases (check with --include-text, "
                    f"{args.n_process} processes: {t_check:.1f} s)"),
        ("`msp-nlp report` end to end (html + xlsx)", f"{t_cli:.1f} s, peak RSS {rss_mb:.0f} MB"),
        ("load notes.jsonl + cases.jsonl", f"{t_load:.2f} s"),
        ("summary figures", f"{t_sum:.2f} s"),
        ("render report.html", f"{t_html:.2f} s"),
        ("write report.xlsx", f"{t_xlsx:.2f} s"),
        ("report.html size", f"{html_mb:.1f} MB ({len(page) / summary.notes / 1e3:.1f} kB per note)"),
        ("report.xlsx size", f"{xlsx_mb:.1f} MB"),
        ("notes.jsonl size (with text)", f"{jsonl_mb:.1f} MB"),
    ]
    if Path(CHROMIUM).exists():
        url = (res_dir / "report.html").as_uri()
        empty = out / "empty.html"
        empty.write_text("<!DOCTYPE html><title>empty</title>", encoding="utf-8")
        t_empty = best_of(3, lambda: chromium(empty.as_uri(), "--dump-dom"))
        d_all: list = []
        d_q: list = []
        t_dom = best_of(3, lambda: chromium(url, "--dump-dom", dom=d_all))
        t_q = best_of(3, lambda: chromium(url + "#q=frightened", "--dump-dom", dom=d_q))
        ready = min(d["ready"] for d in d_all) / 1000
        search = min(d["apply"] for d in d_q) / 1000
        t_shot = best_of(3, lambda: chromium(url, f"--screenshot={out / 'shot.png'}", "--window-size=1280,1600"))
        rows += [
            ("headless Chromium, empty page (start-up)", f"{t_empty:.2f} s"),
            ("page parsed and its script ready (navigation start to end of script, in the page)", f"{ready:.2f} s"),
            ("one search over every case (`#q=frightened`, first search reads the text of all cases)",
             f"{search:.2f} s"),
            ("headless Chromium, load + dump DOM (whole process, includes serialising the DOM)",
             f"{t_dom:.2f} s ({t_dom - t_empty:.2f} s over start-up)"),
            ("headless Chromium, 1280x1600 screenshot", f"{t_shot:.2f} s"),
        ]
        chrome = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    else:
        chrome = "not installed: no render timings"

    md = ["# Reviewer report benchmark", "",
          f"`python bench/bench_report.py --notes {args.notes}` on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; {chrome}. Synthetic notes of ~120 words from a phrase bank "
          "(fictional names), ~4 notes per case, 8 teams, 40 authors, dates over a year. Times are wall-clock; "
          "browser times are the best of 3 runs, each a fresh headless Chromium process.", "",
          "| what | result |", "|---|---|"]
    md += [f"| {a} | {b} |" for a, b in rows]
    md += ["", "With more than 60 cases the cases start collapsed (the summary line of each shows its flags), and "
           "each case uses `content-visibility: auto`, so the browser lays out only what is on screen. For much "
           "larger exports, `msp-nlp report OUTDIR --max-cases N` lists the first N cases only (the summary still "
           "counts all of them).", ""]
    Path(args.results_md).write_text("\n".join(md), encoding="utf-8")
    print("\n".join(md))


if __name__ == "__main__":
    main()
