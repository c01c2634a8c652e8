"""The batch checker: records in, per-note and per-case results out (JSONL, CSV, errors file).

Memory stays bounded for any input size: records stream in chunks, per-note results are written as they come, and
the case level is built from a temporary SQLite table of compact per-note summaries (labels, offsets, scores: no
note text) grouped by case at the end.
"""

from __future__ import annotations

import csv
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import orjson

from . import spec as S
from .feedback import CASE_REVIEWER_COLUMNS, REVIEWER_COLUMNS
from .flags import NoteFindings, case_result, note_flags
from .io import ColumnMapping, Record, RowError, read_records
from .pipeline import Analyzer, Finding, NoteAnalysis

NOTE_CSV_COLUMNS = (["note_id", "case_id", "source", "row", "closing"] + list(S.EVIDENCE_LABELS) +
                    list(S.TRIGGERS) + list(S.FLAG_CODES) + list(REVIEWER_COLUMNS))
CASE_CSV_COLUMNS = (["case_id", "n_notes", "closing"] + list(S.EVIDENCE_LABELS) + list(S.TRIGGERS) +
                    list(S.FLAG_CODES) + list(CASE_REVIEWER_COLUMNS))
ERROR_CSV_COLUMNS = ["source", "row", "note_id", "field", "reason"]


@dataclass
class CheckSummary:
    notes: int = 0
    errors: int = 0
    cases: int = 0
    flags: dict[str, int] = field(default_factory=lambda: {c: 0 for c in S.FLAG_CODES})
    case_flags: dict[str, int] = field(default_factory=lambda: {c: 0 for c in S.FLAG_CODES})
    outdir: str = ""


# --- worker side ---------------------------------------------------------------------------------------------------

_ANALYZER: Analyzer | None = None


def _init_worker(model: str | None = "default") -> None:
    global _ANALYZER
    _ANALYZER = Analyzer(model=model)


def _analyse_chunk(items: list[tuple[str, str | None, str | None]]) -> list[NoteAnalysis]:
    assert _ANALYZER is not None
    return list(_ANALYZER.analyse_many(items))


def _analyses(chunks: Iterable[list[Record | RowError]], n_process: int, model: str | None = "default"
              ) -> Iterator[tuple[list[Record | RowError], list[NoteAnalysis]]]:
    """Yield each chunk with the analyses of its records (in order), in one or several processes."""
    def work(chunk):
        return [(r.text, r.note_type, r.adult_name) for r in chunk if isinstance(r, Record)]

    if n_process <= 1:
        _init_worker(model)
        for chunk in chunks:
            yield chunk, _analyse_chunk(work(chunk))
        return
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ctx.Pool(n_process, initializer=_init_worker, initargs=(model,)) as pool:
        # Keep a bounded number of chunks in flight so memory stays bounded.
        pending: list = []
        it = iter(chunks)
        for chunk in it:
            pending.append((chunk, pool.apply_async(_analyse_chunk, (work(chunk),))))
            if len(pending) >= n_process * 2:
                c, res = pending.pop(0)
                yield c, res.get()
        for c, res in pending:
            yield c, res.get()


# --- output ----------------------------------------------------------------------------------------------------------

def note_result(note_id: str, case_id: str | None, analysis: NoteAnalysis, **extra) -> dict:
    """The public shape of one checked note (a line of ``notes.jsonl``; also what the service returns)."""
    out = {
        "note_id": note_id,
        "case_id": case_id,
        "evidence": [f.as_dict() for f in analysis.evidence],
        "triggers": [f.as_dict() for f in analysis.triggers],
        "flags": note_flags(analysis),
        "closing": analysis.closing,
        "discounted": analysis.discounted,
    }
    out.update(extra)
    return out


def note_record(rec: Record, analysis: NoteAnalysis, include_text: bool = False) -> dict:
    """A line of ``notes.jsonl``. The note's date, type, author and team are always there (for the reviewer
    report); its full text only with ``include_text`` (case notes are special-category data)."""
    out = note_result(rec.note_id, rec.case_id, analysis, source=rec.source, row=rec.row,
                      html_stripped=rec.html_stripped, warnings=rec.warnings)
    out.update({"date": rec.date, "note_type": rec.note_type, "author": rec.author, "team": rec.team})
    if include_text:
        out["text"] = rec.text
    return out


def _dumps(obj) -> str:
    """Compact JSON (UTF-8, not ASCII-escaped). orjson: serialising the results was a tenth of a batch's time with
    the standard library's encoder; orjson takes a tenth of that."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def summary_json(analysis: NoteAnalysis) -> str:
    """A text-free summary of a note's findings (labels, offsets, scores, discounted reasons, closing), for stores
    that must never hold note text: the batch's case-level temp table and the service's case store."""
    d = {
        "e": [[f.label, f.start, f.end, f.score] for f in analysis.evidence],
        "t": [[f.label, f.start, f.end, f.score] for f in analysis.triggers],
        "d": [[d["label"], d["reason"]] for d in analysis.discounted],
        "c": analysis.closing,
    }
    if analysis.case_findings is not None:
        d["k"] = [[f.label, f.start, f.end, f.score] for f in analysis.case_findings]
    return _dumps(d)


def analysis_from_summary(s: str) -> NoteAnalysis:
    """Inverse of :func:`summary_json` (sentence texts are empty: they were never stored)."""
    d = orjson.loads(s)

    def mk(x):
        return Finding(x[0], x[1], x[2], "", x[3], x[1], x[2])
    return NoteAnalysis([mk(x) for x in d["e"]], [mk(x) for x in d["t"]],
                        [{"label": a, "reason": b} for a, b in d["d"]], d["c"],
                        [mk(x) for x in d["k"]] if "k" in d else None)


def _bits(labels: set[str], flags: set[str]) -> list[int]:
    return ([int(x in labels) for x in S.EVIDENCE_LABELS] + [int(x in labels) for x in S.TRIGGERS] +
            [int(x in flags) for x in S.FLAG_CODES])


def run_check(inputs: Sequence[str | Path], outdir: str | Path, mapping: ColumnMapping | None = None, *,
              n_process: int = 1, chunk_size: int = 1000, encoding: str | None = None,
              progress: bool | None = None, include_text: bool = False,
              model: str | None = "default") -> CheckSummary:
    """Check every note of ``inputs`` and write the results to ``outdir``. Raises :class:`InputError` on unusable
    input (before anything is written where possible). ``include_text`` adds each note's full text to
    ``notes.jsonl`` (off by default: case notes are special-category data; the reviewer report needs it)."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    summary = CheckSummary(outdir=str(out))
    total = None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=total, unit=" notes", disable=not show, file=sys.stderr) if tqdm else None

    tmp = tempfile.NamedTemporaryFile(prefix="msp-nlp-", suffix=".sqlite", delete=False, dir=None)
    tmp.close()
    db = sqlite3.connect(tmp.name)
    try:
        db.execute("CREATE TABLE n (ord INTEGER, case_id TEXT, note_id TEXT, date TEXT, summary TEXT)")
        chunks = read_records(inputs, mapping, chunk_size=chunk_size, encoding=encoding)
        with open(out / "notes.jsonl", "w", encoding="utf-8") as fj, \
                open(out / "notes.csv", "w", encoding="utf-8", newline="") as fc, \
                open(out / "errors.csv", "w", encoding="utf-8", newline="") as fe:
            wc, we = csv.writer(fc), csv.writer(fe)
            wc.writerow(NOTE_CSV_COLUMNS)
            we.writerow(ERROR_CSV_COLUMNS)
            order = 0
            for chunk, analyses in _analyses(chunks, n_process, model):
                ai = iter(analyses)
                rows = []
                for item in chunk:
                    if isinstance(item, RowError):
                        we.writerow([item.source, item.row, item.note_id or "", item.field or "", item.reason])
                        summary.errors += 1
                        continue
                    analysis = next(ai)
                    rec = note_record(item, analysis, include_text)
                    fj.write(_dumps(rec) + "\n")
                    fl = {f["code"] for f in rec["flags"]}
                    for c in fl:
                        summary.flags[c] += 1
                    wc.writerow([item.note_id, item.case_id or "", item.source, item.row, int(analysis.closing)] +
                                _bits(analysis.labels(), fl) + [""] * len(REVIEWER_COLUMNS))
                    case_id = item.case_id or item.note_id
                    rows.append((order, case_id, item.note_id, item.date, summary_json(analysis)))
                    order += 1
                    summary.notes += 1
                db.executemany("INSERT INTO n VALUES (?,?,?,?,?)", rows)
                if bar is not None:
                    bar.update(len(chunk))
        if bar is not None:
            bar.close()
        db.execute("CREATE INDEX n_case ON n (case_id, ord)")
        _write_cases(db, out, summary)
    finally:
        db.close()
        os.unlink(tmp.name)
    return summary


def _write_cases(db: sqlite3.Connection, out: Path, summary: CheckSummary) -> None:
    with open(out / "cases.jsonl", "w", encoding="utf-8") as fj, \
            open(out / "cases.csv", "w", encoding="utf-8", newline="") as fc:
        wc = csv.writer(fc)
        wc.writerow(CASE_CSV_COLUMNS)
        cur = db.execute("SELECT n.case_id, n.ord, n.note_id, n.date, n.summary FROM n JOIN "
                         "(SELECT case_id, MIN(ord) AS first FROM n GROUP BY case_id) f ON n.case_id = f.case_id "
                         "ORDER BY f.first, n.ord")
        current, notes = None, []

        def flush():
            if current is None:
                return
            res = case_result(current, notes)
            fj.write(_dumps(res.as_dict()) + "\n")
            codes = {f["code"] for f in res.flags}
            for c in codes:
                summary.case_flags[c] += 1
            wc.writerow([res.case_id, len(res.note_ids), int(res.closing)] +
                        _bits(set(res.evidence) | set(res.triggers), codes) + [""] * len(CASE_REVIEWER_COLUMNS))
            summary.cases += 1

        for case_id, order, note_id, date, s in cur:
            if case_id != current:
                flush()
                current, notes = case_id, []
            notes.append(NoteFindings(note_id, analysis_from_summary(s), date, order))
        flush()
