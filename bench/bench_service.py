"""Benchmark of the inline-check service: latency (p50/p95/p99) and requests/second of ``POST /v1/check`` on
realistic notes, at 1, 8 and 32 concurrent clients, against a real ``msp-nlp serve`` process on loopback.

The server gets a throwaway API key and SQLite file in a temporary directory; every level sends a bounded number of
requests (after a warm-up) and the run stops by itself, killing the server.  Notes are synthetic ~150-word notes
recombined from a phrase bank (fictional names).  Client and server share the machine.

Usage: python bench/bench_service.py [--requests 400] [--concurrency 1,8,32] [--workers 1,2]
                                     [--out bench/SERVICE_RESULTS.md]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

# Fictional fragments of safeguarding case notes, recombined into ~150-word notes.
PHRASES = [
    "Visited {n} at home with DN.", "{n} told me she is frightened of her grandson.", "Son present throughout.",
    "Not seen alone as daughter answered the door and stayed.", "Spoke to {n} alone in the kitchen.",
    "Her desired outcome is to remain at home with more support.", "Views of adult: not obtained.",
    "SW to ask {n} what she wants at the next visit.", "Concerns that her son is taking her pension.",
    "{n} has vascular dementia and appeared confused about the day and time.",
    "MCA completed re finances: lacks capacity, best interests meeting to follow.",
    "Referral to IMCA made.", "Reported to police, crime ref 4471/26.", "She declined a package of care.",
    "Explored her reasons for declining, she worries about the cost.", "GP informed and DN to review the wound.",
    "Discussed the risks of letting strangers in and a safety plan was agreed with her.",
    "Explained the s42 process and what happens next.", "Daughter wants mum moved to a care home.",
    "Property cluttered, no heating, food out of date in the fridge.", "tc from dtr, no concerns, nfa",
    "Two children live at the address and were present.", "Interpreter booked for next visit, speaks little English.",
    "Outcomes partially achieved, she feels safer now but still wants contact with her son.",
    "Strategy meeting held with police, housing and the care provider; actions agreed.",
    "Care home manager reports the night carer was rough during personal care; carer suspended.",
    "If she consents we will refer to the IDVA service.",
    "Less restrictive options were considered before a placement.",
    "He said he is happy with his carers and does not want any changes.", "Case closed.",
]
NAMES = ["Mrs Holt", "Edna", "Mr Shah", "Joan", "Mr Nowak", "Ms Begum", "Derek", "Grace", "Mrs Pike", "Mr Fry"]


def make_notes(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    notes = []
    for i in range(n):
        parts, nw = [], 0
        while nw < 140:
            p = rnd.choice(PHRASES).format(n=rnd.choice(NAMES))
            parts.append(p)
            nw += len(p.split())
        text = (" " if rnd.random() < 0.6 else "\n").join(parts)
        notes.append({"note_id": f"B{i:05d}", "case_id": f"C{i // 4:04d}", "date": f"2026-{1 + i % 12:02d}-10",
                      "note_type": rnd.choice(["S42 enquiry visit", "Telephone call", "Closure summary"]),
                      "adult_name": rnd.choice(NAMES), "text": text})
    return notes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int, tmp: Path, key: str) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSP_NLP_", "PROMETHEUS_"))}
    env.update({"MSP_NLP_API_KEYS": f"bench:read:{hashlib.sha256(key.encode()).hexdigest()}",
                "MSP_NLP_DB_URL": f"sqlite:///{tmp / 'cases.sqlite'}", "MSP_NLP_LOG_LEVEL": "warning"})
    exe = Path(sys.executable).with_name("msp-nlp")
    cmd = ([str(exe)] if exe.exists() else [sys.executable, "-m", "msp_nlp"]) + [
        "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=open(tmp / "server.log", "wb"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    with httpx.Client(base_url=base, timeout=5) as c:
        while True:
            if proc.poll() is not None:
                raise SystemExit("server exited: " + (tmp / "server.log").read_text(errors="replace")[-1500:])
            try:
                if c.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("server did not become ready in 120 s")
            time.sleep(0.2)
    return proc, base, time.perf_counter() - t0


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_level(base: str, key: str, notes: list[dict], concurrency: int, n_requests: int) -> dict:
    """``n_requests`` POST /v1/check spread over ``concurrency`` threads (one keep-alive connection each)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(n_requests))

    def worker():
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as c:
            for note in notes[:3]:  # warm the connection
                c.post("/v1/check", json=note)
            barrier.wait()
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                r = c.post("/v1/check", json=notes[i % len(notes)])
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if r.status_code != 200:
                        errors[0] += 1

    barrier = threading.Barrier(concurrency + 1)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(600)
    wall = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"concurrency": concurrency, "requests": len(latencies), "errors": errors[0], "rps": len(latencies) / wall,
            "p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000, "mean": statistics.fmean(latencies) * 1000}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=400, help="requests per concurrency level (default 400)")
    ap.add_argument("--concurrency", default="1,8,32", help="comma-separated client counts (default 1,8,32)")
    ap.add_argument("--workers", default="1,2", help="server worker counts to run (default 1,2)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "SERVICE_RESULTS.md"), help="Markdown results file")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    workers = [int(x) for x in args.workers.split(",") if x.strip()]
    notes = make_notes(500)
    chars = [len(n["text"]) for n in notes]
    words = [len(n["text"].split()) for n in notes]
    key = secrets.token_urlsafe(24)
    rows = []
    starts = {}
    load_before = os.getloadavg()[0]
    for w in workers:
        tmp = Path(tempfile.mkdtemp(prefix="msp-nlp-bench-"))
        proc = None
        try:
            proc, base, started = start_server(w, tmp, key)
            starts[w] = started
            model = httpx.get(f"{base}/readyz", timeout=5).json().get("model_version")
            for c in levels:
                res = run_level(base, key, notes, c, args.requests)
                res["workers"] = w
                rows.append(res)
                print(f"workers={w} clients={c:>2}: {res['rps']:.0f} req/s, p50 {res['p50']:.1f} ms, "
                      f"p95 {res['p95']:.1f} ms, p99 {res['p99']:.1f} ms, errors {res['errors']}", flush=True)
        finally:
            if proc is not None:
                stop_server(proc)
            shutil.rmtree(tmp, ignore_errors=True)

    load_after = os.getloadavg()[0]
    lines = [
        "# Inline-check service benchmark",
        "",
        "`POST /v1/check` against a real `msp-nlp serve` process on 127.0.0.1 (uvicorn, SQLite store, API key "
        "checked on every request), generated by `bench/bench_service.py`. Client threads (one keep-alive "
        "connection each) run on the same machine as the server and compete with it for the CPU.",
        "",
        f"* Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"{platform.system()}; 1-minute load average {load_before:.1f} before the run, {load_after:.1f} after "
        "(anything else running on the machine shows in the numbers)",
        f"* Model: `{model}`; notes: {len(notes)} synthetic notes (fragments of fictional case notes), "
        f"{statistics.fmean(words):.0f} words / {statistics.fmean(chars):.0f} characters on average, "
        "with note_id, case_id, date, note_type and adult_name",
        f"* {args.requests} timed requests per row after a warm-up of 3 per client; latency is client-side, "
        "request sent to response read",
        "* Start-up to ready (analyser loaded in every worker): " +
        ", ".join(f"{s:.1f} s with {w} worker(s)" for w, s in starts.items()),
        "",
        "| server workers | concurrent clients | requests | errors | requests/s | p50 ms | p95 ms | p99 ms | mean ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['concurrency']} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | "
                     f"{r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {r['mean']:.1f} |")
    lines += [
        "",
        "One worker analyses one note at a time (the analyser is shared and locked), so added clients queue: "
        "latency grows with concurrency while throughput stays flat; `--workers N` adds processes (each loads "
        "its own analyser). Regenerate with `.venv/bin/python bench/bench_service.py`.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
