"""The request guard (one pure-ASGI middleware) and the API-key dependency.

For every request the guard:

* authenticates ``/v1`` requests before their body is read (``X-API-Key: KEY`` or ``Authorization: Bearer KEY``):
  401 without a valid key, 403 when the key lacks the route's scope (``write`` for changes to case findings,
  ``read`` for everything else);
* refuses bodies larger than ``max_body_bytes`` with 413 (by ``Content-Length`` and while streaming);
* adds security headers to every response;
* turns any unhandled error into a bare 500 and logs only its type (exception messages can quote note text);
* logs one access line and records metrics per request: method, route template, status, duration - never a body,
  a query string or a path parameter.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import Match

from .config import ApiKey, Settings, match_key
from .metrics import Metrics

log = logging.getLogger("msp_nlp.service")

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Documented in OpenAPI; the guard has already checked the key by the time a route runs.
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key (or use Bearer)")
bearer = HTTPBearer(auto_error=False, description="an API key as a bearer token")


def required_scope(method: str, path: str) -> str:
    """The scope a ``/v1`` request needs: changing case findings needs ``write``; everything else ``read``."""
    if method in WRITE_METHODS and path.startswith("/v1/cases"):
        return "write"
    return "read"


def presented_key(headers: dict[bytes, bytes]) -> str | None:
    raw = headers.get(b"x-api-key")
    if raw is None:
        auth = headers.get(b"authorization", b"")
        scheme, _, token = auth.partition(b" ")
        if scheme.lower() == b"bearer" and token.strip():
            raw = token.strip()
    if raw is None:
        return None
    return raw.decode("latin-1").strip() or None


def require(scope_name: str):
    """Route dependency: the authenticated key must hold ``scope_name`` (defence in depth; documents security)."""
    # async: a sync dependency would cost a trip to the thread pool on every request, for two dictionary look-ups
    async def dep(request: Request, _key: str | None = Security(api_key_header),  # noqa: B008
                  _bearer: HTTPAuthorizationCredentials | None = Security(bearer)) -> ApiKey:  # noqa: B008
        key: ApiKey | None = request.scope.get("msp_api_key")
        if key is None:
            raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
        if scope_name not in key.scopes:
            raise HTTPException(403, f"this API key lacks the '{scope_name}' scope")
        return key
    return dep


def _replay(body: bytes, receive):
    """A ``receive`` that hands over an already-read body, then defers to the server (disconnects)."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay


class RequestGuard:
    def __init__(self, app, settings: Settings, metrics: Metrics, routes_of=None):
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.fastapi = routes_of  # the FastAPI app: names the route template of early (401/403/413) responses

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        path = scope.get("path", "")
        csp = DOCS_CSP if path in DOCS_PATHS else API_CSP
        extra = SECURITY_HEADERS + [(b"content-security-policy", csp.encode()), (b"x-request-id", request_id.encode())]
        state = {"status": 500, "started": False}

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in names]
            await send(message)

        async def reply(status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()):
            body = json.dumps({"detail": detail}).encode()
            await send_wrapped({"type": "http.response.start", "status": status,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode()), *headers]})
            await send_wrapped({"type": "http.response.body", "body": body})

        try:
            headers = dict(scope.get("headers") or [])
            if path == "/v1" or path.startswith("/v1/"):
                raw = presented_key(headers)
                key = match_key(raw, self.settings.api_keys) if raw is not None else None
                if key is None:
                    await reply(401, "missing or invalid API key: send it as 'X-API-Key: KEY' or "
                                     "'Authorization: Bearer KEY'", [(b"www-authenticate", b"Bearer")])
                    return
                need = required_scope(scope["method"], path)
                if need not in key.scopes:
                    await reply(403, f"this API key lacks the '{need}' scope")
                    return
                scope["msp_api_key"] = key
            max_body = self.settings.max_body_bytes
            length = headers.get(b"content-length")
            if length is not None:  # the server holds the client to its Content-Length
                try:
                    too_big = int(length) > max_body
                except ValueError:
                    await reply(400, "invalid Content-Length header")
                    return
                if too_big:
                    await reply(413, f"request body larger than {max_body} bytes (MSP_NLP_MAX_BODY_BYTES)")
                    return
            elif scope.get("method") in WRITE_METHODS:  # streamed (chunked) body: read it here, up to the limit
                chunks, seen, more = [], 0, True
                while more:
                    message = await receive()
                    if message["type"] != "http.request":
                        state["status"] = 499  # client went away
                        return
                    body = message.get("body", b"")
                    seen += len(body)
                    if seen > max_body:
                        await reply(413, f"request body larger than {max_body} bytes (MSP_NLP_MAX_BODY_BYTES)")
                        return
                    chunks.append(body)
                    more = message.get("more_body", False)
                receive = _replay(b"".join(chunks), receive)
            await self.app(scope, receive, send_wrapped)
        except Exception as e:  # noqa: BLE001 - never let a message (which may quote note text) reach a log
            log.error("unhandled %s on %s %s (request %s)", type(e).__name__, scope.get("method"),
                      self._route(scope), request_id)
            if not state["started"]:
                await reply(500, f"internal error (request {request_id})")
        finally:
            dt = time.perf_counter() - t0
            route = self._route(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(state["status"])).inc()
            self.metrics.latency.labels(method, route).observe(dt)
            log.info("%s %s %s %.1fms request=%s", method, route, state["status"], dt * 1000, request_id)

    def _route(self, scope) -> str:
        route = scope.get("route")
        if route is not None and getattr(route, "path", None):
            return route.path
        if self.fastapi is not None:  # answered before routing (401/403/413): find the template ourselves
            for r in self.fastapi.routes:
                try:
                    m, _ = r.matches(scope)
                except Exception:  # noqa: BLE001
                    continue
                if m == Match.FULL:
                    return r.path
        return "unmatched"
