"""The spaCy textcat comparison: the trainer learns a separable toy task, scoring follows model.train, the report
names every label code. Tiny synthetic sentences, a few epochs: a few seconds."""

import json

import numpy as np

from msp_nlp import spec as S
from msp_nlp import spacy_textcat as T

TOY_LABELS = [S.CONSENT, S.ADVOCACY, S.THIRD_PARTY_HARM]
TOY = [
    ("She agreed to the referral and gave consent.", 0),
    ("Consent was given for the police to be told.", 0),
    ("She consented to sharing information with the GP.", 0),
    ("He gave verbal consent to the enquiry.", 0),
    ("An advocate was offered and she accepted.", 1),
    ("IMCA referral made for independent advocacy.", 1),
    ("Advocacy support was arranged for the meeting.", 1),
    ("An independent advocate will attend with him.", 1),
    ("Her son is alleged to have taken money.", 2),
    ("The daughter is said to have pushed her.", 2),
    ("Her partner is the alleged source of harm.", 2),
    ("The son shouted at her and took her card.", 2),
]


def _toy(labels=TOY_LABELS):
    texts = [t for t, _ in TOY] * 3
    gold = np.zeros((len(texts), len(labels)), dtype=np.int8)
    for i, (_, j) in enumerate(TOY * 3):
        gold[i, j] = 1
    return texts, gold


def test_trainer_learns_a_separable_task():
    texts, gold = _toy()
    seen = []
    m, secs = T.train_textcat(texts, gold, TOY_LABELS, T.bow(1, length=2 ** 12), epochs=8, seed=0,
                              batch_start=4, batch_stop=4, learn_rate=0.01,
                              on_epoch=lambda ep, tm, s: seen.append(ep))
    assert seen == list(range(1, 9)) and secs > 0
    held_out = ["She gave consent to the enquiry.", "An advocate was offered to him.", "Her son took money."]
    p = m.predict_proba(held_out)
    assert p.shape == (3, 3)
    for i in range(3):  # the right label scores highest on each held-out sentence
        assert int(np.argmax(p[i])) == i, p


def test_training_is_reproducible():
    texts, gold = _toy()
    a, _ = T.train_textcat(texts, gold, TOY_LABELS, T.bow(1, length=2 ** 12), epochs=2, seed=3)
    b, _ = T.train_textcat(texts, gold, TOY_LABELS, T.bow(1, length=2 ** 12), epochs=2, seed=3)
    assert np.allclose(a.predict_proba(texts[:5]), b.predict_proba(texts[:5]))


def test_rule_tokens_use_spec_codes():
    out = T.with_rule_tokens(["She agreed."], [{S.CONSENT}], [{S.CAPACITY}])
    assert out[0].startswith("She agreed.")
    assert T.RULE_PREFIX + S.CONSENT in out[0] and T.DISC_PREFIX + S.CAPACITY in out[0]
    assert T.with_rule_tokens(["x"], [set()], [set()]) == ["x"]


def test_note_scoring_follows_model_train():
    # two notes: sentence 0, 1 in note 0; sentence 2 in note 1
    proba = np.zeros((3, len(S.ALL_LABELS)), dtype=np.float32)
    proba[1, 0] = 0.9
    proba[2, 0] = 0.3
    nm = T.note_max(proba, [0, 0, 1], 2)
    assert nm[0, 0] == np.float32(0.9) and nm[1, 0] == np.float32(0.3)
    gold = np.zeros((2, len(S.ALL_LABELS)), dtype=np.int8)
    gold[:, 0] = 1
    r = T.system_result("x", "x", gold, nm)
    assert r["fixed_0.5"]["labels"][S.ALL_LABELS[0]]["tp"] == 1  # 0.3 < 0.5
    assert r["tuned"]["labels"][S.ALL_LABELS[0]]["tp"] == 2  # threshold tuned down to reach 0.3


def test_report_has_every_label_code(tmp_path):
    rng = np.random.default_rng(0)
    gold = (rng.random((20, len(S.ALL_LABELS))) < 0.3).astype(np.int8)
    systems = [T.system_result("rules", "rules", gold, pred=(rng.random(gold.shape) < 0.3).astype(np.int8)),
               T.system_result("spacy_bow", "bow", gold, rng.random(gold.shape).astype(np.float32), epochs=3,
                               train_seconds=1.0, sentences_per_second=100.0,
                               dev_curve=[{"epoch": 1, "evidence_macro_f1": 0.5}])]
    result = {"title": "t", "train": "a", "dev": "b", "train_notes": 1, "train_sentences": 1, "dev_notes": 20,
              "dev_cases": 5, "dev_sentences": 40, "data_sha256": "0" * 64, "seed": 0, "spacy": "x", "thinc": "x",
              "scikit-learn": "x", "python": "x", "total_seconds": 1.0,
              "dev_label_support": {lab: int(gold[:, j].sum()) for j, lab in enumerate(S.ALL_LABELS)},
              "systems": systems}
    T.write_report(result, tmp_path)
    md = (tmp_path / "comparison.md").read_text(encoding="utf-8")
    for code in S.ALL_LABELS:
        assert f"| `{code}` |" in md
    assert "| `rules` |" in md and "| `spacy_bow` |" in md and "wins with" in md
    data = json.loads((tmp_path / "comparison.json").read_text(encoding="utf-8"))
    assert set(data["systems"][1]["tuned"]["labels"]) == set(S.ALL_LABELS)


def test_cli_refuses_the_test_split(capsys):
    assert T.main(["--train", "data/annotated/train.jsonl", "--dev", "data/annotated/test.jsonl"]) == 2


def test_bootstrap_delta():
    rng = np.random.default_rng(1)
    gold = (rng.random((30, 4)) < 0.4).astype(np.int8)
    same = T.bootstrap_delta(gold, gold, gold, [0, 1, 2, 3], n=200)
    assert same["delta"] == 0 and same["ci95"] == [0, 0]
    better = T.bootstrap_delta(gold, gold, 1 - gold, [0, 1, 2, 3], n=200)
    assert better["delta"] > 0.5 and better["p_a_not_better"] == 0


def test_decision_keeps_the_shipped_model_unless_the_challenger_wins_beyond_noise():
    from msp_nlp.spacy_textcat import decision

    def res(ev_ci, tr_delta):
        return {"paired_bootstrap": {"spacy_x - sentence_model": {
            "evidence_macro": {"delta": sum(ev_ci) / 2, "ci95": list(ev_ci)},
            "trigger_macro": {"delta": tr_delta, "ci95": [tr_delta - 0.01, tr_delta + 0.01]}}}}
    assert decision(res((-0.02, 0.04), 0.01))[0] == "sentence_model"  # within noise
    assert decision(res((0.01, 0.05), -0.02))[0] == "sentence_model"  # better on evidence, worse on triggers
    assert decision(res((0.01, 0.05), 0.0))[0] == "spacy_x"
    assert decision({})[0] == "sentence_model"
