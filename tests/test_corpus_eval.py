"""Corpus loading, quote resolution, the split, agreement and metric code on hand-computed cases."""

import json
from pathlib import Path

import pytest

from msp_nlp import spec as S
from msp_nlp.agreement import cohen_kappa
from msp_nlp.corpus import SPLITS, TRAIN_ONLY, CorpusError, build, load, note_from_dict, read_raw, split_of
from msp_nlp.evaluate import PRF, evaluate, keyword_system, macro, score_sets, score_spans

ROOT = Path(__file__).resolve().parents[1]


def test_quotes_resolve_to_offsets_with_occurrence():
    n = note_from_dict({"note_id": "1", "case_id": "c", "text": "She said no. She said yes.",
                        "spans": [{"label": "adult_views", "quote": "She said", "occurrence": 2}]})
    assert n.spans == [{"label": "adult_views", "start": 13, "end": 21}]
    with pytest.raises(CorpusError, match="not found"):
        note_from_dict({"note_id": "1", "case_id": "c", "text": "abc", "spans": [{"label": "consent", "quote": "x"}]})
    with pytest.raises(CorpusError, match="unknown label"):
        note_from_dict({"note_id": "1", "case_id": "c", "text": "abc", "spans": [{"label": "views", "quote": "a"}]})


def test_split_is_by_case_and_stable():
    assert split_of("A-001") == split_of("A-001")
    assert {split_of(f"X-{i}") for i in range(200)} == set(SPLITS)


def test_annotated_corpus_is_consistent():
    files = {s: ROOT / "data" / "annotated" / f"{s}.jsonl" for s in SPLITS}
    notes = {s: load(p) for s, p in files.items()}
    cases = {s: {n.case_id for n in ns} for s, ns in notes.items()}
    assert not (cases["train"] & cases["test"]) and not (cases["dev"] & cases["test"])
    train_only = {n.case_id for n in read_raw((ROOT / "data" / "raw" / TRAIN_ONLY).glob("*.jsonl"))}
    # dev and test are exactly the hashed split; train is the hashed train share plus the train-only rounds
    assert all(split_of(n.case_id) == s for s in ("dev", "test") for n in notes[s])
    assert all(split_of(n.case_id) == "train" or n.case_id in train_only for n in notes["train"])
    assert len(notes["test"]) >= 150
    for ns in notes.values():
        for n in ns:
            for sp in n.spans:
                assert sp["label"] in S.ALL_LABELS and 0 <= sp["start"] < sp["end"] <= len(n.text)


def _raw(note_id, case_id):
    return json.dumps({"note_id": note_id, "case_id": case_id, "text": "Seen alone.",
                       "spans": [{"label": "coercion_explored", "quote": "Seen alone."}]})


def test_build_puts_train_only_rounds_in_train(tmp_path):
    raw = tmp_path / "raw"
    (raw / TRAIN_ONLY).mkdir(parents=True)
    hashed = [f"H-{i}" for i in range(40)]
    (raw / "batch_a.jsonl").write_text("\n".join(_raw(f"{c}-01", c) for c in hashed) + "\n")
    (raw / TRAIN_ONLY / "batch_z.jsonl").write_text("\n".join(_raw(f"Z-{i}-01", f"Z-{i}") for i in range(30)) + "\n")
    counts = build(raw, tmp_path / "out")
    assert sum(counts.values()) == 70
    for s in SPLITS:
        ns = load(tmp_path / "out" / f"{s}.jsonl")
        assert all(split_of(n.case_id) == s for n in ns if n.case_id.startswith("H-"))
        assert all(s == "train" for n in ns if n.case_id.startswith("Z-"))
    assert counts["train"] == 30 + sum(split_of(c) == "train" for c in hashed)
    # a train-only round must not reuse a case of the split batches (it could move a test case into train)
    (raw / TRAIN_ONLY / "batch_y.jsonl").write_text(_raw("Y-1-01", "H-3") + "\n")
    with pytest.raises(CorpusError, match="H-3"):
        build(raw, tmp_path / "out2")


def test_prf_hand_computed():
    t = score_sets([{"a"}, {"a"}, set(), {"a"}], [{"a"}, set(), {"a"}, {"a"}], ["a"])["a"]
    assert (t.tp, t.fp, t.fn) == (2, 1, 1)
    assert t.precision == pytest.approx(2 / 3) and t.recall == pytest.approx(2 / 3) and t.f1 == pytest.approx(2 / 3)
    assert macro({"a": PRF(1, 0, 0), "b": PRF(0, 1, 1), "c": PRF()}, ["a", "b", "c"])["f1"] == 0.5


def test_span_overlap_matching_hand_computed():
    gold = [[{"label": "a", "start": 0, "end": 10}, {"label": "a", "start": 20, "end": 30}]]
    pred = [[{"label": "a", "start": 5, "end": 15}, {"label": "a", "start": 40, "end": 50}]]
    t = score_spans(gold, pred, ["a"])["a"]
    assert (t.tp, t.fp, t.fn) == (1, 1, 1)


def test_kappa_hand_computed():
    # 10 items: both yes 4, both no 4, disagree 2 -> po 0.8, pe 0.5 -> kappa 0.6
    a = [True] * 5 + [False] * 5
    b = [True] * 4 + [False] + [True] + [False] * 4
    assert cohen_kappa(a, b) == pytest.approx(0.6)
    assert cohen_kappa([True, True], [True, True]) is None


def test_evaluate_reports_both_systems_and_case_flags():
    notes = [note_from_dict({"note_id": "1", "case_id": "c1", "text": "Spoke to Mrs A alone. She said she is fine.",
                             "spans": [{"label": "coercion_explored", "quote": "Spoke to Mrs A alone."},
                                       {"label": "adult_views", "quote": "She said she is fine."}]})]
    res = evaluate(notes, {"keyword": keyword_system})
    sysrep = res["systems"][0]
    assert sysrep["note_labels"]["coercion_explored"]["tp"] == 1
    assert set(sysrep["case_flags"]) == set(S.FLAG_CODES)
    json.dumps(res)


@pytest.mark.parametrize("flag", [["--no-model"], ["--model", "none"]])
def test_evaluate_cli_rules_only(tmp_path, flag, capsys):
    from msp_nlp.cli import main
    data = tmp_path / "a.jsonl"
    data.write_text(json.dumps({"note_id": "1", "case_id": "c1", "text": "Spoke to Mrs A alone. She said she is fine.",
                                "spans": [{"label": "adult_views", "quote": "She said she is fine."}]}) + "\n")
    assert main(["evaluate", str(data), "-o", str(tmp_path / "out")] + flag) == 0
    systems = [s["system"] for s in json.loads((tmp_path / "out" / "evaluation.json").read_text())["systems"]]
    assert systems == ["keyword", "rules"]
