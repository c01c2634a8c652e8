"""Case-level decisions of the trained model (opt-in, ``msp-nlp train --case-thresholds``): a label counts for a whole
case only when a note's best sentence reaches the model's case threshold (chosen on held-out predictions to maximise
the case flags' F1)."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msp_nlp import spec as S
from msp_nlp.batch import analysis_from_summary, summary_json
from msp_nlp.corpus import load
from msp_nlp.flags import NoteFindings, case_result
from msp_nlp.model import (MODEL_FILE, ModelError, SentenceModel, case_flag_matrix, case_max, case_thresholds,
                           train)
from msp_nlp.pipeline import Analyzer, Finding, NoteAnalysis

ROOT = Path(__file__).resolve().parents[1]
L = list(S.ALL_LABELS)
J = {lab: j for j, lab in enumerate(L)}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.frozensets(st.sampled_from(L)), st.booleans()), min_size=1, max_size=8))
def test_case_flag_matrix_is_the_spec_rule(rows):
    present = np.array([[lab in labs for lab in L] for labs, _ in rows])
    closing = np.array([c for _, c in rows])
    got = case_flag_matrix(present, closing)
    for i, (labs, c) in enumerate(rows):
        want = {f.code for f in S.raised_flags(set(labs) | ({S.CLOSING} if c else set()))}
        assert {S.FLAG_CODES[k] for k in np.nonzero(got[i])[0]} == want


def test_case_max_groups_rows_by_case_in_first_seen_order():
    ids, m = case_max(np.array([[0.1, 0.9], [0.5, 0.2], [0.3, 0.4]]), ["b", "a", "b"])
    assert ids == ["b", "a"] and m.tolist() == [[0.3, 0.9], [0.5, 0.2]]


def _cases(rng, n_cases=60, notes_per_case=5):
    """Cases where ``adult_views`` is truly absent in a third of the cases; every note of every case has a weak
    false ``adult_views`` score in [0.3, 0.6) and notes that truly have it score 0.9."""
    nmax = np.zeros((n_cases * notes_per_case, len(L)))
    gold = np.zeros_like(nmax, dtype=np.int8)
    case_ids = []
    for c in range(n_cases):
        has_views = c % 3 != 0
        for k in range(notes_per_case):
            i = c * notes_per_case + k
            case_ids.append(f"C{c}")
            nmax[i, J[S.ADULT_VIEWS]] = rng.uniform(0.3, 0.6)
            if has_views and k == 0:
                nmax[i, J[S.ADULT_VIEWS]] = 0.9
                gold[i, J[S.ADULT_VIEWS]] = 1
    return nmax, gold, case_ids


def test_case_threshold_rises_above_weak_guesses_that_hide_views_missing():
    nmax, gold, case_ids = _cases(np.random.RandomState(0))
    start = np.full(len(L), 0.5, np.float32)
    closing = [False] * len(case_ids)
    th = case_thresholds(nmax, gold, case_ids, closing, closing, start)
    assert 0.6 <= th[J[S.ADULT_VIEWS]] <= 0.9  # above every weak guess, below the true findings
    # with it, views_missing is found in exactly the cases that lack views
    _, cmax = case_max(nmax, case_ids)
    flags = case_flag_matrix(cmax >= th, np.zeros(len(cmax), bool))[:, S.FLAG_CODES.index(S.VIEWS_MISSING)]
    assert flags.tolist() == [c % 3 == 0 for c in range(60)]
    # labels that no case flag could gain from keep their start value
    assert th[J[S.OTHERS_AT_RISK]] == start[J[S.OTHERS_AT_RISK]]


def test_case_thresholds_do_not_move_without_a_gain():
    nmax, gold, case_ids = _cases(np.random.RandomState(1))
    nmax[:, J[S.ADULT_VIEWS]] = gold[:, J[S.ADULT_VIEWS]] * 0.8 + 0.1  # already separated at 0.5
    closing = [False] * len(case_ids)
    start = np.full(len(L), 0.5, np.float32)
    assert np.array_equal(case_thresholds(nmax, gold, case_ids, closing, closing, start), start)


# --- the pipeline and the case aggregation use them ------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    notes = load(ROOT / "data" / "annotated" / "train.jsonl")
    m = train(notes[:60], notes[60:90], version="tiny", C=4.0, folds=0, case_level=True)
    d = tmp_path_factory.mktemp("model")
    m.save(d)
    return m, d


def test_training_chooses_and_saves_case_thresholds(tiny):
    m, d = tiny
    assert m.case_thresholds is not None and m.case_thresholds.shape == (len(L),)
    meta = json.loads((d / MODEL_FILE).read_text())
    assert set(meta["case_thresholds"]) == set(L) and "case_threshold_rule" in meta
    loaded = SentenceModel.load(d)
    assert np.allclose(loaded.case_thresholds, m.case_thresholds)


def test_case_thresholds_are_opt_in():
    notes = load(ROOT / "data" / "annotated" / "train.jsonl")
    m = train(notes[:40], notes[40:60], version="tiny", C=4.0, folds=0)
    assert m.case_thresholds is None and "case_threshold_rule" not in m.meta


def test_a_model_without_case_thresholds_uses_its_note_thresholds(tiny, tmp_path):
    _, d = tiny
    meta = json.loads((d / MODEL_FILE).read_text())
    del meta["case_thresholds"]
    for f in d.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / MODEL_FILE).write_text(json.dumps(meta))
    m = SentenceModel.load(tmp_path)
    assert m.case_thresholds is None and m.case_threshold_array() is m.thresholds


def test_refuses_incomplete_case_thresholds(tiny, tmp_path):
    _, d = tiny
    meta = json.loads((d / MODEL_FILE).read_text())
    meta["case_thresholds"].pop(S.ADULT_VIEWS)
    for f in d.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / MODEL_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="case_thresholds"):
        SentenceModel.load(tmp_path)


TEXT = "Spoke to Mrs D alone. She said she wants to stay at home with her cat. Son took her bank card."


def _with_case_thresholds(tiny, value: dict[str, float]) -> Analyzer:
    """An analyser with the tiny model, its case thresholds set to its note thresholds except ``value``."""
    an = Analyzer(model=tiny[1])
    an.model.case_thresholds = an.model.thresholds.copy()
    for lab, v in value.items():
        an.model.case_thresholds[J[lab]] = v
    return an


def test_case_findings_follow_the_case_thresholds(tiny):
    an = _with_case_thresholds(tiny, {})
    a = an.analyse(TEXT)
    # with case thresholds equal to the note thresholds, a note gives its case exactly its own labels
    assert a.case_findings is not None and a.case_labels() == a.labels()
    per_label = [f.label for f in a.case_findings]
    assert len(per_label) == len(set(per_label))  # one (the best) sentence per label
    proba_best = {f.label: f.score for f in a.case_findings}
    for f in a.evidence + a.triggers:
        assert f.score <= proba_best[f.label] + 1e-12
    # a case threshold of 0 makes every label count for the case, from its best sentence, even below the note's
    everything = _with_case_thresholds(tiny, {lab: 0.0 for lab in L}).analyse(TEXT)
    assert everything.case_labels() == set(L)
    # and one above 1 makes none count
    assert _with_case_thresholds(tiny, {lab: 1.01 for lab in L}).analyse(TEXT).case_labels() == set()


def test_case_flags_use_case_findings_and_say_when_a_weak_finding_was_not_counted():
    views = Finding(S.ADULT_VIEWS, 22, 60, "She said ...", 0.55, 22, 30)
    outcome = Finding(S.DESIRED_OUTCOME, 22, 60, "She said ...", 0.97, 22, 30)
    note = NoteAnalysis([views, outcome], [], [], False, case_findings=[outcome])
    res = case_result("C1", [NoteFindings("N1", note), NoteFindings("N2", NoteAnalysis(case_findings=[]))])
    codes = {f["code"]: f["reason"] for f in res.flags}
    assert S.VIEWS_MISSING in codes and S.OUTCOME_MISSING not in codes
    assert "case-level confidence" in codes[S.VIEWS_MISSING] and "N1" in codes[S.VIEWS_MISSING]
    assert S.ADULT_VIEWS not in res.evidence and S.DESIRED_OUTCOME in res.evidence
    # rules-only analyses (no case findings) give the case their own findings, and no such remark
    rules = case_result("C1", [NoteFindings("N1", NoteAnalysis([views], [], [], False))])
    assert S.VIEWS_MISSING not in {f["code"] for f in rules.flags}


def test_case_findings_survive_the_text_free_summary():
    f = Finding(S.THIRD_PARTY_HARM, 5, 20, "secret", 0.8, 5, 9)
    a = NoteAnalysis([], [f], [], True, case_findings=[f])
    s = summary_json(a)
    assert "secret" not in s
    back = analysis_from_summary(s)
    assert back.case_labels() == {S.THIRD_PARTY_HARM} and back.closing
    assert analysis_from_summary(summary_json(NoteAnalysis())).case_findings is None
