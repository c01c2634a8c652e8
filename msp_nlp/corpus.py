"""The annotated corpus: build it from the annotators' files, split it by case, load it.

Annotators write ``data/raw/*.jsonl`` with spans as quotes (``{"label", "quote", "occurrence"?}``); :func:`build`
resolves every quote to character offsets, checks labels against the spec, and writes
``data/annotated/{train,dev,test}.jsonl``, split by case so that no case straddles two splits. The split is a
deterministic function of the case id (a hash), fixed before any rule or model was tuned: nothing is tuned on test.
Files in ``data/raw/train_only/`` (annotation rounds after dev and test were frozen) go to train whole, so the
dev and test sets, and the scores measured on them, stay comparable from one model version to the next.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from . import spec as S

FIELDS = ("note_id", "case_id", "date", "note_type", "adult_name", "author", "team", "writer", "closing", "text",
          "spans")
SPLITS = ("train", "dev", "test")
#: Expected share of cases per split (by a hash of the case id): test [0, 0.35), dev [0.35, 0.45), train the rest.
#: (Test was widened from 0.30 into what was dev, never into train, so no case read while tuning moved to test.)
TEST_SHARE, DEV_SHARE = 0.35, 0.10
SALT = "msp-nlp-split-v1"
#: Sub-folder of the raw directory whose notes are training data only (dev and test are frozen).
TRAIN_ONLY = "train_only"


class CorpusError(ValueError):
    pass


@dataclass
class Note:
    note_id: str
    case_id: str
    text: str
    spans: list[dict]
    date: str | None = None
    note_type: str | None = None
    adult_name: str | None = None
    author: str | None = None
    team: str | None = None
    writer: str | None = None
    closing: bool = False

    @property
    def labels(self) -> set[str]:
        return {s["label"] for s in self.spans}

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in FIELDS}


def resolve_quotes(rec: dict, where: str) -> list[dict]:
    """Turn ``{"label","quote","occurrence"}`` spans into ``{"label","start","end"}`` (sorted)."""
    text = rec["text"]
    out = []
    for s in rec.get("spans", []):
        label = s.get("label")
        if label not in S.ALL_LABELS:
            raise CorpusError(f"{where}: unknown label {label!r}")
        if "start" in s and "end" in s:
            start, end = int(s["start"]), int(s["end"])
        else:
            quote = s.get("quote") or ""
            occ = int(s.get("occurrence", 1))
            pos = -1
            for _ in range(occ):
                pos = text.find(quote, pos + 1)
                if pos < 0:
                    break
            if not quote or pos < 0:
                raise CorpusError(f"{where}: quote for {label} not found in the text (occurrence {occ})")
            start, end = pos, pos + len(quote)
        if not (0 <= start < end <= len(text)):
            raise CorpusError(f"{where}: span {start}-{end} for {label} is outside the text")
        out.append({"label": label, "start": start, "end": end})
    out.sort(key=lambda d: (d["start"], d["end"], d["label"]))
    dedup = []
    for d in out:
        if not dedup or dedup[-1] != d:
            dedup.append(d)
    return dedup


def note_from_dict(rec: dict, where: str = "") -> Note:
    missing = [k for k in ("note_id", "case_id", "text") if not rec.get(k)]
    if missing:
        raise CorpusError(f"{where}: missing {', '.join(missing)}")
    return Note(note_id=str(rec["note_id"]), case_id=str(rec["case_id"]), text=rec["text"],
                spans=resolve_quotes(rec, where), date=rec.get("date"), note_type=rec.get("note_type"),
                adult_name=rec.get("adult_name"), author=rec.get("author"), team=rec.get("team"),
                writer=rec.get("writer"), closing=bool(rec.get("closing", False)))


def read_raw(paths: Iterable[Path]) -> list[Note]:
    notes, seen = [], set()
    for p in sorted(paths):
        for i, line in enumerate(open(p, encoding="utf-8"), 1):
            if not line.strip():
                continue
            where = f"{p.name}:{i}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise CorpusError(f"{where}: not JSON ({e.msg})") from None
            n = note_from_dict(rec, where)
            if n.note_id in seen:
                raise CorpusError(f"{where}: duplicate note_id {n.note_id}")
            seen.add(n.note_id)
            notes.append(n)
    return notes


def case_hash(case_id: str) -> str:
    return hashlib.sha256(f"{SALT}:{case_id}".encode()).hexdigest()


def split_of(case_id: str) -> str:
    """The split of a case: a fixed function of its id alone, so adding cases never moves an existing one."""
    u = int(case_hash(case_id)[:12], 16) / 16 ** 12
    return "test" if u < TEST_SHARE else "dev" if u < TEST_SHARE + DEV_SHARE else "train"


def split_cases(notes: list[Note]) -> dict[str, str]:
    """case_id -> split."""
    return {n.case_id: split_of(n.case_id) for n in notes}


def build(raw_dir: Path, out_dir: Path) -> dict[str, int]:
    """Resolve the raw files to offsets and write one file per split. ``raw_dir/*.jsonl`` is split by case hash;
    ``raw_dir/train_only/*.jsonl`` all goes to train (a case may not appear in both)."""
    raw_dir = Path(raw_dir)
    hashed = read_raw(raw_dir.glob("*.jsonl"))
    extra = read_raw((raw_dir / TRAIN_ONLY).glob("*.jsonl"))
    splits = split_cases(hashed)
    shared = sorted({n.case_id for n in extra} & set(splits))
    if shared:
        raise CorpusError(f"{TRAIN_ONLY}/ reuses case ids of the split batches: {', '.join(shared[:5])}")
    ids = {n.note_id for n in hashed}
    dup = sorted(n.note_id for n in extra if n.note_id in ids)
    if dup:
        raise CorpusError(f"{TRAIN_ONLY}/ reuses note ids of the split batches: {', '.join(dup[:5])}")
    splits.update({n.case_id: "train" for n in extra})
    notes = hashed + extra
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in SPLITS:
        chosen = [n for n in notes if splits[n.case_id] == split]
        with open(out_dir / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for n in chosen:
                f.write(json.dumps(n.as_dict(), ensure_ascii=False) + "\n")
        counts[split] = len(chosen)
    return counts


def load(paths: str | Path | Iterable[str | Path]) -> list[Note]:
    """Load annotated JSONL file(s) (offsets or quotes)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    notes = []
    for p in paths:
        p = Path(p)
        for i, line in enumerate(open(p, encoding="utf-8"), 1):
            if line.strip():
                notes.append(note_from_dict(json.loads(line), f"{p.name}:{i}"))
    return notes
