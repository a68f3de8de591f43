"""The pure ASGI monitoring wrapper: request ids, HTTP metrics, monitoring endpoints, listeners.

Outermost around the served app, so it sees everything (errors, 404s, streams). It never
buffers: each message goes to the server the moment the app sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry

from ..host.types import ASGIApp, Message, Receive, Scope, Send
from .context import REQUEST_ID_HEADER, RequestRecord, new_request_id, request_id_var, sanitize_request_id
from .metrics.http_local import http_metrics
from .metrics.registry import default_registry, instruments_for
from .metrics.routes import KNOWN_METHODS, OTHER_METHOD, RouteResolver, route_path

Listener = Callable[[RequestRecord], None]

#: Status counted when the client went away before the response ended (nginx's convention).
CLIENT_CLOSED = 499
_HEADER = REQUEST_ID_HEADER.encode()


class MonitoringMiddleware:
    """Wrap an ASGI app with request ids, ``robutler_http_*`` metrics and monitoring endpoints.

    >>> from prometheus_client import CollectorRegistry
    >>> async def app(scope, receive, send): ...
    >>> wrapped = MonitoringMiddleware(app, registry=CollectorRegistry())
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: CollectorRegistry | None = None,
        endpoints: Mapping[str, ASGIApp] | None = None,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self.app = app
        self._metrics = instruments_for(registry or default_registry(), http_metrics)
        self._routes = RouteResolver(app)
        self._endpoints = dict(endpoints or {})
        self._listeners = tuple(listeners)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        method = scope["method"]
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        request_id = None
        for key, value in scope["headers"]:
            if key == _HEADER:
                request_id = sanitize_request_id(value)
                break
        if request_id is None:
            request_id = new_request_id()
        rid_header = (_HEADER, request_id.encode())

        app = self.app
        root_path = scope.get("root_path", "")
        endpoint = self._endpoints.get(route_path(scope)) if self._endpoints else None
        if endpoint is not None:
            app = endpoint
            prematched = route_path(scope)
        else:
            prematched = self._routes.prematch(scope, method)
        in_progress = self._metrics.in_progress(method, prematched)
        in_progress.inc()

        status = 0
        ttfb: float | None = None
        complete = False  # the last body message went out; the request is recorded
        disconnected = False

        def finish(error: BaseException | None) -> None:
            # Exactly once per request: at the last body message, else when the app returns or raises.
            nonlocal status
            duration = perf_counter() - start
            in_progress.dec()
            if not complete:
                if disconnected:
                    status = CLIENT_CLOSED
                elif error is not None:
                    status = 500 if isinstance(error, Exception) else CLIENT_CLOSED
                elif not status:
                    status = 500  # the app returned without answering; the server sends a 500
            route = prematched if endpoint is not None else self._routes.final(scope, root_path, prematched)
            self._metrics.record(method, route, status, duration, ttfb)
            if self._listeners:
                self._notify(scope, route, status, duration, ttfb, request_id, error)

        async def send_wrapper(message: Message) -> None:
            nonlocal status, ttfb, complete
            mtype = message["type"]
            if mtype == "http.response.body":
                if ttfb is None:
                    ttfb = perf_counter() - start
                if not message.get("more_body", False) and not complete:
                    await send(message)
                    # Record now, not when the app returns: Starlette tears down its stream
                    # task group after this, and a scrape sent right after the last chunk
                    # must already see the request.
                    complete = True
                    finish(None)
                    return
            elif mtype == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ())]
                for key, _ in headers:
                    if key.lower() == _HEADER:
                        break  # the app set its own id: keep it, never send two
                else:
                    headers.append(rid_header)
                message = {**message, "headers": headers}
            await send(message)

        async def receive_wrapper() -> Message:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect" and not complete:
                disconnected = True
            return message

        token = request_id_var.set(request_id)
        try:
            await app(scope, receive_wrapper, send_wrapper)
        except BaseException as exc:
            if isinstance(exc, Exception):
                self._metrics.error(exc, "http")
            if not complete:
                finish(exc)
            # The request id stays set: uvicorn logs "Exception in ASGI application" right
            # after this, in this same task, and that line must carry the id. uvicorn runs
            # each request in its own task with its own copy of the context, so the id
            # cannot leak into another request.
            raise
        if not complete:
            finish(None)  # no response, or the client went away before the last chunk
        request_id_var.reset(token)

    def _notify(
        self,
        scope: Scope,
        route: str,
        status: int,
        duration: float,
        ttfb: float | None,
        request_id: str,
        error: BaseException | None,
    ) -> None:
        client: Any = scope.get("client")
        record = RequestRecord(
            method=scope["method"],
            path=scope["path"],
            route=route,
            status=status,
            duration_s=duration,
            ttfb_s=ttfb,
            client=f"{client[0]}:{client[1]}" if client else None,
            request_id=request_id,
            error=error,
        )
        for listener in self._listeners:
            try:
                listener(record)
            except Exception as exc:  # a broken listener must never break the request
                self._metrics.error(exc, "listener")
