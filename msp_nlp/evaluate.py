"""Honest evaluation on an annotated file: per-label precision/recall/F1 at note and span level, note and case
flags, macro averages, the worst errors with their sentences, and baselines in the same report."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import spec as S
from .corpus import Note
from .flags import NoteFindings, case_result, note_flags
from .pipeline import Analyzer, Finding, NoteAnalysis, is_closing
from .segment import segment


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else (1.0 if not self.fn else 0.0)

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else (1.0 if not self.fp else 0.0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
                "support": self.support, "tp": self.tp, "fp": self.fp, "fn": self.fn}


def macro(table: dict[str, PRF], keys: Iterable[str]) -> dict:
    """Macro averages over ``keys`` that have gold or predicted positives (undefined labels are left out)."""
    ks = [k for k in keys if table[k].tp + table[k].fp + table[k].fn > 0]
    if not ks:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "labels": 0}
    return {"precision": round(sum(table[k].precision for k in ks) / len(ks), 4),
            "recall": round(sum(table[k].recall for k in ks) / len(ks), 4),
            "f1": round(sum(table[k].f1 for k in ks) / len(ks), 4), "labels": len(ks)}


def score_sets(gold: Iterable[set[str]], pred: Iterable[set[str]], keys: Iterable[str]) -> dict[str, PRF]:
    """Binary per-key counts over parallel items (notes or cases)."""
    table = {k: PRF() for k in keys}
    for g, p in zip(gold, pred):
        for k in table:
            if k in g and k in p:
                table[k].tp += 1
            elif k in p:
                table[k].fp += 1
            elif k in g:
                table[k].fn += 1
    return table


def score_spans(gold: list[list[dict]], pred: list[list[dict]], keys: Iterable[str]) -> dict[str, PRF]:
    """Span level with overlap matching: a predicted span is correct if it overlaps a gold span of its label; a
    gold span is found if some predicted span of its label overlaps it."""
    table = {k: PRF() for k in keys}

    def overlaps(a, b):
        return a["start"] < b["end"] and b["start"] < a["end"]

    for g, p in zip(gold, pred):
        for k in table:
            gs = [s for s in g if s["label"] == k]
            ps = [s for s in p if s["label"] == k]
            for s in ps:
                if any(overlaps(s, t) for t in gs):
                    table[k].tp += 1
                else:
                    table[k].fp += 1
            table[k].fn += sum(1 for t in gs if not any(overlaps(s, t) for s in ps))
    return table


# --- systems -------------------------------------------------------------------------------------------------------

System = Callable[[list[Note]], list[NoteAnalysis]]

#: What a reviewer would Ctrl-F for each label: the keyword baseline (no context, no negation).
KEYWORDS: dict[str, list[str]] = {
    S.ADULT_VIEWS: ["said", "views", "wishes", "told me", "feels"],
    S.DESIRED_OUTCOME: ["outcome", "wants"],
    S.COERCION_EXPLORED: ["alone", "coercion", "pressure"],
    S.CONSENT: ["consent"],
    S.CAPACITY: ["capacity", "mca"],
    S.ADVOCACY: ["advocate", "advocacy", "imca", "interpreter"],
    S.RISK_DISCUSSED: ["risk"],
    S.INFORMED_OF_ACTIONS: ["explained", "informed"],
    S.REFUSAL_EXPLORED: ["declin", "refus"],
    S.PARTNER_REFERRAL: ["referral", "police", "gp"],
    S.LESS_RESTRICTIVE: ["less restrictive", "least restrictive", "proportionate"],
    S.OUTCOME_REVIEWED: ["achieved", "outcome met"],
    S.THIRD_PARTY_HARM: ["son", "daughter", "husband", "wife", "partner", "carer", "neighbour", "friend"],
    S.CAPACITY_CONCERN: ["dementia", "confus", "learning disab", "capacity"],
    S.HELP_DECLINED: ["declin", "refus"],
    S.CRIME_ALLEGED: ["theft", "stole", "fraud", "assault", "crime"],
    S.OTHERS_AT_RISK: ["children", "other residents", "others at risk"],
    S.POSITION_OF_TRUST: ["carer", "staff", "nurse"],
    S.COMMUNICATION_NEED: ["interpreter", "english", "deaf", "bsl", "non-verbal", "nonverbal"],
}
_KW = {k: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in ws) + r")", re.IGNORECASE) for k, ws in KEYWORDS.items()}


def keyword_system(notes: list[Note]) -> list[NoteAnalysis]:
    out = []
    for n in notes:
        ev, tr = [], []
        for seg in segment(n.text):
            s = n.text[seg.start:seg.end]
            for label, rx in _KW.items():
                if rx.search(s):
                    f = Finding(label, seg.start, seg.end, s, 1.0, seg.start, seg.end)
                    (tr if label in S.TRIGGERS else ev).append(f)
        out.append(NoteAnalysis(ev, tr, [], is_closing(n.note_type, n.text)))
    return out


def pipeline_system(analyzer: Analyzer | None = None) -> System:
    an = analyzer or Analyzer()

    def run(notes: list[Note]) -> list[NoteAnalysis]:
        return list(an.analyse_many((n.text, n.note_type, n.adult_name) for n in notes))
    return run


def gold_analysis(n: Note) -> NoteAnalysis:
    ev = [Finding(s["label"], s["start"], s["end"], n.text[s["start"]:s["end"]], 1.0, s["start"], s["end"])
          for s in n.spans if s["label"] in S.EVIDENCE_LABELS]
    tr = [Finding(s["label"], s["start"], s["end"], n.text[s["start"]:s["end"]], 1.0, s["start"], s["end"])
          for s in n.spans if s["label"] in S.TRIGGERS]
    return NoteAnalysis(ev, tr, [], n.closing)


# --- the report ----------------------------------------------------------------------------------------------------

@dataclass
class SystemReport:
    name: str
    note_labels: dict[str, PRF]
    span_labels: dict[str, PRF]
    note_flags: dict[str, PRF]
    case_flags: dict[str, PRF]
    errors: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "evidence_note_macro": macro(self.note_labels, S.EVIDENCE_LABELS),
            "trigger_note_macro": macro(self.note_labels, S.TRIGGERS),
            "evidence_span_macro": macro(self.span_labels, S.EVIDENCE_LABELS),
            "trigger_span_macro": macro(self.span_labels, S.TRIGGERS),
            "note_flag_macro": macro(self.note_flags, S.FLAG_CODES),
            "case_flag_macro": macro(self.case_flags, S.FLAG_CODES),
            "headline_case_flag_macro": macro(self.case_flags, S.HEADLINE_FLAGS),
        }

    def as_dict(self) -> dict:
        return {"system": self.name, "summary": self.summary(),
                "note_labels": {k: v.as_dict() for k, v in self.note_labels.items()},
                "span_labels": {k: v.as_dict() for k, v in self.span_labels.items()},
                "note_flags": {k: v.as_dict() for k, v in self.note_flags.items()},
                "case_flags": {k: v.as_dict() for k, v in self.case_flags.items()},
                "worst_errors": self.errors}


def _case_flags(notes: list[Note], analyses: list[NoteAnalysis]) -> tuple[list[str], list[set[str]]]:
    by_case: dict[str, list[NoteFindings]] = {}
    for i, (n, a) in enumerate(zip(notes, analyses)):
        by_case.setdefault(n.case_id, []).append(NoteFindings(n.note_id, a, n.date, i))
    ids = list(by_case)
    return ids, [{f["code"] for f in case_result(c, by_case[c]).flags} for c in ids]


def _worst_errors(notes: list[Note], pred: list[NoteAnalysis], limit_per_label: int = 5) -> list[dict]:
    """Missed and spurious evidence/trigger sentences, per label (the most frequent error labels first)."""
    errs: dict[str, list[dict]] = {}
    for n, a in zip(notes, pred):
        gold = n.spans
        ps = [f for f in a.evidence + a.triggers]
        for f in ps:
            if not any(s["label"] == f.label and s["start"] < f.end and f.start < s["end"] for s in gold):
                errs.setdefault(f.label, []).append({"label": f.label, "kind": "false_positive", "note_id": n.note_id,
                                                     "sentence": f.text})
        for s in gold:
            if not any(f.label == s["label"] and s["start"] < f.end and f.start < s["end"] for f in ps):
                errs.setdefault(s["label"], []).append({"label": s["label"], "kind": "missed", "note_id": n.note_id,
                                                        "sentence": n.text[s["start"]:s["end"]]})
    out = []
    for label in sorted(errs, key=lambda k: -len(errs[k])):
        out.extend(errs[label][:limit_per_label])
    return out


def evaluate_system(name: str, system: System, notes: list[Note]) -> SystemReport:
    pred = system(notes)
    gold = [gold_analysis(n) for n in notes]
    labels = S.ALL_LABELS
    note_labels = score_sets([g.labels() for g in gold], [p.labels() for p in pred], labels)
    span_labels = score_spans([n.spans for n in notes],
                              [[{"label": f.label, "start": f.start, "end": f.end} for f in p.evidence + p.triggers]
                               for p in pred], labels)
    nf = score_sets([{f["code"] for f in note_flags(g)} for g in gold],
                    [{f["code"] for f in note_flags(p)} for p in pred], S.FLAG_CODES)
    _, gcf = _case_flags(notes, gold)
    _, pcf = _case_flags(notes, pred)
    cf = score_sets(gcf, pcf, S.FLAG_CODES)
    return SystemReport(name, note_labels, span_labels, nf, cf, _worst_errors(notes, pred))


def evaluate(notes: list[Note], systems: dict[str, System]) -> dict:
    reports = [evaluate_system(name, sys_, notes) for name, sys_ in systems.items()]
    return {"notes": len(notes), "cases": len({n.case_id for n in notes}),
            "systems": [r.as_dict() for r in reports]}


# --- rendering -----------------------------------------------------------------------------------------------------

def _table(rows: list[list[str]], header: list[str]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def to_markdown(result: dict, title: str = "Evaluation") -> str:
    systems = result["systems"]
    names = [s["system"] for s in systems]
    lines = [f"# {title}", "", f"{result['notes']} notes in {result['cases']} cases.", ""]
    lines += ["## Summary (macro averages)", ""]
    keys = list(systems[0]["summary"])
    rows = []
    for k in keys:
        rows.append([k] + [f"{s['summary'][k]['precision']:.2f} / {s['summary'][k]['recall']:.2f} / "
                           f"**{s['summary'][k]['f1']:.2f}**" for s in systems])
    lines += [_table(rows, ["measure (P / R / F1)"] + names), ""]
    for section, keyset, title2 in (("note_labels", S.EVIDENCE_LABELS, "Evidence, note level"),
                                    ("span_labels", S.EVIDENCE_LABELS, "Evidence, span level (overlap)"),
                                    ("note_labels", S.TRIGGERS, "Triggers, note level"),
                                    ("span_labels", S.TRIGGERS, "Triggers, span level (overlap)"),
                                    ("note_flags", S.FLAG_CODES, "Note flags"),
                                    ("case_flags", S.FLAG_CODES, "Case flags")):
        lines += [f"## {title2}", ""]
        rows = []
        for k in keyset:
            cells = [k]
            for s in systems:
                d = s[section][k]
                cells.append(f"{d['precision']:.2f} / {d['recall']:.2f} / {d['f1']:.2f}")
            cells.append(str(systems[0][section][k]["support"]))
            rows.append(cells)
        lines += [_table(rows, ["label"] + [f"{n} P / R / F1" for n in names] + ["support"]), ""]
    last = systems[-1]
    lines += [f"## Worst errors of `{last['system']}`", ""]
    for e in last["worst_errors"]:
        sent = e["sentence"].replace("\n", " ").replace("|", "/")
        lines.append(f"- `{e['label']}` {e['kind']} ({e['note_id']}): {sent[:200]}")
    return "\n".join(lines) + "\n"


def to_text(result: dict) -> str:
    systems = result["systems"]
    w = max(len(k) for k in S.FLAG_CODES + S.ALL_LABELS) + 2
    out = [f"{result['notes']} notes, {result['cases']} cases"]
    header = "".join(f"{s['system'][:22]:>24}" for s in systems)
    for section, keyset, title in (("note_labels", S.EVIDENCE_LABELS, "evidence (note level) P/R/F1"),
                                   ("note_labels", S.TRIGGERS, "triggers (note level) P/R/F1"),
                                   ("case_flags", S.FLAG_CODES, "case flags P/R/F1")):
        out.append("")
        out.append(f"{title:<{w}}{header}   support")
        for k in keyset:
            cells = "".join(f"{s[section][k]['precision']:>8.2f}{s[section][k]['recall']:>8.2f}"
                            f"{s[section][k]['f1']:>8.2f}" for s in systems)
            out.append(f"{k:<{w}}{cells}   {systems[0][section][k]['support']}")
    out.append("")
    for k in systems[0]["summary"]:
        out.append(f"{k:<{w}}" + "".join(f"{s['summary'][k]['f1']:>24.3f}" for s in systems))
    return "\n".join(out)


def write_report(result: dict, outdir: str | Path, title: str = "Evaluation") -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "evaluation.md").write_text(to_markdown(result, title), encoding="utf-8")
