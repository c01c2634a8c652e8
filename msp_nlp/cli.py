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
    rules_only = args.no_model or (args.model or "").lower() in ("none", "rules")
    model = None if rules_only else (args.model or "default")
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
    rules_only = args.no_model or (args.model or "").lower() in ("none", "rules")
    combined = None if rules_only else Analyzer(model=args.model or "default")
    if combined is not None and combined.model is not None:
        systems[f"rules+model {combined.model_version}"] = pipeline_system(combined)
    result = evaluate(notes, systems)
    print(to_text(result))
    if args.out:
        write_report(result, args.out, title=args.title or f"Evaluation on {', '.join(args.data)}")
        print(f"\nreport written to {args.out}/evaluation.md and evaluation.json")
    return 0


def cmd_train(args) -> int:
    from .training import run_train
    metrics = run_train(args.train, args.dev, args.test, args.out, args.version or Path(args.out).name, seed=args.seed,
                        case_level=args.case_thresholds)
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
    metrics_dir = None
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # workers' metrics added up in /metrics
        metrics_dir = tempfile.mkdtemp(prefix="msp-nlp-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["msp_nlp.service"] = {"handlers": ["default"], "level": settings.log_level.upper(),
                                                "propagate": False}
    from service.server import HTTP_PROTOCOL, reuseport_supported, serve_workers
    common = dict(log_level=settings.log_level, log_config=log_config, access_log=False, server_header=False,
                  proxy_headers=False, timeout_graceful_shutdown=10)
    try:
        if args.workers > 1 and reuseport_supported():
            # one socket per worker, so the kernel spreads connections evenly (see service/server.py)
            return serve_workers(args.host, args.port, args.workers, common)
        uvicorn.run("service.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                    http=HTTP_PROTOCOL, **common)
    finally:
        if metrics_dir:
            import shutil
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


# --- annotation loop: export / import / labelstudio-config / suggest -------------------------------------------------

def _annotation_problems(e) -> int:
    for p in e.problems[:50]:
        print(f"msp-nlp: error: {p}", file=sys.stderr)
    if len(e.problems) > 50:
        print(f"msp-nlp: error: ... and {len(e.problems) - 50} more", file=sys.stderr)
    print(f"msp-nlp: {len(e.problems)} problem(s); nothing written.", file=sys.stderr)
    return 2


def _ids(ids: list[str], limit: int = 20) -> str:
    return ", ".join(ids[:limit]) + (f" ... ({len(ids) - limit} more)" if len(ids) > limit else "")


def cmd_export_annotations(args) -> int:
    from .annotation_formats import AnnotationFormatError, read_jsonl, to_labelstudio, write_docbin, write_json
    try:
        records = read_jsonl(args.inputs)
    except AnnotationFormatError as e:
        return _annotation_problems(e)
    spans = sum(len(r["spans"] or []) for r in records)
    unlabelled = sum(r["spans"] is None for r in records)
    if args.to == "labelstudio":
        write_json(to_labelstudio(records), args.out)
        print(f"{len(records)} notes, {spans} spans -> {args.out} (Label Studio tasks; set up the project with "
              "`msp-nlp labelstudio-config`)")
        if unlabelled:
            print(f"note: {unlabelled} records have no 'spans' field: exported as tasks without annotations")
    else:
        write_docbin(records, args.out)
        print(f"{len(records)} notes, {spans} spans -> {args.out} (spaCy DocBin; spans in doc.spans['sc'])")
        if unlabelled:
            print(f"note: {unlabelled} records have no 'spans' field: their docs have no spans, and importing them "
                  "back gives notes annotated with no labels")
    return 0


def cmd_import_annotations(args) -> int:
    from .annotation_formats import AnnotationFormatError, read_docbin, read_labelstudio, write_jsonl
    fmt = args.from_format
    if fmt is None:
        suffix = Path(args.input).suffix.lower()
        fmt = "docbin" if suffix == ".spacy" else "labelstudio" if suffix in (".json", ".jsonl") else None
        if fmt is None:
            print(f"msp-nlp: error: cannot tell the format of {args.input}; give --from labelstudio or --from docbin",
                  file=sys.stderr)
            return 2
    try:
        if fmt == "labelstudio":
            records, s = read_labelstudio(args.input, use_predictions=not args.no_predictions)
        else:
            records, s = read_docbin(args.input)
    except AnnotationFormatError as e:
        return _annotation_problems(e)
    write_jsonl(records, args.out)
    print(f"{s.records} notes, {s.spans} spans -> {args.out} (the format of data/annotated/*.jsonl)")
    if s.from_predictions:
        print(f"note: {len(s.from_predictions)} tasks had no annotation, so their spans are the model's predictions, "
              f"not an annotator's (tasks {_ids(s.from_predictions)}); --no-predictions skips them")
    if s.skipped:
        print(f"note: {len(s.skipped)} tasks without annotations were skipped (tasks {_ids(s.skipped)})")
    if s.several_annotations:
        print(f"note: {len(s.several_annotations)} tasks have several annotations; the ground-truth one (else the "
              f"latest) was used (tasks {_ids(s.several_annotations)})")
    if s.edited_spans:
        print(f"note: {s.edited_spans} spans had no recorded exact offsets (added or changed in spaCy): "
              "taken from their token boundaries")
    return 0


def cmd_labelstudio_config(args) -> int:
    from .annotation_formats import labelstudio_config
    xml = labelstudio_config()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(xml, encoding="utf-8")
        print(f"Label Studio labelling config -> {args.out} (Project > Settings > Labeling Interface > Code)")
    else:
        sys.stdout.write(xml)
    return 0


def cmd_suggest(args) -> int:
    from .annotation_formats import suggest, write_json
    from .io import Record, read_records
    from .model import ModelError, SentenceModel
    from .pipeline import default_model_path
    if args.top < 0 or args.labels < 1:
        print("msp-nlp: error: --top must be 0 (all) or more, and --labels 1 or more", file=sys.stderr)
        return 2
    path = args.model or default_model_path()
    if path is None:
        raise ModelError("suggest ranks by the trained model's uncertainty, and no model was found (models/LATEST or "
                         "$MSP_NLP_MODEL); give --model DIR, or train one with `msp-nlp train`")
    model = SentenceModel.load(path)
    chunks = read_records(args.inputs, _mapping(args), chunk_size=args.chunk_size, encoding=args.encoding)
    errors = []

    def records():
        for chunk in chunks:
            for item in chunk:
                if isinstance(item, Record):
                    yield item
                else:
                    errors.append(item)

    res = suggest(records(), model, level=args.level, top=args.top or None, labels_per_item=args.labels)
    if args.format == "labelstudio":
        write_json(res.tasks, args.out)
        what = f"{len(res.tasks)} notes as Label Studio tasks with the model's predictions"
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            for item in res.items:
                f.write(json.dumps(item, ensure_ascii=False) + "\n")
        what = f"the {len(res.items)} most uncertain {args.level}s"
    unit = f"{res.sentences} sentences of {res.notes} notes" if args.level == "sentence" else f"{res.notes} notes"
    print(f"ranked {unit} by the uncertainty of model {res.model_version}; {what} -> {args.out}")
    print("note: the suggestions hold note text; treat the file like the export itself")
    for e in errors[:20]:
        print(f"msp-nlp: skipped {e.source} row {e.row}" + (f" (note {e.note_id})" if e.note_id else "")
              + f": {e.reason}", file=sys.stderr)
    if len(errors) > 20:
        print(f"msp-nlp: ... and {len(errors) - 20} more rows skipped", file=sys.stderr)
    return 0


def _add_annotation_parsers(sub) -> None:
    x = sub.add_parser("export", help="annotated JSONL -> Label Studio tasks or a spaCy DocBin")
    x.add_argument("--to", required=True, choices=("labelstudio", "docbin"), help="format to write")
    x.add_argument("inputs", nargs="+", metavar="IN.jsonl",
                   help="annotated JSONL file(s), e.g. data/annotated/dev.jsonl")
    x.add_argument("-o", "--out", required=True, metavar="OUT", help="tasks.json (labelstudio) or notes.spacy (docbin)")
    x.set_defaults(func=cmd_export_annotations)

    m = sub.add_parser("import", help="Label Studio export or spaCy DocBin -> annotated JSONL")
    m.add_argument("--from", dest="from_format", choices=("labelstudio", "docbin"),
                   help="format of IN (default: by its extension: .json/.jsonl Label Studio, .spacy DocBin)")
    m.add_argument("input", metavar="IN", help="Label Studio JSON export, or .spacy file")
    m.add_argument("-o", "--out", required=True, metavar="OUT.jsonl", help="annotated JSONL to write")
    m.add_argument("--no-predictions", action="store_true",
                   help="skip Label Studio tasks that have predictions but no annotation (default: use the "
                        "predictions)")
    m.set_defaults(func=cmd_import_annotations)

    lc = sub.add_parser("labelstudio-config", help="write the Label Studio labelling config (XML) for our tasks")
    lc.add_argument("-o", "--out", metavar="config.xml", help="file to write (default: standard output)")
    lc.set_defaults(func=cmd_labelstudio_config)

    g = sub.add_parser("suggest",
                       help="rank unlabelled notes' sentences (or notes) by model uncertainty, for annotation")
    g.add_argument("inputs", nargs="+", metavar="UNLABELLED", help="notes in any format `check` reads")
    g.add_argument("-o", "--out", required=True, metavar="FILE",
                   help="suggestions.jsonl (or tasks.json with --format labelstudio)")
    g.add_argument("--model", metavar="DIR", help="model directory (default: models/LATEST, or $MSP_NLP_MODEL)")
    g.add_argument("--top", type=int, default=100, metavar="N", help="keep the N most uncertain (default 100; 0: all)")
    g.add_argument("--level", choices=("sentence", "note"), default="sentence",
                   help="rank sentences (default) or notes")
    g.add_argument("--labels", type=int, default=3, metavar="K",
                   help="most uncertain labels listed per item (default 3)")
    g.add_argument("--format", choices=("jsonl", "labelstudio"), default="jsonl",
                   help="jsonl: one ranked suggestion per line (default); labelstudio: the suggested notes as tasks "
                        "with the model's predictions pre-filled")
    g.add_argument("--chunk-size", type=int, default=1000, metavar="N", help="notes read per chunk (default 1000)")
    _add_mapping(g)
    g.set_defaults(func=cmd_suggest)


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
    c.add_argument("--no-model", action="store_true", help="rules only, no trained model (also: --model none)")
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
    t.add_argument("--case-thresholds", action="store_true",
                   help="also choose per-label case-level thresholds (see reports/case_thresholds.md; off by default)")
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
    e.add_argument("--no-model", action="store_true", help="keyword baseline and rules only (also: --model none)")
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
    _add_annotation_parsers(sub)
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
