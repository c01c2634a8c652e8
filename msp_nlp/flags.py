"""Flags per note and per case, with reasons and the evidence behind them (rules from :mod:`msp_nlp.spec`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import spec as S
from .pipeline import NoteAnalysis


@dataclass
class NoteFindings:
    """What the case level needs of one analysed note."""

    note_id: str
    analysis: NoteAnalysis
    date: str | None = None
    order: int = 0  # input order, to break date ties


def _present(analysis: NoteAnalysis) -> set[str]:
    present = analysis.labels()
    if analysis.closing:
        present.add(S.CLOSING)
    return present


def _why_applies(flag: S.Flag, present: set[str]) -> str:
    held = [t for t in flag.when_any if t in present]
    if not held:
        return ""
    names = {S.CLOSING: "a closing note"}
    return " Applies because of: " + ", ".join(names.get(t, t) for t in held) + "."


def _discounted_note(flag: S.Flag, notes: list[NoteFindings]) -> str:
    n = sum(1 for nf in notes for d in nf.analysis.discounted if d["label"] == flag.missing)
    if not n:
        return ""
    reasons = sorted({d["reason"] for nf in notes for d in nf.analysis.discounted if d["label"] == flag.missing})
    return f" {n} mention(s) of {flag.missing} were not counted ({', '.join(reasons)})."


def _weak_note(flag: S.Flag, notes: list[NoteFindings]) -> str:
    """Says so when a note found the missing label but too weakly to count for the whole case."""
    weak = [(f.score, nf.note_id) for nf in notes if nf.analysis.case_findings is not None
            for f in nf.analysis.evidence if f.label == flag.missing]
    if not weak:
        return ""
    score, note_id = max(weak)
    n = len({nid for _, nid in weak})
    return (f" {flag.missing} was found in {n} note(s), but none reaches the model's case-level confidence "
            f"(best {score:.2f}, note {note_id}): check it by hand.")


def note_flags(analysis: NoteAnalysis) -> list[dict]:
    """Flags of one note alone (the inline view)."""
    present = _present(analysis)
    nf = [NoteFindings("", analysis)]
    out = []
    for flag in S.raised_flags(present):
        out.append({"code": flag.code, "reason": flag.reason + _why_applies(flag, present) + _discounted_note(flag, nf),
                    "triggers": [{"label": t.label, "start": t.start, "end": t.end}
                                 for t in analysis.triggers if t.label in flag.when_any]})
    return out


@dataclass
class CaseResult:
    case_id: str
    note_ids: list[str]
    evidence: list[str]
    triggers: list[str]
    closing: bool
    flags: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"case_id": self.case_id, "note_ids": self.note_ids, "evidence": self.evidence,
                "triggers": self.triggers, "closing": self.closing, "flags": self.flags}


def case_result(case_id: str, notes: list[NoteFindings]) -> CaseResult:
    """Aggregate the notes of one case (ordered by date, then input order) and raise the case flags."""
    notes = sorted(notes, key=lambda n: (n.date is None, n.date or "", n.order))
    present: set[str] = set()
    where: dict[str, list[str]] = {}
    spans: dict[str, list[dict]] = {}
    for nf in notes:
        a = nf.analysis
        for f in a.case_findings if a.case_findings is not None else a.evidence + a.triggers:
            present.add(f.label)
            ids = where.setdefault(f.label, [])
            if nf.note_id not in ids:
                ids.append(nf.note_id)
            spans.setdefault(f.label, []).append({"note_id": nf.note_id, "label": f.label, "start": f.start,
                                                  "end": f.end})
        if nf.analysis.closing:
            present.add(S.CLOSING)
            where.setdefault(S.CLOSING, []).append(nf.note_id)
    flags = []
    for flag in S.raised_flags(present):
        trig_notes: list[str] = []
        trig_spans: list[dict] = []
        for t in flag.when_any:
            for nid in where.get(t, []):
                if nid not in trig_notes:
                    trig_notes.append(nid)
            trig_spans.extend(spans.get(t, []))
        flags.append({"code": flag.code,
                      "reason": flag.reason + _why_applies(flag, present) + _discounted_note(flag, notes)
                      + _weak_note(flag, notes),
                      "evidence_note_ids": trig_notes, "triggers": trig_spans})
    return CaseResult(
        case_id=case_id,
        note_ids=[n.note_id for n in notes],
        evidence=[lab for lab in S.EVIDENCE_LABELS if lab in present],
        triggers=[lab for lab in S.TRIGGERS if lab in present],
        closing=S.CLOSING in present,
        flags=flags,
    )
