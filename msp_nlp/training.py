"""`msp-nlp train` and `msp-nlp compare`: train a model version with its metrics and model card; compare two."""

from __future__ import annotations

import json
import platform
from datetime import date
from pathlib import Path

from . import __version__
from . import spec as S
from .corpus import load
from .evaluate import evaluate, keyword_system, pipeline_system, to_markdown
from .model import data_hash, train
from .pipeline import Analyzer


def system_for(model: str):
    """'rules' (rules only), 'keyword' (the Ctrl-F baseline) or a model directory."""
    if model == "keyword":
        return keyword_system
    if model in ("rules", "none"):
        return pipeline_system(Analyzer(model=None))
    return pipeline_system(Analyzer(model=model))


def _summary(res: dict, system: str) -> dict:
    s = next(x for x in res["systems"] if x["system"] == system)
    return {"summary": s["summary"],
            "evidence_note_f1": {k: v["f1"] for k, v in s["note_labels"].items() if k in S.EVIDENCE_LABELS},
            "trigger_note_f1": {k: v["f1"] for k, v in s["note_labels"].items() if k in S.TRIGGERS},
            "case_flag_f1": {k: v["f1"] for k, v in s["case_flags"].items()}}


def run_train(train_path: str, dev_path: str, test_path: str | None, out: str, version: str, seed: int = 0,
              C: float = 16.0, rule_weight: float = 3.0, case_level: bool = False) -> dict:
    tr, dv = load(train_path), load(dev_path)
    model = train(tr, dv, C=C, rule_weight=rule_weight, seed=seed, version=version, case_level=case_level)
    paths = [train_path, dev_path]
    model.meta.update({"version": version, "msp_nlp_version": __version__, "created": date.today().isoformat(),
                       "training_data": {"train": train_path, "dev": dev_path, "sha256": data_hash(paths)},
                       "python": platform.python_version()})
    out_dir = Path(out)
    model.save(out_dir)
    metrics = {}
    systems = {"keyword": keyword_system, "rules": pipeline_system(Analyzer(model=None)),
               "rules+model": pipeline_system(Analyzer(model=out_dir))}
    for split, path in (("dev", dev_path), ("test", test_path)):
        if not path:
            continue
        res = evaluate(load(path), systems)
        metrics[split] = {name: _summary(res, name) for name in systems}
        metrics[split]["notes"] = res["notes"]
        metrics[split]["cases"] = res["cases"]
        (out_dir / f"evaluation_{split}.md").write_text(
            to_markdown(res, f"Model {version} on the {split} split"), encoding="utf-8")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    meta_path = out_dir / "model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["metrics"] = {split: {name: m["summary"] for name, m in v.items() if isinstance(m, dict)}
                       for split, v in metrics.items()}
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    (out_dir / "MODEL_CARD.md").write_text(model_card(model.meta, metrics), encoding="utf-8")
    return metrics


def _f(x: float) -> str:
    return f"{x:.2f}"


def model_card(meta: dict, metrics: dict) -> str:
    v = meta["version"]
    lines = [f"# Model card: msp-nlp sentence model `{v}`", "",
             "## What it is",
             "Per-label logistic regressions over word (1-2) and character (3-5) n-gram TF-IDF features of each sentence "
             "of a case note, plus the rule detector's view of the sentence (which rule cues counted and which were "
             "discounted as negated, hypothetical, someone else's ...)"
             + (", plus the words of the note's type (\"Review\", \"S42 visit\": the same for every sentence of the "
                "note; a note without a type gets none of them, so give the note-type column when you have one)"
                if meta.get("hyperparameters", {}).get("note_type_weight") else "")
             + ". One model per evidence label and trigger of the "
             f"MSP evidence specification ({S.SPEC_VERSION}); a per-label threshold turns probabilities into findings "
             f"({meta.get('threshold_rule', '')}). Flags are then raised by the spec's rules.",
             ""]
    if meta.get("case_thresholds"):
        lines += ["A case has a label when one of its notes' best sentence reaches the label's **case threshold** "
                  f"({meta.get('case_threshold_rule', '')}). A case is as many chances for a false finding as it "
                  "has notes, so a label found weakly in one note of five would otherwise hide a case flag such as "
                  "`views_missing`; such a flag then says which note had the weak finding, to check by hand. Note "
                  "flags and per-note findings use the note thresholds.", "",
                  "| label | note threshold | case threshold |", "|---|---:|---:|"]
        lines += [f"| `{k}` | {meta['thresholds'][k]:.3f} | {meta['case_thresholds'][k]:.3f} |"
                  for k in S.ALL_LABELS]
        lines.append("")
    lines += [

             "Stored as `model.json` + `weights.npz` (numbers only, loaded with `allow_pickle=False`): no pickle, no "
             "code runs on load; loading refuses other formats, unexpected array types and other label sets.",
             "",
             "## Intended use and users",
             "- **Quality reviewers** batch-checking exports of adult safeguarding case notes (England, Care Act 2014) "
             "for recorded evidence of Making Safeguarding Personal, and **recording systems** prompting practitioners "
             "while they write.",
             "- Output: prompts for a human reviewer about what the *record* lacks.",
             "",
             "## Must not be used for",
             "- Judging risk, the adult, or the practitioner's performance; deciding whether abuse happened; any "
             "automated decision about a person. It checks the record, not the practice: good work that is not "
             "written down is flagged, and a phrase can be recorded without the practice behind it.",
             "- Notes in other languages, other jurisdictions' frameworks, or children's safeguarding records.",
             "",
             "## Training data",
             f"- Synthetic, fictional case notes written for this project (see `data/README.md`): "
             f"{meta.get('train_notes')} train notes ({meta.get('train_sentences')} sentences); thresholds chosen "
             f"on out-of-fold predictions for the train notes pooled with {meta.get('dev_notes')} dev notes "
             "(see above). Split by case; the test split was never used for training, thresholds or rule tuning.",
             f"- Training data hash (sha256 of train+dev files): `{meta.get('training_data', {}).get('sha256', '')}`",
             f"- Hyperparameters: `{json.dumps(meta.get('hyperparameters', {}))}`; trained in "
             f"{meta.get('trained_seconds')} s on 2 CPU cores; reproducible (deterministic solver, seed given).",
             ""]
    for split in ("test", "dev"):
        if split not in metrics:
            continue
        m = metrics[split]
        lines += [f"## Metrics on {split} ({m['notes']} notes, {m['cases']} cases)"
                  + (" — held out" if split == "test" else
                     " — part of the data the thresholds were chosen on: somewhat optimistic"), "",
                  "| measure (F1) | keyword | rules | rules+model |", "|---|---:|---:|---:|"]
        for k in ("evidence_note_macro", "trigger_note_macro", "evidence_span_macro", "case_flag_macro",
                  "headline_case_flag_macro"):
            lines.append(f"| {k} | " + " | ".join(_f(m[s]["summary"][k]["f1"]) for s in
                                                  ("keyword", "rules", "rules+model")) + " |")
        lines += ["", "| label (note-level F1) | rules | rules+model |", "|---|---:|---:|"]
        for k in S.EVIDENCE_LABELS + S.TRIGGERS:
            key = "evidence_note_f1" if k in S.EVIDENCE_LABELS else "trigger_note_f1"
            lines.append(f"| `{k}` | {_f(m['rules'][key][k])} | {_f(m['rules+model'][key][k])} |")
        lines += ["", "| case flag (F1) | rules | rules+model |", "|---|---:|---:|"]
        for k in S.FLAG_CODES:
            lines.append(f"| `{k}` | {_f(m['rules']['case_flag_f1'][k])} | {_f(m['rules+model']['case_flag_f1'][k])} |")
        lines.append("")
    lines += ["## Limitations",
              f"- Trained on {meta.get('train_notes')} synthetic notes written by a handful of writers: real recording-system text "
              "will differ (templates, copy-paste, abbreviations of a given team). Validate on a local annotated "
              "sample before relying on it, and retrain with `msp-nlp train` on local annotations.",
              "- Sentence level only: it cannot see that a later sentence negates an earlier one, and who \"she\" is "
              "is resolved by rules, not by the model.",
              "- The note-type words are those of this corpus's notes (\"S42 visit\", \"Review\", \"Closure\" ...). A "
              "recording system with other names for its note types gets less from them: map the local types onto "
              "similar words with the note-type column, or retrain on local annotations.",
              "- Rare labels (`refusal_explored`, `less_restrictive`, `outcome_reviewed`) have few examples; their "
              "scores are the least stable.",
              "- Inter-annotator agreement (kappa per label, `data/README.md`) bounds what any model can reach.", ""]
    return "\n".join(lines)


def run_compare(model_a: str, model_b: str, data: str) -> tuple[dict, str]:
    notes = load(data)
    res = evaluate(notes, {model_a: system_for(model_a), model_b: system_for(model_b)})
    a, b = res["systems"]
    lines = [f"{len(notes)} notes: {model_a} vs {model_b} (F1; delta = B - A)", ""]
    w = max(len(k) for k in S.ALL_LABELS + S.FLAG_CODES + tuple(a["summary"])) + 2
    lines.append(f"{'measure':<{w}}{'A':>8}{'B':>8}{'delta':>8}")
    for k in a["summary"]:
        fa, fb = a["summary"][k]["f1"], b["summary"][k]["f1"]
        lines.append(f"{k:<{w}}{fa:>8.3f}{fb:>8.3f}{fb - fa:>+8.3f}")
    lines.append("")
    for sec, keys in (("note_labels", S.ALL_LABELS), ("case_flags", S.FLAG_CODES)):
        for k in keys:
            fa, fb = a[sec][k]["f1"], b[sec][k]["f1"]
            lines.append(f"{k:<{w}}{fa:>8.3f}{fb:>8.3f}{fb - fa:>+8.3f}")
        lines.append("")
    better = b["summary"]["evidence_note_macro"]["f1"] > a["summary"]["evidence_note_macro"]["f1"]
    lines.append(f"B is {'better' if better else 'NOT better'} than A on evidence macro-F1: "
                 f"{'ship B' if better else 'keep A'}.")
    return res, "\n".join(lines)
