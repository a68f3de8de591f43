"""The monitoring endpoints (metrics, liveness, readiness, detailed health) as small ASGI apps.

The wrapper serves them before the app's router, so they work behind any catch-all route.
``/metrics`` and the detailed health need the bearer token when one is configured.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry

from ...host.types import ASGIApp, Receive, Scope, Send
from ..health.report import HealthReporter
from ..metrics.exposition import negotiate

HEALTH_JSON = b"application/health+json"
_UNAUTHORIZED = json.dumps(
    {"error": "unauthorized", "detail": "send 'Authorization: Bearer <token>'"}
).encode()


async def _respond(
    send: Send, status: int, body: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or ()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _authorized(scope: Scope, token: bytes) -> bool:
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, given = value.partition(b" ")
            # Constant-time compare: the answer time must not leak how much of a guess was right.
            return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), token)
    return False


def protect(app: ASGIApp, token: str | None) -> ASGIApp:
    """``app`` behind a bearer token (or ``app`` itself when there is no token)."""
    if not token:
        return app
    expected = token.encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if _authorized(scope, expected):
            await app(scope, receive, send)
            return
        await _respond(
            send,
            401,
            _UNAUTHORIZED,
            b"application/json",
            [(b"www-authenticate", b'Bearer realm="robutler-monitoring"')],
        )

    return guarded


def _only_get(app: ASGIApp) -> ASGIApp:
    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(
                send, 405, b'{"error": "method not allowed"}', b"application/json", [(b"allow", b"GET, HEAD")]
            )
            return
        await app(scope, receive, send)

    return handler


def metrics_endpoint(registry_source: Callable[[], CollectorRegistry]) -> ASGIApp:
    """Serve the registry ``registry_source()`` returns, in the format and encoding the scraper accepts."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        request = dict(scope["headers"])
        body, headers = negotiate(
            registry_source(),
            request.get(b"accept", b"").decode("latin-1"),
            request.get(b"accept-encoding", b"").decode("latin-1"),
        )
        headers.append((b"cache-control", b"no-store"))
        # a HEAD gets the headers a GET would (content-length included), without the body
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})

    return _only_get(endpoint)


def _json_endpoint(produce: Callable[[], Awaitable[tuple[int, dict[str, Any]]]]) -> ASGIApp:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        status, doc = await produce()
        await _respond(send, status, json.dumps(doc).encode(), HEALTH_JSON)

    return _only_get(endpoint)


def health_endpoints(reporter: HealthReporter) -> dict[str, ASGIApp]:
    """The liveness, readiness and detailed health apps, keyed by their config paths."""
    cfg = reporter.cfg
    live_body = json.dumps(reporter.liveness()[1]).encode()

    async def liveness(scope: Scope, receive: Receive, send: Send) -> None:
        await _respond(send, 200, live_body, HEALTH_JSON)  # fast: no check runs

    async def ready() -> tuple[int, dict[str, Any]]:
        return reporter.ready()

    return {
        cfg.endpoint: _only_get(liveness),
        cfg.readiness_endpoint: _json_endpoint(ready),
        cfg.detailed_endpoint: _json_endpoint(reporter.detailed),
    }
