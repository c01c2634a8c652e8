"""The annotation loop: Label Studio and DocBin round trips, refusals, the Label Studio config, and `suggest`."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import spacy
from spacy.tokens import DocBin, Span

from msp_nlp import annotation_formats as A
from msp_nlp import spec as S
from msp_nlp.cli import main

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "data" / "annotated" / "train.jsonl"
DEV = ROOT / "data" / "annotated" / "dev.jsonl"


def raw_records(path, every=1):
    lines = [line for line in open(path, encoding="utf-8") if line.strip()]
    return [json.loads(line) for line in lines[::every]]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """Every second note of train.jsonl, as a file and as records (covers every label, both closing values and
    missing optional fields)."""
    recs = raw_records(TRAIN, every=2)
    p = tmp_path_factory.mktemp("sample") / "sample.jsonl"
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    labels = {s["label"] for r in recs for s in r["spans"]}
    assert labels == set(S.ALL_LABELS)
    assert {r["closing"] for r in recs} == {True, False}
    assert any(r["note_type"] is None for r in recs) and any(r["adult_name"] is None for r in recs)
    return p, recs


# --- round trips ------------------------------------------------------------------------------------------------------

def test_labelstudio_round_trip_is_exact(sample, tmp_path):
    path, recs = sample
    tasks = A.to_labelstudio(A.read_jsonl(path))
    (tmp_path / "ls.json").write_text(json.dumps(tasks), encoding="utf-8")
    back, summary = A.read_labelstudio(tmp_path / "ls.json")
    assert back == recs
    assert summary.records == len(recs) and not summary.from_predictions and not summary.skipped


def test_docbin_round_trip_is_exact(sample, tmp_path):
    path, recs = sample
    A.write_docbin(A.read_jsonl(path), tmp_path / "notes.spacy")
    back, summary = A.read_docbin(tmp_path / "notes.spacy")
    assert back == recs
    assert summary.edited_spans == 0


def test_cli_round_trips_give_back_the_same_file(sample, tmp_path, capsys):
    path, _ = sample
    for fmt, name in (("labelstudio", "tasks.json"), ("docbin", "notes.spacy")):
        assert main(["export", "--to", fmt, str(path), "-o", str(tmp_path / name)]) == 0
        assert main(["import", "--from", fmt, str(tmp_path / name), "-o", str(tmp_path / f"{fmt}.jsonl")]) == 0
        assert (tmp_path / f"{fmt}.jsonl").read_bytes() == path.read_bytes()
    # the format is guessed from the extension when --from is not given
    assert main(["import", str(tmp_path / "notes.spacy"), "-o", str(tmp_path / "guessed.jsonl")]) == 0
    assert (tmp_path / "guessed.jsonl").read_bytes() == path.read_bytes()
    out = capsys.readouterr().out
    assert "spans ->" in out


def test_labelstudio_task_shape(sample):
    _, recs = sample
    rec = next(r for r in recs if r["closing"])
    task = A.to_labelstudio([rec])[0]
    assert task["id"] == 1
    assert task["data"]["text"] == rec["text"]
    assert {k: task["data"][k] for k in A.NOTE_FIELDS} == {k: rec[k] for k in A.NOTE_FIELDS}
    result = task["annotations"][0]["result"]
    regions = [r for r in result if r["type"] == "labels"]
    assert len(regions) == len(rec["spans"])
    for r, s in zip(regions, rec["spans"]):
        assert (r["from_name"], r["to_name"]) == ("label", "text")
        assert r["value"] == {"start": s["start"], "end": s["end"], "text": rec["text"][s["start"]:s["end"]],
                              "labels": [s["label"]]}
    assert len({r["id"] for r in result}) == len(result)
    choice = [r for r in result if r["type"] == "choices"]
    assert choice == [{"id": choice[0]["id"], "from_name": "closing", "to_name": "text", "type": "choices",
                       "value": {"choices": ["closing"]}}]


def test_docbin_holds_spans_in_sc_and_fields_in_user_data(sample):
    _, recs = sample
    rec = recs[0]
    nlp = spacy.blank("en")
    doc = next(A.to_docbin([rec]).get_docs(nlp.vocab))
    assert doc.text == rec["text"]
    assert [sp.label_ for sp in doc.spans["sc"]] == [s["label"] for s in rec["spans"]]
    for sp, s in zip(doc.spans["sc"], rec["spans"]):
        assert sp.start_char <= s["start"] and s["end"] <= sp.end_char  # expanded to tokens
    assert doc.user_data["msp_note"]["note_id"] == rec["note_id"]
    assert [list(x) for x in doc.user_data["msp_spans"]] == [[s["label"], s["start"], s["end"]] for s in rec["spans"]]


def test_docbin_span_added_in_spacy_is_read_from_its_tokens(sample, tmp_path):
    _, recs = sample
    rec = recs[0]
    nlp = spacy.blank("en")
    doc = next(A.to_docbin([rec]).get_docs(nlp.vocab))
    doc.spans["sc"] = list(doc.spans["sc"]) + [Span(doc, 0, 2, label="consent")]
    db = DocBin(store_user_data=True)
    db.add(doc)
    back, summary = A.from_docbin(db)
    assert summary.edited_spans == 1
    added = {"label": "consent", "start": 0, "end": doc[1].idx + len(doc[1])}
    assert back[0]["spans"] == sorted(rec["spans"] + [added], key=lambda d: (d["start"], d["end"], d["label"]))


# --- refusals ---------------------------------------------------------------------------------------------------------

def _task(tid, text="Mrs A said she wants to stay at home.", labels=("adult_views",), note_id="n1", **extra):
    return {"id": tid, "data": {"text": text, "note_id": note_id, "case_id": "c1"},
            "annotations": [{"result": [{"id": "r1", "from_name": "label", "to_name": "text", "type": "labels",
                                         "value": {"start": 0, "end": 14, "text": text[:14], "labels": list(labels)}}],
                             **extra}]}


def test_unknown_label_is_refused_naming_the_task_and_note(tmp_path, capsys):
    with pytest.raises(A.AnnotationFormatError) as e:
        A.from_labelstudio([_task(1, note_id="ok"), _task(42, labels=("adult_veiws",), note_id="N-7")])
    assert len(e.value.problems) == 1
    msg = e.value.problems[0]
    assert "task 42" in msg and "N-7" in msg and "'adult_veiws'" in msg and "unknown label" in msg
    # the CLI prints it and writes nothing
    (tmp_path / "bad.json").write_text(json.dumps([_task(42, labels=("adult_veiws",), note_id="N-7")]))
    assert main(["import", "--from", "labelstudio", str(tmp_path / "bad.json"), "-o", str(tmp_path / "o.jsonl")]) == 2
    assert "task 42 (note N-7): unknown label 'adult_veiws'" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_unknown_label_in_docbin_and_jsonl_is_refused_naming_the_note(tmp_path):
    nlp = spacy.blank("en")
    doc = nlp.make_doc("She said no.")
    doc.spans["sc"] = [Span(doc, 0, 2, label="views")]
    doc.user_data["msp_note"] = {"note_id": "D-9", "case_id": "D"}
    db = DocBin(store_user_data=True)
    db.add(doc)
    with pytest.raises(A.AnnotationFormatError) as e:
        A.from_docbin(db)
    assert "doc 1 (note D-9)" in str(e.value) and "unknown label 'views'" in str(e.value)

    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps({"note_id": "J-3", "case_id": "J", "text": "She said no.",
                             "spans": [{"label": "views", "start": 0, "end": 3}]}) + "\n")
    with pytest.raises(A.AnnotationFormatError) as e:
        A.read_jsonl(p)
    assert "J-3" in str(e.value) and "unknown label 'views'" in str(e.value)
    assert main(["export", "--to", "docbin", str(p), "-o", str(tmp_path / "x.spacy")]) == 2
    assert not (tmp_path / "x.spacy").exists()


def test_task_without_text_is_refused_with_its_id(capsys, tmp_path):
    tasks = [_task(1), {"id": 17, "data": {"note_id": "n17"}, "annotations": []}, {"id": 18, "data": {"text": ""}}]
    with pytest.raises(A.AnnotationFormatError) as e:
        A.from_labelstudio(tasks)
    assert [p.split(":")[0] for p in e.value.problems] == ["task 17", "task 18"]
    assert all("no text" in p for p in e.value.problems)
    (tmp_path / "t.json").write_text(json.dumps(tasks))
    assert main(["import", str(tmp_path / "t.json"), "-o", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "task 17: no text" in err and "Mrs A" not in err  # ids only, never note text


def test_offsets_outside_or_not_matching_the_text_are_refused():
    bad = _task(5)
    bad["annotations"][0]["result"][0]["value"].update({"start": 30, "end": 99})
    with pytest.raises(A.AnnotationFormatError, match=r"task 5 \(note n1\).*does not match"):
        A.from_labelstudio([bad])
    bad["annotations"][0]["result"][0]["value"].pop("text")
    with pytest.raises(A.AnnotationFormatError, match=r"task 5 \(note n1\).*outside the text"):
        A.from_labelstudio([bad])


def test_utf16_offsets_are_converted():
    text = "\U0001F600 Mrs A said she wants to stay home."
    task = {"id": 3, "data": {"text": text, "note_id": "e1", "case_id": "c"},
            # JavaScript counted the emoji as two code units
            "annotations": [{"result": [{"id": "x", "type": "labels", "from_name": "label", "to_name": "text",
                                         "value": {"start": 3, "end": 8, "text": "Mrs A", "labels": ["adult_views"]}}]}]}
    recs, _ = A.from_labelstudio([task])
    assert recs[0]["spans"] == [{"label": "adult_views", "start": 2, "end": 7}]


# --- which annotation is used -----------------------------------------------------------------------------------------

def test_predictions_are_used_only_without_annotations():
    ann = _task(1, labels=("consent",))
    pred_only = _task(2, labels=("adult_views",), note_id="n2")
    pred_only["predictions"] = pred_only.pop("annotations")
    both = _task(3, labels=("consent",), note_id="n3")
    both["predictions"] = _task(3, labels=("capacity",))["annotations"]
    none = {"id": 4, "data": {"text": "x y", "note_id": "n4"}}
    cancelled = _task(5, labels=("capacity",), note_id="n5", was_cancelled=True)
    recs, s = A.from_labelstudio([ann, pred_only, both, none, cancelled])
    assert [r["note_id"] for r in recs] == ["n1", "n2", "n3"]
    assert [r["spans"][0]["label"] for r in recs] == ["consent", "adult_views", "consent"]
    assert s.from_predictions == ["2"] and s.skipped == ["4", "5"]
    recs, s = A.from_labelstudio([ann, pred_only], use_predictions=False)
    assert [r["note_id"] for r in recs] == ["n1"] and s.skipped == ["2"]


def test_ground_truth_then_latest_annotation_is_used_and_closing_choice_wins():
    t = _task(1, labels=("consent",), updated_at="2025-01-02T00:00:00Z")
    later = _task(1, labels=("capacity",), updated_at="2025-03-01T00:00:00Z")["annotations"][0]
    later["result"].append({"id": "c", "type": "choices", "from_name": "closing", "to_name": "text",
                            "value": {"choices": ["closing"]}})
    t["annotations"].append(later)
    recs, s = A.from_labelstudio([t])
    assert recs[0]["spans"][0]["label"] == "capacity" and recs[0]["closing"] is True
    assert s.several_annotations == ["1"]
    t["annotations"][0]["ground_truth"] = True
    recs, _ = A.from_labelstudio([t])
    assert recs[0]["spans"][0]["label"] == "consent" and recs[0]["closing"] is False


# --- Label Studio config ----------------------------------------------------------------------------------------------

def test_labelstudio_config(tmp_path):
    assert main(["labelstudio-config", "-o", str(tmp_path / "config.xml")]) == 0
    root = ET.parse(tmp_path / "config.xml").getroot()
    assert root.tag == "View"
    labels = root.find("Labels")
    assert labels.get("name") == "label" and labels.get("toName") == "text"
    values = [lab.get("value") for lab in labels.findall("Label")]
    assert values == list(S.ALL_LABELS)
    colour = {lab.get("value"): lab.get("background") for lab in labels.findall("Label")}
    assert len(set(colour.values())) == len(S.ALL_LABELS)
    assert not {colour[c] for c in S.EVIDENCE_LABELS} & {colour[c] for c in S.TRIGGERS}
    text = root.find("Text")
    assert text.get("name") == "text" and text.get("value") == "$text"
    choices = root.find("Choices")
    assert choices.get("name") == "closing" and choices.get("toName") == "text"
    assert [c.get("value") for c in choices.findall("Choice")] == [A.CLOSING_YES, A.CLOSING_NO]


# --- suggest ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model():
    from msp_nlp.model import SentenceModel
    from msp_nlp.pipeline import default_model_path
    path = default_model_path()
    if path is None:
        pytest.skip("no shipped model (models/LATEST)")
    return SentenceModel.load(path)


@pytest.fixture(scope="module")
def few_notes():
    recs = raw_records(DEV)[:12]
    return [{k: v for k, v in r.items() if k != "spans"} for r in recs]


def test_uncertainty_measure():
    assert A.uncertainty(0.3, 0.3) == pytest.approx(1.0)
    assert A.uncertainty(0.0, 0.2) == pytest.approx(0.75)
    assert A.uncertainty(1.0, 0.2) == pytest.approx(0.0)
    assert A.uncertainty(0.0, 0.5) == pytest.approx(0.0) and A.uncertainty(1.0, 0.5) == pytest.approx(0.0)
    u = A.uncertainty(np.array([0.1, 0.19, 0.21, 0.9]), 0.2)
    assert u[1] == pytest.approx(u[2]) and u[1] > u[0] > u[3]


def test_suggest_sentences_ranked_by_uncertainty(model, few_notes):
    full = A.suggest(few_notes, model, level="sentence", top=None)
    items = full.items
    assert len(items) == full.sentences > len(few_notes)
    assert [it["rank"] for it in items] == list(range(1, len(items) + 1))
    us = [it["uncertainty"] for it in items]
    assert us == sorted(us, reverse=True)
    th = dict(zip(model.labels, model.thresholds))
    texts = {r["note_id"]: r["text"] for r in few_notes}
    for it in items:
        assert set(it) == {"rank", "note_id", "case_id", "level", "start", "end", "text", "uncertainty", "labels",
                           "model_version"}
        assert it["text"] == texts[it["note_id"]][it["start"]:it["end"]]
        assert len(it["labels"]) == 3
        for lab in it["labels"]:
            assert lab["threshold"] == pytest.approx(float(th[lab["label"]]), abs=1e-4)
            assert lab["uncertainty"] == pytest.approx(float(A.uncertainty(lab["p"], lab["threshold"])), abs=1e-3)
            if abs(lab["p"] - lab["threshold"]) > 1e-3:
                assert lab["predicted"] == (lab["p"] >= lab["threshold"])
        assert it["labels"][0]["uncertainty"] == it["uncertainty"]  # most uncertain label first
        assert [x["uncertainty"] for x in it["labels"]] == sorted((x["uncertainty"] for x in it["labels"]),
                                                                  reverse=True)
    top = A.suggest(few_notes, model, level="sentence", top=5)
    assert [(i["note_id"], i["start"]) for i in top.items] == [(i["note_id"], i["start"]) for i in items[:5]]


def test_suggest_notes_and_labelstudio_predictions_match_the_checker(model, few_notes):
    from msp_nlp.pipeline import Analyzer
    full = A.suggest(few_notes, model, level="note", top=None)
    assert sorted(i["note_id"] for i in full.items) == sorted(r["note_id"] for r in few_notes)
    us = [i["uncertainty"] for i in full.items]
    assert us == sorted(us, reverse=True)
    top = A.suggest(few_notes, model, level="note", top=4, labels_per_item=2)
    assert [i["note_id"] for i in top.items] == [i["note_id"] for i in full.items[:4]]
    assert all(len(i["labels"]) == 2 and {"start", "end", "text", "p", "threshold"} <= set(i["labels"][0])
               for i in top.items)
    # Label Studio tasks: the suggested notes in rank order, the model's findings pre-filled as predictions
    assert [t["data"]["note_id"] for t in top.tasks] == [i["note_id"] for i in top.items]
    from msp_nlp.pipeline import default_model_path
    checker = Analyzer(model=default_model_path())
    by_id = {r["note_id"]: r for r in few_notes}
    for t in top.tasks:
        assert "annotations" not in t and len(t["predictions"]) == 1
        rec = by_id[t["data"]["note_id"]]
        a = checker.analyse(rec["text"], rec["note_type"], rec["adult_name"])
        want = sorted((f.label, f.start, f.end) for f in a.evidence + a.triggers)
        got = sorted((r["value"]["labels"][0], r["value"]["start"], r["value"]["end"])
                     for r in t["predictions"][0]["result"] if r["type"] == "labels")
        assert got == want
        assert 0 <= t["predictions"][0]["score"] <= 1
    # and they import back (as predictions, reported as such)
    recs, s = A.from_labelstudio(json.loads(json.dumps(top.tasks)))
    assert len(recs) == len(top.tasks) and len(s.from_predictions) == len(top.tasks)


def test_cli_suggest(model, few_notes, tmp_path, capsys, monkeypatch):
    # an export with its own column names, read with the same mapping options as `check`
    rows = [{"ID": r["note_id"], "Case": r["case_id"], "Note": r["text"], "Type": r["note_type"]} for r in few_notes]
    inp = tmp_path / "unlabelled.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    mapping = ["--id-col", "ID", "--text-col", "Note", "--case-col", "Case", "--type-col", "Type"]
    out = tmp_path / "suggestions.jsonl"
    assert main(["suggest", str(inp), "-o", str(out), "--top", "3"] + mapping) == 0
    items = [json.loads(line) for line in open(out, encoding="utf-8")]
    assert [i["rank"] for i in items] == [1, 2, 3]
    assert items == [{**i, "rank": n} for n, i in enumerate(A.suggest(few_notes, model, top=3).items, 1)]
    assert main(["suggest", str(inp), "-o", str(tmp_path / "tasks.json"), "--top", "2", "--level", "note",
                 "--format", "labelstudio"] + mapping) == 0
    tasks = json.loads((tmp_path / "tasks.json").read_text(encoding="utf-8"))
    assert len(tasks) == 2 and all(t["predictions"] and t["data"]["text"] for t in tasks)
    assert "ranked" in capsys.readouterr().out
    monkeypatch.setenv("MSP_NLP_MODEL", "none")
    assert main(["suggest", str(inp), "-o", str(out)] + mapping) == 2
    assert "no model was found" in capsys.readouterr().err
