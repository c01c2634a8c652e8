"""Trained sentence-level classifiers beside the rules, in a format that is safe to load.

For every evidence label and trigger a logistic regression scores each sentence from
  * word (1-2) and character (3-5, within words) n-gram TF-IDF features of the sentence,
  * the rule detector's view of it: per label, whether a rule cue counted there, and whether one was discounted
    (negated, hypothetical, someone else's ...) - so the model learns when to trust the rules, and
  * the words of the note's type ("Review", "Closure summary"; format 2 on), the same for every sentence of a note:
    a review note's "outcomes met" is outcome evidence, a concern's "wants it to stop" is a wish.
A per-label threshold chosen on dev (the one maximising note-level F1, ties to the higher threshold: precision first)
turns the probability into a finding.

**Safe format.** Models travel between teams and pickle runs code, so nothing here is pickled: a model directory
holds ``model.json`` (label set, vocabularies, thresholds, settings, metrics) and ``weights.npz`` (numeric arrays only,
read with ``allow_pickle=False``). Loading checks the format version, the array names, dtypes and shapes, and the label
set against the spec, and refuses anything else with a clear message.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections import Counter
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import sparse

from . import spec as S

FORMAT = "msp-nlp-sentence-model/2"
#: Formats ``load`` reads: /1 is /2 without the note-type block.
READ_FORMATS = ("msp-nlp-sentence-model/1", FORMAT)
MODEL_FILE, WEIGHTS_FILE = "model.json", "weights.npz"
WORD_PARAMS = {"ngram_range": (1, 2), "sublinear_tf": True, "lowercase": True, "token_pattern": r"(?u)\b\w[\w'/]*\b"}
CHAR_PARAMS = {"analyzer": "char_wb", "ngram_range": (3, 5), "sublinear_tf": True, "lowercase": True}
N_RULE_FEATURES = 2 * len(S.ALL_LABELS)
#: The note-type block: unigrams of the note type (one vocabulary of its own), scaled by NOTE_TYPE_WEIGHT. Chosen in a
#: nested cross-validation over train+dev cases (evidence note macro-F1 +0.011 [+0.005, +0.016]; dev +0.018).
TYPE_PARAMS = {"sublinear_tf": True, "lowercase": True, "token_pattern": r"(?u)\b\w+\b"}
NOTE_TYPE_WEIGHT = 0.5
#: Neighbour context (``train(neighbours=True)``): the note-type block also gets one token per rule label counted in
#: the sentence before ("p" + label, or "pfirst") and after ("n" + label, or "nlast") in the same note, so that the
#: model sees what the rules found around a sentence ("Seen alone." before "She said ..."). Off by default: +0.003
#: evidence macro-F1 on out-of-fold predictions over train+dev, but -0.008 on dev (reports/neighbour_context).
NEIGHBOUR_CONTEXT = False
_LABEL_INDEX = {lab: i for i, lab in enumerate(S.ALL_LABELS)}
#: Words whose char n-gram column ids the fast inference path keeps, per model (~0.1-1 KB each: ~10 MB at most).
CHAR_WORD_CACHE = 1 << 14


class ModelError(ValueError):
    """A model directory that cannot be used (wrong format, unexpected types, another label set)."""


def _vectorizers(word_vocab=None, char_vocab=None, word_idf=None, char_idf=None, min_df: int = 2):
    from sklearn.feature_extraction.text import TfidfVectorizer
    w = TfidfVectorizer(**WORD_PARAMS, vocabulary=word_vocab, min_df=1 if word_vocab else min_df, dtype=np.float32)
    c = TfidfVectorizer(**CHAR_PARAMS, vocabulary=char_vocab, min_df=1 if char_vocab else min_df, dtype=np.float32)
    if word_idf is not None:
        w.idf_ = word_idf
        c.idf_ = char_idf
    return w, c


def _rule_entries(rule_labels: Sequence[set[str]], discounted: Sequence[set[str]]) -> tuple[list[int], list[int]]:
    """(row, column) of every rule feature that is on: columns are labels (counted cue), then labels again
    (discounted cue)."""
    rows, cols = [], []
    n = len(S.ALL_LABELS)
    for r, (counted, disc) in enumerate(zip(rule_labels, discounted)):
        for lab in counted:
            rows.append(r)
            cols.append(_LABEL_INDEX[lab])
        for lab in disc:
            rows.append(r)
            cols.append(n + _LABEL_INDEX[lab])
    return rows, cols


def rule_features(rule_labels: Sequence[set[str]], discounted: Sequence[set[str]]) -> sparse.csr_matrix:
    """Per sentence: one column per label for a counted rule cue, one per label for a discounted one."""
    rows, cols = _rule_entries(rule_labels, discounted)
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(rule_labels), N_RULE_FEATURES))


@dataclass
class SentenceModel:
    labels: list[str]
    word_vocab: dict[str, int]
    char_vocab: dict[str, int]
    word_idf: np.ndarray
    char_idf: np.ndarray
    coef: np.ndarray  # (n_labels, n_features) float32
    intercept: np.ndarray  # (n_labels,)
    thresholds: np.ndarray  # (n_labels,)
    rule_weight: float = 1.0
    meta: dict = field(default_factory=dict)
    type_vocab: dict[str, int] = field(default_factory=dict)  # empty: no note-type block (a format /1 model)
    type_idf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    type_weight: float = 0.0
    #: whether the note-type block also carries the neighbouring sentences' rule labels (:func:`neighbour_types`)
    neighbours: bool = False
    #: per label, the score a note's best sentence needs for the label to count for its whole case (case flags);
    #: None: the note thresholds (models trained before case thresholds existed)
    case_thresholds: np.ndarray | None = None

    def __post_init__(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        self._w, self._c = _vectorizers(self.word_vocab, self.char_vocab, self.word_idf, self.char_idf)
        self._ta = TfidfVectorizer(**TYPE_PARAMS).build_analyzer()
        # sklearn's own analyzers (same tokenisation and n-grams as training), applied without its per-call
        # validation overhead, which dominates when the service checks one note at a time.
        self._wa, self._ca = self._w.build_analyzer(), self._c.build_analyzer()
        # Fast inference path (``predict_proba``): char_wb n-grams never cross a word boundary, so a sentence's char
        # n-grams are the concatenation of its words' own; each word's in-vocabulary column ids are computed once
        # (by sklearn's own ``_char_wb_ngrams``) and kept in a bounded LRU cache (``CHAR_WORD_CACHE`` words).
        self._char_prep = self._c.build_preprocessor()
        self._char_ids = functools.lru_cache(maxsize=CHAR_WORD_CACHE)(self._char_ids_of_word)
        self._n_word = len(self.word_vocab)
        self._idf64 = np.concatenate([np.asarray(self.word_idf, np.float64), np.asarray(self.char_idf, np.float64)])
        self._coef_src = None  # self.coef the float64 copy below was made from (training replaces self.coef)
        self._coef_t = None

    @property
    def version(self) -> str:
        return self.meta.get("version", "unversioned")

    def case_threshold_array(self) -> np.ndarray:
        """Per label, the case-level threshold (the note threshold where the model has none)."""
        return self.thresholds if self.case_thresholds is None else self.case_thresholds

    def features(self, sentences: Sequence[str], rule_labels: Sequence[set[str]], discounted: Sequence[set[str]],
                 note_types: Sequence[str | None] | None = None, groups: Sequence[int] | None = None):
        """The feature matrix (TF-IDF word block, TF-IDF char block, weighted rule features, weighted note-type
        block), as a sparse matrix. ``predict_proba`` does not build it (see ``_decision``); kept for analysis and
        for the tests."""
        blocks = [_tfidf(self._wa, self.word_vocab, self.word_idf, sentences),
                  _tfidf(self._ca, self.char_vocab, self.char_idf, sentences),
                  rule_features(rule_labels, discounted) * self.rule_weight]
        if self.type_vocab:
            blocks.append(_tfidf(self._ta, self.type_vocab, self.type_idf,
                                 self._type_docs(note_types, rule_labels, groups, len(sentences)))
                          * self.type_weight)
        return sparse.hstack(blocks, format="csr")

    def predict_proba(self, sentences: Sequence[str], rule_labels: Sequence[set[str]],
                      discounted: Sequence[set[str]], note_types: Sequence[str | None] | None = None,
                      groups: Sequence[int] | None = None) -> np.ndarray:
        """(n_sentences, n_labels) probabilities, float64: ``sigmoid(features @ coef.T + intercept)``.
        ``note_types``: each sentence's note type (None or "" when the note has none; all none if omitted).
        ``groups``: which note each sentence belongs to (sentences of a note consecutive and in order), for a model
        that reads the neighbouring sentences (``neighbours``); None: the sentences are all of one note, in order."""
        if groups is not None and len(groups) != len(sentences):
            raise ValueError(f"{len(groups)} groups for {len(sentences)} sentences: give one per sentence")
        if not len(sentences):
            return np.zeros((0, len(self.labels)), dtype=np.float64)
        z = self._decision(sentences, rule_labels, discounted, note_types, groups)
        return 1.0 / (1.0 + np.exp(-z))

    def _type_docs(self, note_types, rule_labels, groups, n: int) -> list[str]:
        """What the note-type block reads per sentence: the note type, and with ``neighbours`` the neighbour tokens."""
        types = _types(note_types, n)
        if not self.neighbours:
            return types
        return neighbour_types(types, rule_labels, [0] * n if groups is None else groups)

    # --- fast inference ----------------------------------------------------------------------------------------------
    def _char_ids_of_word(self, word: str) -> tuple[int, ...]:
        get, off = self.char_vocab.get, self._n_word
        return tuple(off + j for j in map(get, self._c._char_wb_ngrams(word)) if j is not None)

    def _weights_t(self) -> np.ndarray:
        """``coef.T`` as a C-contiguous float64 array (n_features, n_labels), made once per ``self.coef``."""
        if self._coef_src is not self.coef:
            self._coef_t = np.ascontiguousarray(np.asarray(self.coef, dtype=np.float64).T)
            self._coef_src = self.coef
        return self._coef_t

    def _decision(self, sentences: Sequence[str], rule_labels: Sequence[set[str]],
                  discounted: Sequence[set[str]], note_types: Sequence[str | None] | None = None,
                  groups: Sequence[int] | None = None) -> np.ndarray:
        """``features(...) @ coef.T + intercept`` in float64 for all sentences at once, without building the
        feature matrix: per sentence and block the distinct in-vocabulary n-grams are counted in Python (C-level
        ``Counter``), then one vectorised pass computes sublinear TF x IDF, the per-block L2 norms, and gathers and
        sums the weight rows of every n-gram.  Equal to sklearn's vectorisers + decision function (tested to 1e-9)."""
        n = len(sentences)
        wa, wget, char_ids, prep = self._wa, self.word_vocab.get, self._char_ids, self._char_prep
        chain = itertools.chain.from_iterable
        cols: list[int] = []
        cnts: list[int] = []
        sizes: list[int] = []  # entries per (sentence, block): word block then char block, the units of L2 norm
        for s in sentences:
            c = Counter(map(wget, wa(s)))  # counted by column id (C-level); None: out of vocabulary
            c.pop(None, None)
            cols.extend(c.keys())
            cnts.extend(c.values())
            sizes.append(len(c))
            # char_wb n-grams never cross whitespace: the sentence's are its words' (split as sklearn splits)
            c = Counter(chain(map(char_ids, prep(s).split())))
            cols.extend(c.keys())
            cnts.extend(c.values())
            sizes.append(len(c))
        coef_t = self._weights_t()
        z = np.zeros((n, len(self.labels)), dtype=np.float64)
        if cols:
            col = np.array(cols, dtype=np.intp)
            size = np.array(sizes, dtype=np.intp)
            g = np.repeat(np.arange(2 * n, dtype=np.intp), size)
            val = (1.0 + np.log(np.array(cnts, dtype=np.float64))) * self._idf64[col]
            val /= np.sqrt(np.bincount(g, weights=val * val, minlength=2 * n))[g]
            # entries are in sentence order: one sparse product sums each sentence's weighted weight rows (without
            # materialising an entries x labels array: that was ~60 MB for a batch of 256 notes)
            indptr = np.concatenate(([0], np.cumsum(size[0::2] + size[1::2])))
            z += sparse.csr_matrix((val, col, indptr), shape=(n, coef_t.shape[0])) @ coef_t
        rrows, rcols = _rule_entries(rule_labels, discounted)
        if rcols:
            base = self._n_word + len(self.char_vocab)  # the rule block follows the word and character blocks
            np.add.at(z, np.array(rrows, dtype=np.intp),
                      coef_t[base + np.array(rcols, dtype=np.intp)] * float(self.rule_weight))
        if self.type_vocab:
            # one row per distinct note type (a batch has a handful), added to each of its sentences
            docs = self._type_docs(note_types, rule_labels, groups, n)
            uniq, inv = np.unique(np.array(docs, dtype=object), return_inverse=True)
            base = self._n_word + len(self.char_vocab) + N_RULE_FEATURES  # the block after the rule block
            t = _tfidf(self._ta, self.type_vocab, self.type_idf, list(uniq), np.float64) * self.type_weight
            z += (t @ coef_t[base:base + len(self.type_vocab)])[inv.reshape(-1)]
        z += np.asarray(self.intercept, dtype=np.float64)
        return z

    # --- safe persistence ------------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        meta = dict(self.meta)
        meta.update({"format": FORMAT, "labels": self.labels, "spec_version": S.SPEC_VERSION,
                     "thresholds": {lab: float(t) for lab, t in zip(self.labels, self.thresholds)},
                     **({} if self.case_thresholds is None else
                        {"case_thresholds": {lab: float(t) for lab, t in zip(self.labels, self.case_thresholds)}}),
                     "rule_weight": self.rule_weight, "word_params": {k: list(v) if isinstance(v, tuple) else v
                                                                      for k, v in WORD_PARAMS.items()},
                     "char_params": {k: list(v) if isinstance(v, tuple) else v for k, v in CHAR_PARAMS.items()},
                     "type_params": TYPE_PARAMS, "type_weight": self.type_weight,
                     **({"neighbour_context": True} if self.neighbours else {}),
                     "word_vocab": _vocab_list(self.word_vocab), "char_vocab": _vocab_list(self.char_vocab),
                     "type_vocab": _vocab_list(self.type_vocab)})
        (d / MODEL_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        np.savez_compressed(d / WEIGHTS_FILE, word_idf=self.word_idf.astype(np.float32),
                            char_idf=self.char_idf.astype(np.float32), type_idf=self.type_idf.astype(np.float32),
                            coef=self.coef.astype(np.float16), intercept=self.intercept.astype(np.float32))

    @classmethod
    def load(cls, directory: str | Path) -> "SentenceModel":
        d = Path(directory)
        mf, wf = d / MODEL_FILE, d / WEIGHTS_FILE
        if not mf.is_file() or not wf.is_file():
            raise ModelError(f"{d}: not a model directory (needs {MODEL_FILE} and {WEIGHTS_FILE}); "
                             "train one with `msp-nlp train`")
        try:
            meta = json.loads(mf.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelError(f"{mf}: not a JSON model description ({e.__class__.__name__})") from None
        if not isinstance(meta, dict) or meta.get("format") not in READ_FORMATS:
            raise ModelError(f"{mf}: unknown model format {meta.get('format') if isinstance(meta, dict) else None!r}; "
                             f"this version of msp-nlp reads {' and '.join(READ_FORMATS)}")
        has_types = meta["format"] != READ_FORMATS[0]
        labels = meta.get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ModelError(f"{mf}: 'labels' must be a list of label codes")
        try:
            S.check_labels(labels, what=f"{mf}: the model's labels")
        except ValueError as e:
            raise ModelError(str(e)) from None
        if labels != list(S.ALL_LABELS):
            raise ModelError(f"{mf}: labels are not in the spec's order; retrain with `msp-nlp train`")
        wv, cv = meta.get("word_vocab"), meta.get("char_vocab")
        tv = meta.get("type_vocab") if has_types else []
        if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in (wv, cv, tv)):
            raise ModelError(f"{mf}: vocabularies must be lists of strings")
        type_weight = meta.get("type_weight", 0.0) if has_types else 0.0
        if not isinstance(type_weight, (int, float)) or isinstance(type_weight, bool):
            raise ModelError(f"{mf}: 'type_weight' must be a number")
        try:
            with np.load(wf, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (ValueError, OSError) as e:
            raise ModelError(f"{wf}: refused: not a plain numeric array file ({e})") from None
        expected = {"word_idf", "char_idf", "coef", "intercept"} | ({"type_idf"} if has_types else set())
        if set(arrays) != expected:
            raise ModelError(f"{wf}: unexpected arrays {sorted(set(arrays) ^ expected)}")
        for k, a in arrays.items():
            if a.dtype.kind != "f":
                raise ModelError(f"{wf}: array {k!r} has type {a.dtype}, expected floating point")
        n_feat = len(wv) + len(cv) + N_RULE_FEATURES + len(tv)
        type_idf = arrays.get("type_idf", np.zeros(0, np.float32))
        if arrays["coef"].shape != (len(labels), n_feat) or arrays["intercept"].shape != (len(labels),) \
                or arrays["word_idf"].shape != (len(wv),) or arrays["char_idf"].shape != (len(cv),) \
                or type_idf.shape != (len(tv),):
            raise ModelError(f"{wf}: array shapes do not match the vocabularies and labels")
        th = meta.get("thresholds", {})
        if set(th) != set(labels) or not all(isinstance(v, (int, float)) for v in th.values()):
            raise ModelError(f"{mf}: 'thresholds' must give a number for every label")
        neighbours = meta.get("neighbour_context", False) if has_types else False
        if not isinstance(neighbours, bool):
            raise ModelError(f"{mf}: 'neighbour_context' must be true or false")
        cth = meta.get("case_thresholds")
        if cth is not None and (not isinstance(cth, dict) or set(cth) != set(labels)
                                or not all(isinstance(v, (int, float)) for v in cth.values())):
            raise ModelError(f"{mf}: 'case_thresholds' must give a number for every label")
        return cls(labels, {t: i for i, t in enumerate(wv)}, {t: i for i, t in enumerate(cv)},
                   arrays["word_idf"].astype(np.float32), arrays["char_idf"].astype(np.float32),
                   arrays["coef"].astype(np.float32), arrays["intercept"].astype(np.float32),
                   np.array([th[lab] for lab in labels], dtype=np.float32), float(meta.get("rule_weight", 1.0)),
                   {k: v for k, v in meta.items() if k not in ("word_vocab", "char_vocab", "type_vocab")},
                   {t: i for i, t in enumerate(tv)}, type_idf.astype(np.float32), float(type_weight), neighbours,
                   None if cth is None else np.array([cth[lab] for lab in labels], dtype=np.float32))


def _types(note_types: Sequence[str | None] | None, n: int) -> list[str]:
    """Each sentence's note type as text: "" for none (None, "", or a missing value such as pandas' NaN), all ""
    when ``note_types`` is None."""
    if note_types is None:
        return [""] * n
    if len(note_types) != n:
        raise ValueError(f"{len(note_types)} note types for {n} sentences: give one per sentence")
    return [t if isinstance(t, str) else "" for t in note_types]


def neighbour_types(types: Sequence[str], rule_labels: Sequence[set[str]], groups: Sequence[int]) -> list[str]:
    """Each sentence's note type followed by tokens for the rule labels counted in the sentence before it and after
    it in the same note ("p" / "n" + the label without underscores, in the spec's label order; "pfirst" / "nlast"
    at the note's edges)."""
    n = len(types)
    if len(rule_labels) != n or len(groups) != n:
        raise ValueError(f"{n} sentences, {len(rule_labels)} rule label sets and {len(groups)} groups: give one each")
    order = S.ALL_LABELS
    out = []
    for i in range(n):
        parts = [types[i]] if types[i] else []
        if i > 0 and groups[i - 1] == groups[i]:
            parts += ["p" + lab.replace("_", "") for lab in order if lab in rule_labels[i - 1]]
        else:
            parts.append("pfirst")
        if i + 1 < n and groups[i + 1] == groups[i]:
            parts += ["n" + lab.replace("_", "") for lab in order if lab in rule_labels[i + 1]]
        else:
            parts.append("nlast")
        out.append(" ".join(parts))
    return out


def _tfidf(analyze, vocab: dict[str, int], idf: np.ndarray, docs: Sequence[str], dtype=np.float32
           ) -> sparse.csr_matrix:
    """TF-IDF rows exactly as ``TfidfVectorizer(sublinear_tf=True, norm="l2")`` computes them for a fixed vocabulary
    (tested against it), computed in float64 and stored as ``dtype``."""
    indptr, indices, data = [0], [], []
    get = vocab.get
    for d in docs:
        counts: dict[int, int] = {}
        for g, n in Counter(analyze(d)).items():  # C-level counting, then one lookup per distinct n-gram
            j = get(g)
            if j is not None:
                counts[j] = n
        if counts:
            idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            val = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[idx]
            val /= np.sqrt(np.dot(val, val))
            indices.append(idx)
            data.append(val.astype(dtype))
        indptr.append(indptr[-1] + len(counts))
    return sparse.csr_matrix((np.concatenate(data) if data else np.zeros(0, dtype),
                              np.concatenate(indices) if indices else np.zeros(0, np.int64), indptr),
                             shape=(len(docs), len(vocab)))


def _vocab_list(vocab: dict[str, int]) -> list[str]:
    out = [""] * len(vocab)
    for t, i in vocab.items():
        out[i] = t
    return out


# --- training ----------------------------------------------------------------------------------------------------

@dataclass
class SentenceSet:
    texts: list[str]
    rule_labels: list[set[str]]
    discounted: list[set[str]]
    gold: np.ndarray  # (n, n_labels) 0/1
    note_index: list[int]  # which note each sentence belongs to
    note_types: list[str] = field(default_factory=list)  # each sentence's note type ("" for none)


def sentence_set(notes, analyzer=None) -> SentenceSet:
    """Sentences of annotated notes with the rules' view of each and the gold labels (a sentence has a label when
    a gold span of it overlaps the sentence)."""
    from .pipeline import Analyzer
    an = analyzer or Analyzer(model=None)
    texts, rl, disc, gold, idx, types = [], [], [], [], [], []
    lab_i = {lab: i for i, lab in enumerate(S.ALL_LABELS)}
    for ni, n in enumerate(notes):
        doc = an.nlp(an.make_doc(n.text, n.adult_name, n.note_type))
        for view in sentence_views(doc):
            s0, s1, counted, dis = view
            texts.append(n.text[s0:s1])
            rl.append(counted)
            disc.append(dis)
            y = np.zeros(len(S.ALL_LABELS), dtype=np.int8)
            for sp in n.spans:
                if sp["start"] < s1 and s0 < sp["end"]:
                    y[lab_i[sp["label"]]] = 1
            gold.append(y)
            idx.append(ni)
            types.append(n.note_type or "")
    return SentenceSet(texts, rl, disc, np.array(gold).reshape(-1, len(S.ALL_LABELS)), idx, types)


def sentence_views(doc) -> list[tuple[int, int, set[str], set[str]]]:
    """(start, end, counted rule labels, discounted rule labels) for every sentence of a processed doc."""
    segs = doc.user_data.get("msp_sections") or []
    counted: list[set[str]] = [set() for _ in segs]
    disc: list[set[str]] = [set() for _ in segs]
    for cue in doc.user_data.get("msp_cues") or []:
        if cue.seg < 0:
            continue
        (counted if cue.reason is None else disc)[cue.seg].add(cue.label)
    return [(s.start, s.end, counted[i], disc[i] - counted[i]) for i, s in enumerate(segs)]


def best_threshold(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """The threshold maximising F1 on (y, p), ties to the higher threshold (fewer false flags of evidence)."""
    best_t, best_f = 0.5, -1.0
    for t in np.round(np.arange(0.05, 0.96, 0.025), 3):
        pred = p >= t
        tp = int((pred & (y == 1)).sum())
        fp = int((pred & (y == 0)).sum())
        fn = int((~pred & (y == 1)).sum())
        f = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f >= best_f:
            best_t, best_f = float(t), f
    return best_t, best_f


def note_max(proba: np.ndarray, note_index: Sequence[int], n_notes: int) -> np.ndarray:
    """Per note and label, its best sentence's probability (0 for a note without sentences)."""
    out = np.zeros((n_notes, proba.shape[1]), dtype=np.float32)
    for i, ni in enumerate(note_index):
        out[ni] = np.maximum(out[ni], proba[i])
    return out


def note_gold(notes, labels: Sequence[str] = S.ALL_LABELS) -> np.ndarray:
    """Per note and label, 1 when the note has the label."""
    return np.array([[int(lab in n.labels) for lab in labels] for n in notes], dtype=np.int8).reshape(-1, len(labels))


def note_thresholds(gold: np.ndarray, nmax: np.ndarray) -> np.ndarray:
    """Per label, :func:`best_threshold` at note level (0.5 for a label no note has)."""
    return np.array([best_threshold(gold[:, j], nmax[:, j])[0] if gold[:, j].any() else 0.5
                     for j in range(gold.shape[1])], dtype=np.float32)


def case_flag_matrix(present: np.ndarray, closing: np.ndarray, labels: Sequence[str] = S.ALL_LABELS) -> np.ndarray:
    """Per case and flag of the spec (``S.FLAGS`` order), whether it is raised, given per case and label whether the
    label is present (bool, cases x labels) and whether the case has a closing note (bool, cases)."""
    ix = {lab: j for j, lab in enumerate(labels)}
    out = np.zeros((present.shape[0], len(S.FLAGS)), dtype=bool)
    for k, f in enumerate(S.FLAGS):
        applies = np.ones(present.shape[0], bool) if not f.when_any else np.zeros(present.shape[0], bool)
        for t in f.when_any:
            applies |= closing if t == S.CLOSING else present[:, ix[t]]
        out[:, k] = applies & ~present[:, ix[f.missing]]
    return out


def _flag_f1(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Per column F1 of bool matrices (1.0 where neither has a positive, as :mod:`msp_nlp.evaluate` counts it)."""
    tp = (pred & gold).sum(0)
    wrong = (pred ^ gold).sum(0)
    return np.where(2 * tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 1.0)


def case_max(values: np.ndarray, case_ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Per case (in first-seen order), the column-wise maximum over its notes' rows."""
    order: dict[str, int] = {}
    idx = np.array([order.setdefault(c, len(order)) for c in case_ids], dtype=np.intp)
    out = np.full((len(order), values.shape[1]), -np.inf)
    np.maximum.at(out, idx, values.astype(np.float64))
    return list(order), out


def case_thresholds(nmax: np.ndarray, gold: np.ndarray, case_ids: Sequence[str], gold_closing: Sequence[bool],
                    pred_closing: Sequence[bool], start: np.ndarray, passes: int = 3) -> np.ndarray:
    """Per label, the score a note's best sentence needs for the label to count for its whole case, chosen to
    maximise the macro-F1 of the spec's case flags over these cases (``nmax``: per note and label the best
    sentence's probability from a model that did not see the note; ``gold``: per note and label 0/1).

    Why not the note thresholds: a case is as many chances for a false finding as it has notes, so a label
    present in *any* note is over-called at case level by the thresholds that are best for one note (a
    5-note case with one weak ``adult_views`` guess hides ``views_missing``). Coordinate ascent from ``start``
    (the note thresholds) over the grid of :func:`best_threshold`; a threshold moves only on a strict gain."""
    _, cmax = case_max(nmax, case_ids)
    _, cgold = case_max(gold, case_ids)
    _, cclose = case_max(np.asarray(gold_closing, dtype=float).reshape(-1, 1), case_ids)
    _, pclose = case_max(np.asarray(pred_closing, dtype=float).reshape(-1, 1), case_ids)
    gold_flags = case_flag_matrix(cgold > 0, cclose[:, 0] > 0)
    pclose_b = pclose[:, 0] > 0

    def score(th: np.ndarray) -> float:
        return float(_flag_f1(case_flag_matrix(cmax >= th, pclose_b), gold_flags).mean())

    th = np.asarray(start, dtype=np.float64).copy()
    best = score(th)
    grid = np.round(np.arange(0.05, 0.96, 0.025), 3)
    for _ in range(passes):
        moved = False
        for j in range(th.size):
            for g in grid:
                trial = th.copy()
                trial[j] = g
                s = score(trial)
                if s > best + 1e-12:
                    best, th, moved = s, trial, True
        if not moved:
            break
    return th.astype(np.float32)


def data_hash(paths: Iterable[str | Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(str(x) for x in paths):
        h.update(Path(p).read_bytes())
    return h.hexdigest()


def _fit_all(X, gold: np.ndarray, coef: np.ndarray, intercept: np.ndarray, C: float, seed: int) -> None:
    from sklearn.linear_model import LogisticRegression
    for j in range(len(S.ALL_LABELS)):
        y = gold[:, j]
        if y.min() == y.max():  # a label absent from training: never predicted
            intercept[j] = -20.0
            continue
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed)
        clf.fit(X, y)
        coef[j] = clf.coef_[0]
        intercept[j] = clf.intercept_[0]


def _fit(ss: SentenceSet, *, C: float, min_df: int, rule_weight: float, seed: int, version: str,
         type_weight: float = NOTE_TYPE_WEIGHT, neighbours: bool = NEIGHBOUR_CONTEXT) -> SentenceModel:
    """Fit the vectorisers and one logistic regression per label on a sentence set; weights rounded as stored."""
    import sklearn.linear_model  # noqa: F401  (load SciPy/sklearn BLAS before limiting its threads)
    from threadpoolctl import threadpool_limits
    from sklearn.feature_extraction.text import TfidfVectorizer
    w, c = _vectorizers(min_df=min_df)
    Xw, Xc = w.fit_transform(ss.texts), c.fit_transform(ss.texts)
    blocks = [Xw, Xc, rule_features(ss.rule_labels, ss.discounted) * rule_weight]
    type_vocab, type_idf = {}, np.zeros(0, np.float32)
    if type_weight:
        t = TfidfVectorizer(**TYPE_PARAMS, min_df=min_df, dtype=np.float32)
        try:
            docs = _types(ss.note_types or None, len(ss.texts))
            Xt = t.fit_transform(neighbour_types(docs, ss.rule_labels, ss.note_index) if neighbours else docs)
        except ValueError:  # no note-type word seen min_df times (or no note has a type): no note-type block
            type_weight, neighbours = 0.0, False
        else:
            blocks.append(Xt * type_weight)
            type_vocab, type_idf = dict(t.vocabulary_), t.idf_.astype(np.float32)
    X = sparse.hstack(blocks, format="csr")
    coef = np.zeros((len(S.ALL_LABELS), X.shape[1]), dtype=np.float32)
    intercept = np.zeros(len(S.ALL_LABELS), dtype=np.float32)
    # One BLAS thread: on 2 busy cores OpenBLAS's extra threads spin and block each other (same model either way).
    with threadpool_limits(limits=1):
        _fit_all(X, ss.gold, coef, intercept, C, seed)
    model = SentenceModel(list(S.ALL_LABELS), w.vocabulary_, c.vocabulary_, w.idf_.astype(np.float32),
                          c.idf_.astype(np.float32), coef, intercept, np.full(len(S.ALL_LABELS), 0.5, np.float32),
                          rule_weight, {"version": version}, type_vocab, type_idf, type_weight,
                          bool(neighbours and type_weight))
    model.coef = model.coef.astype(np.float16).astype(np.float32)
    return model


def _rows(ss: SentenceSet, rows: Sequence[int]) -> SentenceSet:
    return SentenceSet([ss.texts[i] for i in rows], [ss.rule_labels[i] for i in rows],
                       [ss.discounted[i] for i in rows], ss.gold[list(rows)], [ss.note_index[i] for i in rows],
                       [ss.note_types[i] for i in rows] if ss.note_types else [])


def _fold_note_max(ss: SentenceSet, fit_rows, held, n_notes: int, fit_args: dict) -> np.ndarray:
    part = _rows(ss, held)
    p = _fit(_rows(ss, fit_rows), **fit_args).predict_proba(part.texts, part.rule_labels, part.discounted,
                                                            part.note_types or None, part.note_index)
    return note_max(p, part.note_index, n_notes)


def out_of_fold_note_max(notes, ss: SentenceSet, folds: int = 5, n_jobs: int = 2, **fit_args) -> np.ndarray:
    """Per note and label, its best sentence's probability from a model that did not see the note's case
    (``folds``-fold cross-validation grouped by case; folds fitted in ``n_jobs`` processes, same result)."""
    from joblib import Parallel, delayed
    from sklearn.model_selection import GroupKFold
    groups = [notes[ni].case_id for ni in ss.note_index]
    splits = list(GroupKFold(n_splits=folds).split(ss.texts, groups=groups))
    parts = Parallel(n_jobs=n_jobs)(delayed(_fold_note_max)(ss, fit_rows, held, len(notes), fit_args)
                                    for fit_rows, held in splits)
    return np.maximum.reduce(parts)


def train(train_notes, dev_notes, *, C: float = 16.0, min_df: int = 2, rule_weight: float = 3.0, seed: int = 0,
          version: str = "dev", analyzer=None, folds: int = 5, type_weight: float = NOTE_TYPE_WEIGHT,
          case_level: bool = False, neighbours: bool = NEIGHBOUR_CONTEXT) -> SentenceModel:
    """Fit one logistic regression per label on the train sentences. Thresholds are chosen on out-of-fold
    predictions for the train notes (``folds``-fold, grouped by case) pooled with the final model's predictions for
    dev: a choice made on ~8 times the notes of dev alone (dev-only thresholds were optimistic on dev and noisier
    on unseen cases in a nested cross-validation). ``folds=0`` chooses them on dev alone.

    ``case_level``: also choose case thresholds (:func:`case_thresholds`) on the same predictions. Off by default:
    on this corpus their gain in a nested cross-validation came only from the later train-only batches; on the
    cases of the batches dev and test are drawn from they did not help (``reports/case_thresholds/README.md``).
    ``neighbours``: the note-type block also reads the neighbouring sentences' rule labels (:data:`NEIGHBOUR_CONTEXT`)."""
    t0 = time.time()
    tr = sentence_set(train_notes, analyzer)
    dv = sentence_set(dev_notes, analyzer)
    fit_args = {"C": C, "min_df": min_df, "rule_weight": rule_weight, "seed": seed, "version": version,
                "type_weight": type_weight, "neighbours": neighbours}
    model = _fit(tr, **fit_args)
    # Thresholds at note level (what flags are made of): a note has a label when its best sentence reaches it.
    gold = note_gold(dev_notes)
    nmax = note_max(model.predict_proba(dv.texts, dv.rule_labels, dv.discounted, dv.note_types, dv.note_index),
                    dv.note_index, len(dev_notes))
    if folds:
        gold = np.vstack([note_gold(train_notes), gold])
        nmax = np.vstack([out_of_fold_note_max(train_notes, tr, folds, **fit_args), nmax])
    model.thresholds = note_thresholds(gold, nmax)
    if case_level:  # on the same predictions, grouped by case (train cases, then dev cases)
        from .pipeline import is_closing
        pooled = (list(train_notes) + list(dev_notes)) if folds else list(dev_notes)
        model.case_thresholds = case_thresholds(nmax, gold, [n.case_id for n in pooled], [n.closing for n in pooled],
                                                [is_closing(n.note_type, n.text) for n in pooled],
                                                model.thresholds)
    model.meta.update({"trained_seconds": round(time.time() - t0, 1), "train_sentences": len(tr.texts),
                       "dev_sentences": len(dv.texts), "train_notes": len(train_notes), "dev_notes": len(dev_notes),
                       "hyperparameters": {"C": C, "min_df": min_df, "rule_weight": rule_weight, "seed": seed,
                                           "note_type_weight": model.type_weight,
                                           "neighbour_context": model.neighbours,
                                           "class_weight": "balanced", "classifier": "LogisticRegression",
                                           "threshold_folds": folds},
                       "threshold_rule": ("per label, the threshold maximising note-level F1 (a note has the label when "
                                          "its best sentence reaches it; ties: the higher threshold) on "
                                          + (f"train {folds}-fold out-of-fold predictions (grouped by case) pooled "
                                             "with dev" if folds else "dev")),
                       **({} if not case_level else {"case_threshold_rule": ("per label, the score a note's best sentence needs for the label to "
                                               "count for its case: coordinate ascent from the note thresholds "
                                               "maximising the macro-F1 of the case flags over the same "
                                               "predictions, grouped by case")})})
    return model
