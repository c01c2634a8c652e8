"""Do case-level thresholds help the case flags? A nested cross-validation over train+dev cases (test is not read).

    .venv/bin/python reports/case_thresholds/experiment.py > reports/case_thresholds/results.txt   (~4 min, 2 cores)

Out-of-fold note scores: 5-fold by case over train (as ``msp-nlp train`` makes them), and the final model's scores for
dev. Outer loop: 5 folds of the train+dev cases; case thresholds chosen on four (``msp_nlp.model.case_thresholds``,
from the note thresholds) and applied to the fifth, against the note thresholds. Case-flag F1 pooled over the held-out
folds, for all cases and separately for the cases of batches a-k (where dev and test come from) and of the later
train-only batches l-s, for three outer seeds; and, last, with thresholds chosen on a-k cases alone.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from msp_nlp import model as M  # noqa: E402
from msp_nlp import spec as S  # noqa: E402
from msp_nlp.corpus import load  # noqa: E402
from msp_nlp.pipeline import Analyzer, is_closing  # noqa: E402

H = [S.FLAG_CODES.index(h) for h in S.HEADLINE_FLAGS]


def scores():
    tr_notes = load(ROOT / "data/annotated/train.jsonl")
    dv_notes = load(ROOT / "data/annotated/dev.jsonl")
    an = Analyzer(model=None)
    tr, dv = M.sentence_set(tr_notes, an), M.sentence_set(dv_notes, an)
    fit_args = dict(C=16.0, min_df=2, rule_weight=3.0, seed=0, version="x", type_weight=M.NOTE_TYPE_WEIGHT)
    oof = M.out_of_fold_note_max(tr_notes, tr, 5, **fit_args)
    final = M._fit(tr, **fit_args)
    dvmax = M.note_max(final.predict_proba(dv.texts, dv.rule_labels, dv.discounted, dv.note_types),
                       dv.note_index, len(dv_notes))
    notes = tr_notes + dv_notes
    return (np.vstack([oof, dvmax]), np.vstack([M.note_gold(tr_notes), M.note_gold(dv_notes)]),
            np.array([n.case_id for n in notes]), np.array([n.closing for n in notes]),
            np.array([is_closing(n.note_type, n.text) for n in notes]))


def nested(nmax, gold, case, gclose, pclose, note_thr, seed):
    cases, cmax = M.case_max(nmax, case)
    _, cgold = M.case_max(gold, case)
    _, cgc = M.case_max(gclose.reshape(-1, 1).astype(float), case)
    _, cpc = M.case_max(pclose.reshape(-1, 1).astype(float), case)
    gf = M.case_flag_matrix(cgold > 0, cgc[:, 0] > 0)
    n = len(cases)
    perm = np.random.RandomState(seed).permutation(n)
    base, new = np.zeros_like(gf), np.zeros_like(gf)
    cases_arr = np.array(cases)
    for k in range(5):
        held = np.sort(perm[k::5])
        fit_cases = set(cases_arr[np.setdiff1d(np.arange(n), held)])
        rows = np.array([c in fit_cases for c in case])
        th = M.case_thresholds(nmax[rows], gold[rows], list(case[rows]), gclose[rows], pclose[rows], note_thr)
        new[held] = M.case_flag_matrix(cmax[held] >= th, cpc[held, 0] > 0)
        base[held] = M.case_flag_matrix(cmax[held] >= note_thr, cpc[held, 0] > 0)
    return cases, gf, base, new


def line(name, sel, gf, base, new):
    fb, fn = M._flag_f1(base[sel], gf[sel]), M._flag_f1(new[sel], gf[sel])
    heads = " | ".join(f"{fb[h]:.2f} -> {fn[h]:.2f}" for h in H)
    return (f"| {name} | {int(sel.sum())} | {fb[H].mean():.3f} -> {fn[H].mean():.3f} | "
            f"{fb.mean():.3f} -> {fn.mean():.3f} | {heads} |")


def main():
    nmax, gold, case, gclose, pclose = scores()
    note_thr = M.note_thresholds(gold, nmax)
    print("| cases | n | headline flags (note thr -> case thr) | all 11 case flags | "
          + " | ".join(S.HEADLINE_FLAGS) + " |")
    print("|---|---:|---|---|" + "---|" * len(H))
    for seed in range(3):
        cases, gf, base, new = nested(nmax, gold, case, gclose, pclose, note_thr, seed)
        early = np.array([c[0] in "ABCDEFGHIJK" for c in cases])
        print(line(f"all, seed {seed}", np.ones(len(cases), bool), gf, base, new))
        print(line(f"a-k, seed {seed}", early, gf, base, new))
        print(line(f"l-s, seed {seed}", ~early, gf, base, new))
    keep = np.array([c[0] in "ABCDEFGHIJK" for c in case])
    for seed in range(3):
        cases, gf, base, new = nested(nmax[keep], gold[keep], case[keep], gclose[keep], pclose[keep], note_thr, seed)
        print(line(f"a-k only (chosen on a-k), seed {seed}", np.ones(len(cases), bool), gf, base, new))


if __name__ == "__main__":
    main()
