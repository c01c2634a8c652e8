"""spaCy ``textcat_multilabel`` sentence classifiers, compared on dev with the shipped SentenceModel and the rules.

The issue: "try a spaCy textcat_multilabel / spancat model, and keep what wins on dev. Report the comparison."
This module trains ``textcat_multilabel`` pipelines on ``spacy.blank("en")`` (no pretrained vectors) on exactly the
sentence units and gold labels that :func:`msp_nlp.model.train` uses (:func:`msp_nlp.model.sentence_set`: the rule
pipeline's segmentation; a sentence has a label when a gold span overlaps it), scores every system with the same
note-level procedure as :class:`msp_nlp.model.SentenceModel` (a note has a label when one of its sentences'
probability reaches the label's threshold; thresholds by :func:`msp_nlp.model.best_threshold` on dev), and writes
a report::

    python -m msp_nlp.spacy_textcat --train data/annotated/train.jsonl --dev data/annotated/dev.jsonl \\
        -o reports/model_comparison

Only the train and dev files are read; the test split is never touched here. Everything is seeded and runs on
one thread, so a re-run on the same data gives the same numbers (and the report is regenerated, never edited by
hand, when the corpus grows).

Systems (``SYSTEMS``): the rules alone, the SentenceModel (trained in-process by ``msp_nlp.model.train``, seed 0,
its default hyperparameters as ``msp-nlp train`` uses them), and spaCy textcat variants: a bag-of-n-grams linear
model (``spacy.TextCatBOW.v3``), an ensemble of that with a small CNN (``spacy.TextCatEnsemble.v2`` over
``spacy.Tok2Vec.v2`` with hash embeddings and a maxout window encoder, width 64), and a CNN alone
(``spacy.TextCatReduce.v1`` over ``spacy.HashEmbedCNN.v2``, width 64); the ``+rules`` variants append the rule
detector's view of the sentence (a token per label whose cue counted, another per label whose cue was discounted)
to the text, as the SentenceModel gets it as features.

The number of epochs of each spaCy system is chosen on dev (the epoch with the best evidence macro-F1 at tuned
thresholds, up to ``--max-epochs``); training is deterministic, so that is the same as training for that fixed
number of epochs (``--epochs N`` does exactly that).
"""

from __future__ import annotations

import os

# One thread for every numeric library (effective when this module is imported before numpy, e.g. via ``-m``);
# threadpoolctl limits below cover the case where numpy is already loaded.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Sequence  # noqa: E402

import numpy as np  # noqa: E402

from . import spec as S  # noqa: E402
from .model import note_gold, note_max  # noqa: E402,F401  (note-level scoring exactly as msp-nlp train does it)
from .model import note_thresholds as tune_thresholds  # noqa: E402

SEED = 0
FIXED_THRESHOLD = 0.5
RULE_PREFIX, DISC_PREFIX = "msprule_", "mspdisc_"

# --- architectures -------------------------------------------------------------------------------------------------


def bow(ngram_size: int = 2, length: int = 2 ** 17) -> dict:
    """Hashed n-gram counts into a sparse linear layer. ``length`` (hash buckets) is half spaCy's default: Adam
    updates every parameter at every step, so the table size sets the training time on this small corpus."""
    return {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": False, "ngram_size": ngram_size,
            "no_output_layer": False, "length": length}


def small_tok2vec(width: int = 64) -> dict:
    """A small tok2vec from scratch: hash embeddings of NORM/PREFIX/SUFFIX/SHAPE, a 2-layer maxout CNN (window 1)."""
    return {"@architectures": "spacy.Tok2Vec.v2",
            "embed": {"@architectures": "spacy.MultiHashEmbed.v2", "width": width,
                      "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"], "rows": [5000, 1000, 2500, 500],
                      "include_static_vectors": False},
            "encode": {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": width, "window_size": 1,
                       "maxout_pieces": 3, "depth": 2}}


def ensemble(width: int = 64, ngram_size: int = 2) -> dict:
    return {"@architectures": "spacy.TextCatEnsemble.v2", "tok2vec": small_tok2vec(width),
            "linear_model": bow(ngram_size)}


def cnn(width: int = 64) -> dict:
    return {"@architectures": "spacy.TextCatReduce.v1", "exclusive_classes": False, "use_reduce_first": False,
            "use_reduce_last": False, "use_reduce_max": True, "use_reduce_mean": True,
            "tok2vec": {"@architectures": "spacy.HashEmbedCNN.v2", "width": width, "depth": 2, "embed_size": 5000,
                        "window_size": 1, "maxout_pieces": 3, "subword_features": True, "pretrained_vectors": None}}


@dataclass
class TextcatSpec:
    """One spaCy system: its architecture, whether the rules' view is appended, and training settings."""
    name: str
    description: str
    model: dict
    rule_tokens: bool = False
    dropout: float = 0.2
    batch_start: float = 32.0
    batch_stop: float = 32.0
    learn_rate: float = 0.002


SYSTEMS: dict[str, TextcatSpec] = {s.name: s for s in (
    TextcatSpec("spacy_bow", "spaCy TextCatBOW.v3, word 1-2 grams, text only", bow(2)),
    TextcatSpec("spacy_bow+rules", "spaCy TextCatBOW.v3, word 1-2 grams, text + rule-label tokens", bow(2), True),
    TextcatSpec("spacy_ensemble", "spaCy TextCatEnsemble.v2 (BOW 1-2 grams + hash-embed CNN, width 64), text only",
                ensemble()),
    TextcatSpec("spacy_ensemble+rules", "spaCy TextCatEnsemble.v2 (BOW 1-2 grams + hash-embed CNN, width 64), "
                "text + rule-label tokens", ensemble(), True),
    TextcatSpec("spacy_cnn+rules", "spaCy TextCatReduce.v1 over HashEmbedCNN.v2 (width 64, depth 2; mean+max "
                "pooling), text + rule-label tokens", cnn(), True),
)}
DEFAULT_SYSTEMS = ("spacy_bow", "spacy_bow+rules", "spacy_ensemble", "spacy_ensemble+rules")  # cnn: --systems


def rule_tokens(counted: set[str], discounted: set[str]) -> list[str]:
    """The rules' view of a sentence as tokens (label codes from the spec, in the spec's order)."""
    return [RULE_PREFIX + lab for lab in S.ALL_LABELS if lab in counted] + \
           [DISC_PREFIX + lab for lab in S.ALL_LABELS if lab in discounted]


def with_rule_tokens(texts: Sequence[str], counted: Sequence[set[str]], discounted: Sequence[set[str]]) -> list[str]:
    out = []
    for t, c, d in zip(texts, counted, discounted):
        toks = rule_tokens(c, d)
        out.append(t + (" \n" + " ".join(toks) if toks else ""))
    return out


# --- the trainer ---------------------------------------------------------------------------------------------------

def _one_thread():
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1)


@dataclass
class TextcatModel:
    nlp: object
    labels: list[str]
    optimizer: object

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(n, n_labels) probabilities, with the optimizer's averaged parameters (as spaCy evaluates)."""
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        if not len(texts):
            return out
        tc = self.nlp.get_pipe("textcat_multilabel")
        with _one_thread(), self.nlp.use_params(self.optimizer.averages):
            docs = (self.nlp.make_doc(t) for t in texts)
            for i, doc in enumerate(tc.pipe(docs, batch_size=batch_size)):
                cats = doc.cats
                out[i] = [cats[lab] for lab in self.labels]
        return out


def train_textcat(texts: Sequence[str], gold: np.ndarray, labels: Sequence[str], model: dict, *, epochs: int,
                  seed: int = SEED, dropout: float = 0.2, batch_start: float = 8.0, batch_stop: float = 32.0,
                  learn_rate: float = 0.001,
                  on_epoch: Callable[[int, TextcatModel, float], None] | None = None) -> tuple[TextcatModel, float]:
    """Train a ``textcat_multilabel`` pipeline on ``spacy.blank("en")`` for ``epochs`` epochs (seeded, one thread,
    CPU ops). ``gold`` is (n, len(labels)) 0/1. ``on_epoch(epoch, model, train_seconds_so_far)`` is called after
    each epoch (its own time is not counted). Returns the model and the training seconds."""
    import spacy
    from spacy.training import Example
    from spacy.util import compounding, fix_random_seed, minibatch
    from thinc.api import Adam, NumpyOps, set_current_ops

    set_current_ops(NumpyOps())
    fix_random_seed(seed)
    t0 = time.perf_counter()
    nlp = spacy.blank("en")
    tc = nlp.add_pipe("textcat_multilabel", config={"model": copy.deepcopy(model), "threshold": FIXED_THRESHOLD})
    for lab in labels:
        tc.add_label(lab)
    gold = np.asarray(gold)
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {lab: float(y[j]) for j, lab in enumerate(labels)}})
                for t, y in zip(texts, gold)]
    optimizer = Adam(learn_rate=learn_rate, beta1=0.9, beta2=0.999, eps=1e-8, L2=0.01, L2_is_weight_decay=True,
                     grad_clip=1.0, use_averages=True)
    rng = random.Random(seed)
    with _one_thread():
        nlp.initialize(lambda: examples[:500], sgd=optimizer)
    elapsed = time.perf_counter() - t0
    tm = TextcatModel(nlp, list(labels), optimizer)
    for epoch in range(1, epochs + 1):
        t1 = time.perf_counter()
        order = examples[:]
        rng.shuffle(order)
        losses: dict[str, float] = {}
        with _one_thread():
            for batch in minibatch(order, size=compounding(batch_start, batch_stop, 1.001)):
                nlp.update(batch, drop=dropout, sgd=optimizer, losses=losses)
        elapsed += time.perf_counter() - t1
        if on_epoch is not None:
            on_epoch(epoch, tm, elapsed)
    return tm, elapsed


# --- note-level scoring (the procedure of msp_nlp.model.train, with its helpers) ----------------------------------


def score_notes(gold: np.ndarray, pred: np.ndarray, labels: Sequence[str] = S.ALL_LABELS) -> dict:
    """Per-label P/R/F1 and macro F1 over evidence labels and triggers, with msp_nlp.evaluate's definitions (macro
    over labels with any gold or predicted positive)."""
    from .evaluate import macro, score_sets
    gs = [{lab for j, lab in enumerate(labels) if row[j]} for row in gold]
    ps = [{lab for j, lab in enumerate(labels) if row[j]} for row in pred]
    table = score_sets(gs, ps, labels)
    return {"evidence_macro": macro(table, [k for k in S.EVIDENCE_LABELS if k in table]),
            "trigger_macro": macro(table, [k for k in S.TRIGGERS if k in table]),
            "labels": {k: v.as_dict() for k, v in table.items()}}


def system_result(name: str, description: str, gold: np.ndarray, nmax: np.ndarray | None = None,
                  thresholds: np.ndarray | None = None, pred: np.ndarray | None = None, **extra) -> dict:
    """Scores of one system: at the dev-tuned thresholds and at a fixed 0.5 (``pred``: for a system without
    probabilities, e.g. the rules, the one prediction used for both)."""
    if pred is not None:
        tuned = fixed = score_notes(gold, pred)
        th = None
        pred_tuned = np.asarray(pred).astype(bool)
    else:
        th = tune_thresholds(gold, nmax) if thresholds is None else np.asarray(thresholds)
        pred_tuned = nmax >= th[None, :]
        tuned = score_notes(gold, pred_tuned)
        fixed = score_notes(gold, nmax >= FIXED_THRESHOLD)
    out = {"_note_pred": pred_tuned, "system": name, "description": description, "tuned": tuned, "fixed_0.5": fixed,
           "thresholds": None if th is None else {lab: float(t) for lab, t in zip(S.ALL_LABELS, th)}}
    out.update(extra)
    return out


def prediction_speed(fn: Callable[[], object], n_sentences: int, min_seconds: float = 1.0) -> float:
    """Sentences per second of ``fn`` (predicting ``n_sentences``), the best of repeated runs over >= min_seconds."""
    fn()  # warm-up
    best, total = float("inf"), 0.0
    while total < min_seconds or best == float("inf"):
        t = time.perf_counter()
        fn()
        d = time.perf_counter() - t
        best, total = min(best, d), total + d
    return round(n_sentences / best, 1)


def _macro_f1_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Macro F1 over the last axis, leaving out labels with no gold and no predicted positive (as evaluate.macro)."""
    den = 2 * tp + fp + fn
    f = np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)
    n = (den > 0).sum(-1)
    return np.where(n > 0, f.sum(-1) / np.maximum(n, 1), 0.0)


def bootstrap_delta(gold: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, cols: Sequence[int],
                    n: int = 2000, seed: int = SEED) -> dict:
    """Paired bootstrap over notes of macro-F1(a) - macro-F1(b) on label columns ``cols`` (predictions fixed: the
    variance of choosing thresholds on dev is not in it)."""
    g, a, b = (np.asarray(x)[:, cols].astype(bool) for x in (gold, pred_a, pred_b))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(g), size=(n, len(g)))
    gi = g[idx]

    def f(p):
        pi = p[idx]
        return _macro_f1_counts((pi & gi).sum(1), (pi & ~gi).sum(1), (~pi & gi).sum(1))
    d = f(a) - f(b)
    full = float(_macro_f1_counts((a & g).sum(0), (a & ~g).sum(0), (~a & g).sum(0))
                 - _macro_f1_counts((b & g).sum(0), (b & ~g).sum(0), (~b & g).sum(0)))
    lo, hi = np.percentile(d, [2.5, 97.5])
    return {"delta": round(full, 4), "ci95": [round(float(lo), 4), round(float(hi), 4)],
            "p_a_not_better": round(float((d <= 0).mean()), 4), "resamples": n}


# --- the comparison ------------------------------------------------------------------------------------------------

def compare(train_path: str | Path, dev_path: str | Path, systems: Sequence[str] = DEFAULT_SYSTEMS,
            max_epochs: int = 10, epochs: int | None = None, seed: int = SEED, log=print) -> dict:
    import sklearn.linear_model  # noqa: F401  (load its BLAS before limiting threads)
    from .corpus import load
    from .evaluate import pipeline_system
    from .model import data_hash, sentence_set, train
    from .pipeline import Analyzer

    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown systems {unknown}; choose from {list(SYSTEMS)}")
    t_start = time.perf_counter()
    tr_notes, dv_notes = load(train_path), load(dev_path)
    an = Analyzer(model=None)
    t = time.perf_counter()
    tr = sentence_set(tr_notes, an)
    t_rules_train = time.perf_counter() - t
    t = time.perf_counter()
    dv = sentence_set(dv_notes, an)
    t_rules_dev = time.perf_counter() - t
    labels = list(S.ALL_LABELS)
    gold = note_gold(dv_notes, labels)
    n_dev = len(dv_notes)
    log(f"{len(tr_notes)} train notes ({len(tr.texts)} sentences), {n_dev} dev notes ({len(dv.texts)} sentences)")
    results = []

    # rules alone: the pipeline without a model, scored at note level exactly as msp-nlp evaluate does
    preds = pipeline_system(an)(dv_notes)
    rp = np.array([[int(lab in a.labels()) for lab in labels] for a in preds], dtype=np.int8)
    results.append(system_result("rules", "rule detector + context (no model): msp-nlp check --no-model", gold,
                                 pred=rp, train_seconds="–",
                                 sentences_per_second=round(len(dv.texts) / t_rules_dev, 1),
                                 speed_note="segmentation + rule cues + context on dev notes (the input every other "
                                            "system's sentences come from)"))
    log(f"rules: evidence macro-F1 {results[-1]['tuned']['evidence_macro']['f1']:.3f}")

    # the shipped architecture, trained by the same code as `msp-nlp train`
    t = time.perf_counter()
    # folds=0: this comparison tunes every system's thresholds on dev itself, so the out-of-fold fits would be unused
    sm = train(tr_notes, dv_notes, seed=seed, version="comparison", analyzer=an, folds=0)
    sm_seconds = time.perf_counter() - t
    nm = note_max(sm.predict_proba(dv.texts, dv.rule_labels, dv.discounted, dv.note_types, dv.note_index),
                  dv.note_index, n_dev)
    with _one_thread():
        sps = prediction_speed(lambda: sm.predict_proba(dv.texts, dv.rule_labels, dv.discounted, dv.note_types,
                                                        dv.note_index), len(dv.texts))
    results.append(system_result(
        "sentence_model", "SentenceModel (msp_nlp.model.train): word 1-2 + char_wb 3-5 TF-IDF + rule features + note type, "
        "LogisticRegression per label", gold, nm, sm.thresholds, train_seconds=round(sm_seconds, 1),
        train_seconds_note="msp_nlp.model.train wall time, including its own re-run of the rules on train+dev "
                           f"sentences (~{t_rules_train + t_rules_dev:.1f} s of it)",
        hyperparameters=sm.meta.get("hyperparameters"), sentences_per_second=sps,
        speed_note="predict_proba on dev sentences given the rules' output (rules not included)"))
    log(f"sentence_model: evidence macro-F1 {results[-1]['tuned']['evidence_macro']['f1']:.3f} "
        f"({sm_seconds:.1f} s)")

    for name in systems:
        sp = SYSTEMS[name]
        tr_texts = with_rule_tokens(tr.texts, tr.rule_labels, tr.discounted) if sp.rule_tokens else tr.texts
        dv_texts = with_rule_tokens(dv.texts, dv.rule_labels, dv.discounted) if sp.rule_tokens else dv.texts
        curve: list[dict] = []
        best: dict = {}

        def on_epoch(ep, tm, secs, dv_texts=dv_texts, curve=curve, best=best):
            nm_ = note_max(tm.predict_proba(dv_texts), dv.note_index, n_dev)
            r = system_result(name, "", gold, nm_)
            f = r["tuned"]["evidence_macro"]["f1"]
            curve.append({"epoch": ep, "train_seconds": round(secs, 1), "evidence_macro_f1": f,
                          "trigger_macro_f1": r["tuned"]["trigger_macro"]["f1"],
                          "evidence_macro_f1_at_0.5": r["fixed_0.5"]["evidence_macro"]["f1"]})
            if epochs is not None and ep != epochs:
                return
            if not best or f > best["f1"]:  # ties: the earlier epoch
                best.update({"f1": f, "epoch": ep, "nmax": nm_, "secs": secs})
                # timing of prediction for the chosen epoch (the weights change afterwards)
                best["sps"] = prediction_speed(lambda: tm.predict_proba(dv_texts), len(dv_texts))
            log(f"  {name} epoch {ep}: evidence macro-F1 {f:.3f} ({secs:.1f} s)")

        n_ep = epochs if epochs is not None else max_epochs
        _, secs = train_textcat(tr_texts, tr.gold, labels, sp.model, epochs=n_ep, seed=seed, dropout=sp.dropout,
                                batch_start=sp.batch_start, batch_stop=sp.batch_stop, learn_rate=sp.learn_rate,
                                on_epoch=on_epoch)
        results.append(system_result(
            name, sp.description, gold, best["nmax"], epochs=best["epoch"],
            epochs_rule=("fixed by --epochs" if epochs is not None else
                         f"the epoch (1..{max_epochs}) with the best dev evidence macro-F1 at tuned thresholds"),
            train_seconds=round(best["secs"], 1), sentences_per_second=best["sps"],
            train_seconds_note="training to the chosen epoch (tokenising + updates)"
                               + ("; the rules' output is given" if sp.rule_tokens else ""),
            speed_note="tokenise + textcat on dev sentences" + (" given the rules' output (rules not included)"
                                                                  if sp.rule_tokens else ""),
            settings={"model": sp.model, "rule_tokens": sp.rule_tokens, "dropout": sp.dropout,
                      "batch_size": f"compounding({sp.batch_start}, {sp.batch_stop}, 1.001)",
                      "optimizer": f"Adam(learn_rate={sp.learn_rate}, L2=0.01, grad_clip=1.0), averaged parameters",
                      "seed": seed}, dev_curve=curve))
        log(f"{name}: epoch {best['epoch']}, evidence macro-F1 {best['f1']:.3f} ({best['secs']:.1f} s)")

    ev_cols = [labels.index(k) for k in S.EVIDENCE_LABELS]
    tr_cols = [labels.index(k) for k in S.TRIGGERS]
    by_name = {r["system"]: r for r in results}
    spacy_best = max((r for r in results if r["system"] in SYSTEMS), key=lambda r: r["tuned"]["evidence_macro"]["f1"],
                     default=None)
    pairs = {}
    if spacy_best is not None:
        a, b = spacy_best, by_name["sentence_model"]
        pairs[f"{a['system']} - sentence_model"] = {
            "evidence_macro": bootstrap_delta(gold, a["_note_pred"], b["_note_pred"], ev_cols, seed=seed),
            "trigger_macro": bootstrap_delta(gold, a["_note_pred"], b["_note_pred"], tr_cols, seed=seed)}
    for r in results:
        del r["_note_pred"]
    return {"title": "spaCy textcat_multilabel vs SentenceModel vs rules, on dev",
            "split": "dev", "train": str(train_path), "dev": str(dev_path),
            "data_sha256": data_hash([train_path, dev_path]),
            "train_notes": len(tr_notes), "train_sentences": len(tr.texts), "dev_notes": n_dev,
            "dev_sentences": len(dv.texts), "dev_cases": len({n.case_id for n in dv_notes}),
            "dev_label_support": {lab: int(gold[:, j].sum()) for j, lab in enumerate(labels)},
            "seed": seed, "threads": 1, "python": platform.python_version(), "spacy": _version("spacy"),
            "thinc": _version("thinc"), "scikit-learn": _version("scikit-learn"),
            "total_seconds": round(time.perf_counter() - t_start, 1), "systems": results,
            "paired_bootstrap": pairs}


def _version(pkg: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(pkg)
    except PackageNotFoundError:
        return "?"


# --- the report ----------------------------------------------------------------------------------------------------

def winner(result: dict, key: str = "evidence_macro", setting: str = "tuned") -> tuple[str, float, str, float]:
    """(best system, its F1, runner-up, its F1) by ``key`` macro-F1."""
    ranked = sorted(result["systems"], key=lambda s: -s[setting][key]["f1"])
    a = ranked[0]
    b = ranked[1] if len(ranked) > 1 else ranked[0]
    return a["system"], a[setting][key]["f1"], b["system"], b[setting][key]["f1"]


def decision(result: dict) -> tuple[str, str]:
    """Which model to ship, and why. The shipped SentenceModel is replaced only by a spaCy system that is better on
    dev beyond noise on the evidence labels (the lower end of the paired bootstrap's 95% interval above 0) and not
    worse on the triggers (flags use both): a new model is shipped only when it is better."""
    for pair, d in (result.get("paired_bootstrap") or {}).items():
        challenger = pair.split(" - ")[0]
        ev, tr = d["evidence_macro"], d["trigger_macro"]
        if ev["ci95"][0] > 0 and tr["delta"] >= 0:
            return challenger, (f"`{challenger}` is better on evidence beyond noise (95% interval of the difference "
                                f"[{ev['ci95'][0]:+.3f}, {ev['ci95'][1]:+.3f}]) and not worse on triggers")
        return "sentence_model", (f"the best spaCy system, `{challenger}`, is not better beyond noise (evidence "
                                  f"{ev['delta']:+.3f}, 95% interval [{ev['ci95'][0]:+.3f}, {ev['ci95'][1]:+.3f}]; "
                                  f"triggers {tr['delta']:+.3f}), so the shipped SentenceModel stays")
    return "sentence_model", "no spaCy system was compared"


def to_markdown(result: dict) -> str:
    systems = result["systems"]
    names = [s["system"] for s in systems]
    f2 = "{:.3f}".format
    lines = [f"# {result['title']}", "",
             "Generated by `python -m msp_nlp.spacy_textcat` (do not edit by hand; re-run it when the corpus grows).",
             "",
             f"Trained on `{result['train']}` ({result['train_notes']} notes, {result['train_sentences']} sentences), "
             f"scored on `{result['dev']}` ({result['dev_notes']} notes in {result['dev_cases']} cases, "
             f"{result['dev_sentences']} sentences); data sha256 `{result['data_sha256'][:16]}…`. The test split was "
             "not read. Seed "
             f"{result['seed']}, 1 thread; spaCy {result['spacy']}, thinc {result['thinc']}, scikit-learn "
             f"{result['scikit-learn']}, Python {result['python']}. Whole run: {result['total_seconds']} s.", "",
             "**Procedure.** Every system scores the same sentences (the rule pipeline's segmentation, as "
             "`msp_nlp.model.sentence_set`); a note has a label when one of its sentences' probability reaches the "
             "label's threshold. *Tuned*: per-label thresholds chosen on dev by `msp_nlp.model.best_threshold` "
             "(as `msp-nlp train` does) and scored on the same dev notes — optimistic for every system alike, more "
             "so for rare labels; the spaCy systems' epoch count was also chosen on dev, one more optimistic choice "
             "for them. *At 0.5*: a fixed threshold of 0.5, nothing tuned on dev but the spaCy epochs; "
             "it favours the SentenceModel, trained with `class_weight=\"balanced\"`, while spaCy's "
             "`textcat_multilabel` has no class weighting (squared-error loss), so at 0.5 it tends to under-call rare "
             "labels (low recall; precision and recall per label in `comparison.json`). The rules "
             "have no probabilities: the same numbers in both columns. Macro-F1 as `msp-nlp evaluate` computes it "
             "(over labels with any gold or predicted note).", "",
             "## Macro-F1, note level (dev)", "",
             "| system | evidence (tuned) | triggers (tuned) | evidence (at 0.5) | triggers (at 0.5) | epochs | "
             "train s | sentences/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    cols = [("tuned", "evidence_macro"), ("tuned", "trigger_macro"), ("fixed_0.5", "evidence_macro"),
            ("fixed_0.5", "trigger_macro")]
    tops = [max((s[a][b]["f1"] for s in systems), default=0.0) for a, b in cols]
    for s in systems:
        cells = [f"**{f2(s[a][b]['f1'])}**" if s[a][b]["f1"] == top else f2(s[a][b]["f1"])
                 for (a, b), top in zip(cols, tops)]
        lines.append(f"| `{s['system']}` | " + " | ".join(cells) + f" | {s.get('epochs', '–')} | "
                     f"{s.get('train_seconds', '–')} | {s.get('sentences_per_second', '–')} |")
    if systems:
        w, wf, r, rf = winner(result)
        w5, wf5, r5, rf5 = winner(result, setting="fixed_0.5")
        wt, wtf, rt, rtf = winner(result, key="trigger_macro")
        lines += ["", f"**Evidence macro-F1 (tuned): `{w}` wins with {f2(wf)}, {f2(wf - rf)} ahead of `{r}` "
                      f"({f2(rf)}).** At 0.5: `{w5}` {f2(wf5)}, then `{r5}` {f2(rf5)}. Triggers (tuned): `{wt}` "
                      f"{f2(wtf)}, then `{rt}` {f2(rtf)}. With {result['dev_notes']} dev notes one note changes a "
                      "rare label's F1 by several points: differences of a few hundredths are within noise."]
    if result.get("paired_bootstrap"):
        lines.append("")
    for pair, d in (result.get("paired_bootstrap") or {}).items():
        for key, title in (("evidence_macro", "evidence"), ("trigger_macro", "triggers")):
            b = d[key]
            lines.append(f"- Paired bootstrap over dev notes ({b['resamples']} resamples, thresholds held fixed), "
                         f"{title} macro-F1 `{pair}`: {b['delta']:+.3f}, 95% interval [{b['ci95'][0]:+.3f}, "
                         f"{b['ci95'][1]:+.3f}]; share of resamples where the spaCy system is not better: "
                         f"{b['p_a_not_better']:.2f}.")
    if systems:
        keep, why = decision(result)
        lines += ["", f"**Decision** (the issue: \"keep what wins on dev\"; a model is replaced only when the "
                      f"challenger wins beyond noise): keep `{keep}`: {why}."]
    lines += ["", "## Systems", ""]
    for s in systems:
        lines.append(f"- `{s['system']}`: {s['description']}.")
    for section, keys in (("Evidence labels", S.EVIDENCE_LABELS), ("Triggers", S.TRIGGERS)):
        for setting, title in (("tuned", "thresholds tuned on dev"), ("fixed_0.5", "threshold 0.5")):
            lines += ["", f"## {section}: note-level F1 per label ({title})", "",
                      "| label | dev notes | " + " | ".join(f"`{n}`" for n in names) + " |",
                      "|---|---:|" + "---:|" * len(names)]
            for k in keys:
                fs = [s[setting]["labels"][k]["f1"] for s in systems]
                top = max(fs)
                cells = [f"**{f2(x)}**" if x == top else f2(x) for x in fs]
                lines.append(f"| `{k}` | {result['dev_label_support'].get(k, 0)} | " + " | ".join(cells) + " |")
    lines += ["", "## Speed and training time", "",
              "1 thread, on a machine shared with other work (2 cores): indicative only.", "",
              "| system | train s | what the training time covers | sentences/s | what is timed |", "|---|---:|---|---:|---|"]
    for s in systems:
        lines.append(f"| `{s['system']}` | {s.get('train_seconds', '–')} | {s.get('train_seconds_note', '')} | "
                     f"{s.get('sentences_per_second', '–')} | {s.get('speed_note', '')} |")
    curves = [s for s in systems if s.get("dev_curve")]
    if curves:
        n_ep = max(len(s["dev_curve"]) for s in curves)
        lines += ["", "## spaCy: dev evidence macro-F1 (tuned) per epoch", "",
                  "| system | " + " | ".join(str(i + 1) for i in range(n_ep)) + " |",
                  "|---|" + "---:|" * n_ep]
        for s in curves:
            cells = [f2(c["evidence_macro_f1"]) for c in s["dev_curve"]] + [""] * (n_ep - len(s["dev_curve"]))
            lines.append(f"| `{s['system']}` | " + " | ".join(cells) + " |")
        capped = [s["system"] for s in curves if s.get("epochs") == len(s["dev_curve"])]
        if capped:
            lines += ["", "Best epoch at the last epoch tried (more epochs might do better; `--max-epochs`): "
                      + ", ".join(f"`{n}`" for n in capped) + "."]
    lines += ["", "Per-label precision, recall, support and thresholds, and every setting: `comparison.json`.", ""]
    return "\n".join(lines)


def write_report(result: dict, outdir: str | Path) -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    clean = dict(result, systems=[{k: v for k, v in s.items() if not k.startswith("_")} for s in result["systems"]])
    (out / "comparison.json").write_text(json.dumps(clean, indent=1, ensure_ascii=False), encoding="utf-8")
    (out / "comparison.md").write_text(to_markdown(result), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m msp_nlp.spacy_textcat", description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", default="data/annotated/train.jsonl")
    ap.add_argument("--dev", default="data/annotated/dev.jsonl")
    ap.add_argument("-o", "--out", default="reports/model_comparison")
    ap.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                    help=f"comma-separated spaCy systems (of {', '.join(SYSTEMS)}); rules and sentence_model always run")
    ap.add_argument("--max-epochs", type=int, default=10, help="epochs to try; the best on dev is reported")
    ap.add_argument("--epochs", type=int, default=None, help="train exactly this many epochs instead")
    ap.add_argument("--seed", type=int, default=SEED)
    a = ap.parse_args(argv)
    if any(Path(x).name.startswith("test") for x in (a.train, a.dev)):
        print("refusing a test file: this comparison is for train and dev only", file=sys.stderr)
        return 2
    systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    try:
        res = compare(a.train, a.dev, systems, max_epochs=a.max_epochs, epochs=a.epochs, seed=a.seed,
                      log=lambda m: print(m, file=sys.stderr, flush=True))
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    write_report(res, a.out)
    w, wf, r, rf = winner(res)
    print(f"wrote {a.out}/comparison.md and comparison.json; evidence macro-F1 (dev, tuned): {w} {wf:.3f}, "
          f"{r} {rf:.3f}; keep {decision(res)[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
