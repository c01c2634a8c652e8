"""End-to-end: `msp-nlp check` on files, its outputs, exit codes and the no-row-lost guarantee."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from msp_nlp import spec as S
from msp_nlp.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "case_notes.csv"
DEMO_MAP = ["--id-col", "Note ID", "--case-col", "Episode ID", "--date-col", "Date Recorded", "--type-col",
            "Note Type", "--name-col", "Person Known As", "--author-col", "Worker", "--team-col", "Team",
            "--text-col", "Case Note"]


def read_jsonl(p):
    return [json.loads(line) for line in open(p, encoding="utf-8")]


def test_demo_run_writes_every_output(tmp_path, capsys):
    assert main(["check", str(DEMO), "-o", str(tmp_path)] + DEMO_MAP) == 0
    notes = read_jsonl(tmp_path / "notes.jsonl")
    cases = read_jsonl(tmp_path / "cases.jsonl")
    with open(DEMO, encoding="utf-8") as f:
        demo_rows = list(csv.DictReader(f))
    assert [n["note_id"] for n in notes] == [r["Note ID"] for r in demo_rows]  # input order, none lost
    assert len(cases) == len({r["Episode ID"] for r in demo_rows})
    n = notes[0]
    assert set(n) >= {"note_id", "case_id", "evidence", "triggers", "flags"}
    for item in n["evidence"] + n["triggers"]:
        assert set(item) >= {"label", "start", "end", "text", "score"}
    for c in cases:
        for f in c["flags"]:
            assert f["code"] in S.FLAG_CODES and f["reason"] and "evidence_note_ids" in f
    with open(tmp_path / "notes.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(notes)
    assert set(S.FLAG_CODES) <= set(rows[0]) and set(S.EVIDENCE_LABELS) <= set(rows[0])
    with open(tmp_path / "cases.csv", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == len(cases)
    out = capsys.readouterr().out
    assert "checked 30 notes in 10 cases" in out


def test_demo_flags_make_sense(tmp_path):
    main(["check", str(DEMO), "-o", str(tmp_path)] + DEMO_MAP)
    cases = {c["case_id"]: c for c in read_jsonl(tmp_path / "cases.jsonl")}
    flags = {k: {f["code"] for f in c["flags"]} for k, c in cases.items()}
    # A vague "visit completed, all ok, NFA" case lacks everything and is closed without review.
    assert {"views_missing", "outcome_missing", "outcome_unreviewed"} <= flags["ENQ-1007"]
    # The boyfriend answered for Aisha and she was not seen alone: coercion unexplored.
    assert "coercion_unexplored" in flags["ENQ-1003"]
    # Edna was seen alone, gave her views and desired outcome, and the closure reviewed outcomes.
    assert not ({"views_missing", "outcome_missing", "coercion_unexplored", "outcome_unreviewed"} & flags["ENQ-1001"])


def test_rows_that_cannot_be_checked_go_to_errors(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("note_id,text,case_id\n1,Spoke to Mrs A alone.,C1\n2,   ,C1\n1,Duplicate id.,C1\n,No id,C2\n"
                   "3,\"Broken, row\",C3,extra\n4,She said she is happy.,C3\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["check", str(src), "-o", str(out)]) == 0
    notes = read_jsonl(out / "notes.jsonl")
    with open(out / "errors.csv", encoding="utf-8") as f:
        errors = list(csv.DictReader(f))
    assert [n["note_id"] for n in notes] == ["1", "4"]
    assert sorted(int(e["row"]) for e in errors) == [2, 3, 4, 5]
    assert len(notes) + len(errors) == 6  # every input row accounted for
    assert all(e["reason"] for e in errors)


def test_unknown_column_exits_nonzero_listing_columns(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("ID,Notes\n1,hello\n", encoding="utf-8")
    assert main(["check", str(src), "-o", str(tmp_path / "o"), "--text-col", "Case Note"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'ID'" in err and "'Notes'" in err


def test_missing_text_column(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("note_id,body\n1,hello\n", encoding="utf-8")
    assert main(["check", str(src), "-o", str(tmp_path / "o")]) == 2
    assert "--text-col" in capsys.readouterr().err


def test_notes_without_case_are_their_own_case(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"note_id": "a", "text": "Seen alone."}) + "\n" +
                   json.dumps({"note_id": "b", "text": "She said she is fine."}) + "\n", encoding="utf-8")
    main(["check", str(src), "-o", str(tmp_path / "o")])
    cases = read_jsonl(tmp_path / "o" / "cases.jsonl")
    assert [c["note_ids"] for c in cases] == [["a"], ["b"]]


def test_parallel_matches_single_process(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    main(["check", str(DEMO), "-o", str(a), "--chunk-size", "4"] + DEMO_MAP)
    main(["check", str(DEMO), "-o", str(b), "--n-process", "2", "--chunk-size", "4"] + DEMO_MAP)
    assert (a / "notes.jsonl").read_text() == (b / "notes.jsonl").read_text()
    assert (a / "cases.jsonl").read_text() == (b / "cases.jsonl").read_text()


def test_console_script_runs(tmp_path):
    exe = Path(sys.executable).with_name("msp-nlp")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    r = subprocess.run([str(exe), "check", str(DEMO), "-o", str(tmp_path)] + DEMO_MAP, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cases.jsonl").exists()


def test_no_note_text_on_stdout_or_stderr(tmp_path, capsys):
    canary = "CANARY-7f3a"
    src = tmp_path / "in.csv"
    src.write_text(f"note_id,text,date\n1,Mrs A said {canary} is fine.,not-a-date\n2,{canary}\n2,{canary} dup\n",
                   encoding="utf-8")
    main(["check", str(src), "-o", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert canary not in captured.out + captured.err
    assert canary not in (tmp_path / "o" / "errors.csv").read_text()


@pytest.mark.parametrize("flag", [["--no-model"], ["--model", "none"]])
def test_check_rules_only(tmp_path, flag):
    from msp_nlp.pipeline import Analyzer
    text = "Spoke to Mrs A alone. She said she is fine and wants to stay at home."
    src = tmp_path / "n.csv"
    src.write_text(f"note_id,case_id,text\n1,c1,{text}\n", encoding="utf-8")
    assert main(["check", str(src), "-o", str(tmp_path / "o")] + flag) == 0
    note = json.loads((tmp_path / "o" / "notes.jsonl").read_text(encoding="utf-8").splitlines()[0])
    rules = Analyzer(model=None).analyse(text)
    assert [(e["label"], e["score"]) for e in note["evidence"]] == \
        [(f.label, round(f.score, 3)) for f in rules.evidence]
