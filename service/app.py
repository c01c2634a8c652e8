"""The inline-check HTTP service (FastAPI).  No NLP of its own: every finding and flag comes from the library
(``Analyzer.analyse``, ``note_result``, ``case_result``, ``summary_json``, ``spec.schema``).

``create_app()`` builds the app from ``Settings`` (default: the ``MSP_NLP_*`` environment variables); the analyser is
loaded once, at start-up (lifespan), unless one is passed in.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, TypeAdapter
from starlette.concurrency import run_in_threadpool

from msp_nlp import __version__
from msp_nlp import spec as S
from msp_nlp.batch import note_result
from msp_nlp.flags import NoteFindings, case_result
from msp_nlp.io import strip_html
from msp_nlp.pipeline import Analyzer, NoteAnalysis

from .config import Settings
from .metrics import CONTENT_TYPE_LATEST, Metrics
from .models import (BatchIn, BatchOut, CaseOut, CheckNote, DeletedOut, ErrorOut, Note, NoteResultOut, RecordOut,
                     SchemaOut, StatusOut, _identifier)
from .security import RequestGuard, require
from .store import ID_MAX, CaseStore

log = logging.getLogger("msp_nlp.service")

RULES_ONLY = "rules-only"
#: ``POST /v1/check`` analyses notes up to this long on the event loop itself when the analyser is free (a few ms);
#: longer ones go to a worker thread so that the loop stays responsive (probes, other connections) meanwhile.
INLINE_MAX_CHARS = 5000
_NOTE_RESULT = TypeAdapter(NoteResultOut)
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")

PathId = Annotated[str, Path(min_length=1, max_length=ID_MAX), AfterValidator(_identifier)]

ERRORS = {
    401: {"model": ErrorOut, "description": "missing or invalid API key"},
    403: {"model": ErrorOut, "description": "the API key lacks the scope of this route"},
    413: {"model": ErrorOut, "description": "request body larger than MSP_NLP_MAX_BODY_BYTES"},
    422: {"model": ErrorOut, "description": "invalid input: field location, message and error type (never the value)"},
}


def model_version(analyzer: Analyzer | None) -> str:
    v = getattr(analyzer, "model_version", None) if analyzer is not None else None
    return str(v) if v else RULES_ONLY


def _safe_loc(loc) -> list:
    out = []
    for part in loc:
        if isinstance(part, int) or (isinstance(part, str) and _FIELD_NAME.fullmatch(part)):
            out.append(part)
        else:
            out.append("<field>")  # a client-chosen key that is not a plain name is not echoed
    return out


def _errors_out(errors) -> list[dict]:
    """Validation errors without their input values (nor anything else taken from the input)."""
    out = []
    for e in errors:
        msg = str(e.get("msg", "invalid value"))
        if e.get("type") == "json_invalid":
            err = str((e.get("ctx") or {}).get("error", ""))
            msg = "invalid JSON" + (f": {err}" if err and len(err) < 80 else "")
        out.append({"loc": _safe_loc(e.get("loc", ())), "msg": msg, "type": e.get("type", "value_error")})
    return out


def _invalid(loc: tuple, msg: str, typ: str = "value_error") -> RequestValidationError:
    return RequestValidationError([{"type": typ, "loc": loc, "msg": msg, "input": None}])


def create_app(settings: Settings | None = None, analyzer: Analyzer | None = None,
               store: CaseStore | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    store = store or CaseStore(settings.db_url)
    metrics = Metrics()
    lock = threading.Lock()  # one analyser; spaCy pipelines are not meant to be shared between threads
    waiting = [0]  # threads blocked on ``lock``: while any wait, inline checks queue behind them (no barging)
    long_run = re.compile(r"\S{%d,}" % (settings.max_word_chars + 1))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.analyzer is None:
            t0 = time.perf_counter()
            a = Analyzer()
            a.analyse("Spoke to Mrs A alone; she said she wants to stay at home.")  # warm up
            app.state.analyzer = a
            log.info("analyser loaded in %.1fs (model %s)", time.perf_counter() - t0, model_version(a))
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="msp-nlp inline-check service",
        version=__version__,
        description="Checks adult safeguarding case notes for Making Safeguarding Personal evidence "
                    f"({S.SPEC_VERSION}). Flags are prompts for a human reviewer, not judgements. Every /v1 route "
                    "needs an API key (X-API-Key or Authorization: Bearer). Note text is never stored or logged.",
        docs_url="/docs" if settings.docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs else None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.metrics = metrics
    app.state.analyzer = analyzer

    # --- errors ------------------------------------------------------------------------------------------------
    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError):
        return JSONResponse(status_code=422, content={"detail": _errors_out(exc.errors())})

    # --- helpers -----------------------------------------------------------------------------------------------
    def analyse(note: CheckNote, loc: tuple, endpoint: str, held: bool = False) -> tuple[NoteAnalysis, bool]:
        """Validate and analyse one note (``held``: the caller holds ``lock`` already)."""
        if len(note.text) > settings.max_note_chars:
            raise _invalid(loc + ("text",), f"text has {len(note.text)} characters; at most "
                           f"{settings.max_note_chars} are allowed (MSP_NLP_MAX_NOTE_CHARS)", "string_too_long")
        text, stripped = strip_html(note.text)
        if stripped and not text.strip():
            raise _invalid(loc + ("text",), "text is empty once converted from HTML: nothing to check")
        m = long_run.search(text)
        if m:
            raise _invalid(loc + ("text",), f"text has a run of more than {settings.max_word_chars} characters "
                           f"without a space or line break, at offset {m.start()} (MSP_NLP_MAX_WORD_CHARS)")
        a = app.state.analyzer
        if a is None:
            raise HTTPException(503, "the analyser is not loaded yet; retry when /readyz says ready")
        t0 = time.perf_counter()
        if held:
            analysis = a.analyse(text, note.note_type, note.adult_name)
        else:
            waiting[0] += 1  # approximate under races; it only decides whether the event loop may take the lock
            try:
                lock.acquire()
            finally:
                waiting[0] -= 1
            try:
                analysis = a.analyse(text, note.note_type, note.adult_name)
            finally:
                lock.release()
        metrics.analysis.observe(time.perf_counter() - t0)
        metrics.notes.labels(endpoint).inc()
        return analysis, stripped

    def result(note: CheckNote, analysis: NoteAnalysis, stripped: bool, case_id: str | None) -> dict:
        out = note_result(note.note_id, case_id, analysis, html_stripped=stripped,
                          model_version=model_version(app.state.analyzer))
        metrics.flag("note", out["flags"])
        return out

    # --- probes and metrics ------------------------------------------------------------------------------------
    @app.get("/healthz", response_model=StatusOut, response_model_exclude_none=True, tags=["operations"],
             summary="liveness")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz", response_model=StatusOut, tags=["operations"], summary="readiness: analyser loaded, store up",
             responses={503: {"model": StatusOut}})
    def readyz():
        if app.state.analyzer is None:
            return JSONResponse(status_code=503, content={"status": "analyser not loaded"})
        if not store.ping():
            return JSONResponse(status_code=503, content={"status": "case store unavailable"})
        return {"status": "ready", "model_version": model_version(app.state.analyzer)}

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    def metrics_endpoint():
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # --- v1 ----------------------------------------------------------------------------------------------------
    read = [Depends(require("read"))]
    write = [Depends(require("write"))]

    @app.get("/v1/schema", response_model=SchemaOut, dependencies=read, responses=ERRORS, tags=["v1"],
             summary="labels, triggers, flags (with MSP principles), the model version and the limits")
    def get_schema():
        out = S.schema()
        out["model_version"] = model_version(app.state.analyzer)
        out["limits"] = {"max_note_chars": settings.max_note_chars, "max_batch": settings.max_batch,
                         "max_body_bytes": settings.max_body_bytes, "max_word_chars": settings.max_word_chars}
        return out

    @app.post("/v1/check", response_model=NoteResultOut, dependencies=read, responses=ERRORS, tags=["v1"],
              summary="check one note: evidence, triggers and note flags (nothing is stored)")
    async def check(note: CheckNote):
        # The inline check is the latency-critical route.  A sync route would cost three thread hops per request
        # (FastAPI runs a sync route, and then the validation of its response, in the thread pool) and the worker
        # thread would contend for the GIL with the event loop.  So: when the analyser is free, no worker thread is
        # waiting for it (they would starve) and the note is of usual length, the whole check runs here on the event
        # loop (one note takes a few ms; the analyser serves one request at a time anyway); otherwise in one worker
        # thread.  Same result and bytes either way.
        if len(note.text) <= INLINE_MAX_CHARS and not waiting[0] and lock.acquire(blocking=False):
            try:
                return check_response(note, True)
            finally:
                lock.release()
        return await run_in_threadpool(check_response, note, False)

    def check_response(note: CheckNote, held: bool) -> Response:
        analysis, stripped = analyse(note, ("body",), "check", held)
        out = result(note, analysis, stripped, note.case_id)
        # What FastAPI does with the route's response_model (validate, then pydantic's JSON dump), done here.
        body = _NOTE_RESULT.dump_json(_NOTE_RESULT.validate_python(out, from_attributes=True), by_alias=True)
        return Response(body, media_type="application/json")

    @app.post("/v1/check/batch", response_model=BatchOut, dependencies=read, responses=ERRORS, tags=["v1"],
              summary="check several notes; case flags over the batch's notes (nothing is stored)")
    def check_batch(batch: BatchIn):
        if len(batch.notes) > settings.max_batch:
            raise _invalid(("body", "notes"), f"{len(batch.notes)} notes sent; at most {settings.max_batch} per "
                           "call (MSP_NLP_MAX_BATCH)", "too_long")
        results, by_case = [], {}
        for i, note in enumerate(batch.notes):
            analysis, stripped = analyse(note, ("body", "notes", i), "batch")
            results.append(result(note, analysis, stripped, note.case_id))
            by_case.setdefault(note.case_id or note.note_id, []).append(
                NoteFindings(note.note_id, analysis, note.date, i))
        cases = [case_result(cid, notes).as_dict() for cid, notes in by_case.items()]
        return {"results": results, "cases": cases, "model_version": model_version(app.state.analyzer)}

    @app.post("/v1/cases/{case_id}/notes", response_model=RecordOut, dependencies=write, responses=ERRORS,
              tags=["v1"], summary="record a note's findings in its case (replaces a re-sent note id) and return "
                                   "the note's and the case's flags")
    def record_note(case_id: PathId, note: Note):
        if note.case_id is not None and note.case_id != case_id:
            raise _invalid(("body", "case_id"), "differs from the case id in the path; leave it out or make them "
                                                "equal")
        analysis, stripped = analyse(note, ("body",), "case")
        out_note = result(note, analysis, stripped, case_id)
        case = store.record(case_id, note.note_id, note.date, analysis)
        out_case = case.as_dict()
        metrics.flag("case", out_case["flags"])
        return {"note": out_note, "case": out_case, "model_version": model_version(app.state.analyzer)}

    @app.get("/v1/cases/{case_id}", response_model=CaseOut, dependencies=read,
             responses={**ERRORS, 404: {"model": ErrorOut, "description": "no notes recorded for this case"}},
             tags=["v1"], summary="the case flags over every note recorded in the case")
    def get_case(case_id: PathId):
        case = store.case(case_id)
        if case is None:
            return JSONResponse(status_code=404, content={"detail": "no notes recorded for this case"})
        return case.as_dict()

    @app.delete("/v1/cases/{case_id}", response_model=DeletedOut, dependencies=write, responses=ERRORS,
                tags=["v1"], summary="remove every stored finding of a case (idempotent)")
    def delete_case(case_id: PathId):
        return {"case_id": case_id, "deleted_notes": store.delete_case(case_id)}

    @app.delete("/v1/cases/{case_id}/notes/{note_id}", response_model=DeletedOut, dependencies=write,
                responses=ERRORS, tags=["v1"], summary="remove one note's stored findings from a case (idempotent)")
    def delete_note(case_id: PathId, note_id: PathId):
        return {"case_id": case_id, "deleted_notes": store.delete_note(case_id, note_id)}

    # --- middleware (last added runs first) ---------------------------------------------------------------------
    app.add_middleware(RequestGuard, settings=settings, metrics=metrics, routes_of=app)
    if settings.cors_origins:  # off by default; outside the guard so that pre-flight requests need no key
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"], max_age=600)
    return app
