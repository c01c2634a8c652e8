"""uvicorn glue for ``msp-nlp serve``.

Under ``--workers N`` uvicorn binds the listening socket itself with ``proto=0``, and asyncio then leaves Nagle's
algorithm on for the accepted connections (it sets ``TCP_NODELAY`` only for sockets whose ``proto`` is TCP): each
response, written as headers then body, waits ~40 ms for the client's delayed ACK.  This protocol sets
``TCP_NODELAY`` on every connection, whatever the socket's origin.
"""

from __future__ import annotations

import socket

try:
    from uvicorn.protocols.http.h11_impl import H11Protocol
except ImportError:  # pragma: no cover - uvicorn moved its internals: fall back to its default protocol
    H11Protocol = None  # type: ignore[assignment,misc]


if H11Protocol is not None:
    class NoDelayH11Protocol(H11Protocol):  # type: ignore[misc,valid-type]
        def connection_made(self, transport) -> None:  # type: ignore[override]
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
            super().connection_made(transport)

    HTTP_PROTOCOL: object = NoDelayH11Protocol
else:  # pragma: no cover
    HTTP_PROTOCOL = "auto"


# --- several workers: one listening socket each (SO_REUSEPORT) -------------------------------------------------------
# uvicorn's ``--workers N`` shares one listening socket between the workers, and the first worker to wake up takes each
# new connection: with keep-alive clients (what a recording system is) most connections end up in one worker while the
# others idle (measured: 8 connections split 8/0 and 6/2 between two workers). With SO_REUSEPORT every worker listens
# on its own socket bound to the same address and the kernel spreads new connections evenly across them.

def reuseport_supported() -> bool:
    """Linux only: elsewhere (macOS, BSD) SO_REUSEPORT exists but does not spread connections across sockets."""
    import sys
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _bind(host: str, port: int, reuseport: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, uvicorn_kwargs: dict) -> None:
    import uvicorn
    sock = _bind(host, port)
    sock.listen(2048)
    config = uvicorn.Config("service.app:create_app", factory=True, http=HTTP_PROTOCOL, **uvicorn_kwargs)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(host: str, port: int, workers: int, uvicorn_kwargs: dict) -> int:
    """Run ``workers`` uvicorn processes, each on its own SO_REUSEPORT socket, until SIGINT/SIGTERM. A worker that
    dies is restarted; if workers die again and again (``workers * 3`` exits within a minute: one that cannot start),
    everything stops with exit code 1."""
    import multiprocessing as mp
    import signal
    import sys
    import time

    try:  # a plain bind (no SO_REUSEPORT): fails if anything listens there, even an earlier `serve --workers`
        _bind(host, port, reuseport=False).close()
    except OSError as e:
        print(f"msp-nlp: error: cannot listen on {host}:{port} ({e.strerror})", file=sys.stderr)
        return 2
    ctx = mp.get_context("spawn")  # a fresh interpreter per worker: nothing inherited half-initialised
    stopping = False

    def stop(signum, frame):  # noqa: ARG001
        nonlocal stopping
        stopping = True

    # handlers first: a signal during start-up must still stop the workers already started
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def start():
        p = ctx.Process(target=_worker, args=(host, port, uvicorn_kwargs), daemon=False)
        p.start()
        return p

    procs: list = []
    exits: list[float] = []  # times of unexpected worker exits
    failed = False
    try:
        for _ in range(workers):
            if not stopping:
                procs.append(start())
        print(f"msp-nlp: serving on http://{host}:{port} with {workers} workers (one SO_REUSEPORT socket each)",
              file=sys.stderr, flush=True)
        while not stopping:
            time.sleep(0.5)
            for i, p in enumerate(procs):
                if p.exitcode is not None and not stopping:
                    now = time.monotonic()
                    exits = [t for t in exits if now - t < 60] + [now]
                    if len(exits) >= workers * 3:
                        print("msp-nlp: error: workers keep exiting; stopping", file=sys.stderr)
                        stopping = failed = True
                        break
                    procs[i] = start()
    finally:
        for p in procs:
            if p.exitcode is None:
                p.terminate()  # uvicorn shuts down gracefully on SIGTERM
        deadline = time.monotonic() + 15
        for p in procs:
            p.join(max(0.1, deadline - time.monotonic()))
            if p.exitcode is None:
                p.kill()
                p.join()
        for s, h in old.items():
            signal.signal(s, h)
    return 1 if failed else 0
