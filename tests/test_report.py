"""The reviewer report (report.html, report.xlsx), the text opt-in of notes.jsonl, and reviewer feedback."""

import base64
import csv
import hashlib
import html
import json
import re
import shutil
from pathlib import Path

import openpyxl
import pytest

from msp_nlp import spec as S
from msp_nlp.batch import run_check
from msp_nlp.cli import main
from msp_nlp.corpus import load
from msp_nlp.feedback import CASE_REVIEWER_COLUMNS, REVIEWER_COLUMNS, FeedbackError, collect, parse_missing_evidence
from msp_nlp.io import ColumnMapping
from msp_nlp.report import LABEL_COLOURS, highlight, load_results, render_html, summarise, write_report

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "case_notes.csv"
DEMO_MAPPING = ColumnMapping(note_id="Note ID", case_id="Episode ID", date="Date Recorded", note_type="Note Type",
                             adult_name="Person Known As", author="Worker", team="Team", text="Case Note")
EVIL = "<script>alert('x')</script>"


def read_jsonl(p):
    return [json.loads(line) for line in open(p, encoding="utf-8") if line.strip()]


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory):
    """The demo export checked with note text, and its report."""
    out = tmp_path_factory.mktemp("demo")
    run_check([DEMO], out, DEMO_MAPPING, include_text=True, progress=False, model=None)  # rules: stable across model versions
    write_report(out, generated="2026-01-01")
    return out


@pytest.fixture()
def demo_copy(demo_results, tmp_path):
    dst = tmp_path / "res"
    shutil.copytree(demo_results, dst)
    return dst


def write_evil_export(path: Path) -> Path:
    rows = [
        ["note_id", "case_id", "date", "note_type", "author", "team", "text"],
        ["N<1>", f"C{EVIL}", "2026-01-05", f"Visit{EVIL}", f'A"><img src=x onerror=alert(1)>', "Team & <b>",
         f"Spoke to Mrs A alone. She said {EVIL} she wants to stay at home. Son took her bank card."],
        ["N2", f"C{EVIL}", "2026-02-05", "Closure summary", "B", "Team & <b>",
         "=HYPERLINK(\"http://x\")\x07 Case closed."],
    ]
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


# --- notes.jsonl: report fields always, text only on request ----------------------------------------------------

def test_notes_jsonl_has_metadata_and_no_text_by_default(tmp_path):
    run_check([DEMO], tmp_path, DEMO_MAPPING, progress=False)
    notes = read_jsonl(tmp_path / "notes.jsonl")
    assert all("text" not in n for n in notes)
    n = notes[0]
    assert (n["date"], n["note_type"], n["author"], n["team"]) == ("2026-02-03T09:12:00", "Safeguarding concern",
                                                                   "J. Marsh", "ASC Duty")
    # existing keys are all still there
    assert set(n) >= {"note_id", "case_id", "source", "row", "evidence", "triggers", "flags", "closing",
                      "discounted", "html_stripped", "warnings"}
    with open(tmp_path / "notes.csv", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header[-len(REVIEWER_COLUMNS):] == list(REVIEWER_COLUMNS)
    with open(tmp_path / "cases.csv", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header[-len(CASE_REVIEWER_COLUMNS):] == list(CASE_REVIEWER_COLUMNS)


def test_include_text_adds_the_note_text(demo_results):
    notes = read_jsonl(demo_results / "notes.jsonl")
    with open(DEMO, encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    assert notes[0]["text"] == first["Case Note"]
    for n in notes:  # every evidence offset points into the text
        for e in n["evidence"] + n["triggers"]:
            assert n["text"][e["start"]:e["end"]] == e["text"]


def test_cli_check_report_implies_text(tmp_path, capsys):
    src = write_evil_export(tmp_path / "in.csv")
    out = tmp_path / "o"
    assert main(["check", str(src), "-o", str(out), "--report"]) == 0
    assert (out / "report.html").exists() and (out / "report.xlsx").exists()
    assert all("text" in n for n in read_jsonl(out / "notes.jsonl"))
    assert "report.html" in capsys.readouterr().out


def test_cli_check_include_text_flag(tmp_path):
    src = write_evil_export(tmp_path / "in.csv")
    assert main(["check", str(src), "-o", str(tmp_path / "a")]) == 0
    assert main(["check", str(src), "-o", str(tmp_path / "b"), "--include-text"]) == 0
    assert all("text" not in n for n in read_jsonl(tmp_path / "a" / "notes.jsonl"))
    assert all("text" in n for n in read_jsonl(tmp_path / "b" / "notes.jsonl"))
    assert not (tmp_path / "b" / "report.html").exists()


def test_cli_report_on_missing_folder(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "notes.jsonl" in capsys.readouterr().err


# --- report content -----------------------------------------------------------------------------------------------

def test_summary_counts_match_the_results(demo_results):
    res = load_results(demo_results)
    s = summarise(res)
    notes, cases = read_jsonl(demo_results / "notes.jsonl"), read_jsonl(demo_results / "cases.jsonl")
    assert (s.notes, s.cases) == (30, 10) == (len(notes), len(cases))
    for code in S.FLAG_CODES:
        assert s.case_flags[code] == sum(code in {f["code"] for f in c["flags"]} for c in cases)
        assert s.note_flags[code] == sum(code in {f["code"] for f in n["flags"]} for n in notes)
        assert s.case_flags[code] <= s.case_applicable[code] <= s.cases
    assert s.closed_cases == sum(c["closing"] for c in cases)
    page = (demo_results / "report.html").read_text(encoding="utf-8")
    for code in S.FLAG_CODES:
        row = re.search(rf'<tr data-flag="{code}">.*?</tr>', page).group(0)
        cells = re.findall(r'<td class="num">([\d,]+)</td>', row)
        assert cells == [str(s.case_flags[code]), str(s.note_flags[code])]
    assert '<div class="n">30</div><div class="l">notes checked</div>' in page
    assert '<div class="n">10</div><div class="l">cases checked</div>' in page


def test_msp_measures(demo_results):
    cases = read_jsonl(demo_results / "cases.jsonl")
    s = summarise(load_results(demo_results))
    m = {x.key: x for x in s.measures}
    assert (m["views"].numerator, m["views"].denominator) == (
        sum(S.ADULT_VIEWS in c["evidence"] for c in cases), len(cases))
    assert (m["outcome"].numerator, m["outcome"].denominator) == (
        sum(S.DESIRED_OUTCOME in c["evidence"] for c in cases), len(cases))
    closed = [c for c in cases if c["closing"]]
    assert closed and (m["review"].numerator, m["review"].denominator) == (
        sum(S.OUTCOME_REVIEWED in c["evidence"] for c in closed), len(closed))
    page = (demo_results / "report.html").read_text(encoding="utf-8")
    block = re.search(r'<div class="measure" id="measure-review">.*?</div></div>', page).group(0)
    assert f"{m['review'].numerator} of {len(closed)} cases" in block
    assert "Safeguarding Adults Collection" in page


def test_breakdowns_by_team_author_type_and_month(demo_results):
    s = summarise(load_results(demo_results))
    assert set(s.breakdowns) == {"team", "author", "note_type", "month"}
    assert [g.name for g in s.breakdowns["month"]] == ["2026-01", "2026-02", "2026-03"]
    assert sum(g.notes for g in s.breakdowns["team"]) == 30
    page = (demo_results / "report.html").read_text(encoding="utf-8")
    for key in ("team", "author", "note_type", "month"):
        assert f'data-breakdown="{key}"' in page
    assert '<svg class="months"' in page


def test_breakdowns_absent_without_columns(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("note_id,text\n1,Spoke to Mrs A alone.\n2,She said she is fine.\n", encoding="utf-8")
    run_check([src], tmp_path / "o", include_text=True, progress=False)
    s = summarise(load_results(tmp_path / "o"))
    assert s.breakdowns == {}
    page = render_html(load_results(tmp_path / "o"), s)
    assert "data-breakdown" not in page


def test_every_label_has_a_distinct_colour_and_is_spelled_as_the_spec(demo_results):
    assert set(LABEL_COLOURS) == set(S.ALL_LABELS)
    assert len(set(LABEL_COLOURS.values())) == len(S.ALL_LABELS)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in LABEL_COLOURS.values())
    page = (demo_results / "report.html").read_text(encoding="utf-8")
    for lab in S.ALL_LABELS:
        assert f">{lab}</span>" in page  # in the legend
    for labels in re.findall(r'<mark class="hl[^"]*"[^>]*? data-labels="([^"]*)"', page):
        assert set(labels.split()) <= set(S.ALL_LABELS)
    for flags in re.findall(r'data-flags="([^"]*)"', page):
        assert set(flags.split()) <= set(S.FLAG_CODES)


def test_every_span_is_highlighted_with_label_and_score(demo_results):
    notes = read_jsonl(demo_results / "notes.jsonl")
    page = (demo_results / "report.html").read_text(encoding="utf-8")
    total = 0
    for n in notes:
        art = re.search(rf'<article class="note" id="n\d+" data-note-id="{re.escape(n["note_id"])}">.*?</article>',
                        page, re.S).group(0)
        titles = [html.unescape(t) for t in re.findall(r'<mark class="hl[^"]*"[^>]*title="([^"]*)"', art)]
        for f in n["evidence"] + n["triggers"]:
            kind = "evidence" if f in n["evidence"] else "trigger"
            line = f"{f['label']} ({kind}) · score {f['score']:.2f} · {f['start']}-{f['end']}"
            assert any(line in t.split("\n") for t in titles), (n["note_id"], line)
            total += 1
        # the note text is all there, in order, once the tags are taken out
        body = re.search(r'<div class="text">(.*?)</div>', art, re.S).group(1)
        body = re.sub(r'<span class="tag [et][^"]*"[^>]*>[^<]*</span>', "", body)
        assert html.unescape(re.sub(r"<[^>]+>", "", body)) == n["text"]
    assert total > 50


def test_highlight_overlapping_spans():
    text = "Mrs A said she wants to stay at home. Son took her card."
    note = {"evidence": [{"label": "adult_views", "start": 0, "end": 37, "score": 0.9},
                         {"label": "desired_outcome", "start": 14, "end": 37, "score": 0.8}],
            "triggers": [{"label": "third_party_harm", "start": 38, "end": 56, "score": 0.7}],
            "discounted": [{"label": "consent", "start": 38, "end": 41, "reason": "negated"}]}
    out = highlight(text, note)
    marks = re.findall(r'<mark class="hl[^"]*"[^>]*? data-labels="([^"]*)"', out)
    assert marks == ["adult_views", "adult_views desired_outcome", "third_party_harm", "third_party_harm"]
    assert "desired_outcome (evidence) · score 0.80" in out
    assert 'title="consent not counted: negated' in html.unescape(out) or "consent not counted: negated" in out
    assert len(re.findall(r'class="tag e c-', out)) == 2 and len(re.findall(r'class="tag t c-', out)) == 1
    assert 'class="hl c-adult_views"' in out and 'style="--bg:#2563eb22;--sh:inset 0 -2px 0 #2563eb, ' in out
    # out-of-range or reversed offsets are ignored, never break the page
    bad = {"evidence": [{"label": "consent", "start": 50, "end": 10 ** 6, "score": 1},
                        {"label": "consent", "start": 9, "end": 3, "score": 1}], "triggers": []}
    assert html.unescape(re.sub(r"<[^>]+>", "", highlight(text, bad))).replace("consent", "") == text


def test_everything_is_escaped(tmp_path):
    src = write_evil_export(tmp_path / "in.csv")
    out = tmp_path / "o"
    run_check([src], out, include_text=True, progress=False)
    write_report(out)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<script") == 1  # ours only
    assert "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "N&lt;1&gt;" in page and "Team &amp; &lt;b&gt;" in page
    # without text too
    (out / "report.html").unlink()
    notes = read_jsonl(out / "notes.jsonl")
    with open(out / "notes.jsonl", "w", encoding="utf-8") as f:
        for n in notes:
            n.pop("text")
            f.write(json.dumps(n) + "\n")
    write_report(out)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<script") == 1 and "<img" not in page


def test_self_contained_with_csp(demo_results):
    page = (demo_results / "report.html").read_text(encoding="utf-8")
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}
    js = re.search(r"<script>(.*)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(js.encode()).digest()).decode()
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp


def test_disclaimer_and_privacy_notice(demo_results):
    page = (demo_results / "report.html").read_text(encoding="utf-8")
    assert "Flags are prompts for a human reviewer, not judgements." in page
    assert 'id="privacy"' in page and 'id="no-text"' not in page


def test_report_without_text_shows_sentences_only(tmp_path):
    run_check([DEMO], tmp_path, DEMO_MAPPING, progress=False)  # no text
    assert main(["report", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="no-text"' in page and 'id="privacy"' not in page
    assert '<div class="text">' not in page
    assert "Edna told me" in page  # an evidence sentence
    assert "Lives with grandson Kyle who is her main carer." not in page  # a sentence that is no evidence
    assert page.count('<details class="case"') == 10


def test_case_notes_in_date_order_and_flags_with_reasons(demo_results):
    page = (demo_results / "report.html").read_text(encoding="utf-8")
    cases = read_jsonl(demo_results / "cases.jsonl")
    for c in cases:
        block = re.search(rf'<details class="case" id="case-\d+" data-case-id="{re.escape(c["case_id"])}".*?'
                          rf'</details>', page, re.S).group(0)
        assert re.findall(r'data-note-id="([^"]+)"', block) == c["note_ids"]
        for f in c["flags"]:
            assert html.escape(f["reason"]) in block
    assert '<select id="flag-filter">' in page and 'id="search"' in page


def test_max_cases(demo_copy):
    assert main(["report", str(demo_copy), "--max-cases", "3"]) == 0
    page = (demo_copy / "report.html").read_text(encoding="utf-8")
    assert page.count('<details class="case"') == 3 and "first 3 of 10 cases" in page


# --- report.xlsx ----------------------------------------------------------------------------------------------------

def test_xlsx_sheets_filters_and_frozen_headers(demo_results):
    wb = openpyxl.load_workbook(demo_results / "report.xlsx")
    assert wb.sheetnames[:3] == ["summary", "cases", "notes"]
    for name in ("summary", "cases", "notes"):
        ws = wb[name]
        assert ws.auto_filter.ref and ws.freeze_panes
    notes, cases = wb["notes"], wb["cases"]
    nhead = [c.value for c in notes[1]]
    assert nhead[-len(REVIEWER_COLUMNS):] == list(REVIEWER_COLUMNS) and "text" in nhead
    assert notes.max_row == 31 and cases.max_row == 11
    chead = [c.value for c in cases[1]]
    assert chead[-len(CASE_REVIEWER_COLUMNS):] == list(CASE_REVIEWER_COLUMNS)
    summ = {(r[0], r[1]): r[2] for r in wb["summary"].iter_rows(min_row=4, values_only=True)}
    assert summ[("notes", "notes checked")] == 30 and summ[("cases", "cases checked")] == 10
    assert ("case flag", "views_missing") in summ


def test_xlsx_text_never_becomes_a_formula(tmp_path):
    src = write_evil_export(tmp_path / "in.csv")
    out = tmp_path / "o"
    run_check([src], out, include_text=True, progress=False)
    write_report(out)
    ws = openpyxl.load_workbook(out / "report.xlsx")["notes"]
    head = [c.value for c in ws[1]]
    cell = ws.cell(row=3, column=head.index("text") + 1)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK") and "\x07" not in cell.value


# --- feedback -------------------------------------------------------------------------------------------------------

def _mark_csv(path: Path, key: str, marks: dict[str, dict[str, str]]) -> None:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r.update(marks.get(r[key], {}))
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_feedback_round_trip_from_csv(demo_copy, capsys):
    notes = {n["note_id"]: n for n in read_jsonl(demo_copy / "notes.jsonl")}
    n2 = notes["N-50002"]
    views = [e for e in n2["evidence"] if e["label"] == S.ADULT_VIEWS][0]
    quote = "wants to stay in her own home"
    assert quote in n2["text"]
    _mark_csv(demo_copy / "notes.csv", "note_id", {
        "N-50002": {"reviewer_wrong_evidence": f"partner_referral; adult_views@{views['start']}-{views['end']}",
                    "reviewer_missing_evidence": f'less_restrictive: "{quote}"; advocacy',
                    "reviewer_comment": "GP consent is not a referral"},
        "N-50001": {"reviewer_wrong_flags": "Views missing"},
    })
    _mark_csv(demo_copy / "cases.csv", "case_id", {"ENQ-1003": {"reviewer_wrong_flags": "coercion_unexplored"}})
    out = demo_copy / "ann.jsonl"
    assert main(["feedback", str(demo_copy / "notes.csv"), str(demo_copy / "cases.csv"), "-o", str(out)]) == 0
    recs = {r["note_id"]: r for r in read_jsonl(out)}
    case3 = [n for n in notes.values() if n["case_id"] == "ENQ-1003"]
    assert set(recs) == {"N-50001", "N-50002"} | {n["note_id"] for n in case3}
    r2 = recs["N-50002"]
    spans = {(s["label"], s["start"], s["end"]) for s in r2["spans"]}
    assert not any(s[0] == "partner_referral" for s in spans)
    assert (S.ADULT_VIEWS, views["start"], views["end"]) not in spans
    pos = n2["text"].index(quote)
    assert ("less_restrictive", pos, pos + len(quote)) in spans
    fb = r2["feedback"]
    assert fb["reviewed"] == "note" and fb["labels_present_unlocated"] == ["advocacy"]
    assert fb["comments"] == ["GP consent is not a referral"] and len(fb["added"]) == 1
    assert {s["label"] for s in fb["removed"]} == {"partner_referral", S.ADULT_VIEWS}
    # unchanged spans are kept
    kept = {(e["label"], e["start"], e["end"]) for e in n2["evidence"] + n2["triggers"]} - \
        {(s["label"], s["start"], s["end"]) for s in fb["removed"]}
    assert kept <= spans
    r1 = recs["N-50001"]
    assert r1["feedback"]["wrong_flags"] == ["views_missing"]
    assert r1["feedback"]["labels_present_unlocated"] == [S.ADULT_VIEWS]  # views_missing wrong: views are there
    for n in case3:
        assert recs[n["note_id"]]["feedback"]["case_wrong_flags"] == ["coercion_unexplored"]
        assert recs[n["note_id"]]["feedback"]["reviewed"] == "case"
    # the training loader reads the records as annotated notes
    loaded = {n.note_id: n for n in load(out)}
    assert loaded["N-50002"].text == n2["text"] and "less_restrictive" in loaded["N-50002"].labels
    assert "annotation records" in capsys.readouterr().out


def test_feedback_from_the_xlsx_notes_sheet(demo_copy):
    wb = openpyxl.load_workbook(demo_copy / "report.xlsx")
    ws = wb["notes"]
    head = [c.value for c in ws[1]]
    ws.cell(row=2, column=head.index("reviewer_wrong_evidence") + 1, value="capacity_concern")
    ws.cell(row=2, column=head.index("reviewer_missing_evidence") + 1,
            value="Desired outcome: \u201chandles her roughly\u201d")
    wb.save(demo_copy / "marked.xlsx")
    text = read_jsonl(demo_copy / "notes.jsonl")[0]["text"]
    assert "handles her roughly" in text
    s = collect([demo_copy / "marked.xlsx"], demo_copy / "ann.jsonl")
    assert s.records == 1 and s.spans_removed == 1 and s.spans_added == 1
    rec = read_jsonl(demo_copy / "ann.jsonl")[0]
    assert "capacity_concern" not in {x["label"] for x in rec["spans"]}
    pos = text.index("handles her roughly")
    assert {"label": "desired_outcome", "start": pos, "end": pos + 19} in rec["spans"]
    # a quote (straight or curly) may hold ';'
    assert parse_missing_evidence("desired_outcome: \u201ca; b\u201d; advocacy")[0] == [
        ("desired_outcome", "a; b"), ("advocacy", None)]


def test_feedback_rejects_bad_marks_and_writes_nothing(demo_copy, capsys):
    _mark_csv(demo_copy / "notes.csv", "note_id", {
        "N-50001": {"reviewer_wrong_flags": "views_mising"},
        "N-50002": {"reviewer_wrong_evidence": "refusal_explored"},  # not found by the checker in that note
        "N-50003": {"reviewer_missing_evidence": 'consent: "words that are not in the note"'},
    })
    out = demo_copy / "ann.jsonl"
    assert main(["feedback", str(demo_copy), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown flag code 'views_mising'" in err and "views_missing" in err
    assert "did not find refusal_explored" in err and "reviewer_missing_evidence" in err
    assert "not in the note text" in err
    assert not out.exists()
    with pytest.raises(FeedbackError):
        collect([demo_copy / "notes.csv"], out)


def test_feedback_without_text(tmp_path):
    run_check([DEMO], tmp_path, DEMO_MAPPING, progress=False)
    _mark_csv(tmp_path / "notes.csv", "note_id", {"N-50001": {"reviewer_missing_evidence": "consent"}})
    s = collect([tmp_path], tmp_path / "ann.jsonl")
    rec = read_jsonl(tmp_path / "ann.jsonl")[0]
    assert s.records == 1 and s.with_text == 0 and "text" not in rec
    assert rec["feedback"]["text_available"] is False and rec["feedback"]["labels_present_unlocated"] == ["consent"]
    _mark_csv(tmp_path / "notes.csv", "note_id", {"N-50001": {"reviewer_missing_evidence": 'consent: "Mrs H"'}})
    with pytest.raises(FeedbackError, match="no note text"):
        collect([tmp_path], tmp_path / "ann2.jsonl")


def test_feedback_needs_reviewer_columns(tmp_path, capsys):
    (tmp_path / "notes.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "x.csv").write_text("note_id,foo\n1,2\n", encoding="utf-8")
    assert main(["feedback", str(tmp_path / "x.csv")]) == 2
    assert "reviewer columns" in capsys.readouterr().err
