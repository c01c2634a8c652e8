"""The ``msp-nlp`` command line."""

from __future__ import annotations

import argparse
from pathlib import Path
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
    model = None if args.no_model else (args.model or "default")
    summary = run_check(args.inputs, args.out, _mapping(args), n_process=args.n_process,
                        chunk_size=args.chunk_size, encoding=args.encoding, model=model,
                        include_text=args.include_text or args.report)
    print(f"checked {summary.notes} notes in {summary.cases} cases; {summary.errors} rows could not be checked "
          f"(see errors.csv)")
    width = max(len(c) for c in S.FLAG_CODES)
    print(f"{'case flag':<{width}}  cases")
    for code in S.FLAG_CODES:
        print(f"{code:<{width}}  {summary.case_flags[code]}")
    print(f"results in {summary.outdir}/ (notes.jsonl, cases.jsonl, notes.csv, cases.csv, errors.csv)")
    if args.report:
        return _report(summary.outdir, max_cases=None)
    return 0


def _report(outdir, max_cases) -> int:
    from .report import ReportError, write_report
    try:
        info = write_report(outdir, max_cases=max_cases)
    except ReportError as e:
        print(f"msp-nlp: error: {e}", file=sys.stderr)
        return 2
    print(f"reviewer report: {info.html} (open it in a browser) and {info.xlsx}")
    if info.notes_with_text < info.notes:
        print("note: the results hold no note text for "
              f"{info.notes - info.notes_with_text} of {info.notes} notes, so the report shows their evidence "
              "sentences only (run `msp-nlp check ... --report` to include the notes)")
    return 0


def cmd_report(args) -> int:
    return _report(args.outdir, args.max_cases)


def cmd_feedback(args) -> int:
    from pathlib import Path

    from .feedback import FeedbackError, collect
    first = Path(args.results[0])
    out = args.out or str((first if first.is_dir() else first.parent) / "annotations.jsonl")
    try:
        s = collect(args.results, out, args.notes)
    except FeedbackError as e:
        for p in e.problems:
            print(f"msp-nlp: error: {p}", file=sys.stderr)
        print(f"msp-nlp: {len(e.problems)} problem(s); nothing written. Fix the reviewer columns and run again.",
              file=sys.stderr)
        return 2
    print(f"read reviewer marks from {', '.join(s.sources)}")
    print(f"{s.records} annotation records -> {s.out}: {s.spans_removed} spans removed, {s.spans_added} added, "
          f"{s.labels_unlocated} labels marked present without a place, {s.wrong_flags} note flags and "
          f"{s.case_wrong_flags} case flags (per note) marked wrong")
    if s.with_text < s.records:
        print(f"note: {s.records - s.with_text} records have no note text (the results were written without "
              "--include-text); they cannot be used for training until joined with the export's text")
    return 0


def cmd_evaluate(args) -> int:
    from .corpus import load
    from .evaluate import evaluate, keyword_system, pipeline_system, to_text, write_report
    from .pipeline import Analyzer
    notes = load(args.data)
    if not notes:
        print("msp-nlp: error: no annotated notes in the given file(s)", file=sys.stderr)
        return 2
    systems = {"keyword": keyword_system, "rules": pipeline_system(Analyzer(model=None))}
    combined = Analyzer(model=args.model or "default")
    if combined.model is not None:
        systems[f"rules+model {combined.model_version}"] = pipeline_system(combined)
    result = evaluate(notes, systems)
    print(to_text(result))
    if args.out:
        write_report(result, args.out, title=args.title or f"Evaluation on {', '.join(args.data)}")
        print(f"\nreport written to {args.out}/evaluation.md and evaluation.json")
    return 0


def cmd_train(args) -> int:
    from .training import run_train
    metrics = run_train(args.train, args.dev, args.test, args.out, args.version or Path(args.out).name, seed=args.seed)
    for split, m in metrics.items():
        print(f"{split}: evidence macro-F1 rules {m['rules']['summary']['evidence_note_macro']['f1']:.3f} -> "
              f"rules+model {m['rules+model']['summary']['evidence_note_macro']['f1']:.3f}")
    print(f"model written to {args.out}/ (model.json, weights.npz, MODEL_CARD.md, metrics.json)")
    if args.set_default:
        latest = Path(args.out).parent / "LATEST"
        latest.write_text(Path(args.out).name + "\n", encoding="utf-8")
        print(f"{latest} now names {Path(args.out).name}")
    return 0


def cmd_compare(args) -> int:
    from .training import run_compare
    _, text = run_compare(args.model_a, args.model_b, args.data)
    print(text)
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


def cmd_serve(args) -> int:
    """Run the inline-check HTTP service (``service/``) with uvicorn; configuration from ``MSP_NLP_*`` variables."""
    import copy
    import os
    import tempfile
    try:
        import uvicorn
        from uvicorn.config import LOGGING_CONFIG

        from service.config import ConfigError, Settings
    except ImportError as e:
        print(f"msp-nlp: error: the service needs its dependencies ({e.name} is missing): "
              "pip install -c constraints.txt -e .", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"msp-nlp: error: {e}", file=sys.stderr)
        return 2
    if not settings.api_keys:
        print("msp-nlp: error: no API keys configured: set MSP_NLP_API_KEYS (name:scope1+scope2:sha256hex,...) or "
              "MSP_NLP_API_KEYS_FILE; `python -m service hash-key --generate` makes a key and its entry",
              file=sys.stderr)
        return 2
    from service.store import CaseStore, safe_url
    try:  # fail now, with a readable message, rather than in every worker
        CaseStore(settings.db_url).close()
    except Exception as e:  # noqa: BLE001
        print(f"msp-nlp: error: cannot open the case store {safe_url(settings.db_url)} "
              f"({type(e).__name__}); check MSP_NLP_DB_URL", file=sys.stderr)
        return 2
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="msp-nlp-metrics-")
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["msp_nlp.service"] = {"handlers": ["default"], "level": settings.log_level.upper(),
                                                "propagate": False}
    uvicorn.run("service.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=settings.log_level, log_config=log_config, access_log=False, server_header=False,
                proxy_headers=False, timeout_graceful_shutdown=10)
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
    c.add_argument("--model", metavar="DIR", help="model directory (default: models/LATEST, or $MSP_NLP_MODEL)")
    c.add_argument("--no-model", action="store_true", help="rules only, no trained model")
    c.add_argument("--include-text", action="store_true",
                   help="add each note's full text to notes.jsonl (off by default: case notes are special-category "
                        "personal data)")
    c.add_argument("--report", action="store_true",
                   help="also write OUTDIR/report.html and OUTDIR/report.xlsx for a reviewer; implies --include-text "
                        "(the report shows every note with its evidence highlighted)")
    _add_mapping(c)
    c.set_defaults(func=cmd_check)

    r = sub.add_parser("report", help="write report.html and report.xlsx from earlier `check` results")
    r.add_argument("outdir", metavar="OUTDIR", help="results folder written by `msp-nlp check -o OUTDIR`")
    r.add_argument("--max-cases", type=int, metavar="N",
                   help="list only the first N cases in report.html (the summary still counts all)")
    r.set_defaults(func=cmd_report)

    fb = sub.add_parser("feedback", help="turn a reviewer's marks (reviewer_* columns) into annotation records")
    fb.add_argument("results", nargs="+", metavar="RESULTS",
                    help="results folder, or the marked notes.csv / cases.csv / report.xlsx")
    fb.add_argument("-o", "--out", metavar="FILE",
                    help="annotation JSONL to write (default: annotations.jsonl in the results folder)")
    fb.add_argument("--notes", metavar="NOTES_JSONL",
                    help="notes.jsonl of these results (default: the one beside RESULTS)")
    fb.set_defaults(func=cmd_feedback)

    t = sub.add_parser("train", help="train the sentence model beside the rules; writes a model directory")
    t.add_argument("--train", default="data/annotated/train.jsonl", help="annotated training JSONL")
    t.add_argument("--dev", default="data/annotated/dev.jsonl", help="annotated JSONL for thresholds")
    t.add_argument("--test", default="data/annotated/test.jsonl", help="held-out JSONL, only reported (optional)")
    t.add_argument("-o", "--out", required=True, metavar="MODEL_DIR", help="e.g. models/v2")
    t.add_argument("--version", help="version name (default: the directory name)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--set-default", action="store_true", help="make it the default model (writes models/LATEST)")
    t.set_defaults(func=cmd_train)

    cp = sub.add_parser("compare", help="side-by-side metrics of two models on annotated data")
    cp.add_argument("model_a", metavar="MODEL_A", help="model directory, 'rules' or 'keyword'")
    cp.add_argument("model_b", metavar="MODEL_B", help="model directory, 'rules' or 'keyword'")
    cp.add_argument("data", metavar="DATA", help="annotated JSONL")
    cp.set_defaults(func=cmd_compare)

    e = sub.add_parser("evaluate", help="score the checker (and a keyword baseline) on annotated JSONL")
    e.add_argument("data", nargs="+", metavar="ANNOTATED", help="annotated JSONL file(s), e.g. data/annotated/test.jsonl")
    e.add_argument("-o", "--out", metavar="DIR", help="write evaluation.md and evaluation.json here")
    e.add_argument("--title", help="title of the Markdown report")
    e.add_argument("--model", metavar="DIR", help="model directory for the rules+model system (default: the shipped one)")
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("build-corpus", help="resolve annotators' quotes to offsets and split by case")
    b.add_argument("--raw", default="data/raw", help="folder of annotators' JSONL (default data/raw)")
    b.add_argument("--out", default="data/annotated", help="output folder (default data/annotated)")
    b.set_defaults(func=cmd_build_corpus)

    s = sub.add_parser("schema", help="print the labels, triggers and flags of the spec as JSON")
    s.set_defaults(func=cmd_schema)

    v = sub.add_parser("serve", help="run the inline-check HTTP service (API keys etc. from MSP_NLP_* variables)")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    v.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    v.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    v.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    from .io import InputError
    from .model import ModelError
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (InputError, ModelError) as e:
        print(f"msp-nlp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("msp-nlp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
