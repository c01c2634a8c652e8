"""The annotation loop: our annotated JSONL to and from Label Studio and spaCy, and what to annotate next.

* **Label Studio** (JSON task export): one task per note, ``{"id", "data": {"text", "note_id", "case_id", ...},
  "annotations": [{"result": [...]}]}``; every span is a ``labels`` region (``from_name="label"``,
  ``to_name="text"``, ``value: {start, end, text, labels: [code]}``, character offsets into ``data.text``) and the
  note's ``closing`` is a ``choices`` result (``from_name="closing"``). :func:`labelstudio_config` writes the
  labelling configuration that goes with it. On import, a task's annotation is used (the one marked
  ``ground_truth``, else the most recently updated, cancelled ones skipped); a task without any uses its
  model ``predictions`` (pre-filled by ``msp-nlp suggest``), and a task with neither is skipped and reported.
* **spaCy DocBin** (``.spacy``): one ``Doc`` per note on ``spacy.blank("en")``; spans in ``doc.spans["sc"]`` with
  the label codes (token-aligned with ``alignment_mode="expand"``); ``doc.user_data["msp_note"]`` holds the note's
  fields and ``doc.user_data["msp_spans"]`` the exact character offsets, so a round trip is exact. A span of
  ``sc`` edited in spaCy (no exact offsets recorded for it) is read from its token boundaries.
* **Suggestions** (:func:`suggest`): the sentences (or notes) the trained model is least sure about, ranked by
  :func:`uncertainty`, for the next annotation round.

Every problem found on import (unknown label, task without text, offsets outside the text ...) is collected and
reported with its task id / doc number and note id, and nothing is returned until all are fixed
(:class:`AnnotationFormatError`). Messages never contain note text.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence
from xml.sax.saxutils import quoteattr

import numpy as np

from . import spec as S
from .corpus import FIELDS, CorpusError, resolve_quotes

#: The note fields (everything of a record but its text and spans), in the order of the annotated JSONL.
NOTE_FIELDS: tuple[str, ...] = tuple(k for k in FIELDS if k not in ("text", "spans"))
LS_LABELS_NAME, LS_TEXT_NAME, LS_CLOSING_NAME = "label", "text", "closing"
CLOSING_YES, CLOSING_NO = "closing", "not closing"
DOCBIN_GROUP = "sc"
UD_NOTE, UD_SPANS = "msp_note", "msp_spans"
_TRUE = {"true", "1", "yes", "y", "closing", "closed"}
_FALSE = {"false", "0", "no", "n", "", "not closing", "none"}


class AnnotationFormatError(ValueError):
    """Annotations that cannot be converted; ``problems`` lists every one (task/doc and note named, no text)."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{self.problems[0] if self.problems else 'invalid annotations'}{more}")


@dataclass
class ImportSummary:
    """What an import read: records written, and which tasks came from predictions or were skipped."""

    source: str
    items: int = 0
    records: int = 0
    spans: int = 0
    from_predictions: list[str] = field(default_factory=list)  # task ids whose spans are the model's
    skipped: list[str] = field(default_factory=list)  # task ids with neither annotations nor predictions
    several_annotations: list[str] = field(default_factory=list)  # task ids where one of several was chosen
    edited_spans: int = 0  # DocBin spans without recorded exact offsets (taken from token boundaries)


# --- records (our annotated JSONL) ----------------------------------------------------------------------------------

def _opt(v: Any) -> Any:
    return None if isinstance(v, str) and not v.strip() else v


def _as_bool(v: Any, where: str, problems: list[str]) -> bool:
    if isinstance(v, bool):
        return v
    if v is None:
        return False
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    problems.append(f"{where}: closing must be true or false, got a {type(v).__name__}")
    return False


def canonical_record(rec: dict, where: str, problems: list[str]) -> dict | None:
    """A record in the exact shape of ``data/annotated/*.jsonl`` (fields in order, spans as sorted offsets; quotes
    resolved), or None with the problems appended. ``spans`` is None when the record has none at all (unlabelled)."""
    if not isinstance(rec, dict):
        problems.append(f"{where}: not a JSON object")
        return None
    note_id = rec.get("note_id")
    if note_id is None or str(note_id).strip() == "":
        problems.append(f"{where}: no note_id")
        return None
    where = f"{where} (note {note_id})"
    text = rec.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{where}: no text")
        return None
    out = {k: rec.get(k) for k in NOTE_FIELDS}
    out["note_id"] = str(note_id)
    out["closing"] = _as_bool(rec.get("closing", False), where, problems)
    out["text"] = text
    if rec.get("spans") is None:
        out["spans"] = None
        return out
    try:
        out["spans"] = resolve_quotes(rec, where)
    except (CorpusError, TypeError, ValueError) as e:
        msg = str(e)
        if "unknown label" in msg:
            msg += f"; labels must be codes of the spec {S.SPEC_VERSION} (see `msp-nlp schema`)"
        problems.append(msg)
        return None
    return out


def read_jsonl(paths: str | Path | Iterable[str | Path]) -> list[dict]:
    """Annotated (or unlabelled) JSONL records, validated; raises :class:`AnnotationFormatError` listing every
    problem. Note ids must be unique across the files."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    problems: list[str] = []
    records: list[dict] = []
    seen: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        try:
            fh = open(p, encoding="utf-8")
        except OSError as e:
            raise AnnotationFormatError([f"{p}: cannot open ({e.strerror or type(e).__name__})"]) from None
        with fh:
            for i, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{p.name}:{i}"
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as e:
                    problems.append(f"{where}: not JSON ({e.msg})")
                    continue
                rec = canonical_record(raw, where, problems)
                if rec is None:
                    continue
                if rec["note_id"] in seen:
                    problems.append(f"{where}: duplicate note_id {rec['note_id']} (also at {seen[rec['note_id']]})")
                    continue
                seen[rec["note_id"]] = where
                records.append(rec)
    if problems:
        raise AnnotationFormatError(problems)
    return records


def write_jsonl(records: Iterable[dict], path: str | Path) -> int:
    """Write records in the format of ``data/annotated/*.jsonl`` (what ``msp_nlp.corpus.load`` reads)."""
    n = 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps({k: (r.get(k) if k != "spans" else r.get("spans") or []) for k in FIELDS},
                               ensure_ascii=False) + "\n")
            n += 1
    return n


# --- Label Studio ---------------------------------------------------------------------------------------------------

def _region_id(note_id: str, label: str, start: int, end: int, kind: str = "a") -> str:
    return hashlib.sha1(f"{kind}|{note_id}|{label}|{start}|{end}".encode()).hexdigest()[:10]


def _ls_results(rec: dict, spans: Iterable[dict], closing: bool | None, kind: str = "a") -> list[dict]:
    text = rec["text"]
    out = []
    for s in spans:
        item = {"id": _region_id(rec["note_id"], s["label"], s["start"], s["end"], kind),
                "from_name": LS_LABELS_NAME, "to_name": LS_TEXT_NAME, "type": "labels",
                "value": {"start": s["start"], "end": s["end"], "text": text[s["start"]:s["end"]],
                          "labels": [s["label"]]}}
        if "score" in s:
            item["score"] = s["score"]
        out.append(item)
    if closing is not None:
        out.append({"id": _region_id(rec["note_id"], "closing", 0, 0, kind), "from_name": LS_CLOSING_NAME,
                    "to_name": LS_TEXT_NAME, "type": "choices",
                    "value": {"choices": [CLOSING_YES if closing else CLOSING_NO]}})
    return out


def record_to_task(rec: dict, task_id: int, predictions: list[dict] | None = None,
                   extra_data: dict | None = None) -> dict:
    """One Label Studio task: the note's text and fields in ``data``; its spans and closing as an annotation (when it
    has spans) and ``predictions`` as given."""
    data = {"text": rec["text"]}
    data.update({k: rec.get(k) for k in NOTE_FIELDS})
    if extra_data:
        data.update(extra_data)
    task: dict = {"id": task_id, "data": data}
    if rec.get("spans") is not None:
        task["annotations"] = [{"result": _ls_results(rec, rec["spans"], bool(rec.get("closing")))}]
    if predictions is not None:
        task["predictions"] = predictions
    return task


def to_labelstudio(records: Iterable[dict]) -> list[dict]:
    """Label Studio tasks (ids 1, 2, ... in record order)."""
    return [record_to_task(r, i) for i, r in enumerate(records, 1)]


def _utf16_to_cp(text: str, off: int) -> int | None:
    """The code-point index of a UTF-16 code-unit offset (Label Studio versions that counted like JavaScript)."""
    units = 0
    for i, ch in enumerate(text):
        if units == off:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > off:
            return None
    return len(text) if units == off else None


def _norm_ws(s: str) -> str:
    return " ".join(unicodedata.normalize("NFC", s).split())


def _pick(items: list, key_fields=("updated_at", "created_at")) -> tuple[Any, int]:
    """(chosen item, number of candidates): ground truth first, then the latest, then the last listed."""
    def key(iv):
        i, a = iv
        stamp = next((str(a.get(k)) for k in key_fields if a.get(k)), "")
        return (bool(a.get("ground_truth")), stamp, i)
    return max(enumerate(items), key=key)[1], len(items)


def task_to_record(task: Any, index: int, problems: list[str], summary: ImportSummary) -> dict | None:
    """The record of one Label Studio task (None if skipped or invalid; problems appended)."""
    if not isinstance(task, dict):
        problems.append(f"task #{index + 1}: not a JSON object")
        return None
    tid = task.get("id", f"#{index + 1}")
    data = task.get("data")
    if not isinstance(data, dict):
        problems.append(f"task {tid}: no 'data' object")
        return None
    text = data.get(LS_TEXT_NAME)
    if not isinstance(text, str) or not text:
        problems.append(f"task {tid}: no text (data.text is missing or empty); every task needs the note's text")
        return None
    note_id = _opt(data.get("note_id"))
    note_id = str(note_id) if note_id is not None else str(tid)
    where = f"task {tid} (note {note_id})"
    anns = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    preds = [p for p in task.get("predictions") or [] if isinstance(p, dict)]
    if anns:
        chosen, n = _pick(anns)
        if n > 1:
            summary.several_annotations.append(str(tid))
    elif preds:
        chosen, _ = _pick(preds)
        summary.from_predictions.append(str(tid))
    else:
        summary.skipped.append(str(tid))
        return None
    result = chosen.get("result") or []
    if not isinstance(result, list):
        problems.append(f"{where}: 'result' is not a list")
        return None
    spans, closing = [], None
    n_before = len(problems)
    for r_i, r in enumerate(result):
        if not isinstance(r, dict):
            problems.append(f"{where}: result {r_i + 1} is not a JSON object")
            continue
        typ, v = r.get("type"), r.get("value")
        if typ == "choices" and r.get("from_name") == LS_CLOSING_NAME:
            choices = (v or {}).get("choices") or []
            closing = any(str(c).strip().lower() in _TRUE for c in choices)
            continue
        if typ != "labels":
            continue  # relations, text areas ... are not part of our format
        if not isinstance(v, dict):
            problems.append(f"{where}: region {r.get('id', r_i + 1)} has no value")
            continue
        labels = v.get("labels") or []
        start, end = v.get("start"), v.get("end")
        rid = r.get("id", r_i + 1)
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            problems.append(f"{where}: region {rid} has no integer start/end character offsets")
            continue
        for lab in labels:
            if lab not in S.ALL_LABELS:
                problems.append(f"{where}: unknown label {lab!r} (region {rid}); labels must be codes of the spec "
                                f"{S.SPEC_VERSION} (see `msp-nlp schema`)")
        if not labels:
            problems.append(f"{where}: region {rid} has no label")
        quoted = v.get("text")
        if isinstance(quoted, str) and text[start:end] != quoted:
            s16, e16 = _utf16_to_cp(text, start), _utf16_to_cp(text, end)
            if s16 is not None and e16 is not None and text[s16:e16] == quoted:
                start, end = s16, e16  # offsets counted in UTF-16 code units (JavaScript)
            elif _norm_ws(text[start:end]) != _norm_ws(quoted):
                problems.append(f"{where}: region {rid} ({start}-{end}): its text does not match the task's text "
                                "at these offsets (was the note text changed after annotation?)")
                continue
        if not (0 <= start < end <= len(text)):
            problems.append(f"{where}: region {rid} ({start}-{end}) is outside the text ({len(text)} characters)")
            continue
        spans.extend({"label": lab, "start": start, "end": end} for lab in labels if lab in S.ALL_LABELS)
    if len(problems) > n_before:
        return None
    rec = {k: _opt(data.get(k)) for k in NOTE_FIELDS}
    rec["note_id"] = note_id
    if rec["case_id"] is None:
        rec["case_id"] = note_id  # a note without a case is its own case (as in `msp-nlp check`)
    rec["closing"] = closing if closing is not None else _as_bool(data.get("closing", False), where, problems)
    rec["text"] = text
    rec["spans"] = spans
    return canonical_record(rec, f"task {tid}", problems)


def _load_tasks(path: str | Path) -> list:
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise AnnotationFormatError([f"{p}: cannot open ({e.strerror or type(e).__name__})"]) from None
    except UnicodeDecodeError:
        raise AnnotationFormatError([f"{p}: not UTF-8 text; expected a Label Studio JSON export"]) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        try:  # JSON Lines: one task per line
            data = [json.loads(line) for line in raw.splitlines() if line.strip()]
        except json.JSONDecodeError as e:
            raise AnnotationFormatError([f"{p}: not JSON ({e.msg}); expected a Label Studio JSON export "
                                         "(a list of tasks)"]) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise AnnotationFormatError([f"{p}: expected a list of Label Studio tasks"])
    return data


def from_labelstudio(tasks: list, source: str = "tasks", use_predictions: bool = True
                     ) -> tuple[list[dict], ImportSummary]:
    """Records from Label Studio tasks; raises :class:`AnnotationFormatError` listing every problem.
    ``use_predictions=False``: a task without annotations is skipped even when it has predictions."""
    problems: list[str] = []
    summary = ImportSummary(source, items=len(tasks))
    records, seen = [], {}
    for i, task in enumerate(tasks):
        if not use_predictions and isinstance(task, dict) and task.get("predictions"):
            task = {k: v for k, v in task.items() if k != "predictions"}
        rec = task_to_record(task, i, problems, summary)
        if rec is None:
            continue
        tid = task.get("id", f"#{i + 1}")
        if rec["note_id"] in seen:
            problems.append(f"task {tid}: note_id {rec['note_id']} is also the note of task {seen[rec['note_id']]}")
            continue
        seen[rec["note_id"]] = tid
        records.append(rec)
    if problems:
        raise AnnotationFormatError(problems)
    summary.records = len(records)
    summary.spans = sum(len(r["spans"]) for r in records)
    return records, summary


def read_labelstudio(path: str | Path, use_predictions: bool = True) -> tuple[list[dict], ImportSummary]:
    """Records from a Label Studio JSON export (a list of tasks; JSON Lines of tasks also read)."""
    return from_labelstudio(_load_tasks(path), str(path), use_predictions)


def write_json(obj: Any, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def labelstudio_config() -> str:
    """The Label Studio labelling configuration for our tasks: one ``<Label>`` per spec code (evidence in cool
    colours, triggers in warm ones: the reviewer report's colours), the note text, and a ``closing`` choice."""
    from .report import LABEL_COLOURS

    def label(code: str, desc: str, kind: str) -> str:
        return (f"    <Label value={quoteattr(code)} background={quoteattr(LABEL_COLOURS[code])} "
                f"hint={quoteattr(kind + ': ' + desc)}/>")

    header = (f"Making Safeguarding Personal evidence ({S.SPEC_VERSION}): evidence labels (cool colours), then "
              "triggers (warm colours). See data/GUIDELINES.md.")
    lines = ["<View>",
             f"  <Header value={quoteattr(header)}/>",
             f'  <Labels name="{LS_LABELS_NAME}" toName="{LS_TEXT_NAME}">',
             "    <!-- evidence -->"]
    lines += [label(c, d, "Evidence") for c, d in S.EVIDENCE_DESCRIPTIONS.items()]
    lines.append("    <!-- triggers -->")
    lines += [label(c, d, "Trigger") for c, d in S.TRIGGER_DESCRIPTIONS.items()]
    lines += ["  </Labels>",
              f'  <Text name="{LS_TEXT_NAME}" value="$text"/>',
              '  <Header value="Does this note close the enquiry?"/>',
              f'  <Choices name="{LS_CLOSING_NAME}" toName="{LS_TEXT_NAME}" choice="single" showInline="true">',
              f"    <Choice value={quoteattr(CLOSING_YES)}/>",
              f"    <Choice value={quoteattr(CLOSING_NO)}/>",
              "  </Choices>",
              "</View>", ""]
    return "\n".join(lines)


# --- spaCy DocBin ---------------------------------------------------------------------------------------------------

def _blank():
    import spacy
    return spacy.blank("en")


def _token_span(doc, start: int, end: int, label: str):
    """The token span covering [start, end) (``alignment_mode="expand"``; a span that lies in whitespace after a
    token, which spaCy cannot align, gets the token(s) whose text-with-whitespace it falls in)."""
    from spacy.tokens import Span
    sp = doc.char_span(start, end, label=label, alignment_mode="expand")
    if sp is not None and len(sp):
        return sp
    toks = [t.i for t in doc if t.idx < end and start < t.idx + len(t.text_with_ws)]
    if not toks:
        return None
    return Span(doc, toks[0], toks[-1] + 1, label=label)


def to_docbin(records: Iterable[dict], nlp=None):
    """A DocBin of one Doc per note (spans in ``doc.spans["sc"]``, note fields and exact offsets in user_data)."""
    from spacy.tokens import DocBin
    nlp = nlp or _blank()
    db = DocBin(store_user_data=True)
    for r in records:
        doc = nlp.make_doc(r["text"])
        spans = r.get("spans") or []
        sc = []
        for s in spans:
            sp = _token_span(doc, s["start"], s["end"], s["label"])
            if sp is None:  # pragma: no cover - a non-empty span of a non-empty text always has a token
                raise AnnotationFormatError([f"note {r['note_id']}: span {s['start']}-{s['end']} cannot be aligned"])
            sc.append(sp)
        doc.spans[DOCBIN_GROUP] = sc
        doc.user_data[UD_NOTE] = {k: r.get(k) for k in NOTE_FIELDS}
        doc.user_data[UD_SPANS] = [[s["label"], s["start"], s["end"]] for s in spans]
        db.add(doc)
    return db


def write_docbin(records: Iterable[dict], path: str | Path) -> int:
    db = to_docbin(records)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(path)
    return len(db)


def from_docbin(db, source: str = "docbin", nlp=None) -> tuple[list[dict], ImportSummary]:
    """Records from a DocBin (ours, or any with ``doc.spans["sc"]``); raises :class:`AnnotationFormatError`."""
    nlp = nlp or _blank()
    problems: list[str] = []
    summary = ImportSummary(source)
    records, seen = [], {}
    for i, doc in enumerate(db.get_docs(nlp.vocab)):
        summary.items += 1
        note = doc.user_data.get(UD_NOTE) or {}
        nid = _opt(note.get("note_id")) if isinstance(note, dict) else None
        nid = str(nid) if nid is not None else f"doc-{i + 1}"
        where = f"doc {i + 1} (note {nid})"
        if not doc.text:
            problems.append(f"{where}: no text")
            continue
        # exact offsets recorded at export, keyed by the token span they align to
        exact: dict[tuple[str, int, int], list[tuple[int, int]]] = {}
        for item in doc.user_data.get(UD_SPANS) or []:
            try:
                lab, s, e = item
                s, e = int(s), int(e)
            except (TypeError, ValueError):
                problems.append(f"{where}: user_data {UD_SPANS!r} holds an entry that is not [label, start, end]")
                continue
            sp = _token_span(doc, s, e, str(lab)) if 0 <= s < e <= len(doc.text) else None
            if sp is not None:
                exact.setdefault((str(lab), sp.start, sp.end), []).append((s, e))
        spans = []
        group = doc.spans[DOCBIN_GROUP] if DOCBIN_GROUP in doc.spans else []
        for sp in group:
            if sp.label_ not in S.ALL_LABELS:
                problems.append(f"{where}: unknown label {sp.label_!r} in doc.spans[{DOCBIN_GROUP!r}]; labels must "
                                f"be codes of the spec {S.SPEC_VERSION} (see `msp-nlp schema`)")
                continue
            cands = exact.get((sp.label_, sp.start, sp.end))
            if cands:
                s, e = cands.pop(0)
            else:
                s, e = sp.start_char, sp.end_char
                summary.edited_spans += 1
            spans.append({"label": sp.label_, "start": s, "end": e})
        rec = {k: _opt(note.get(k)) if isinstance(note, dict) else None for k in NOTE_FIELDS}
        rec["note_id"] = nid
        if rec["case_id"] is None:
            rec["case_id"] = nid
        rec["closing"] = note.get("closing", False) if isinstance(note, dict) else False
        rec["text"] = doc.text
        rec["spans"] = spans
        rec = canonical_record(rec, f"doc {i + 1}", problems)
        if rec is None:
            continue
        if rec["note_id"] in seen:
            problems.append(f"{where}: note_id {rec['note_id']} is also the note of doc {seen[rec['note_id']]}")
            continue
        seen[rec["note_id"]] = i + 1
        records.append(rec)
    if problems:
        raise AnnotationFormatError(problems)
    summary.records = len(records)
    summary.spans = sum(len(r["spans"]) for r in records)
    return records, summary


def read_docbin(path: str | Path) -> tuple[list[dict], ImportSummary]:
    from spacy.tokens import DocBin
    p = Path(path)
    try:
        db = DocBin(store_user_data=True).from_disk(p)
    except OSError as e:
        raise AnnotationFormatError([f"{p}: cannot open ({e.strerror or type(e).__name__})"]) from None
    except Exception as e:  # noqa: BLE001 - msgpack/zlib errors of a file that is not a DocBin
        raise AnnotationFormatError([f"{p}: not a spaCy DocBin ({type(e).__name__})"]) from None
    return from_docbin(db, str(p))


# --- suggestions for the next annotation round ---------------------------------------------------------------------

def uncertainty(p, threshold):
    """How close a probability is to its label's threshold, in [0, 1]: 1 at the threshold, 0 at the far end of
    [0, 1]. ``1 - |p - t| / max(t, 1 - t)``: the margin to the decision boundary, scaled by the largest margin
    possible on that side, so labels with very low or high thresholds compare fairly."""
    p = np.asarray(p, dtype=np.float64)
    t = np.asarray(threshold, dtype=np.float64)
    return 1.0 - np.abs(p - t) / np.maximum(t, 1.0 - t)


@dataclass
class SuggestResult:
    items: list[dict]  # ranked suggestions (most uncertain first)
    tasks: list[dict]  # Label Studio tasks of the suggested notes, with the model's predictions
    notes: int = 0
    sentences: int = 0
    model_version: str = ""


def _note_record(rec) -> dict:
    """A record (our fields) of an :class:`msp_nlp.io.Record` or a dict."""
    get = rec.get if isinstance(rec, dict) else (lambda k, d=None: getattr(rec, k, d))
    from .pipeline import is_closing
    out = {k: get(k) for k in NOTE_FIELDS}
    out["note_id"] = str(out["note_id"])
    out["text"] = get("text")
    out["closing"] = is_closing(out.get("note_type"), out["text"])
    out["spans"] = None
    return out


def _label_info(j: int, labels, p, th, u, extra: dict | None = None) -> dict:
    d = {"label": labels[j], "p": round(float(p[j]), 4), "threshold": round(float(th[j]), 4),
         "uncertainty": round(float(u[j]), 4), "predicted": bool(p[j] >= th[j])}
    if extra:
        d.update(extra)
    return d


def suggest(records: Iterable, model, analyzer=None, *, level: str = "sentence", top: int | None = 100,
            labels_per_item: int = 3, batch_size: int = 256) -> SuggestResult:
    """Rank the sentences (``level="sentence"``) or notes (``"note"``) of unlabelled notes by the model's
    uncertainty, most uncertain first; keep the ``top`` ones (all if None).

    A sentence's uncertainty is the largest :func:`uncertainty` over labels of its probability. A note's is the
    largest over labels of the uncertainty of the note's probability for that label, which is its best
    sentence's (thresholds were chosen at note level that way, and it is what the checker's note flags depend on).
    Ties keep input order. ``records``: :class:`msp_nlp.io.Record` objects or dicts with our fields.
    """
    if level not in ("sentence", "note"):
        raise ValueError(f"level must be 'sentence' or 'note', not {level!r}")
    if top is not None and top < 1:
        raise ValueError(f"top must be a positive number of suggestions (or None for all), not {top!r}")
    from .model import sentence_views
    from .pipeline import Analyzer
    from .segment import doc_text
    an = analyzer or Analyzer(model=None)
    labels, th = list(model.labels), np.asarray(model.thresholds, dtype=np.float64)
    heap: list = []  # min-heap of (uncertainty, -note order, -sentence order, item, note index)
    kept_notes: dict[int, dict] = {}
    note_preds: dict[int, list[dict]] = {}
    n_notes = n_sent = 0

    in_heap: dict[int, int] = {}  # note index -> entries of it in the heap (its text is kept while > 0)

    def push(key, item, note_i, rec, preds):
        entry = (key[0], -key[1], -key[2], item, note_i)
        if top is None or len(heap) < top:
            heapq.heappush(heap, entry)
        elif entry[:3] > heap[0][:3]:
            out = heapq.heapreplace(heap, entry)
            in_heap[out[4]] -= 1
            if not in_heap[out[4]]:
                del in_heap[out[4]], kept_notes[out[4]], note_preds[out[4]]
        else:
            return
        in_heap[note_i] = in_heap.get(note_i, 0) + 1
        kept_notes[note_i] = rec
        note_preds[note_i] = preds

    def batches(it: Iterator) -> Iterator[list]:
        buf = []
        for r in it:
            buf.append(r)
            if len(buf) >= batch_size:
                yield buf
                buf = []
        if buf:
            yield buf

    for chunk in batches(iter(records)):
        recs = [_note_record(r) for r in chunk]
        docs = list(an.nlp.pipe((an.make_doc(r["text"], r.get("adult_name"), r.get("note_type")) for r in recs),
                                batch_size=batch_size))
        views = [sentence_views(d) for d in docs]
        texts, counted, disc, types, groups = [], [], [], [], []
        for k, (d, v, r) in enumerate(zip(docs, views, recs)):
            t = doc_text(d)
            for s0, s1, c, dd in v:
                texts.append(t[s0:s1])
                counted.append(c)
                disc.append(dd)
                types.append(r.get("note_type") or "")
                groups.append(k)
        proba = np.asarray(model.predict_proba(texts, counted, disc, types, groups), dtype=np.float64)
        row = 0
        for rec, v in zip(recs, views):
            note_i = n_notes
            n_notes += 1
            P = proba[row:row + len(v)]
            row += len(v)
            n_sent += len(v)
            if not len(v):
                continue
            text = rec["text"]
            U = uncertainty(P, th)
            preds = [{"label": labels[j], "start": v[s][0], "end": v[s][1], "score": round(float(P[s, j]), 4)}
                     for s, j in zip(*np.nonzero(P >= th))]
            preds.sort(key=lambda d: (d["start"], d["end"], d["label"]))
            if level == "sentence":
                for s, (s0, s1, _c, _d) in enumerate(v):
                    order = np.argsort(-U[s], kind="stable")[:labels_per_item]
                    u = float(U[s].max())
                    item = {"note_id": rec["note_id"], "case_id": rec.get("case_id"), "level": "sentence",
                            "start": s0, "end": s1, "text": text[s0:s1], "uncertainty": round(u, 4),
                            "labels": [_label_info(j, labels, P[s], th, U[s]) for j in order]}
                    push((u, note_i, s), item, note_i, rec, preds)
            else:
                pmax, arg = P.max(axis=0), P.argmax(axis=0)
                un = uncertainty(pmax, th)
                order = np.argsort(-un, kind="stable")[:labels_per_item]
                u = float(un.max())
                lab_items = [_label_info(j, labels, pmax, th, un,
                                         {"start": v[arg[j]][0], "end": v[arg[j]][1],
                                          "text": text[v[arg[j]][0]:v[arg[j]][1]]}) for j in order]
                first = lab_items[0]
                item = {"note_id": rec["note_id"], "case_id": rec.get("case_id"), "level": "note",
                        "start": first["start"], "end": first["end"], "text": first["text"],
                        "uncertainty": round(u, 4), "n_sentences": len(v), "labels": lab_items}
                push((u, note_i, 0), item, note_i, rec, preds)
    ranked = sorted(heap, key=lambda e: (-e[0], -e[1], -e[2]))
    version = getattr(model, "version", "unversioned")
    items = []
    for rank, e in enumerate(ranked, 1):
        items.append({"rank": rank, **e[3], "model_version": version})
    # Label Studio tasks: the suggested notes, in the rank of their most uncertain item, with predictions
    tasks, done = [], set()
    for e in ranked:
        note_i = e[4]
        if note_i in done:
            continue
        done.add(note_i)
        rec, preds = kept_notes[note_i], note_preds[note_i]
        best_u = e[0]  # ranked is most uncertain first: a note's first entry is its most uncertain one
        result = _ls_results(rec, preds, bool(rec["closing"]), kind="p")
        tasks.append(record_to_task(rec, len(tasks) + 1,
                                    # Label Studio's prediction score is a confidence: low = look first
                                    predictions=[{"model_version": version, "score": round(1.0 - best_u, 4),
                                                  "result": result}],
                                    extra_data={"msp_suggest_rank": len(tasks) + 1,
                                                "msp_uncertainty": round(best_u, 4)}))
    return SuggestResult(items, tasks, n_notes, n_sent, version)
