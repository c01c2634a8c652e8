"""Benchmark of the inline-check service: latency (p50/p95/p99) and requests/second of ``POST /v1/check`` on
realistic notes, at 1, 8 and 32 concurrent clients, against a real ``msp-nlp serve`` process on loopback.

The server gets a throwaway API key and SQLite file in a temporary directory; every level runs for a bounded time or
number of requests (after a warm-up) and the run stops by itself, killing the server.  Notes are synthetic ~150-word
notes recombined from a phrase bank (fictional names).  Client and server share the machine.

Two load generators (``--client``, default ``wrk,python``: both, one after the other):

* ``wrk`` (https://github.com/wg/wrk; Debian: ``apt-get install wrk``): one event-loop thread in C keeps all the
  connections busy, so the client takes a few per cent of a core and the server keeps almost all of the machine.
  It runs for ``--duration`` seconds per level, with a Lua script (written to the temporary directory) that sends
  the notes in turn; latency percentiles come from wrk's own histogram.  Skipped, with a message, when ``wrk`` is not
  on the PATH (or ``--wrk`` names no executable).
* ``python``: one thread per client, each with its own keep-alive ``httpx`` connection, sending ``--requests``
  requests per level; with 8 or 32 clients the threads need most of a core themselves (the CPU the clients used is
  reported), so it measures the service *and* a heavy client on the same 2 cores.

``--repeat N`` runs every level N times (levels interleaved) and reports the median of each statistic, with the range
of p99 over the runs: on a shared machine single runs are noisy.

Usage: python bench/bench_service.py [--client wrk,python] [--duration 15] [--requests 400] [--repeat 3]
                                     [--concurrency 1,8,32] [--workers 1,2] [--out bench/SERVICE_RESULTS.md]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
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


def run_level_python(base: str, key: str, notes: list[dict], concurrency: int, n_requests: int) -> dict:
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
    t0, cpu0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.join(600)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"concurrency": concurrency, "requests": len(latencies), "requests_all": len(latencies) + 3 * concurrency,
            "errors": errors[0], "rps": len(latencies) / wall,
            "p50": q[49] * 1000, "p95": q[94] * 1000, "p99": q[98] * 1000, "mean": statistics.fmean(latencies) * 1000,
            "client_cpu": cpu / wall}


# wrk's Lua script: every thread reads the bodies (one JSON note per line) at start-up and sends them in turn; at the
# end one line of JSON with wrk's own latency percentiles (microseconds).
WRK_LUA = r"""
local reqs, i = {}, 0
function init(args)
  local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = args[2]}
  for line in io.lines(args[1]) do
    reqs[#reqs + 1] = wrk.format("POST", "/v1/check", headers, line)
  end
  i = tonumber(args[3] or "0") % #reqs
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "MSPBENCH {\"requests\": %d, \"duration_us\": %d, \"status_errors\": %d, \"socket_errors\": %d, " ..
    "\"p50\": %d, \"p95\": %d, \"p99\": %d, \"mean\": %f, \"max\": %d}\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean, latency.max))
end
"""


def wrk_path(option: str | None) -> str | None:
    return shutil.which(option or "wrk")


def run_level_wrk(wrk: str, base: str, key: str, bodies: Path, script: Path, concurrency: int, duration: float,
                  warmup: float = 2.0) -> dict:
    """wrk with one thread and ``concurrency`` keep-alive connections for ``duration`` seconds (after a warm-up)."""
    def once(secs: float, offset: int) -> tuple[dict, float]:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cmd = [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(secs))}s", "--timeout", "10s", "-s", str(script),
               base + "/v1/check", "--", str(bodies), key, str(offset)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        line = next((ln for ln in p.stdout.splitlines() if ln.startswith("MSPBENCH ")), None)
        if p.returncode != 0 or line is None:
            raise SystemExit(f"wrk failed ({p.returncode}): {p.stderr.strip()[-500:] or p.stdout[-500:]}")
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        return json.loads(line[len("MSPBENCH "):]), cpu

    warm, _ = once(warmup, 0)
    res, cpu = once(duration, 100)
    wall = res["duration_us"] / 1e6
    return {"concurrency": concurrency, "requests": res["requests"], "requests_all": warm["requests"] + res["requests"],
            "errors": res["status_errors"] + res["socket_errors"], "rps": res["requests"] / wall,
            "p50": res["p50"] / 1000, "p95": res["p95"] / 1000, "p99": res["p99"] / 1000, "mean": res["mean"] / 1000,
            "client_cpu": cpu / wall}


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat (0 where there is none)."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait (guest is in user)


def _server_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its descendants (the uvicorn workers), from /proc."""
    total, todo, seen = 0.0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(x) for x in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


KEEP_MARKER = "<!-- notes below this line are kept when bench_service.py rewrites this file -->"


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.machine()}{' ' + model if model else ''}, {os.cpu_count()} CPU cores, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def _median_row(runs: list[dict]) -> dict:
    out = dict(runs[0])
    for k in ("requests", "rps", "p50", "p95", "p99", "mean", "client_cpu", "server_ms", "other_cpu"):
        out[k] = statistics.median(r[k] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    out["runs"] = len(runs)
    out["p99_range"] = (min(r["p99"] for r in runs), max(r["p99"] for r in runs))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", default="wrk,python",
                    help="load generators, comma-separated: wrk, python (default: both; wrk is skipped if absent)")
    ap.add_argument("--wrk", default=None, help="the wrk executable (default: wrk on the PATH)")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds per level with wrk (default 15)")
    ap.add_argument("--requests", type=int, default=400,
                    help="requests per level with the python client (default 400)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per level; the table gives medians (default 3)")
    ap.add_argument("--concurrency", default="1,8,32", help="comma-separated client counts (default 1,8,32)")
    ap.add_argument("--workers", default="1,2", help="server worker counts to run (default 1,2)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "SERVICE_RESULTS.md"),
                    help="Markdown results file ('-': print only)")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    workers = [int(x) for x in args.workers.split(",") if x.strip()]
    clients = [x.strip() for x in args.client.split(",") if x.strip()]
    unknown = sorted(set(clients) - {"wrk", "python"})
    if unknown or not clients:
        ap.error(f"unknown load generator(s) {unknown}: use wrk and/or python")
    wrk = wrk_path(args.wrk)
    skipped = []
    if "wrk" in clients and wrk is None:
        msg = (f"wrk not found ({args.wrk or 'wrk'} is not on the PATH): skipping the wrk measurements "
               "(Debian/Ubuntu: apt-get install wrk)")
        print(f"bench_service: {msg}", file=sys.stderr, flush=True)
        skipped.append(msg)
        clients = [c for c in clients if c != "wrk"]
    if not clients:
        print("bench_service: no load generator left to run", file=sys.stderr)
        return 2
    notes = make_notes(500)
    chars = [len(n["text"]) for n in notes]
    words = [len(n["text"].split()) for n in notes]
    key = secrets.token_urlsafe(24)
    runs: dict[tuple, list[dict]] = {}
    starts = {}
    model = "?"
    load_before = os.getloadavg()
    t_start = time.time()
    for w in workers:
        tmp = Path(tempfile.mkdtemp(prefix="msp-nlp-bench-"))
        proc = None
        try:
            bodies = tmp / "bodies.jsonl"
            bodies.write_text("".join(json.dumps(n, ensure_ascii=False) + "\n" for n in notes), encoding="utf-8")
            script = tmp / "check.lua"
            script.write_text(WRK_LUA, encoding="utf-8")
            proc, base, started = start_server(w, tmp, key)
            starts[w] = started
            model = httpx.get(f"{base}/readyz", timeout=5).json().get("model_version")
            for rep in range(args.repeat):
                for c in levels:
                    for client in clients:
                        t0, busy0, srv0 = time.perf_counter(), _machine_busy(), _server_cpu(proc.pid)
                        r0, p0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
                        if client == "wrk":
                            res = run_level_wrk(wrk, base, key, bodies, script, c, args.duration)
                        else:
                            res = run_level_python(base, key, notes, c, args.requests)
                        r1, p1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
                        elapsed, busy, srv = (time.perf_counter() - t0, _machine_busy() - busy0,
                                              _server_cpu(proc.pid) - srv0)
                        client_cpu = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) + (p1 - p0)
                        res.update(workers=w, client=client, server_ms=srv / res["requests_all"] * 1000,
                                   other_cpu=max(0.0, busy - srv - client_cpu) / elapsed)
                        runs.setdefault((client, w, c), []).append(res)
                        print(f"run {rep + 1}/{args.repeat} {client:>6} workers={w} clients={c:>2}: "
                              f"{res['rps']:.0f} req/s, p50 {res['p50']:.1f} ms, p95 {res['p95']:.1f} ms, "
                              f"p99 {res['p99']:.1f} ms, errors {res['errors']}, "
                              f"client CPU {res['client_cpu']:.2f} cores, "
                              f"server CPU {res['server_ms']:.2f} ms/request, "
                              f"other load {res['other_cpu']:.2f} cores", flush=True)
        finally:
            if proc is not None:
                stop_server(proc)
            shutil.rmtree(tmp, ignore_errors=True)

    load_after = os.getloadavg()
    rows = [_median_row(runs[k]) for k in sorted(runs, key=lambda k: (clients.index(k[0]), k[1], k[2]))]
    lines = [
        "# Inline-check service benchmark",
        "",
        "`POST /v1/check` against a real `msp-nlp serve` process on 127.0.0.1 (uvicorn, SQLite store, API key "
        "checked on every request, rules + trained model), generated by `bench/bench_service.py`. **The load "
        "generator runs on the same machine as the server and shares its CPU cores with it.**",
        "",
        f"* Machine: {_machine()}; 1/5/15-minute load average {' / '.join(f'{x:.1f}' for x in load_before)} "
        f"before the run, {' / '.join(f'{x:.1f}' for x in load_after)} after (anything else running on the "
        "machine shows in the numbers)",
        f"* Model: `{model}`; notes: {len(notes)} synthetic notes (fragments of fictional case notes), "
        f"{statistics.fmean(words):.0f} words / {statistics.fmean(chars):.0f} characters on average "
        f"({min(words)}-{max(words)} words), with note_id, case_id, date, note_type and adult_name",
        "* Load generators: `wrk` = wrk (one C event-loop thread, N keep-alive connections, "
        f"{args.duration:g} s per run after a 2 s warm-up; latency from wrk's histogram); `python` = N Python "
        f"threads with one keep-alive httpx connection each, {args.requests} requests per run after a warm-up of 3 "
        "per client. Latency is client-side, request sent to response read. *client CPU* is the CPU the load "
        "generator itself used, in cores (of the 2 it shares with the server); *server CPU ms/request* the CPU "
        "time of the server's processes per request (warm-ups included), the figure least disturbed by other load; "
        "*other load* the CPU that everything else on the machine used meanwhile, in cores (0 on a quiet machine)",
        f"* {args.repeat} run(s) per row, levels interleaved; every statistic is the median over the runs, and "
        "*p99 range* the lowest and highest p99 of the runs",
        "* Start-up to ready (analyser loaded in every worker): " +
        ", ".join(f"{s:.1f} s with {w} worker(s)" for w, s in starts.items()),
        f"* Run on {time.strftime('%Y-%m-%d %H:%M', time.localtime(t_start))}, {(time.time() - t_start) / 60:.0f} "
        "minutes",
    ]
    lines += [f"* {m}" for m in skipped]
    lines += [
        "",
        "| load generator | server workers | concurrent clients | runs | requests/run | errors | requests/s | p50 ms | "
        "p95 ms | p99 ms | p99 range ms | mean ms | client CPU | server CPU ms/request | other load |",
        "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lo, hi = r["p99_range"]
        lines.append(f"| {r['client']} | {r['workers']} | {r['concurrency']} | {r['runs']} | {r['requests']:.0f} | "
                     f"{r['errors']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | "
                     f"{lo:.1f}-{hi:.1f} | {r['mean']:.1f} | {r['client_cpu']:.2f} | {r['server_ms']:.2f} | "
                     f"{r['other_cpu']:.2f} |")
    lines += [
        "",
        "One worker analyses one note at a time (the analyser is shared and locked), so added clients queue: "
        "latency grows with concurrency while throughput stays flat; `--workers N` adds processes (each loads "
        "its own analyser). 8 or 32 Python client threads need about a third of a core themselves (column "
        "*client CPU*), which the server then lacks; wrk needs 2% of one. With `--workers N` each worker "
        "listens on its own SO_REUSEPORT socket (Linux), so the kernel spreads keep-alive connections across "
        "them: see the notes below. "
        "Regenerate with `.venv/bin/python bench/bench_service.py` (`--client python` without wrk).",
        "",
    ]
    if args.out != "-":
        out = Path(args.out)
        if out.is_file():  # hand-written notes after the marker survive a re-run
            old = out.read_text(encoding="utf-8")
            if KEEP_MARKER in old:
                lines += [old[old.index(KEEP_MARKER):].rstrip("\n"), ""]
        out.write_text("\n".join(lines), encoding="utf-8")
        print(f"results written to {args.out}")
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
