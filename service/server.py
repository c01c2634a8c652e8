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
