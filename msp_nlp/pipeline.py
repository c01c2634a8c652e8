"""The spaCy pipeline: sentences -> rule detector -> context, and plain-data results per note.

Components (registered factories, usable in any ``spacy.blank("en")`` pipeline):

* ``msp_sentences`` - case-note sentence/section segmentation (:mod:`msp_nlp.segment`);
* ``msp_detector`` - rule cues for every evidence label and trigger, into ``doc._.msp_cues``; a trained
  model (see :mod:`msp_nlp.model`, later) adds its own cues with ``source="model"`` beside them;
* ``msp_context`` - ConText-style decisions (:mod:`msp_nlp.context`); cues that count are merged per label and
  sentence into ``doc.spans["msp_evidence"]`` / ``doc.spans["msp_triggers"]`` (``attrs["scores"]`` parallel to
  the spans); discounted ones go to ``doc.spans["msp_discounted"]`` with ``attrs["reasons"]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from . import context as C
from . import rules as R
from . import segment as _segment  # noqa: F401  (registers msp_sentences)
from . import spec as S

for _name in ("msp_adult_name", "msp_note_type", "msp_cues"):
    _segment.user_data_extension(_name)


@dataclass
class Cue:
    label: str
    start: int  # character offsets of the cue
    end: int
    score: float
    pattern: str
    source: str = "rule"
    seg: int = -1  # index into doc._.msp_sections
    reason: str | None = None  # why discounted (None: counts)


@dataclass
class Finding:
    label: str
    start: int
    end: int
    text: str
    score: float
    cue_start: int
    cue_end: int

    def as_dict(self) -> dict:
        return {"label": self.label, "start": self.start, "end": self.end, "text": self.text,
                "score": round(self.score, 3), "cue": [self.cue_start, self.cue_end]}


@dataclass
class NoteAnalysis:
    """Plain-data result of one note (picklable: what worker processes return)."""

    evidence: list[Finding] = field(default_factory=list)
    triggers: list[Finding] = field(default_factory=list)
    discounted: list[dict] = field(default_factory=list)
    closing: bool = False
    #: what the note contributes to its case: per label its best sentence, when that reaches the model's case-level
    #: threshold (:func:`msp_nlp.model.case_thresholds`); None: the note's findings themselves (rules only)
    case_findings: list[Finding] | None = None

    def labels(self) -> set[str]:
        return {f.label for f in self.evidence} | {f.label for f in self.triggers}

    def case_labels(self) -> set[str]:
        """The labels this note gives its case (see ``case_findings``)."""
        if self.case_findings is None:
            return self.labels()
        return {f.label for f in self.case_findings}


def _seg_index(segs, pos: int) -> int:
    lo, hi = 0, len(segs) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if segs[mid].end <= pos:
            lo = mid + 1
        elif segs[mid].start > pos:
            hi = mid - 1
        else:
            return mid
    return -1


@Language.factory("msp_detector", default_config={"min_score": 0.0})
def make_detector(nlp: Language, name: str, min_score: float):
    return RuleDetector(min_score=min_score)


class RuleDetector:
    """Finds rule cues for every label: folded regex patterns per label, plus heading sections."""

    def __init__(self, min_score: float = 0.0):
        self.patterns = [p for p in R.compile_patterns() if p.score >= min_score]
        self.dispatcher = R.Dispatcher(self.patterns)

    def __call__(self, doc: Doc) -> Doc:
        text = _segment.doc_text(doc)
        segs = doc.user_data.get("msp_sections")
        if segs is None:
            segs = _segment.segment(text)
            doc.user_data["msp_sections"] = segs
        cues: list[Cue] = []
        lowered = text.lower()
        if len(lowered) != len(text):  # rare characters whose lower case is longer: keep offsets exact
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        for p, m in self.dispatcher.finditer(lowered):
            i = _seg_index(segs, m.start())
            if i < 0:
                continue
            if segs[i].heading_end is not None and m.start() < segs[i].heading_end:
                continue  # words of a heading ("Consent:") are judged with its content, below
            if p.name == "alleged_by" and text[m.start():m.end()] == "Pam":
                continue  # the name Pam, not PAM (person alleged to have caused harm)
            cues.append(Cue(p.label, m.start(), min(m.end(), segs[i].end), p.score, p.name, seg=i))
        cues.extend(self._heading_cues(text, segs))
        doc.user_data["msp_cues"] = cues  # plain data; the context component turns the ones that count into spans
        return doc

    @staticmethod
    def _heading_cues(text: str, segs) -> list[Cue]:
        """A heading naming a label ("Views of adult:") makes its content a cue for that label; content that says
        it was not filled in ("not obtained", "N/A", blank) makes an ``empty_heading`` discounted cue."""
        out: list[Cue] = []
        i = 0
        while i < len(segs):
            seg = segs[i]
            if seg.heading_end is None:
                i += 1
                continue
            label = R.heading_label(seg.heading)
            if label is None:
                i += 1
                continue
            inline = text[seg.heading_end:seg.end].strip()
            content_idx = [i] if inline else []
            j = i + 1
            # Inline content ("Views: wants to stay home") is the rest of that line; a heading alone on its line
            # owns the lines below it until a blank line or the next heading.
            while (j < len(segs) and segs[j].heading_end is None and segs[j].heading == seg.heading
                   and (not inline or segs[j].line == seg.line)):
                content_idx.append(j)
                j += 1
            if not content_idx:
                out.append(Cue(label, seg.start, seg.end, 0.9, "heading", seg=i, reason="empty_heading"))
            else:
                first = content_idx[0]
                first_text = inline if first == i else text[segs[first].start:segs[first].end]
                if R.NULL_CONTENT_RE.match(first_text):
                    out.append(Cue(label, segs[first].start, segs[first].end, 0.9, "heading", seg=first,
                                   reason="empty_heading"))
                else:
                    for k in content_idx:
                        start = seg.heading_end if k == i else segs[k].start
                        out.append(Cue(label, start, segs[k].end, 0.8, "heading", seg=k))
            i = j if j > i + 1 else i + 1
        return out


def best_counted_cues(doc: Doc) -> dict[tuple[str, int], Cue]:
    """The highest-scoring counted cue per (label, sentence index)."""
    best: dict[tuple[str, int], Cue] = {}
    for cue in doc.user_data.get("msp_cues") or []:
        if cue.reason is None and cue.seg >= 0:
            key = (cue.label, cue.seg)
            if key not in best or cue.score > best[key].score:
                best[key] = cue
    return best


def _set_findings(doc: Doc, evidence: list[Finding], triggers: list[Finding],
                  discounted: list[Cue] | None = None, plain: bool = False) -> None:
    """Record the final findings: plain data for :func:`to_analysis`, and span groups (with their scores, and the
    reasons of the discounted cues; ``discounted`` None leaves that group as it is)."""
    doc.user_data["msp_findings"] = (evidence, triggers)
    if plain:  # only plain data is wanted (Analyzer.analyse_many): no span groups
        return
    groups = [("msp_evidence", evidence, "scores", [f.score for f in evidence]),
              ("msp_triggers", triggers, "scores", [f.score for f in triggers])]
    if discounted is not None:
        groups.append(("msp_discounted", discounted, "reasons", [c.reason for c in discounted]))
    spans = _segment.char_spans(doc, [(x.start, x.end, x.label) for _, found, _, _ in groups for x in found])
    k = 0
    for name, found, attr, values in groups:
        kept, vals = [], []
        for value in values:
            if spans[k] is not None:
                kept.append(spans[k])
                vals.append(value)
            k += 1
        doc.spans[name] = kept
        doc.spans[name].attrs[attr] = vals


@Language.factory("msp_context", default_config={"threshold": 0.5})
def make_context(nlp: Language, name: str, threshold: float):
    return ContextComponent(threshold=threshold)


class ContextComponent:
    """Decides which cues count, and merges counted cues into one finding per label and sentence."""

    def __init__(self, threshold: float = 0.5):
        self.threshold = threshold

    def __call__(self, doc: Doc, plain: bool = False) -> Doc:
        ud = doc.user_data
        segs = ud.get("msp_sections") or []
        adult_re = C._adult_name_re(ud.get("msp_adult_name"))
        adult_pron = C.adult_pronoun(ud.get("msp_adult_name"))
        text = _segment.doc_text(doc)
        cues = ud.get("msp_cues") or []
        # Best cue first per label and sentence: once one counts, the others there cannot change the finding.
        settled: set[tuple[str, int]] = set()
        sentences: dict[int, C.Sentence] = {}
        for cue in sorted(cues, key=lambda c: -c.score):
            if cue.reason is not None or cue.seg < 0:
                continue
            if (cue.label, cue.seg) in settled:
                continue
            seg = segs[cue.seg]
            sent = sentences.get(cue.seg)
            if sent is None:
                sent = sentences[cue.seg] = C.Sentence(text[seg.start:seg.end], adult_re, adult_pron)
            cue.reason = C.classify(cue.label, cue.pattern, cue.start - seg.start, cue.end - seg.start, sent,
                                    seg.heading, adult_re)
            if cue.reason is None:
                settled.add((cue.label, cue.seg))
        _set_findings(doc, self.findings(doc, S.EVIDENCE_LABELS), self.findings(doc, S.TRIGGERS),
                      [cue for cue in cues if cue.reason is not None], plain=plain)
        return doc

    def findings(self, doc: Doc, labels: Iterable[str]) -> list[Finding]:
        segs = doc.user_data.get("msp_sections") or []
        text = _segment.doc_text(doc)
        wanted = set(labels)
        best = {k: c for k, c in best_counted_cues(doc).items() if k[0] in wanted}
        out = []
        for (label, i), cue in sorted(best.items(), key=lambda kv: (segs[kv[0][1]].start, kv[0][0])):
            if cue.score < self.threshold:
                continue
            seg = segs[i]
            out.append(Finding(label, seg.start, seg.end, text[seg.start:seg.end], cue.score, cue.start, cue.end))
        return out


@Language.factory("msp_model", default_config={"path": None})
def make_model_component(nlp: Language, name: str, path: str | None):
    from .model import SentenceModel
    return ModelComponent(SentenceModel.load(path) if path else None)


class ModelComponent:
    """Trained sentence classifiers beside the rules (:mod:`msp_nlp.model`): they see each sentence's text and the
    rules' view of it (counted and discounted cues), and their thresholded probabilities replace the rule findings.
    Batched in ``pipe`` so that a whole batch of sentences is vectorised at once."""

    def __init__(self, model=None):
        self.model = model

    def __call__(self, doc: Doc, plain: bool = False) -> Doc:
        return next(iter(self.pipe([doc], plain=plain)))

    def pipe(self, docs, batch_size: int = 256, plain: bool = False):
        batch: list[Doc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= batch_size:
                yield from self._run(batch, plain)
                batch = []
        if batch:
            yield from self._run(batch, plain)

    def _run(self, docs: list[Doc], plain: bool = False):
        from .model import sentence_views
        if self.model is None:
            return docs
        texts, counted, disc, types, where = [], [], [], [], []  # where: (doc, sentence index, start, end) per row
        for d, doc in enumerate(docs):
            text = _segment.doc_text(doc)
            note_type = doc.user_data.get("msp_note_type") or ""
            for seg_i, (s0, s1, c, dd) in enumerate(sentence_views(doc)):
                texts.append(text[s0:s1])
                counted.append(c)
                disc.append(dd)
                types.append(note_type)
                where.append((d, seg_i, s0, s1))
        proba = self.model.predict_proba(texts, counted, disc, types, [w[0] for w in where])
        labels = self.model.labels
        # Every (sentence, label) at or above its threshold at once, in row-major order: per doc, sentences in order
        # and labels in model order (as a loop over the rows would give them).
        rows, cols = np.nonzero(proba >= self.model.thresholds)
        found: list[tuple[list[Finding], list[Finding]]] = [([], []) for _ in docs]
        best = [best_counted_cues(doc) for doc in docs]
        for r, j, p in zip(rows.tolist(), cols.tolist(), proba[rows, cols].tolist()):
            d, seg_i, s0, s1 = where[r]
            label = labels[j]
            cue = best[d].get((label, seg_i))
            f = Finding(label, s0, s1, texts[r], p, cue.start if cue else s0, cue.end if cue else s1)
            found[d][0 if label in _EVIDENCE else 1].append(f)
        for doc, (ev, tr) in zip(docs, found):
            _set_findings(doc, ev, tr, plain=plain)
        # What each note gives its case: per label the best sentence, if it reaches the case-level threshold.
        case_th = self.model.case_threshold_array()
        bounds = np.searchsorted(np.fromiter((w[0] for w in where), dtype=np.intp, count=len(where)),
                                 np.arange(len(docs) + 1))
        for d, doc in enumerate(docs):
            lo, hi = int(bounds[d]), int(bounds[d + 1])
            case_found: list[Finding] = []
            if hi > lo:
                top = lo + np.argmax(proba[lo:hi], axis=0)
                for j in np.nonzero(proba[top, np.arange(len(labels))] >= case_th)[0].tolist():
                    r = int(top[j])
                    _, seg_i, s0, s1 = where[r]
                    cue = best[d].get((labels[j], seg_i))
                    case_found.append(Finding(labels[j], s0, s1, texts[r], float(proba[r, j]),
                                              cue.start if cue else s0, cue.end if cue else s1))
            doc.user_data["msp_case_findings"] = case_found
        return docs


_EVIDENCE = frozenset(S.EVIDENCE_LABELS)


def build_nlp(model_path: str | None = None) -> Language:
    """A blank English pipeline with the MSP components (and the trained model beside the rules, if given)."""
    nlp = spacy.blank("en")
    nlp.add_pipe("msp_sentences")
    nlp.add_pipe("msp_detector")
    nlp.add_pipe("msp_context")
    if model_path:
        nlp.add_pipe("msp_model", config={"path": str(model_path)})
    return nlp


def default_model_path() -> Path | None:
    """The model the checker uses by default: ``$MSP_NLP_MODEL`` (a directory, or ``none`` for rules only), else
    the version named in ``models/LATEST`` of this repository, else none."""
    env = os.environ.get("MSP_NLP_MODEL")
    if env:
        return None if env.lower() in ("none", "rules", "") else Path(env)
    root = Path(__file__).resolve().parents[1] / "models"
    latest = root / "LATEST"
    if latest.is_file():
        p = root / latest.read_text(encoding="utf-8").strip()
        if p.is_dir():
            return p
    return None


def is_closing(note_type: str | None, text: str) -> bool:
    """A closing note: the note type or the text says the enquiry/case is closed or closing."""
    return bool((note_type and R.CLOSING_TYPE_RE.search(note_type)) or R.closing_text(text))


def to_analysis(doc: Doc, note_type: str | None = None, context: "ContextComponent | None" = None) -> NoteAnalysis:
    """Plain-data findings of a processed doc (``context``: the pipeline's ``msp_context`` component)."""
    if "msp_findings" in doc.user_data:
        ev, tr = doc.user_data["msp_findings"]
    else:
        comp = context or ContextComponent()
        ev, tr = comp.findings(doc, S.EVIDENCE_LABELS), comp.findings(doc, S.TRIGGERS)
    disc = []
    seen = set()
    segs = doc.user_data.get("msp_sections") or []
    text = _segment.doc_text(doc)
    counted = {(f.label, f.start) for f in ev + tr}
    for cue in doc.user_data.get("msp_cues") or []:
        if cue.reason is None or cue.seg < 0:
            continue
        seg = segs[cue.seg]
        key = (cue.label, cue.seg, cue.reason)
        if (cue.label, seg.start) in counted:
            continue  # the label counts in this sentence anyway
        if key in seen:
            continue
        seen.add(key)
        disc.append({"label": cue.label, "start": seg.start, "end": seg.end, "text": text[seg.start:seg.end],
                     "reason": cue.reason})
    return NoteAnalysis(ev, tr, disc, is_closing(note_type, text), doc.user_data.get("msp_case_findings"))


class Analyzer:
    """Loads the pipeline once and analyses notes into plain data."""

    def __init__(self, nlp: Language | None = None, model: str | Path | None = "default"):
        """``model``: "default" (see :func:`default_model_path`), a model directory, or None for rules only."""
        if nlp is None:
            path = default_model_path() if model == "default" else model
            nlp = build_nlp(str(path) if path else None)
        self.nlp = nlp
        self.context: ContextComponent = self.nlp.get_pipe("msp_context")
        self.model = self.nlp.get_pipe("msp_model").model if "msp_model" in self.nlp.pipe_names else None
        self.model_version = self.model.version if self.model is not None else "rules-only"

    def make_doc(self, text: str, adult_name: str | None = None, note_type: str | None = None) -> Doc:
        """A tokenised doc with what the components read beside the text: the adult's name (whose views count)
        and the note type (a feature of the trained model)."""
        doc = self.nlp.make_doc(text)
        doc.user_data["msp_text"] = text  # the tokenizer is non-destructive: doc.text == text
        doc.user_data["msp_adult_name"] = adult_name
        doc.user_data["msp_note_type"] = note_type
        return doc

    def analyse(self, text: str, note_type: str | None = None, adult_name: str | None = None) -> NoteAnalysis:
        doc = self.nlp(self.make_doc(text, adult_name, note_type))
        return to_analysis(doc, note_type, self.context)

    def analyse_many(self, items: Iterable[tuple[str, str | None, str | None]], batch_size: int = 256
                     ) -> Iterator[NoteAnalysis]:
        """``items`` are (text, note_type, adult_name); results in order."""
        buf = list(items)
        docs = (self.make_doc(t, a, nt) for t, nt, a in buf)
        # Only plain data leaves here: the components skip sentence starts and span groups (spaCy objects).
        cfg: dict[str, dict[str, Any]] = {name: {"plain": True} for name in ("msp_sentences", "msp_context", "msp_model")
                                          if name in self.nlp.pipe_names}
        for (t, nt, _), doc in zip(buf, self.nlp.pipe(docs, batch_size=batch_size, component_cfg=cfg)):
            yield to_analysis(doc, nt, self.context)
