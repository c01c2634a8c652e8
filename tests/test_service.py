"""The inline-check service (``service/``): every endpoint through the real FastAPI app (TestClient), auth, limits,
bad input, unicode, case flags, idempotency, the no-text guarantee (logs and store), a property-based run, and one
run against a real ``msp-nlp serve`` process."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msp_nlp import spec as S
from msp_nlp.batch import note_result
from service import create_app, hash_key
from service.__main__ import main as service_main
from service.config import ConfigError, Settings, parse_keys
from service.security import required_scope

with warnings.catch_warnings():  # newer Starlette warns that its TestClient will move to another HTTP client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
CANARY = "CANARY-7f3a9-zq"  # must never appear in a log line, an error message or the store
NAME_CANARY = "NAMECANARY-44x"

RW, RO, WO = "key-rw-0123456789", "key-ro-0123456789", "key-wo-0123456789"
KEYS = f"rw:read+write:{hash_key(RW)},ro:read:{hash_key(RO)},wo:write:{hash_key(WO)}"
H_RW, H_RO, H_WO = ({"X-API-Key": k} for k in (RW, RO, WO))

NOTE1 = "Daughter is taking her money. Mrs Holt has dementia."
NOTE2 = ("Spoke to Mrs Holt alone. MCA completed: lacks capacity re finances. IMCA instructed. "
         "Reported to police, crime ref 4471/26.")
NOTE3 = ("Mrs Holt told me she is frightened. Her desired outcome is to remain at home. She consented to a referral. "
         "Discussed the risks of letting strangers in and a safety plan was agreed with her. Explained the s42 "
         "process and what happens next.")
CANARY_NOTE = f"{CANARY} told me she wants to stay at home. {CANARY} is frightened of her son."


def _settings(tmp: Path, **kw) -> Settings:
    base = dict(api_keys=parse_keys(KEYS), db_url=f"sqlite:///{tmp / 'cases.sqlite'}")
    base.update(kw)
    return Settings(**base)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("service")


@pytest.fixture(scope="module")
def app(store_dir, analyzer):
    return create_app(_settings(store_dir, max_batch=5, max_body_bytes=512 * 1024), analyzer=analyzer)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def new_case() -> str:
    return "C-" + uuid.uuid4().hex[:10]


def codes(flags) -> set[str]:
    return {f["code"] for f in flags}


@pytest.fixture(scope="module")
def version(analyzer):
    return getattr(analyzer, "model_version", None) or "rules-only"


# --- probes, metrics, schema, docs -----------------------------------------------------------------------------------

def test_probes_and_metrics_need_no_key(client, version):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready", "model_version": version}
    client.post("/v1/check", json={"text": NOTE1}, headers=H_RO)
    client.post("/v1/check", json={"text": NOTE1})  # 401
    m = client.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    body = m.text
    assert 'msp_nlp_http_requests_total{method="POST",route="/v1/check",status="200"}' in body
    assert 'msp_nlp_http_requests_total{method="POST",route="/v1/check",status="401"}' in body
    assert 'msp_nlp_http_request_duration_seconds_bucket{le="0.05",method="POST",route="/v1/check"}' in body
    assert 'msp_nlp_flags_raised_total{code="coercion_unexplored",level="note"}' in body
    assert "msp_nlp_notes_checked_total" in body


def test_readyz_is_503_until_the_analyser_is_loaded(store_dir):
    app = create_app(_settings(store_dir, db_url="sqlite://"))
    c = TestClient(app)  # no `with`: the start-up (which loads the analyser) has not run
    assert c.get("/healthz").status_code == 200
    r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "analyser not loaded"
    assert c.post("/v1/check", json={"text": NOTE1}, headers=H_RO).status_code == 503


def test_model_version_comes_from_the_analyser(store_dir, analyzer):
    class Versioned:
        model_version = "msp-model-2026.1"

        def analyse(self, text, note_type=None, adult_name=None):
            return analyzer.analyse(text, note_type, adult_name)

    with TestClient(create_app(_settings(store_dir, db_url="sqlite://"), analyzer=Versioned())) as c:
        assert c.get("/v1/schema", headers=H_RO).json()["model_version"] == "msp-model-2026.1"
        assert c.post("/v1/check", json={"text": NOTE1}, headers=H_RO).json()["model_version"] == "msp-model-2026.1"
        assert c.get("/readyz").json()["model_version"] == "msp-model-2026.1"


def test_schema(client, version):
    r = client.get("/v1/schema", headers=H_RO)
    assert r.status_code == 200
    d = r.json()
    assert d["spec_version"] == S.SPEC_VERSION
    assert [e["code"] for e in d["evidence"]] == list(S.EVIDENCE_LABELS)
    assert [t["code"] for t in d["triggers"]] == list(S.TRIGGERS)
    assert [f["code"] for f in d["flags"]] == list(S.FLAG_CODES)
    assert all(f["principle"] and f["reason"] for f in d["flags"])
    assert all(e["description"] for e in d["evidence"] + d["triggers"])
    assert d["model_version"] == version
    assert d["limits"] == {"max_note_chars": 20000, "max_batch": 5, "max_body_bytes": 512 * 1024,
                           "max_word_chars": 300}


def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").json()
    for path in ("/v1/check", "/v1/check/batch", "/v1/cases/{case_id}/notes", "/v1/cases/{case_id}", "/v1/schema",
                 "/healthz", "/readyz"):
        assert path in spec["paths"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(spec["components"]["securitySchemes"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "script-src" in docs.headers["content-security-policy"]


def test_docs_can_be_turned_off(store_dir):
    with TestClient(create_app(_settings(store_dir, db_url="sqlite://", docs=False), analyzer=object())) as c:
        assert c.get("/docs").status_code == 404 and c.get("/openapi.json").status_code == 404


# --- /v1/check ------------------------------------------------------------------------------------------------------

def test_check_has_the_shape_of_notes_jsonl(client, analyzer, version):
    note = {"note_id": "N1", "case_id": "C1", "date": "2026-03-02", "note_type": "S42 enquiry visit",
            "adult_name": "Mrs Holt", "author": "AB", "team": "East", "text": NOTE1 + " " + NOTE2}
    r = client.post("/v1/check", json=note, headers=H_RO)
    assert r.status_code == 200
    got = r.json()
    expected = note_result("N1", "C1", analyzer.analyse(note["text"], note["note_type"], note["adult_name"]))
    assert got.pop("model_version") == version and got.pop("html_stripped") is False
    assert got == json.loads(json.dumps(expected))
    for f in got["evidence"] + got["triggers"]:
        assert note["text"][f["start"]:f["end"]] == f["text"]
        assert 0 <= f["score"] <= 1 and f["start"] <= f["cue"][0] <= f["cue"][1] <= f["end"]
    assert {"coercion_explored", "capacity", "advocacy", "partner_referral"} <= {f["label"] for f in got["evidence"]}
    flags = codes(got["flags"])
    assert "views_missing" in flags and "coercion_unexplored" not in flags
    assert all(f["reason"] for f in got["flags"])


def _fastapi_serialised(out: dict) -> bytes:
    """The bytes FastAPI itself makes of ``out`` for a route with ``response_model=NoteResultOut``."""
    from fastapi import FastAPI

    from service.models import NoteResultOut
    ref = FastAPI()

    @ref.post("/x", response_model=NoteResultOut)
    def x():
        return out

    with TestClient(ref) as c:
        return c.post("/x").content


@pytest.mark.parametrize("long", [False, True])
def test_check_bytes_are_what_the_response_model_gives(client, analyzer, version, long):
    """/v1/check serialises its result itself (on the event loop for usual notes, in a worker thread for long ones):
    the bytes must be those FastAPI's response_model path would send."""
    from service.app import INLINE_MAX_CHARS
    text = NOTE1 + " " + NOTE3 + " Zoë 😀 said «non»."
    if long:
        text = (text + "\n") * (INLINE_MAX_CHARS // len(text) + 2)
        assert len(text) > INLINE_MAX_CHARS
    note = {"note_id": "N-é", "case_id": "C1", "note_type": "Closure summary", "adult_name": "Mrs Holt", "text": text}
    r = client.post("/v1/check", json=note, headers=H_RO)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    expected = note_result("N-é", "C1", analyzer.analyse(text, "Closure summary", "Mrs Holt"), html_stripped=False,
                           model_version=version)
    assert r.content == _fastapi_serialised(expected)


def test_check_while_the_analyser_is_busy(store_dir, analyzer):
    """A check that arrives while a batch holds the analyser waits for it in a worker thread (the event loop stays
    free) and gets the same answer."""
    import asyncio
    import threading
    started = threading.Event()

    class Slow:
        model_version = None

        def analyse(self, text, note_type=None, adult_name=None):
            if text == "slow":
                started.set()
                time.sleep(1.0)  # far above the health check's bound below: a blocked loop cannot pass
            return analyzer.analyse(text, note_type, adult_name)

    app = create_app(_settings(store_dir, db_url="sqlite://"), analyzer=Slow())

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            batch = asyncio.create_task(c.post("/v1/check/batch", headers=H_RO,
                                               json={"notes": [{"note_id": "a", "text": "slow"}]}))
            while not started.is_set():
                await asyncio.sleep(0.005)
            t0 = time.perf_counter()
            health = await c.get("/healthz")  # the loop is not blocked by the busy analyser
            health_s = time.perf_counter() - t0
            r = await c.post("/v1/check", json={"text": NOTE1}, headers=H_RO)
            return r, await batch, health, health_s

    r, b, health, health_s = asyncio.run(run())
    assert b.status_code == 200 and health.status_code == 200 and health_s < 0.5
    assert r.status_code == 200
    assert r.json() == json.loads(json.dumps(note_result(None, None, analyzer.analyse(NOTE1), html_stripped=False,
                                                         model_version="rules-only")))


def test_check_needs_only_text(client):
    r = client.post("/v1/check", json={"text": NOTE3}, headers=H_RO)
    assert r.status_code == 200
    d = r.json()
    assert d["note_id"] is None and d["case_id"] is None and d["flags"] == []


def test_check_discounted_and_closing(client):
    r = client.post("/v1/check", json={"text": "Views of adult: not obtained. Case closed.", "note_type":
                                       "Closure summary"}, headers=H_RO).json()
    assert r["closing"] is True and "outcome_unreviewed" in codes(r["flags"])
    assert any(d["reason"] == "empty_heading" for d in r["discounted"])


def test_check_converts_html_like_the_batch(client):
    r = client.post("/v1/check", json={"text": "<p>Mrs Holt <b>said</b> she is happy.</p>"}, headers=H_RO).json()
    assert r["html_stripped"] is True
    assert [e["label"] for e in r["evidence"]] == ["adult_views"]
    assert r["evidence"][0]["text"] == "Mrs Holt said she is happy."
    r = client.post("/v1/check", json={"text": "<p> </p><br>"}, headers=H_RO)
    assert r.status_code == 422 and "empty" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize("text", [
    "Grace 😀 said she wants to stay at home 👨‍👩‍👧. She consented to a referral.",
    "Zoë said «je veux rester» — مرحبا 你好 she wants to stay at home.",
    "Mrs Holt\x00 said\x07 she\x1b[31m wants to stay at home.\r\nTab\there\u2028next\u202e reversed",
    "e\u0301\u0301\u0301 combining, ZWJ \u200d, BOM \ufeff, private \ue000, noncharacter \ufffe",
    "😀 " * 5000,
    "😀" * 300,
])
def test_check_unicode_emoji_control_characters(client, text):
    r = client.post("/v1/check", json={"text": text, "note_id": "N-ü-😀"}, headers=H_RO)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["note_id"] == "N-ü-😀"
    for f in d["evidence"] + d["triggers"] + d["discounted"]:
        assert text[f["start"]:f["end"]] == f["text"]  # offsets are code points of the text sent


def test_a_20000_character_note_is_accepted_and_one_more_is_not(client):
    unit = NOTE3 + "\n"
    text = (unit * (20_000 // len(unit) + 1))[:20_000]
    r = client.post("/v1/check", json={"text": text}, headers=H_RO)
    assert r.status_code == 200 and r.json()["evidence"]
    text_emoji = "😀 😀\n" * 4_000  # 20,000 characters
    assert client.post("/v1/check", json={"text": text_emoji}, headers=H_RO).status_code == 200
    r = client.post("/v1/check", json={"text": text + "x"}, headers=H_RO)
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "text"] and "at most 20000" in err["msg"] and err["type"] == "string_too_long"


def test_words_without_spaces_are_limited(client, store_dir, analyzer):
    # runs of punctuation or emoji without a space take the tokenizer quadratic time: refused past the limit
    for text in ("!" * 301, "She said " + "😀" * 301 + " ok", "a" * 301):
        r = client.post("/v1/check", json={"text": text}, headers=H_RO)
        assert r.status_code == 422, text[:20]
        (err,) = r.json()["detail"]
        assert err["loc"] == ["body", "text"] and "MSP_NLP_MAX_WORD_CHARS" in err["msg"]
    assert client.post("/v1/check", json={"text": "!" * 300 + " " + "😀" * 300}, headers=H_RO).status_code == 200
    t0 = time.perf_counter()  # the worst note within the limits stays fast
    r = client.post("/v1/check", json={"text": " ".join(f"{i}" + "!?()😀"[i % 5] * 290 for i in range(66))},
                    headers=H_RO)
    assert r.status_code == 200 and time.perf_counter() - t0 < 15
    with TestClient(create_app(_settings(store_dir, db_url="sqlite://", max_word_chars=5), analyzer=analyzer)) as c:
        assert c.post("/v1/check", json={"text": "abcdef"}, headers=H_RO).status_code == 422


def test_note_length_limit_is_configurable(store_dir, analyzer):
    with TestClient(create_app(_settings(store_dir, db_url="sqlite://", max_note_chars=100), analyzer=analyzer)) as c:
        assert c.post("/v1/check", json={"text": "a" * 100}, headers=H_RO).status_code == 200
        r = c.post("/v1/check", json={"text": "a" * 101}, headers=H_RO)
        assert r.status_code == 422 and "at most 100" in r.json()["detail"][0]["msg"]
        r = c.post("/v1/check/batch", json={"notes": [{"note_id": "a", "text": "ok"},
                                                      {"note_id": "b", "text": "b" * 101}]}, headers=H_RO)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "notes", 1, "text"]


# --- bad input ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,loc,kind", [
    (b'{"text": "Mrs Holt said', ["body", 9], "json_invalid"),
    (b"", ["body"], "missing"),
    (b"[1, 2]", ["body"], "model_attributes_type"),
    (b'{"note_id": "n"}', ["body", "text"], "missing"),
    (b'{"text": 42}', ["body", "text"], "string_type"),
    (b'{"text": "   "}', ["body", "text"], "value_error"),
    (b'{"text": "x", "txt": "y"}', ["body", "txt"], "extra_forbidden"),
    (b'{"text": "x", "date": "next tuesday"}', ["body", "date"], "value_error"),
    (b'{"text": "x", "note_id": "a\\nb"}', ["body", "note_id"], "value_error"),
    (b'{"text": "x", "note_id": ""}', ["body", "note_id"], "string_too_short"),
    (b'{"text": "bad \\ud800 surrogate"}', ["body", "text"], "value_error"),
])
def test_bad_input_is_422_with_a_clear_field_message(client, body, loc, kind):
    r = client.post("/v1/check", content=body, headers={**H_RO, "content-type": "application/json"})
    assert r.status_code == 422, r.text
    errs = r.json()["detail"]
    assert any(e["loc"] == loc and e["type"] == kind and e["msg"] for e in errs), errs
    assert all(set(e) == {"loc", "msg", "type"} for e in errs)  # never the input value


def test_invalid_utf8_body_is_a_client_error(client):
    r = client.post("/v1/check", content=b'{"text": "\xff\xfe"}', headers={**H_RO, "content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_422_never_echoes_the_value(client):
    bodies = [
        {"text": 123, "note_id": CANARY},
        {"text": CANARY_NOTE, "date": CANARY},
        {"text": CANARY_NOTE, f"{CANARY} key": 1, "note_id": "x" * 300},
        {"text": CANARY_NOTE, "note_id": f"{CANARY}\x00"},
        {"text": CANARY_NOTE * 2000},
    ]
    for b in bodies:
        r = client.post("/v1/check", json=b, headers=H_RO)
        assert r.status_code == 422
        assert CANARY not in r.text
    r = client.post("/v1/check", content=f'{{"text": "{CANARY}'.encode(), headers=H_RO)
    assert r.status_code == 422 and CANARY not in r.text


# --- auth -----------------------------------------------------------------------------------------------------------

V1_ROUTES = [("GET", "/v1/schema", None), ("POST", "/v1/check", {"text": NOTE1}),
             ("POST", "/v1/check/batch", {"notes": [{"note_id": "a", "text": NOTE1}]}),
             ("POST", "/v1/cases/CA/notes", {"note_id": "a", "text": NOTE1}), ("GET", "/v1/cases/CA", None),
             ("DELETE", "/v1/cases/CA", None), ("DELETE", "/v1/cases/CA/notes/a", None), ("GET", "/v1/nope", None)]


@pytest.mark.parametrize("method,path,body", V1_ROUTES)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": f"Basic {RW}"}, {"X-API-Key": RW + " x"}])
def test_every_v1_route_needs_a_valid_key(client, method, path, body, headers):
    r = client.request(method, path, json=body, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "API key" in r.json()["detail"]


def test_401_comes_before_the_body_is_read(client):
    r = client.post("/v1/check", content=b"not json at all", headers={"content-type": "application/json"})
    assert r.status_code == 401
    r = client.post("/v1/check", content=b"x" * (600 * 1024), headers={"content-type": "application/json"})
    assert r.status_code == 401


def test_scopes(client):
    cid = new_case()
    note = {"note_id": "n1", "text": NOTE1}
    for h in (H_RO, {"Authorization": f"Bearer {RO}"}, {"authorization": f"bearer {RO}"}):
        r = client.post(f"/v1/cases/{cid}/notes", json=note, headers=h)
        assert r.status_code == 403 and "'write' scope" in r.json()["detail"]
        assert client.delete(f"/v1/cases/{cid}", headers=h).status_code == 403
        assert client.delete(f"/v1/cases/{cid}/notes/n1", headers=h).status_code == 403
        assert client.post("/v1/check", json=note, headers=h).status_code == 200
    assert client.get(f"/v1/cases/{cid}", headers=H_RO).status_code == 404  # nothing was written
    # a write-only key can record findings but not read
    assert client.post(f"/v1/cases/{cid}/notes", json=note, headers=H_WO).status_code == 200
    assert client.get(f"/v1/cases/{cid}", headers=H_WO).status_code == 403
    assert client.post("/v1/check", json=note, headers=H_WO).status_code == 403
    assert client.get("/v1/schema", headers=H_WO).status_code == 403
    assert client.get(f"/v1/cases/{cid}", headers={"Authorization": f"Bearer {RO}"}).status_code == 200


def test_required_scope_rule():
    assert required_scope("POST", "/v1/cases/x/notes") == "write"
    assert required_scope("DELETE", "/v1/cases/x") == "write"
    assert required_scope("GET", "/v1/cases/x") == "read"
    assert required_scope("POST", "/v1/check") == "read"


def test_no_keys_configured_means_every_v1_request_is_refused(store_dir):
    with TestClient(create_app(_settings(store_dir, db_url="sqlite://", api_keys=[]), analyzer=object())) as c:
        assert c.get("/v1/schema", headers=H_RW).status_code == 401
        assert c.get("/healthz").status_code == 200


def test_key_configuration(tmp_path):
    s = Settings.from_env({"MSP_NLP_API_KEYS": KEYS})
    assert [(k.name, sorted(k.scopes)) for k in s.api_keys] == [("rw", ["read", "write"]), ("ro", ["read"]),
                                                                ("wo", ["write"])]
    f = tmp_path / "keys"
    f.write_text(f"# clients\nfile1:read:{hash_key('a')}\n\nfile2:read+write:{hash_key('b').upper()}  # ops\n")
    s = Settings.from_env({"MSP_NLP_API_KEYS_FILE": str(f), "MSP_NLP_MAX_NOTE_CHARS": "30_000",
                           "MSP_NLP_MAX_BATCH": "7", "MSP_NLP_MAX_BODY_BYTES": "2048",
                           "MSP_NLP_CORS_ORIGINS": "https://a.example, https://b.example",
                           "MSP_NLP_DB_URL": "postgresql+psycopg://u:pw@db/msp"})
    assert [k.name for k in s.api_keys] == ["file1", "file2"]
    assert (s.max_note_chars, s.max_batch, s.max_body_bytes) == (30000, 7, 2048)
    assert s.cors_origins == ["https://a.example", "https://b.example"] and s.db_url.startswith("postgresql")
    for bad in ({"MSP_NLP_API_KEYS": "a:read:notahash"}, {"MSP_NLP_API_KEYS": f"a:admin:{hash_key('x')}"},
                {"MSP_NLP_API_KEYS": f"a:read:{hash_key('x')},a:read:{hash_key('y')}"},
                {"MSP_NLP_API_KEYS": "justakey"}, {"MSP_NLP_MAX_BATCH": "0"}, {"MSP_NLP_MAX_NOTE_CHARS": "many"},
                {"MSP_NLP_CORS_ORIGINS": "*"}, {"MSP_NLP_API_KEYS_FILE": str(tmp_path / "missing")}):
        with pytest.raises(ConfigError):
            Settings.from_env(bad)
    with pytest.raises(ConfigError) as e:  # a clear-text key by mistake is not echoed
        Settings.from_env({"MSP_NLP_API_KEYS": "a:read:my-secret-key-value"})
    assert "my-secret-key-value" not in str(e.value)


def test_hash_key_helper(capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
    assert service_main(["hash-key", "--name", "ui", "--scopes", "read+write"]) == 0
    assert capsys.readouterr().out.strip() == f"ui:read+write:{hash_key('s3cret')}"
    assert service_main(["hash-key", "--generate"]) == 0
    out = capsys.readouterr()
    key = out.err.split(": ", 1)[1].strip()
    assert out.out.strip() == f"client:read:{hash_key(key)}"
    assert parse_keys(out.out)[0].scopes == {"read"}


# --- limits ---------------------------------------------------------------------------------------------------------

def test_body_size_limit(client):
    big = json.dumps({"text": "a" * (600 * 1024)}).encode()
    r = client.post("/v1/check", content=big, headers={**H_RO, "content-type": "application/json"})
    assert r.status_code == 413 and "MSP_NLP_MAX_BODY_BYTES" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(700):
            yield b"a" * 1024
    r = client.post("/v1/check", content=chunks(), headers={**H_RO, "content-type": "application/json"})
    assert r.status_code == 413
    r = client.post("/v1/check", content=b"{}", headers={**H_RO, "content-type": "application/json",
                                                         "content-length": "nonsense"})
    assert r.status_code == 400


def test_batch(client, version):
    notes = [{"note_id": "b1", "case_id": "K", "date": "2026-01-10", "text": NOTE1},
             {"note_id": "b2", "case_id": "K", "date": "2026-01-12", "text": NOTE2},
             {"note_id": "b3", "text": NOTE3}]
    r = client.post("/v1/check/batch", json={"notes": notes}, headers=H_RO)
    assert r.status_code == 200
    d = r.json()
    assert [x["note_id"] for x in d["results"]] == ["b1", "b2", "b3"]
    assert d["model_version"] == version
    assert "coercion_unexplored" in codes(d["results"][0]["flags"])
    cases = {c["case_id"]: c for c in d["cases"]}
    assert set(cases) == {"K", "b3"}
    assert cases["K"]["note_ids"] == ["b1", "b2"]
    assert "coercion_unexplored" not in codes(cases["K"]["flags"]) and "views_missing" in codes(cases["K"]["flags"])
    assert client.get("/v1/cases/K", headers=H_RO).status_code == 404  # a batch check stores nothing
    r = client.post("/v1/check/batch", json={"notes": notes * 2}, headers=H_RO)
    assert r.status_code == 422 and "at most 5" in r.json()["detail"][0]["msg"]
    r = client.post("/v1/check/batch", json={"notes": []}, headers=H_RO)
    assert r.status_code == 422
    r = client.post("/v1/check/batch", json={"notes": [{"text": "no id"}]}, headers=H_RO)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "notes", 0, "note_id"]


# --- cases ----------------------------------------------------------------------------------------------------------

def test_case_flags_clear_as_evidence_arrives(client):
    cid = new_case()
    r = client.post(f"/v1/cases/{cid}/notes", json={"note_id": "n1", "date": "2026-01-10", "text": NOTE1},
                    headers=H_RW)
    assert r.status_code == 200
    d = r.json()
    assert d["note"]["note_id"] == "n1" and d["note"]["case_id"] == cid
    first = codes(d["case"]["flags"])
    assert {"coercion_unexplored", "capacity_unconsidered", "advocacy_unconsidered", "crime_unreferred",
            "views_missing"} <= first
    coercion = next(f for f in d["case"]["flags"] if f["code"] == "coercion_unexplored")
    assert coercion["evidence_note_ids"] == ["n1"] and coercion["triggers"][0]["note_id"] == "n1"

    r = client.post(f"/v1/cases/{cid}/notes", json={"note_id": "n2", "date": "2026-01-12", "text": NOTE2},
                    headers=H_RW).json()
    second = codes(r["case"]["flags"])
    assert not second & {"coercion_unexplored", "capacity_unconsidered", "advocacy_unconsidered", "crime_unreferred"}
    assert "views_missing" in second
    assert "views_missing" in codes(r["note"]["flags"])  # the note alone still lacks views

    r = client.post(f"/v1/cases/{cid}/notes", json={"note_id": "n3", "date": "2026-01-15", "text": NOTE3},
                    headers=H_RW).json()
    assert codes(r["case"]["flags"]) == set()
    assert r["case"]["note_ids"] == ["n1", "n2", "n3"]

    r = client.post(f"/v1/cases/{cid}/notes", json={"note_id": "n4", "date": "2026-02-01", "text": "Case closed.",
                                                    "note_type": "Closure summary"}, headers=H_RW).json()
    assert codes(r["case"]["flags"]) == {"outcome_unreviewed"} and r["case"]["closing"] is True

    g = client.get(f"/v1/cases/{cid}", headers=H_RO)
    assert g.status_code == 200 and g.json() == r["case"]


def test_notes_are_ordered_by_date_not_arrival(client):
    cid = new_case()
    client.post(f"/v1/cases/{cid}/notes", json={"note_id": "late", "date": "2026-05-01", "text": NOTE1}, headers=H_RW)
    client.post(f"/v1/cases/{cid}/notes", json={"note_id": "early", "date": "01/02/2026", "text": NOTE2},
                headers=H_RW)
    client.post(f"/v1/cases/{cid}/notes", json={"note_id": "undated", "text": NOTE3}, headers=H_RW)
    assert client.get(f"/v1/cases/{cid}", headers=H_RO).json()["note_ids"] == ["early", "late", "undated"]


def test_resending_a_note_replaces_its_findings(client):
    cid = new_case()
    url = f"/v1/cases/{cid}/notes"
    client.post(url, json={"note_id": "n1", "text": NOTE1}, headers=H_RW)
    a = client.post(url, json={"note_id": "n2", "text": NOTE2}, headers=H_RW).json()["case"]
    b = client.post(url, json={"note_id": "n2", "text": NOTE2}, headers=H_RW).json()["case"]
    assert a == b and b["note_ids"] == ["n1", "n2"]  # idempotent
    # n2 edited: the evidence that cleared coercion_unexplored is gone, so the flag is back
    c = client.post(url, json={"note_id": "n2", "text": "Telephone call, no answer."}, headers=H_RW).json()["case"]
    assert c["note_ids"] == ["n1", "n2"] and "coercion_unexplored" in codes(c["flags"])
    assert "coercion_explored" not in c["evidence"]
    # same note id in another case is another note
    other = client.post(f"/v1/cases/{new_case()}/notes", json={"note_id": "n2", "text": NOTE3}, headers=H_RW)
    assert other.json()["case"]["note_ids"] == ["n2"]
    assert client.get(f"/v1/cases/{cid}", headers=H_RO).json()["note_ids"] == ["n1", "n2"]


def test_case_id_in_body_must_match_the_path(client):
    cid = new_case()
    r = client.post(f"/v1/cases/{cid}/notes", json={"note_id": "n1", "case_id": "other", "text": NOTE1},
                    headers=H_RW)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "case_id"]
    r = client.post(f"/v1/cases/{cid}/notes", json={"note_id": "n1", "case_id": cid, "text": NOTE1}, headers=H_RW)
    assert r.status_code == 200
    r = client.post(f"/v1/cases/{cid}/notes", json={"text": NOTE1}, headers=H_RW)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "note_id"]
    assert client.post(f"/v1/cases/{'x' * 201}/notes", json={"note_id": "n", "text": NOTE1},
                       headers=H_RW).status_code == 422
    assert client.get(f"/v1/cases/{quote('a b')}", headers=H_RO).status_code == 404
    assert client.get("/v1/cases/%09", headers=H_RO).status_code == 422


def test_delete(client):
    cid = new_case()
    for nid in ("n1", "n2"):
        client.post(f"/v1/cases/{cid}/notes", json={"note_id": nid, "text": NOTE2}, headers=H_RW)
    r = client.delete(f"/v1/cases/{cid}/notes/n1", headers=H_RW)
    assert r.status_code == 200 and r.json() == {"case_id": cid, "deleted_notes": 1}
    assert client.get(f"/v1/cases/{cid}", headers=H_RO).json()["note_ids"] == ["n2"]
    assert client.delete(f"/v1/cases/{cid}", headers=H_RW).json() == {"case_id": cid, "deleted_notes": 1}
    assert client.get(f"/v1/cases/{cid}", headers=H_RO).status_code == 404
    assert client.delete(f"/v1/cases/{cid}", headers=H_RW).json() == {"case_id": cid, "deleted_notes": 0}


# --- headers, CORS, errors ------------------------------------------------------------------------------------------

def test_security_headers_on_every_response(client):
    for r in (client.get("/healthz"), client.post("/v1/check", json={"text": NOTE1}, headers=H_RO),
              client.post("/v1/check", json={"text": NOTE1}), client.post("/v1/check", json={}, headers=H_RO),
              client.get("/nope")):
        h = r.headers
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert h["cache-control"] == "no-store"
        assert h["referrer-policy"] == "no-referrer"
        assert h["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["x-request-id"]


def test_cors_is_off_by_default_and_can_be_configured(client, store_dir, analyzer):
    origin = {"Origin": "https://ui.example"}
    r = client.post("/v1/check", json={"text": NOTE1}, headers={**H_RO, **origin})
    assert "access-control-allow-origin" not in r.headers
    r = client.options("/v1/check", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    s = _settings(store_dir, db_url="sqlite://", cors_origins=["https://ui.example"])
    with TestClient(create_app(s, analyzer=analyzer)) as c:
        r = c.options("/v1/check", headers={**origin, "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "x-api-key,content-type"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://ui.example"
        r = c.post("/v1/check", json={"text": NOTE1}, headers={**H_RO, **origin})
        assert r.headers["access-control-allow-origin"] == "https://ui.example"
        r = c.post("/v1/check", json={"text": NOTE1}, headers={**H_RO, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_an_internal_error_is_a_bare_500_that_quotes_nothing(store_dir, caplog):
    class Broken:
        def analyse(self, text, note_type=None, adult_name=None):
            raise ValueError(f"cannot parse {text!r} for {adult_name}")

    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(_settings(store_dir, db_url="sqlite://"), analyzer=Broken())) as c:
        r = c.post("/v1/check", json={"text": CANARY_NOTE, "adult_name": NAME_CANARY}, headers=H_RO)
    assert r.status_code == 500
    assert r.json()["detail"].startswith("internal error") and CANARY not in r.text
    assert r.headers["cache-control"] == "no-store"
    assert "unhandled ValueError on POST /v1/check" in caplog.text
    assert CANARY not in caplog.text and NAME_CANARY not in caplog.text


# --- the no-text guarantee ------------------------------------------------------------------------------------------

def test_note_text_is_never_logged_nor_stored(store_dir, analyzer, caplog):
    caplog.set_level(logging.DEBUG)
    db = store_dir / "canary.sqlite"
    app = create_app(_settings(store_dir, db_url=f"sqlite:///{db}", max_note_chars=500, max_body_bytes=4096),
                     analyzer=analyzer)
    with TestClient(app) as c:
        extra = {"adult_name": NAME_CANARY, "author": NAME_CANARY, "team": NAME_CANARY, "note_type": NAME_CANARY}
        cid = "CASE-canary"
        ok = [c.post("/v1/check", json={"text": CANARY_NOTE, **extra}, headers=H_RO),
              c.post("/v1/check/batch", json={"notes": [{"note_id": "cb", "text": CANARY_NOTE, **extra}]},
                     headers=H_RO),
              c.post(f"/v1/cases/{cid}/notes", json={"note_id": "cn1", "date": "2026-01-01", "text": CANARY_NOTE,
                                                     **extra}, headers=H_RW),
              c.post(f"/v1/cases/{cid}/notes", json={"note_id": "cn2", "text": NOTE2 + CANARY, **extra},
                     headers=H_RW)]
        assert [r.status_code for r in ok] == [200] * 4
        bad = [c.post("/v1/check", json={"text": CANARY_NOTE * 10}, headers=H_RO),  # too long
               c.post("/v1/check", json={"text": CANARY_NOTE * 100}, headers=H_RO),  # body too large
               c.post("/v1/check", json={"text": CANARY_NOTE}),  # no key
               c.post(f"/v1/cases/{cid}/notes", json={"note_id": "x", "text": CANARY_NOTE}, headers=H_RO),  # 403
               c.post("/v1/check", content=f'{{"text": "{CANARY_NOTE}"'.encode(), headers=H_RO),  # bad JSON
               c.post("/v1/check", json={"text": CANARY_NOTE, "date": CANARY}, headers=H_RO),
               c.post("/v1/check", json={"text": CANARY_NOTE, CANARY: CANARY}, headers=H_RO)]
        assert [r.status_code for r in bad] == [422, 413, 401, 403, 422, 422, 422]
        for r in bad:
            assert CANARY not in r.text
        assert c.get(f"/v1/cases/{cid}", headers=H_RO).json()["note_ids"] == ["cn1", "cn2"]
        assert CANARY not in c.get("/metrics").text
    assert CANARY not in caplog.text and NAME_CANARY not in caplog.text
    assert "POST /v1/check 200" in caplog.text  # the access lines were captured
    stored = b"".join(p.read_bytes() for p in store_dir.glob("canary.sqlite*"))
    assert b"cn1" in stored and b"CASE-canary" in stored  # we are reading the right file
    for needle in (CANARY, NAME_CANARY, "frightened", "Spoke to Mrs Holt"):
        assert needle.encode() not in stored
        assert needle.encode("utf-16-le") not in stored
    if os.name == "posix":
        assert (db.stat().st_mode & 0o077) == 0  # the store file is private to its owner


# --- property-based: no input makes a 500 ---------------------------------------------------------------------------

_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _any_text,
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(_any_text, c, max_size=3), max_leaves=8)
_field = _any_text | _json | st.dates().map(str) | st.datetimes().map(lambda d: d.isoformat())
_note = st.fixed_dictionaries(
    {"text": st.text(st.characters(codec=None, exclude_categories=()), max_size=400) | st.sampled_from([NOTE1, NOTE2])
     | _json},
    optional={k: _field for k in ("note_id", "case_id", "date", "note_type", "adult_name", "author", "team", "x")})
_request = st.one_of(
    st.tuples(st.just("/v1/check"), _note | _json),
    st.tuples(st.just("/v1/check/batch"), st.fixed_dictionaries({"notes": st.lists(_note, max_size=3)}) | _json),
    st.tuples(st.builds(lambda c: f"/v1/cases/{quote(c, safe='')}/notes", _any_text.filter(bool)), _note | _json),
    st.tuples(st.sampled_from(["/v1/check", "/v1/check/batch"]), st.binary(max_size=200)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(req=_request)
def test_no_input_makes_a_500(client, req):
    path, body = req
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()  # ASCII-escaped: surrogates survive
    r = client.post(path, content=raw, headers={**H_RW, "content-type": "application/json"})
    assert r.status_code < 500, (path, r.status_code, r.text[:300])
    if r.status_code == 422:
        assert all(set(e) == {"loc", "msg", "type"} for e in r.json()["detail"])
    if r.status_code == 200 and path == "/v1/check":
        text = json.loads(raw)["text"]
        d = r.json()
        if not d["html_stripped"]:
            for f in d["evidence"] + d["triggers"]:
                assert text[f["start"]:f["end"]] == f["text"]


# --- a real `msp-nlp serve` process ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("msp-nlp")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "msp_nlp"]


def test_real_server_process(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSP_NLP_", "PROMETHEUS_"))}
    env.update({"MSP_NLP_API_KEYS": KEYS, "MSP_NLP_DB_URL": f"sqlite:///{tmp_path / 'cases.sqlite'}",
                "MSP_NLP_LOG_LEVEL": "debug", "MSP_NLP_MAX_BODY_BYTES": "100000"})
    out, err = open(tmp_path / "out.log", "wb"), open(tmp_path / "err.log", "wb")
    proc = subprocess.Popen(_serve_cmd() + ["serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            cwd=tmp_path, stdout=out, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as c:
            _wait_until_up(proc, c, "/healthz", tmp_path / "err.log", 60)
            assert c.get("/readyz").json()["status"] == "ready"
            r = c.post("/v1/check", json={"text": CANARY_NOTE, "adult_name": NAME_CANARY}, headers=H_RO)
            assert r.status_code == 200 and r.json()["evidence"]
            assert "server" not in r.headers and r.headers["x-frame-options"] == "DENY"
            cid = "C-real"
            r = c.post(f"/v1/cases/{cid}/notes", json={"note_id": "n1", "text": NOTE1 + CANARY}, headers=H_RW)
            assert "coercion_unexplored" in codes(r.json()["case"]["flags"])
            r = c.post(f"/v1/cases/{cid}/notes", json={"note_id": "n2", "text": NOTE2}, headers=H_RW)
            assert "coercion_unexplored" not in codes(r.json()["case"]["flags"])
            assert c.get(f"/v1/cases/{cid}", headers=H_RO).json()["note_ids"] == ["n1", "n2"]
            assert c.post("/v1/check", json={"text": CANARY_NOTE}).status_code == 401
            assert c.post(f"/v1/cases/{cid}/notes", json={"note_id": "n3", "text": CANARY},
                          headers=H_RO).status_code == 403
            assert c.post("/v1/check", content=b'{"text": "' + CANARY.encode() + b'"',
                          headers={**H_RO, "content-type": "application/json"}).status_code == 422
            assert c.post("/v1/check", json={"text": CANARY_NOTE * 2000}, headers=H_RO).status_code == 413

            def chunks():
                for _ in range(200):
                    yield (CANARY + " " * 1000).encode()
            r = c.post("/v1/check", content=chunks(), headers={**H_RO, "content-type": "application/json"})
            assert r.status_code == 413
            assert c.delete(f"/v1/cases/{cid}", headers=H_RW).json()["deleted_notes"] == 2
            assert 'route="/v1/check",status="200"' in c.get("/metrics").text
    finally:
        _stop(proc)
        out.close()
        err.close()
    logs = (tmp_path / "out.log").read_text() + (tmp_path / "err.log").read_text()
    assert "POST /v1/check 200" in logs and "analyser loaded" in logs
    assert CANARY not in logs and NAME_CANARY not in logs
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("cases.sqlite*"))
    assert stored and CANARY.encode() not in stored


def test_serve_refuses_to_start_without_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_NLP_")}
    p = subprocess.run(_serve_cmd() + ["serve", "--port", str(_free_port())], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no API keys configured" in p.stderr
    env["MSP_NLP_API_KEYS"] = "a:read:not-a-hash"
    p = subprocess.run(_serve_cmd() + ["serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "SHA-256" in p.stderr and "not-a-hash" not in p.stderr


def _wait_until_up(proc: subprocess.Popen, client: httpx.Client, path: str, log: Path, timeout: float) -> float:
    """Poll ``path`` until it answers 200 (failing with the server's log if the process exits); the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            if client.get(path).status_code == 200:
                return deadline
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(0.2)


def _stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL if it does not end in time."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _children(pid: int) -> list[int]:
    """Worker processes of ``pid`` (its children that run Python, not multiprocessing's resource tracker)."""
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(k) for k in kids if "resource_tracker" not in _cmdline(int(k))]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_connections_get_tcp_nodelay(monkeypatch):
    # under --workers N uvicorn's own socket leaves Nagle on (a ~40 ms stall per response); our protocol turns it off
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from service.server import HTTP_PROTOCOL
    monkeypatch.setattr(H11Protocol, "connection_made", lambda self, transport: None)

    class Transport:
        def __init__(self, sock):
            self.sock = sock

        def get_extra_info(self, name):
            return self.sock if name == "socket" else None

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # proto 0, like uvicorn's multi-worker socket
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        HTTP_PROTOCOL.connection_made(object.__new__(HTTP_PROTOCOL), Transport(s))
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_real_server_with_two_workers(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSP_NLP_", "PROMETHEUS_"))}
    env.update({"MSP_NLP_API_KEYS": KEYS, "MSP_NLP_DB_URL": f"sqlite:///{tmp_path / 'cases.sqlite'}"})
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(_serve_cmd() + ["serve", "--port", str(port), "--workers", "2"], env=env,
                                cwd=tmp_path, stdout=log, stderr=log)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
                deadline = _wait_until_up(proc, c, "/readyz", tmp_path / "server.log", 90)
                if Path(f"/proc/{proc.pid}/task").is_dir():  # Linux: two worker processes (SO_REUSEPORT sockets)
                    while len(_children(proc.pid)) < 2:
                        assert time.monotonic() < deadline, "second worker did not start"
                        time.sleep(0.3)
                workers = _children(proc.pid) if Path(f"/proc/{proc.pid}/task").is_dir() else []
                n = 12
                for i in range(n):  # new connections: the two workers share them
                    r = httpx.post(f"http://127.0.0.1:{port}/v1/cases/W/notes", headers=H_RW,
                                   json={"note_id": f"n{i}", "text": NOTE1 if i % 2 else NOTE2})
                    assert r.status_code == 200
                assert c.get("/v1/cases/W", headers=H_RO).json()["note_ids"] == [f"n{i}" for i in range(n)]
                metrics = c.get("/metrics").text  # counted across both workers
                line = 'msp_nlp_http_requests_total{method="POST",route="/v1/cases/{case_id}/notes",status="200"}'
                assert f"{line} {float(n)}" in metrics
        finally:
            _stop(proc)
    assert proc.returncode == 0, (tmp_path / "server.log").read_text()[-2000:]
    assert not [p for p in workers if _cmdline(p)]  # SIGTERM stopped every worker (gone, or a zombie: no cmdline)
