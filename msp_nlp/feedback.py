"""Reviewer feedback: marks a reviewer makes in the results' spreadsheets, turned into annotation records.

A reviewer reads ``report.html`` and marks what the checker got wrong in the reviewer columns of the notes sheet
(``notes.csv`` or the ``notes`` sheet of ``report.xlsx``) and of the cases sheet (``cases.csv`` / ``cases``):

``reviewer_wrong_flags`` (notes and cases)
    flag codes (``;``-separated) that should not have been raised on this note / case, e.g. ``views_missing``.
``reviewer_wrong_evidence`` (notes)
    evidence labels or triggers the checker found in this note but that are wrong: ``consent`` (every span of the
    label in the note) or ``consent@120-184`` (one span; the offsets are shown in the report and the notes sheet).
``reviewer_missing_evidence`` (notes)
    labels the checker missed in this note: ``desired_outcome`` or, better, with the words that carry it,
    ``desired_outcome: "wants to stay at home"`` (first occurrence in the note text; the quote may hold ``;``).
``reviewer_comment`` (notes and cases)
    free text, kept with the record.

Codes and labels are those of :mod:`msp_nlp.spec`; case, spaces and ``-`` are forgiven (``Adult views`` is
``adult_views``), ``,`` also separates codes, and curly quotes are straight quotes.

:func:`collect` reads the marks and writes one JSON object per marked note, in the format of
``data/annotated/*.jsonl`` (``note_id``, ``case_id``, ``date``, ``note_type``, ``author``, ``team``, ``closing``,
``text`` when the results hold it, ``spans`` = the checker's spans corrected by the reviewer) plus a ``feedback``
object saying what the reviewer changed. Invalid marks are all reported together and nothing is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import spec as S

REVIEWER_WRONG_FLAGS = "reviewer_wrong_flags"
REVIEWER_WRONG_EVIDENCE = "reviewer_wrong_evidence"
REVIEWER_MISSING_EVIDENCE = "reviewer_missing_evidence"
REVIEWER_COMMENT = "reviewer_comment"

#: Reviewer columns of the notes sheet (``notes.csv``, ``report.xlsx`` ``notes``), empty when written.
REVIEWER_COLUMNS: tuple[str, ...] = (REVIEWER_WRONG_FLAGS, REVIEWER_WRONG_EVIDENCE, REVIEWER_MISSING_EVIDENCE,
                                     REVIEWER_COMMENT)
#: Reviewer columns of the cases sheet (``cases.csv``, ``report.xlsx`` ``cases``).
CASE_REVIEWER_COLUMNS: tuple[str, ...] = (REVIEWER_WRONG_FLAGS, REVIEWER_COMMENT)


class FeedbackError(ValueError):
    """Unusable feedback: ``problems`` lists every problem found (file, row, id, what to do)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the reviewer columns: " + " | ".join(problems[:5]) +
                         (" ..." if len(problems) > 5 else ""))


@dataclass
class Marks:
    """What reviewers marked on one note (or one case)."""

    wrong_flags: list[str] = field(default_factory=list)
    wrong_evidence: list[tuple[str, int | None, int | None]] = field(default_factory=list)  # label, start, end
    missing_evidence: list[tuple[str, str | None]] = field(default_factory=list)  # label, quote
    comments: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)  # "notes.csv row 3"

    def empty(self) -> bool:
        return not (self.wrong_flags or self.wrong_evidence or self.missing_evidence or self.comments)

    def merge(self, other: "Marks") -> None:
        for name in ("wrong_flags", "wrong_evidence", "missing_evidence", "comments", "where"):
            mine = getattr(self, name)
            for x in getattr(other, name):
                if x not in mine:
                    mine.append(x)


@dataclass
class FeedbackSummary:
    records: int = 0
    with_text: int = 0
    spans_removed: int = 0
    spans_added: int = 0
    labels_unlocated: int = 0
    wrong_flags: int = 0
    case_wrong_flags: int = 0
    sources: list[str] = field(default_factory=list)
    out: str = ""


# --- parsing the cells ------------------------------------------------------------------------------------------

_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})


def norm_code(s: str) -> str:
    """``'Adult views '`` -> ``'adult_views'``."""
    return re.sub(r"[\s\-]+", "_", s.strip().casefold()).strip("_")


def _split_items(cell: str) -> list[str]:
    """Split on ``;`` (and newlines) outside double quotes."""
    out, cur, quoted = [], [], False
    for ch in cell.translate(_QUOTES):
        if ch == '"':
            quoted = not quoted
        if ch in ";\n\r" and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [x.strip() for x in out if x.strip()]


def _codes(cell: str) -> list[str]:
    return [norm_code(x) for x in re.split(r"[;,\n\r]+", cell) if x.strip()]


def _valid(code: str, allowed: Iterable[str], kind: str) -> str | None:
    allowed = tuple(allowed)
    if code in allowed:
        return None
    return f"unknown {kind} {code!r}; use one of: {', '.join(allowed)}"


_SPAN_RE = re.compile(r"^(?P<label>[^@:]+?)\s*(?:@\s*(?P<start>\d+)\s*-\s*(?P<end>\d+))?\s*$")
_MISSING_RE = re.compile(r'^(?P<label>[^:"]+?)\s*(?::\s*(?P<quote>.*))?$', re.S)


def parse_wrong_evidence(cell: str) -> tuple[list[tuple[str, int | None, int | None]], list[str]]:
    items, problems = [], []
    for part in re.split(r"[;,\n\r]+", cell):
        if not part.strip():
            continue
        m = _SPAN_RE.match(part.strip())
        if not m:
            problems.append(f"cannot read {part.strip()!r}: write a label, or label@start-end")
            continue
        label = norm_code(m["label"])
        p = _valid(label, S.ALL_LABELS, "label")
        if p:
            problems.append(p)
            continue
        start = int(m["start"]) if m["start"] else None
        end = int(m["end"]) if m["end"] else None
        items.append((label, start, end))
    return items, problems


def parse_missing_evidence(cell: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    items, problems = [], []
    for part in _split_items(cell):
        m = _MISSING_RE.match(part)
        if not m:
            problems.append(f'cannot read {part!r}: write a label, or label: "words from the note"')
            continue
        label = norm_code(m["label"])
        p = _valid(label, S.ALL_LABELS, "label")
        if p:
            problems.append(p)
            continue
        quote = m["quote"]
        if quote is not None:
            quote = quote.strip()
            if len(quote) >= 2 and quote[0] == quote[-1] == '"':
                quote = quote[1:-1]
            quote = quote.strip() or None
        items.append((label, quote))
    return items, problems


def parse_wrong_flags(cell: str) -> tuple[list[str], list[str]]:
    items, problems = [], []
    for code in _codes(cell):
        p = _valid(code, S.FLAG_CODES, "flag code")
        if p:
            problems.append(p)
        elif code not in items:
            items.append(code)
    return items, problems


# --- reading the sheets -----------------------------------------------------------------------------------------

def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _read_csv_rows(path: Path) -> Iterable[list[str]]:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            s = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    first = s.split("\n", 1)[0]
    delim = ","
    if "," not in first:  # Excel in some locales saves with ';' or tabs
        delim = ";" if ";" in first else ("\t" if "\t" in first else ",")
    return list(csv.reader(io.StringIO(s, newline=""), delimiter=delim))


def _read_xlsx_tables(path: Path) -> list[tuple[str, list[list[str]]]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        out = []
        for ws in wb.worksheets:
            if not hasattr(ws, "iter_rows"):
                continue
            rows = [[_cell(c) for c in r] for r in ws.iter_rows(values_only=True)]
            out.append((ws.title, rows))
        return out
    finally:
        wb.close()


def _tables(path: Path) -> list[tuple[str, list[list[str]]]]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return [(f"{path.name} sheet {t}", rows) for t, rows in _read_xlsx_tables(path)]
    return [(path.name, _read_csv_rows(path))]


def _header_index(rows: list[list[str]]) -> tuple[int, dict[str, int]] | None:
    """Find the header row (the first holding ``note_id`` or ``case_id``) within the first rows."""
    for i, r in enumerate(rows[:10]):
        names = {norm_code(c): j for j, c in enumerate(r) if c}
        if "note_id" in names or "case_id" in names:
            return i, names
    return None


def read_marks(paths: Iterable[Path]) -> tuple[dict[str, Marks], dict[str, Marks], list[str], list[str]]:
    """Read the reviewer columns of the given sheets: ``(note marks, case marks, problems, sources used)``."""
    note_marks: dict[str, Marks] = {}
    case_marks: dict[str, Marks] = {}
    problems: list[str] = []
    used: list[str] = []
    for path in paths:
        for where, rows in _tables(path):
            hi = _header_index(rows)
            if hi is None:
                continue
            h, idx = hi
            cols = [c for c in REVIEWER_COLUMNS if c in idx]
            if not cols:
                continue
            is_notes = "note_id" in idx
            key_col = idx["note_id" if is_notes else "case_id"]
            used.append(where)
            for rn, r in enumerate(rows[h + 1:], start=h + 2):
                def get(c):
                    j = idx.get(c)
                    return r[j] if j is not None and j < len(r) else ""
                if not any(get(c) for c in cols):
                    continue
                key = r[key_col] if key_col < len(r) else ""
                loc = f"{where} row {rn}" + (f" ({'note' if is_notes else 'case'} {key})" if key else "")
                if not key:
                    problems.append(f"{loc}: reviewer columns filled but {'note_id' if is_notes else 'case_id'} "
                                    "is empty")
                    continue
                m = Marks(where=[loc])
                flags, p1 = parse_wrong_flags(get(REVIEWER_WRONG_FLAGS))
                m.wrong_flags = flags
                probs = [f"{loc}: {REVIEWER_WRONG_FLAGS}: {p}" for p in p1]
                if is_notes:
                    ev, p2 = parse_wrong_evidence(get(REVIEWER_WRONG_EVIDENCE))
                    miss, p3 = parse_missing_evidence(get(REVIEWER_MISSING_EVIDENCE))
                    m.wrong_evidence, m.missing_evidence = ev, miss
                    probs += [f"{loc}: {REVIEWER_WRONG_EVIDENCE}: {p}" for p in p2]
                    probs += [f"{loc}: {REVIEWER_MISSING_EVIDENCE}: {p}" for p in p3]
                elif get(REVIEWER_WRONG_EVIDENCE) or get(REVIEWER_MISSING_EVIDENCE):
                    probs.append(f"{loc}: evidence is marked per note: use the notes sheet for "
                                 f"{REVIEWER_WRONG_EVIDENCE} / {REVIEWER_MISSING_EVIDENCE}")
                if get(REVIEWER_COMMENT):
                    m.comments.append(get(REVIEWER_COMMENT))
                problems.extend(probs)
                target = note_marks if is_notes else case_marks
                target.setdefault(key, Marks()).merge(m)
    return note_marks, case_marks, problems, used


# --- building the records ---------------------------------------------------------------------------------------

def _span(label: str, start: int, end: int) -> dict:
    return {"label": label, "start": start, "end": end}


def _sorted_unique(spans: list[dict]) -> list[dict]:
    out: list[dict] = []
    for s in sorted(spans, key=lambda d: (d["start"], d["end"], d["label"])):
        if not out or out[-1] != s:
            out.append(s)
    return out


def annotation_record(note: dict, marks: Marks | None, case_flag_marks: Marks | None = None
                      ) -> tuple[dict, list[str]]:
    """One annotation record for a note of ``notes.jsonl`` and the reviewer's marks on it (and on its case)."""
    problems: list[str] = []
    marks = marks or Marks()
    loc = "; ".join(marks.where) or f"note {note['note_id']}"
    text = note.get("text")
    found = [_span(f["label"], int(f["start"]), int(f["end"])) for f in note.get("evidence", []) +
             note.get("triggers", [])]
    removed: list[dict] = []
    for label, start, end in marks.wrong_evidence:
        hit = [s for s in found if s["label"] == label and (start is None or (s["start"], s["end"]) == (start, end))]
        if not hit:
            have = sorted({f"{s['label']}@{s['start']}-{s['end']}" for s in found if s["label"] == label})
            what = f"{label}@{start}-{end}" if start is not None else label
            problems.append(f"{loc}: {REVIEWER_WRONG_EVIDENCE}: the checker did not find {what} in this note"
                            + (f" (it found {', '.join(have)})" if have else
                               f"; if {label} is missing, write it in {REVIEWER_MISSING_EVIDENCE}"))
            continue
        for s in hit:
            if s not in removed:
                removed.append(s)
    spans = [s for s in found if s not in removed]
    added: list[dict] = []
    unlocated: list[str] = []
    for label, quote in marks.missing_evidence:
        if quote is None:
            if label not in unlocated:
                unlocated.append(label)
            continue
        if text is None:
            problems.append(f"{loc}: {REVIEWER_MISSING_EVIDENCE}: the results hold no note text, so the quote for "
                            f"{label} cannot be placed; run `msp-nlp check --include-text` (or --report) again, or "
                            "give the label without a quote")
            continue
        pos = text.find(quote)
        if pos < 0:
            pos = text.casefold().find(quote.casefold())
        if pos < 0:
            problems.append(f"{loc}: {REVIEWER_MISSING_EVIDENCE}: the quote for {label} is not in the note text; "
                            "copy the words exactly from the note")
            continue
        s = _span(label, pos, pos + len(quote))
        if s not in spans:
            added.append(s)
    spans = _sorted_unique(spans + added)
    located = {s["label"] for s in spans}
    # An unconditional flag marked wrong means its evidence is in the note after all (where, the reviewer did not say).
    implied: list[str] = []
    for code in marks.wrong_flags:
        flag = S.FLAGS_BY_CODE[code]
        raised = {f["code"] for f in note.get("flags", [])}
        if code not in raised:
            problems.append(f"{loc}: {REVIEWER_WRONG_FLAGS}: {code} was not raised on this note "
                            f"(raised: {', '.join(sorted(raised)) or 'none'})")
            continue
        if not flag.when_any and flag.missing not in located and flag.missing not in unlocated:
            implied.append(flag.missing)
    unlocated = [lab for lab in unlocated if lab not in located] + implied
    case_id = note.get("case_id") or note["note_id"]
    rec = {"note_id": note["note_id"], "case_id": case_id, "date": note.get("date"),
           "note_type": note.get("note_type"), "adult_name": None, "author": note.get("author"),
           "team": note.get("team"), "writer": None, "closing": bool(note.get("closing", False))}
    if text is not None:
        rec["text"] = text
    rec["spans"] = spans
    rec["feedback"] = {
        "source": "reviewer",
        # "note": the reviewer marked this note (its spans are the checker's, corrected by the reviewer);
        # "case": only its case was marked (its spans are the checker's, not reviewed one by one).
        "reviewed": "note" if not marks.empty() else "case",
        "spans_from": "msp-nlp check (rule pipeline)" + (", corrected by the reviewer" if not marks.empty() else ""),
        "removed": removed,
        "added": added,
        "labels_present_unlocated": unlocated,
        "wrong_flags": list(marks.wrong_flags),
        "case_wrong_flags": list(case_flag_marks.wrong_flags) if case_flag_marks else [],
        "comments": marks.comments + (case_flag_marks.comments if case_flag_marks else []),
        "marked_in": marks.where + (case_flag_marks.where if case_flag_marks else []),
        "text_available": text is not None,
    }
    return rec, problems


def _load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def resolve_sources(results: list[str | Path]) -> tuple[list[Path], Path]:
    """The sheets to read and the ``notes.jsonl`` they belong to, from folders and/or files."""
    sheets: list[Path] = []
    base: Path | None = None
    for r in results:
        p = Path(r)
        if p.is_dir():
            base = base or p
            for name in ("notes.csv", "cases.csv", "report.xlsx"):
                if (p / name).exists():
                    sheets.append(p / name)
        elif p.exists():
            base = base or p.parent
            sheets.append(p)
        else:
            raise FeedbackError([f"{p}: no such file or folder"])
    if base is None:
        raise FeedbackError(["no results given"])
    return sheets, base / "notes.jsonl"


def collect(results: list[str | Path], out: str | Path, notes_jsonl: str | Path | None = None) -> FeedbackSummary:
    """Read reviewer marks from ``results`` (results folders, ``notes.csv``/``cases.csv``/``report.xlsx`` files)
    and write annotation records for every marked note to ``out``. Raises :class:`FeedbackError` listing every
    problem (nothing is written then)."""
    sheets, default_notes = resolve_sources(results)
    notes_path = Path(notes_jsonl) if notes_jsonl else default_notes
    if not notes_path.exists():
        raise FeedbackError([f"{notes_path}: not found; give the notes.jsonl of these results with --notes"])
    note_marks, case_marks, problems, used = read_marks(sheets)
    if not used:
        raise FeedbackError([f"none of {', '.join(str(s) for s in sheets) or 'the given files'} has reviewer "
                             f"columns ({', '.join(REVIEWER_COLUMNS)}); mark the notes.csv/cases.csv or the "
                             "report.xlsx written by msp-nlp"])
    notes = _load_jsonl(notes_path)
    by_id = {n["note_id"]: n for n in notes}
    case_of = {n["note_id"]: (n.get("case_id") or n["note_id"]) for n in notes}
    cases: dict[str, list[str]] = {}
    for nid, cid in case_of.items():
        cases.setdefault(cid, []).append(nid)
    for nid, m in note_marks.items():
        if nid not in by_id:
            problems.append(f"{'; '.join(m.where)}: note {nid!r} is not in {notes_path} (was the sheet from "
                            "another run, or did Excel change the id?)")
    case_raised: dict[str, set[str]] = {}
    cases_path = notes_path.parent / "cases.jsonl"
    if cases_path.exists():
        for c in _load_jsonl(cases_path):
            case_raised[c["case_id"]] = {f["code"] for f in c.get("flags", [])}
    for cid, m in case_marks.items():
        if cid not in cases:
            problems.append(f"{'; '.join(m.where)}: case {cid!r} is not in {notes_path}")
            continue
        if cid in case_raised:
            for code in m.wrong_flags:
                if code not in case_raised[cid]:
                    problems.append(f"{'; '.join(m.where)}: {REVIEWER_WRONG_FLAGS}: {code} was not raised on "
                                    f"this case (raised: {', '.join(sorted(case_raised[cid])) or 'none'})")
    records: list[dict] = []
    summary = FeedbackSummary(sources=used, out=str(out))
    marked_cases = {cid for cid, m in case_marks.items() if not m.empty()}
    for n in notes:
        nid = n["note_id"]
        m = note_marks.get(nid)
        cm = case_marks.get(case_of[nid]) if case_of[nid] in marked_cases else None
        if (m is None or m.empty()) and cm is None:
            continue
        rec, probs = annotation_record(n, m, cm)
        problems.extend(probs)
        records.append(rec)
    if problems:
        raise FeedbackError(problems)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fb = rec["feedback"]
            summary.records += 1
            summary.with_text += int("text" in rec)
            summary.spans_removed += len(fb["removed"])
            summary.spans_added += len(fb["added"])
            summary.labels_unlocated += len(fb["labels_present_unlocated"])
            summary.wrong_flags += len(fb["wrong_flags"])
            summary.case_wrong_flags += len(fb["case_wrong_flags"])
    return summary
