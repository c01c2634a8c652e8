"""The ``msp-nlp`` command line."""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from . import spec as S

MAPPING_OPTIONS = {  # option -> spec field
    "--id-col": S.NOTE_ID, "--text-col": S.TEXT, "--case-col": S.CASE_ID, "--date-col": S.DATE,
    "--type-col": S.NOTE_TYPE, "--name-col": S.ADULT_NAME, "--author-col": S.AUTHOR, "--team-col": S.TEAM,
}


def _add_mapping(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("column mapping (default: a column named like the field, e.g. 'note_id', 'Note ID')")
    for opt, fld in MAPPING_OPTIONS.items():
        g.add_argument(opt, dest=f"col_{fld}", metavar="COLUMN", help=f"column holding `{fld}`")
    p.add_argument("--encoding", help="text encoding of CSV/TSV input (default: detect UTF-8/UTF-8-BOM/Windows-1252)")


def _mapping(args):
    from .io import ColumnMapping
    return ColumnMapping(**{fld: getattr(args, f"col_{fld}") for fld in MAPPING_OPTIONS.values()})


def cmd_check(args) -> int:
    from .batch import run_check
    summary = run_check(args.inputs, args.out, _mapping(args), n_process=args.n_process,
                        chunk_size=args.chunk_size, encoding=args.encoding)
    print(f"checked {summary.notes} notes in {summary.cases} cases; {summary.errors} rows could not be checked "
          f"(see errors.csv)")
    width = max(len(c) for c in S.FLAG_CODES)
    print(f"{'case flag':<{width}}  cases")
    for code in S.FLAG_CODES:
        print(f"{code:<{width}}  {summary.case_flags[code]}")
    print(f"results in {summary.outdir}/ (notes.jsonl, cases.jsonl, notes.csv, cases.csv, errors.csv)")
    return 0


def cmd_evaluate(args) -> int:
    from .corpus import load
    from .evaluate import evaluate, keyword_system, pipeline_system, to_text, write_report
    notes = load(args.data)
    if not notes:
        print("msp-nlp: error: no annotated notes in the given file(s)", file=sys.stderr)
        return 2
    result = evaluate(notes, {"keyword": keyword_system, "pipeline": pipeline_system()})
    print(to_text(result))
    if args.out:
        write_report(result, args.out, title=args.title or f"Evaluation on {', '.join(args.data)}")
        print(f"\nreport written to {args.out}/evaluation.md and evaluation.json")
    return 0


def cmd_build_corpus(args) -> int:
    from .corpus import CorpusError, build
    try:
        counts = build(args.raw, args.out)
    except CorpusError as e:
        print(f"msp-nlp: error: {e}", file=sys.stderr)
        return 2
    print(", ".join(f"{k}: {v} notes" for k, v in counts.items()) + f" -> {args.out}/")
    return 0


def cmd_schema(args) -> int:
    print(json.dumps(S.schema(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="msp-nlp", description="Check adult safeguarding case notes for Making "
                                "Safeguarding Personal evidence. Flags are prompts for a human reviewer, not judgements.")
    p.add_argument("--version", action="version", version=f"msp-nlp {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="check an export of case notes (CSV/TSV/Excel/Parquet/JSONL)")
    c.add_argument("inputs", nargs="+", metavar="INPUT", help="input file(s); several are read as one export")
    c.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="directory for the results")
    c.add_argument("--n-process", type=int, default=1, metavar="N", help="worker processes (default 1)")
    c.add_argument("--chunk-size", type=int, default=1000, metavar="N", help="notes per chunk (default 1000)")
    _add_mapping(c)
    c.set_defaults(func=cmd_check)

    e = sub.add_parser("evaluate", help="score the checker (and a keyword baseline) on annotated JSONL")
    e.add_argument("data", nargs="+", metavar="ANNOTATED", help="annotated JSONL file(s), e.g. data/annotated/test.jsonl")
    e.add_argument("-o", "--out", metavar="DIR", help="write evaluation.md and evaluation.json here")
    e.add_argument("--title", help="title of the Markdown report")
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("build-corpus", help="resolve annotators' quotes to offsets and split by case")
    b.add_argument("--raw", default="data/raw", help="folder of annotators' JSONL (default data/raw)")
    b.add_argument("--out", default="data/annotated", help="output folder (default data/annotated)")
    b.set_defaults(func=cmd_build_corpus)

    s = sub.add_parser("schema", help="print the labels, triggers and flags of the spec as JSON")
    s.set_defaults(func=cmd_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    from .io import InputError
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as e:
        print(f"msp-nlp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("msp-nlp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
