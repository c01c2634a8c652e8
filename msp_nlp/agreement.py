"""Inter-annotator agreement: per-label Cohen's kappa at note level (label present in the note or not)."""

from __future__ import annotations

from . import spec as S
from .corpus import Note


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two binary ratings; None when undefined (both raters constant and equal)."""
    n = len(a)
    if n == 0 or n != len(b):
        raise ValueError("ratings must be non-empty and of equal length")
    po = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    if pe == 1:
        return None
    return (po - pe) / (1 - pe)


def agreement(first: list[Note], second: list[Note]) -> dict[str, dict]:
    """Per-label kappa, observed agreement and positives of each annotator over the notes both labelled."""
    by_id = {n.note_id: n for n in first}
    pairs = [(by_id[n.note_id], n) for n in second if n.note_id in by_id]
    out = {}
    for label in S.ALL_LABELS + (S.CLOSING,):
        if label == S.CLOSING:
            a = [x.closing for x, _ in pairs]
            b = [y.closing for _, y in pairs]
        else:
            a = [label in x.labels for x, _ in pairs]
            b = [label in y.labels for _, y in pairs]
        k = cohen_kappa(a, b)
        out[label] = {"kappa": None if k is None else round(k, 3), "agree": round(sum(x == y for x, y in zip(a, b)) / len(a), 3),
                      "first": sum(a), "second": sum(b), "notes": len(a)}
    return out
