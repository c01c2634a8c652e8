"""Does the model gain from the rule labels of the neighbouring sentences? Out-of-fold over train+dev (test not read).

    .venv/bin/python reports/neighbour_context/experiment.py [SEED]    (~6 minutes on 2 cores per seed)

5-fold cross-validation grouped by case over the train + dev notes (seed 0: sklearn's GroupKFold; other seeds: cases
shuffled into folds), the same folds for both models; note thresholds chosen on the pooled out-of-fold scores.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import sklearn.model_selection as ms  # noqa: E402

from msp_nlp import model as M  # noqa: E402
from msp_nlp import spec as S  # noqa: E402
from msp_nlp.corpus import load  # noqa: E402
from msp_nlp.pipeline import Analyzer, is_closing  # noqa: E402

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0


class ShuffledGroupKFold:
    def __init__(self, n_splits):
        self.n = n_splits

    def split(self, X, groups):
        cases = sorted(set(groups))
        np.random.RandomState(SEED).shuffle(cases)
        fold = {c: i % self.n for i, c in enumerate(cases)}
        a = np.array([fold[g] for g in groups])
        for k in range(self.n):
            yield np.nonzero(a != k)[0], np.nonzero(a == k)[0]


if SEED:
    ms.GroupKFold = ShuffledGroupKFold  # out_of_fold_note_max imports it from here

notes = load(ROOT / "data/annotated/train.jsonl") + load(ROOT / "data/annotated/dev.jsonl")
ss = M.sentence_set(notes, Analyzer(model=None))
gold = M.note_gold(notes)
case = [n.case_id for n in notes]
_, cgold = M.case_max(gold, case)
_, gclose = M.case_max(np.array([[n.closing] for n in notes], float), case)
_, pclose = M.case_max(np.array([[is_closing(n.note_type, n.text)] for n in notes], float), case)
gold_flags = M.case_flag_matrix(cgold > 0, gclose[:, 0] > 0)
H = [S.FLAG_CODES.index(h) for h in S.HEADLINE_FLAGS]
ne = len(S.EVIDENCE_LABELS)
print(f"seed {SEED}: {len(notes)} notes, {len(set(case))} cases")
print("| model | evidence | triggers | case flags | headline case flags |")
print("|---|---:|---:|---:|---:|")
for name, neighbours in (("note type only (shipped)", False), ("+ neighbour rule labels", True)):
    nmax = M.out_of_fold_note_max(notes, ss, 5, C=16.0, min_df=2, rule_weight=3.0, seed=0, version="x",
                                  type_weight=M.NOTE_TYPE_WEIGHT, neighbours=neighbours)
    th = M.note_thresholds(gold, nmax)
    p, g = nmax >= th, gold.astype(bool)
    f1 = 2 * (p & g).sum(0) / (2 * (p & g).sum(0) + (p ^ g).sum(0))
    _, cmax = M.case_max(nmax, case)
    ff = M._flag_f1(M.case_flag_matrix(cmax >= th, pclose[:, 0] > 0), gold_flags)
    print(f"| {name} | {f1[:ne].mean():.4f} | {f1[ne:].mean():.4f} | {ff.mean():.4f} | {ff[H].mean():.4f} |",
          flush=True)
