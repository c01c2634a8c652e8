"""The service's case store on a real PostgreSQL server: a throwaway cluster in a temporary directory on a free
port, started by the test when PostgreSQL is installed (Debian: /usr/lib/postgresql/*/bin); skipped otherwise."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
import warnings
from pathlib import Path

import pytest

from service import create_app, hash_key
from service.config import Settings, parse_keys
from service.store import CaseStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

CANARY = "CANARY-pg-51c0"
KEY = "pg-test-key-0123456789"
H = {"X-API-Key": KEY}
NOTE1 = "Daughter is taking her money. Mrs Holt has dementia."
NOTE2 = ("Spoke to Mrs Holt alone. MCA completed: lacks capacity re finances. IMCA instructed. "
         "Reported to police, crime ref 4471/26.")


def _pg_bindir() -> Path | None:
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")])
    if cands:
        return Path(cands[-1]).parent
    found = shutil.which("initdb")
    return Path(os.path.realpath(found)).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_url():
    bindir = _pg_bindir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin)")
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as an unprivileged user
        for name in ("postgres", "nobody"):
            try:
                owner = pwd.getpwnam(name)
                break
            except KeyError:
                continue
        runuser = shutil.which("runuser")
        if owner is None or runuser is None:
            pytest.skip("running as root and no unprivileged user / runuser to start PostgreSQL")
        prefix = [runuser, "-u", owner.pw_name, "--"]
    base = Path(tempfile.mkdtemp(prefix="msp-nlp-pg-"))
    data, sock, logf = base / "data", base / "sock", base / "server.log"
    sock.mkdir()
    if owner is not None:
        for p in (base, sock):
            os.chown(p, owner.pw_uid, owner.pw_gid)
    port = _free_port()

    def run(*cmd, timeout=120):
        return subprocess.run(prefix + [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)

    try:
        r = run(bindir / "initdb", "-D", data, "-U", "msp", "-A", "trust", "-E", "UTF8", "--no-sync",
                "--locale=C")
        if r.returncode != 0:
            pytest.skip(f"initdb failed: {r.stderr.strip()[-300:]}")
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        r = run(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", logf, "-w", "-t", "60", "start")
        if r.returncode != 0:
            log = logf.read_text(errors="replace")[-500:] if logf.exists() else ""
            pytest.skip(f"PostgreSQL did not start: {r.stderr.strip()[-300:]} {log}")
        try:
            yield f"postgresql+psycopg://msp@127.0.0.1:{port}/postgres"
        finally:
            run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", timeout=60)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def client(pg_url, analyzer):
    s = Settings(api_keys=parse_keys(f"t:read+write:{hash_key(KEY)}"), db_url=pg_url)
    with TestClient(create_app(s, analyzer=analyzer)) as c:
        yield c


def codes(flags):
    return {f["code"] for f in flags}


def test_readyz_on_postgres(client):
    assert client.get("/readyz").json()["status"] == "ready"


def test_case_flags_clear_and_resend_is_idempotent_on_postgres(client):
    cid = "PG-" + uuid.uuid4().hex[:8]
    url = f"/v1/cases/{cid}/notes"
    r = client.post(url, json={"note_id": "n1", "date": "2026-01-10", "text": NOTE1 + " " + CANARY}, headers=H)
    assert r.status_code == 200 and "coercion_unexplored" in codes(r.json()["case"]["flags"])
    r = client.post(url, json={"note_id": "n2", "date": "2026-01-12", "text": NOTE2}, headers=H).json()
    assert not codes(r["case"]["flags"]) & {"coercion_unexplored", "capacity_unconsidered", "crime_unreferred"}
    again = client.post(url, json={"note_id": "n2", "date": "2026-01-12", "text": NOTE2}, headers=H).json()
    assert again["case"] == r["case"] and again["case"]["note_ids"] == ["n1", "n2"]
    edited = client.post(url, json={"note_id": "n2", "text": "No answer."}, headers=H).json()["case"]
    assert "coercion_unexplored" in codes(edited["flags"])
    assert client.get(f"/v1/cases/{cid}", headers=H).json() == edited
    assert client.delete(f"/v1/cases/{cid}/notes/n2", headers=H).json()["deleted_notes"] == 1
    assert client.delete(f"/v1/cases/{cid}", headers=H).json()["deleted_notes"] == 1
    assert client.get(f"/v1/cases/{cid}", headers=H).status_code == 404


def test_unicode_ids_on_postgres(client):
    cid = "PG-ü-😀-" + uuid.uuid4().hex[:6]
    r = client.post(f"/v1/cases/{cid}/notes", json={"note_id": "Nöte-😀", "text": "Zoë said 😀 she wants to stay "
                                                    "at home.\x00"}, headers=H)
    assert r.status_code == 200
    assert client.get(f"/v1/cases/{cid}", headers=H).json()["note_ids"] == ["Nöte-😀"]


def test_concurrent_resends_of_one_note_store_it_once(pg_url, analyzer):
    store = CaseStore(pg_url)
    cid = "PG-race-" + uuid.uuid4().hex[:6]
    analysis = analyzer.analyse(NOTE2)
    errors = []

    def send():
        try:
            store.record(cid, "same", "2026-01-01", analysis)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.case(cid).note_ids == ["same"]
    store.close()


def test_no_note_text_in_postgres(client, pg_url):
    from sqlalchemy import create_engine, text
    r = client.post("/v1/cases/PG-canary/notes", json={"note_id": "c1", "text": f"{CANARY} said she wants to stay "
                                                      "at home. Daughter is taking her money.",
                                                      "adult_name": CANARY}, headers=H)
    assert r.status_code == 200 and CANARY not in repr(r.json()["case"])
    eng = create_engine(pg_url)
    with eng.connect() as conn:
        rows = conn.execute(text("SELECT * FROM msp_case_notes")).all()
    eng.dispose()
    assert any("PG-canary" in repr(row) for row in rows)
    dump = repr(rows)
    assert CANARY not in dump and "daughter" not in dump.lower() and "Mrs Holt" not in dump
