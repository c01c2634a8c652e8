"""The trained sentence model: training works, save/load round-trips, unsafe or foreign files are refused."""

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from msp_nlp import spec as S
from msp_nlp.corpus import load
from msp_nlp.model import (MODEL_FILE, WEIGHTS_FILE, ModelError, SentenceModel, best_threshold, neighbour_types,
                           train)
from msp_nlp.pipeline import Analyzer

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / (ROOT / "models" / "LATEST").read_text().strip()


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    notes = load(ROOT / "data" / "annotated" / "train.jsonl")
    m = train(notes[:60], notes[60:90], version="tiny", C=4.0, neighbours=True)  # the shipped model may not
    d = tmp_path_factory.mktemp("model")
    m.save(d)
    return m, d


def test_round_trip_gives_the_same_predictions(small_model):
    m, d = small_model
    loaded = SentenceModel.load(d)
    sents = ["Spoke to Mrs A alone.", "She said she wants to stay at home.", "Son took her bank card."]
    rl = [{S.COERCION_EXPLORED}, {S.ADULT_VIEWS}, set()]
    dd = [set(), set(), set()]
    assert np.allclose(m.predict_proba(sents, rl, dd), loaded.predict_proba(sents, rl, dd), atol=1e-5)
    assert loaded.labels == list(S.ALL_LABELS) and loaded.version == "tiny"


def test_training_is_reproducible(small_model):
    m, _ = small_model
    notes = load(ROOT / "data" / "annotated" / "train.jsonl")
    again = train(notes[:60], notes[60:90], version="tiny", C=4.0, neighbours=True)
    assert np.allclose(m.coef, again.coef) and np.allclose(m.thresholds, again.thresholds)


def test_refuses_a_pickle(tmp_path, small_model):
    _, d = small_model
    bad = tmp_path / "bad"
    shutil.copytree(d, bad)
    with open(bad / WEIGHTS_FILE, "wb") as f:
        pickle.dump({"coef": object()}, f)
    with pytest.raises(ModelError, match="refused"):
        SentenceModel.load(bad)


def test_refuses_object_arrays_and_unexpected_arrays(tmp_path, small_model):
    _, d = small_model
    bad = tmp_path / "bad"
    shutil.copytree(d, bad)
    with np.load(d / WEIGHTS_FILE) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["coef"] = np.array([object()] * 3, dtype=object)
    np.savez(bad / WEIGHTS_FILE, **arrays)
    with pytest.raises(ModelError):
        SentenceModel.load(bad)
    arrays = {"evil": np.zeros(3)}
    np.savez(bad / WEIGHTS_FILE, **arrays)
    with pytest.raises(ModelError, match="unexpected arrays"):
        SentenceModel.load(bad)


def test_refuses_another_label_set(tmp_path, small_model):
    _, d = small_model
    bad = tmp_path / "bad"
    shutil.copytree(d, bad)
    meta = json.loads((bad / MODEL_FILE).read_text())
    meta["labels"] = meta["labels"][:-1] + ["family_views"]
    (bad / MODEL_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="another label set"):
        SentenceModel.load(bad)


def test_refuses_unknown_format(tmp_path):
    (tmp_path / MODEL_FILE).write_text(json.dumps({"format": "something-else"}))
    np.savez(tmp_path / WEIGHTS_FILE, coef=np.zeros(1))
    with pytest.raises(ModelError, match="unknown model format"):
        SentenceModel.load(tmp_path)
    with pytest.raises(ModelError, match="not a model directory"):
        SentenceModel.load(tmp_path / "missing")


def test_shipped_model_loads_and_beats_nothing_silly():
    an = Analyzer(model=SHIPPED)
    assert an.model is not None and an.model_version == SHIPPED.name
    a = an.analyse("Spoke to Mrs D alone in her bedroom. She told me she is frightened of her son.")
    assert S.COERCION_EXPLORED in a.labels() and S.ADULT_VIEWS in a.labels()
    assert all(0 < f.score <= 1 for f in a.evidence)
    b = an.analyse("Views of adult: not obtained.")
    assert S.ADULT_VIEWS not in b.labels()


def test_model_component_writes_spans(small_model):
    _, d = small_model
    an = Analyzer(model=d)
    doc = an.nlp(an.make_doc("Spoke to Mrs D alone. She said she wants to stay at home."))
    assert "msp_model" in an.nlp.pipe_names
    assert len(doc.spans["msp_evidence"]) == len(doc.spans["msp_evidence"].attrs["scores"])


def test_note_types_reach_the_model(small_model, monkeypatch):
    """Every entry point hands each note's type to the model, one per sentence: the batch (``analyse_many``), a
    single note (the service's ``analyse``), and ``suggest``."""
    from msp_nlp.annotation_formats import suggest
    _, d = small_model
    an = Analyzer(model=d)
    seen = []
    real = an.model.predict_proba

    def spy(texts, counted, disc, note_types=None, groups=None):
        seen.append((len(texts), list(note_types), list(groups)))
        return real(texts, counted, disc, note_types, groups)

    monkeypatch.setattr(an.model, "predict_proba", spy)
    notes = [("Seen alone. She wants to stay.", "S42 Visit", None), ("Outcomes met. Case closed.", None, None)]
    list(an.analyse_many(notes))
    assert seen[-1] == (4, ["S42 Visit", "S42 Visit", "", ""], [0, 0, 1, 1])  # and which note each sentence is of
    an.analyse("Case reviewed with her.", "Review")
    assert seen[-1] == (1, ["Review"], [0])
    suggest([{"note_id": "1", "text": "Seen alone.", "note_type": "Triage"}], an.model, an)
    assert seen[-1] == (1, ["Triage"], [0])
    # and the type changes the scores (the shipped model has learnt the words of the corpus's note types)
    shipped = SentenceModel.load(SHIPPED)
    sents, rl, dd = ["Outcomes met, she is happy with how things went."], [set()], [set()]
    assert np.abs(shipped.predict_proba(sents, rl, dd, ["Closure"], [0])
                  - shipped.predict_proba(sents, rl, dd, None, [0])).max() > 0.01


def test_best_threshold_hand_computed():
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.6, 0.55, 0.1])
    t, f = best_threshold(y, p)
    assert f == 1.0 and 0.55 < t <= 0.6


def test_cli_check_refuses_foreign_model(tmp_path, capsys):
    from msp_nlp.cli import main
    src = tmp_path / "in.csv"
    src.write_text("note_id,text\n1,Seen alone.\n")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / MODEL_FILE).write_text(json.dumps({"format": "sklearn-pickle"}))
    (tmp_path / "m" / WEIGHTS_FILE).write_bytes(b"not numpy")
    assert main(["check", str(src), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "m")]) == 2
    assert "unknown model format" in capsys.readouterr().err


def test_shipped_model_on_the_hand_written_examples():
    """The rules' positive and hard-negative examples (tests/test_pipeline.py): the combined model must keep most."""
    from tests.test_pipeline import NEGATIVE, POSITIVE
    an = Analyzer(model=SHIPPED)
    pos = [(k, t) for k, ts in POSITIVE.items() for t in ts]
    neg = [(k, t) for k, ts in NEGATIVE.items() for t in ts]
    pos_ok = sum(k in an.analyse(t).labels() for k, t in pos) / len(pos)
    neg_ok = sum(k not in an.analyse(t).labels() for k, t in neg) / len(neg)
    # Measured for v1: 0.89 of positives, 0.81 of hard negatives (the rules alone: all, by construction). Vetoing the
    # model where the rules discounted a cue scored lower on dev, so the model keeps the last word.
    assert pos_ok >= 0.85 and neg_ok >= 0.8, (pos_ok, neg_ok)


def test_fast_tfidf_equals_sklearn(small_model):
    m, _ = small_model
    from msp_nlp.model import _tfidf
    docs = ["She said she is frightened of her son.", "", "MCA completed: lacks capacity re finances.", "!!! ???",
            "Spoke to Mrs D alone; son asked to leave the room."]
    for analyzer, vec, vocab, idf in ((m._wa, m._w, m.word_vocab, m.word_idf), (m._ca, m._c, m.char_vocab, m.char_idf)):
        ours = _tfidf(analyzer, vocab, idf, docs).toarray()
        theirs = vec.transform(docs).toarray()
        assert np.allclose(ours, theirs, atol=1e-6)


# --- the fast inference path (``SentenceModel.predict_proba``) against the reference computation ----------------------

FAST_PATH_SENTENCES = [
    "She said she is frightened of her son.",
    "",
    "MCA completed: lacks capacity re finances. MCA MCA mca!",
    "!!! ???",
    "Spoke to Mrs D alone;\tson asked to leave the room.\n\n  Daughter  wants mum moved.",
    "Zoë said «je veux rester» — she wants to STAY at home 😀, IMCA referral made, s42 ref 4471/26.",
    "unseenword anotherunseenword xq",
]
FAST_PATH_RULES = [({S.ADULT_VIEWS}, set()), (set(), set()), ({S.ADULT_VIEWS}, {S.COERCION_EXPLORED}),
                   (set(), set()), (set(), {S.ADULT_VIEWS}), ({S.ADULT_VIEWS, S.COERCION_EXPLORED}, set()),
                   (set(), set())]
# each sentence's note type: repeated, missing (None and ""), unseen words, one seen only in part
FAST_PATH_TYPES = ["S42 Visit", None, "Review", "S42 visit", "", "Closure summary", "Quarterly xyzzy review"]
# which note each sentence belongs to (for models that read neighbouring sentences): notes of 2, 1, 3 and 1 sentences
FAST_PATH_GROUPS = [0, 0, 1, 2, 2, 2, 3]
G = FAST_PATH_GROUPS


def _reference_decision(m: SentenceModel, sentences, rule_labels, discounted, note_types=None, groups=None
                        ) -> np.ndarray:
    """sklearn's own vectorisers (float64) and LogisticRegression.decision_function with the model's weights."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from msp_nlp.model import CHAR_PARAMS, TYPE_PARAMS, WORD_PARAMS, rule_features
    w = TfidfVectorizer(**WORD_PARAMS, vocabulary=m.word_vocab, dtype=np.float64)
    c = TfidfVectorizer(**CHAR_PARAMS, vocabulary=m.char_vocab, dtype=np.float64)
    w.idf_, c.idf_ = m.word_idf.astype(np.float64), m.char_idf.astype(np.float64)
    blocks = [w.transform(sentences), c.transform(sentences),
              rule_features(rule_labels, discounted).astype(np.float64) * m.rule_weight]
    if m.type_vocab:
        t = TfidfVectorizer(**TYPE_PARAMS, vocabulary=m.type_vocab, dtype=np.float64)
        t.idf_ = m.type_idf.astype(np.float64)
        docs = [x or "" for x in note_types or [""] * len(sentences)]
        if m.neighbours:
            docs = neighbour_types(docs, rule_labels, groups)
        blocks.append(t.transform(docs) * m.type_weight)
    X = sparse.hstack(blocks, format="csr")
    clf = LogisticRegression()
    clf.coef_, clf.intercept_ = m.coef.astype(np.float64), m.intercept.astype(np.float64)
    clf.classes_ = np.arange(len(m.labels))
    return clf.decision_function(X)


@pytest.mark.parametrize("which", ["small", "shipped"])
def test_fast_path_equals_sklearn_reference(small_model, which):
    m = small_model[0] if which == "small" else SentenceModel.load(SHIPPED)
    assert m.type_vocab, "the model has a note-type block"
    rl, dd = [r for r, _ in FAST_PATH_RULES], [d for _, d in FAST_PATH_RULES]
    tt = FAST_PATH_TYPES
    assert m.neighbours or which == "shipped", "the small model reads neighbouring sentences"
    ref = _reference_decision(m, FAST_PATH_SENTENCES, rl, dd, tt, G)
    for _ in range(2):  # the second time from the per-word cache
        z = m._decision(FAST_PATH_SENTENCES, rl, dd, tt, G)
        assert z.shape == (len(FAST_PATH_SENTENCES), len(S.ALL_LABELS))
        assert np.abs(z - ref).max() < 1e-9
        p = m.predict_proba(FAST_PATH_SENTENCES, rl, dd, tt, G)
        assert np.abs(p - 1.0 / (1.0 + np.exp(-ref))).max() < 1e-9
    # one note at a time (the service) or all at once (the batch) give the same rows
    for g in sorted(set(G)):
        rows = [i for i, x in enumerate(G) if x == g]
        one = m.predict_proba([FAST_PATH_SENTENCES[i] for i in rows], [rl[i] for i in rows], [dd[i] for i in rows],
                              [tt[i] for i in rows], [g] * len(rows))
        assert np.abs(one - p[rows]).max() < 1e-12
    # the note type matters, the neighbours matter, and no note type is the same as empty ones
    assert np.abs(ref - _reference_decision(m, FAST_PATH_SENTENCES, rl, dd, None, G)).max() > 1e-3
    if m.neighbours:
        assert np.abs(ref - _reference_decision(m, FAST_PATH_SENTENCES, rl, dd, tt, list(range(len(G))))).max() > 1e-3
    assert np.array_equal(m.predict_proba(FAST_PATH_SENTENCES, rl, dd, None, G),
                          m.predict_proba(FAST_PATH_SENTENCES, rl, dd, [""] * len(tt), G))
    # and the sparse feature matrix (float32, kept for analysis) agrees to float32 precision
    old = m.features(FAST_PATH_SENTENCES, rl, dd, tt, G) @ m.coef.T + m.intercept
    assert np.abs(old - ref).max() < 1e-4
    assert m.predict_proba([], [], []).shape == (0, len(S.ALL_LABELS))
    # a missing value from a pandas column (NaN) is no note type
    nan_types = [float("nan") if t is None else t for t in tt]
    assert np.array_equal(m.predict_proba(FAST_PATH_SENTENCES, rl, dd, nan_types, G), p)
    with pytest.raises(ValueError, match="one per sentence"):
        m.predict_proba(FAST_PATH_SENTENCES, rl, dd, tt[:2], G)
    # no groups: one note
    assert np.array_equal(m.predict_proba(FAST_PATH_SENTENCES, rl, dd, tt), m.predict_proba(
        FAST_PATH_SENTENCES, rl, dd, tt, [0] * len(G)))
    with pytest.raises(ValueError, match="groups"):
        m.predict_proba(FAST_PATH_SENTENCES, rl, dd, tt, G[:3])


def test_trains_without_note_types(tmp_path):
    """A corpus whose notes have no note type (or type_weight=0) trains a model without the note-type block, which
    saves, loads and predicts like any other."""
    import dataclasses
    notes = [dataclasses.replace(n, note_type=None) for n in load(ROOT / "data" / "annotated" / "train.jsonl")[:40]]
    # with neighbour context the block still holds the neighbour tokens, and only them
    ctx = train(notes[:30], notes[30:], version="untyped", C=4.0, folds=0, neighbours=True)
    assert ctx.neighbours and ctx.type_vocab and all(t[0] in "pn" for t in ctx.type_vocab)
    m = train(notes[:30], notes[30:], version="untyped", C=4.0, folds=0)
    assert not m.type_vocab and m.type_weight == 0.0 and m.meta["hyperparameters"]["note_type_weight"] == 0.0
    m.save(tmp_path)
    loaded = SentenceModel.load(tmp_path)
    assert not loaded.type_vocab
    rl, dd = [r for r, _ in FAST_PATH_RULES], [d for _, d in FAST_PATH_RULES]
    assert not m.neighbours  # the neighbour tokens live in the note-type block
    assert np.allclose(loaded.predict_proba(FAST_PATH_SENTENCES, rl, dd, FAST_PATH_TYPES),
                       m.predict_proba(FAST_PATH_SENTENCES, rl, dd), atol=1e-5)
    typed = load(ROOT / "data" / "annotated" / "train.jsonl")[:40]
    assert not train(typed[:30], typed[30:], version="off", C=4.0, folds=0, type_weight=0.0).type_vocab


def test_reads_a_format_1_model_without_note_types():
    """Models of format /1 (v1-v3, before the note-type block) still load and predict, ignoring note types."""
    old = SentenceModel.load(ROOT / "models" / "v3")
    assert old.meta["format"] == "msp-nlp-sentence-model/1" and not old.type_vocab
    rl, dd = [r for r, _ in FAST_PATH_RULES], [d for _, d in FAST_PATH_RULES]
    p = old.predict_proba(FAST_PATH_SENTENCES, rl, dd, FAST_PATH_TYPES)
    assert np.array_equal(p, old.predict_proba(FAST_PATH_SENTENCES, rl, dd))
    assert np.abs(old._decision(FAST_PATH_SENTENCES, rl, dd) - _reference_decision(old, FAST_PATH_SENTENCES, rl, dd)
                  ).max() < 1e-9


def test_fast_path_follows_a_replaced_coef(small_model):
    """Training replaces ``model.coef`` after the first predictions (rounding to the stored precision): the fast
    path's cached weights must follow."""
    _, d = small_model
    m = SentenceModel.load(d)
    rl, dd = [r for r, _ in FAST_PATH_RULES], [d_ for _, d_ in FAST_PATH_RULES]
    m.predict_proba(FAST_PATH_SENTENCES, rl, dd, None, G)
    m.coef = (m.coef * 0.5).astype(np.float32)
    assert np.abs(m._decision(FAST_PATH_SENTENCES, rl, dd, None, G)
                  - _reference_decision(m, FAST_PATH_SENTENCES, rl, dd, None, G)).max() < 1e-9


def test_neighbour_tokens_hand_computed():
    types = neighbour_types(["S42 visit", "S42 visit", "", "Review"],
                            [{S.COERCION_EXPLORED}, {S.ADULT_VIEWS, S.CONSENT}, set(), set()], [7, 7, 7, 9])
    assert types == ["S42 visit pfirst nadultviews nconsent",
                     "S42 visit pcoercionexplored",
                     "padultviews pconsent nlast",
                     "Review pfirst nlast"]


def test_a_model_without_neighbour_context_needs_no_groups():
    """v4 (format /2 without ``neighbour_context``) loads, reads no neighbours, and predicts without groups."""
    v4 = SentenceModel.load(ROOT / "models" / "v4")
    assert not v4.neighbours
    rl, dd = [r for r, _ in FAST_PATH_RULES], [d for _, d in FAST_PATH_RULES]
    p = v4.predict_proba(FAST_PATH_SENTENCES, rl, dd, FAST_PATH_TYPES)
    assert np.array_equal(p, v4.predict_proba(FAST_PATH_SENTENCES, rl, dd, FAST_PATH_TYPES, G))
    assert np.abs(v4._decision(FAST_PATH_SENTENCES, rl, dd, FAST_PATH_TYPES)
                  - _reference_decision(v4, FAST_PATH_SENTENCES, rl, dd, FAST_PATH_TYPES)).max() < 1e-9
