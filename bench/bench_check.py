"""Benchmark of the batch checker on a generated export (not a test: speed and memory targets live here).

Generates N synthetic notes of ~150 words (sentences of the annotated train split, recombined), then measures
notes/second and peak memory (max RSS of the process that did the work) for:

* the spaCy tokenizer alone on the notes (the ceiling: no pipeline can be faster);
* a keyword regex pass (the floor: what Ctrl-F does);
* the full rule pipeline in-process (``Analyzer.analyse_many``) on one process;
* ``msp-nlp check`` end to end (read CSV, analyse, write all outputs, case level) with 1 and 2 processes.

Usage: python bench/bench_check.py [--notes 100000] [--out bench/out]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAMES = ["Mrs Holt", "Edna", "Mr Shah", "Joan", "Mr Nowak", "Ms Begum", "Derek", "Grace", "Mrs Pike", "Mr Fry"]


def sentence_bank() -> list[str]:
    """Sentences of the annotated train split (fictional notes written for this project): realistic wording and cue
    density, recombined so that every generated note is new."""
    from msp_nlp.corpus import load
    from msp_nlp.segment import segment
    bank = []
    for n in load(ROOT / "data" / "annotated" / "train.jsonl"):
        bank += [n.text[s.start:s.end] for s in segment(n.text)]
    return bank


KEYWORDS = re.compile(r"\b(?:said|views|wishes|outcome|wants|alone|consent|capacity|mca|advocate|imca|risk|"
                      r"explained|declin|refus|referral|police|gp|restrictive|achieved|son|daughter|dementia|theft|"
                      r"children|carer|interpreter)", re.IGNORECASE)


def generate(path: Path, n: int, seed: int = 1) -> float:
    rnd = random.Random(seed)
    bank = sentence_bank()
    words = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["note_id", "case_id", "date", "note_type", "text"])
        for i in range(n):
            parts = []
            nw = 0
            while nw < 140:
                p = rnd.choice(bank)
                parts.append(p)
                nw += len(p.split())
            text = (" " if rnd.random() < 0.6 else "\n").join(parts)
            words += nw
            w.writerow([f"N{i:07d}", f"C{i // 4:06d}", f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
                        rnd.choice(["S42 enquiry visit", "Telephone call", "", "Closure summary"]), text])
    return words / n


def read_texts(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [r["text"] for r in csv.DictReader(f)]


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


_PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` in a fresh wrapper process: (seconds, peak RSS in MB of its largest process)."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _PEAK] + cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0, int(r.stdout.strip()) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=20_000, help="notes for the in-process measurements")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src = out / "notes.csv"
    avg_words = generate(src, args.notes)
    print(f"generated {args.notes} notes, {avg_words:.0f} words on average, {src.stat().st_size / 1e6:.0f} MB")

    texts = read_texts(src)[: args.sample]
    import spacy

    from msp_nlp.pipeline import Analyzer
    nlp = spacy.blank("en")
    results = []
    t = timed(lambda: [nlp.make_doc(x) for x in texts])
    results.append(("spaCy tokenizer only (ceiling)", len(texts) / t, None))
    t = timed(lambda: [KEYWORDS.findall(x) for x in texts])
    results.append(("keyword regex pass (floor)", len(texts) / t, None))
    an = Analyzer(model=None)
    t = timed(lambda: list(an.analyse_many((x, None, None) for x in texts)))
    results.append(("full rule pipeline, in-process, 1 process", len(texts) / t, None))
    am = Analyzer()
    if am.model is not None:
        t = timed(lambda: list(am.analyse_many((x, None, None) for x in texts)))
        results.append((f"rules + model {am.model_version}, in-process, 1 process", len(texts) / t, None))

    exe = [sys.executable, "-m", "msp_nlp", "check", str(src)]
    runs = [("--no-model", "rules only")] + ([("", f"rules + model {am.model_version}")] if am.model else [])
    for flag, what in runs:
        for n_proc in (1, 2):
            cmd = exe + ["-o", str(out / f"check{n_proc}"), "--n-process", str(n_proc)] + ([flag] if flag else [])
            t, peak = run_measured(cmd)
            results.append((f"msp-nlp check end to end ({what}), {args.notes} notes, --n-process {n_proc}",
                            args.notes / t, peak))

    lines = ["| what | notes/s | peak RSS of the largest process (MB) |", "|---|---:|---:|"]
    for name, rate, mem in results:
        lines.append(f"| {name} | {rate:,.0f} | {'' if mem is None else f'{mem:,.0f}'} |")
    print("\n".join(lines))
    (out / "results.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
