"""The pure ASGI monitoring wrapper: request ids, the HTTP operation, monitoring endpoints.

Outermost around the served app, so it sees everything (errors, 404s, streams). It never
buffers: each message goes to the server the moment the app sends it, except the last body
message of a request whose ``hold`` is set (usage records not yet on disk), which waits for
it (a bounded wait). Each request is an
:class:`~robutler_monitoring.events.HttpRequest` operation on the event bus; the concerns
(metrics, the access log, later alerts and traces) subscribe to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from time import perf_counter

from ...events import EventBus, HttpRequest, Outcome, default_bus
from ...host.types import ASGIApp, Message, Receive, Scope, Send
from .context import REQUEST_ID_HEADER, new_request_id, sanitize_request_id
from .routes import RouteResolver, route_path

#: Status counted when the client went away before the response ended (nginx's convention).
CLIENT_CLOSED = 499
#: Status counted when the server cancelled a request before it answered (shutdown).
SERVER_CANCELLED = 503
_HEADER = REQUEST_ID_HEADER.encode()
_HEADER_LEN = len(_HEADER)


class MonitoringMiddleware:
    """Wrap an ASGI app with request ids, an ``HttpRequest`` operation per request and endpoints.

    >>> from robutler_monitoring.events import EventBus
    >>> async def app(scope, receive, send): ...
    >>> wrapped = MonitoringMiddleware(app, bus=EventBus())
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        bus: EventBus | None = None,
        endpoints: Mapping[str, ASGIApp] | None = None,
        agent_of: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.app = app
        #: (path, route template) -> the agent the request is for, when the app knows it
        self._agent_of = agent_of
        self._bus = bus if bus is not None else default_bus()
        self._routes = RouteResolver(app)
        self._endpoints = dict(endpoints or {})
        #: set when the server was asked to stop: a request cancelled from now on was cut
        #: by the server (``--timeout-graceful-shutdown``), not by a bug in the app
        self.stopping = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for key, value in scope["headers"]:
            if key == _HEADER:
                request_id = sanitize_request_id(value)
                break
        if request_id is None:
            request_id = new_request_id()
        rid_header = (_HEADER, request_id.encode())

        method = scope["method"]
        op = HttpRequest(method, scope["path"], request_id=request_id, bus=self._bus)
        op.peer = scope.get("client")
        op.scope = scope
        app = self.app
        root_path = scope.get("root_path", "")
        endpoint = None
        if self._endpoints:
            router_path = route_path(scope) if root_path else scope["path"]
            endpoint = self._endpoints.get(router_path)
        if endpoint is not None:
            app = endpoint
            op.route = router_path
        else:
            op.route = self._routes.prematch(scope, method)
            if self._agent_of is not None:
                op.agent = self._agent_of(scope["path"], op.route)
        op.begin()
        # One object per request instead of three closures: its bound methods are the
        # app's send and receive. An endpoint's route is final, so it gets no scope.
        exchange = _Exchange(
            op, None if endpoint is not None else scope, root_path, send, receive, rid_header
        )

        # The operation is the request's context: log lines written inside it take the
        # request id from it (one context variable per request, set by ``begin``).
        try:
            await app(scope, exchange.receive, exchange.send)
        except BaseException as exc:
            # The request stays the current operation: uvicorn logs "Exception in ASGI
            # application" right after this, in this same task, and that line must carry
            # the id. uvicorn runs each request in its own task with its own copy of the
            # context, so it cannot leak into another request.
            op.stay_current()
            if not exchange.complete:
                exchange.finish(exc)
            if self.stopping and isinstance(exc, asyncio.CancelledError):
                # The server cut this request at its graceful-shutdown timeout (and said so
                # in one line): it is recorded as cancelled; re-raising would only add an
                # "Exception in ASGI application" traceback for something that is no bug.
                return
            raise
        if not exchange.complete:
            exchange.finish(None)  # no response, or the client went away before the last chunk


class _Exchange:
    """One request's passage through the wrapper: the app's ``send`` and ``receive``, and its end."""

    __slots__ = ("_receive", "_rid_header", "_root_path", "_scope", "_send", "complete", "disconnected", "op")

    def __init__(
        self,
        op: HttpRequest,
        scope: Scope | None,
        root_path: str,
        send: Send,
        receive: Receive,
        rid_header: tuple[bytes, bytes],
    ) -> None:
        self.op = op
        self._scope = scope  # None: the route is final already (a monitoring endpoint)
        self._root_path = root_path
        self._send = send
        self._receive = receive
        self._rid_header = rid_header
        self.complete = False  # the last body message went out; the request is recorded
        self.disconnected = False

    def finish(self, error: BaseException | None) -> None:
        """Exactly once per request: at the last body message, else when the app returns or raises."""
        op = self.op
        outcome: Outcome
        status = op.status
        if self.complete:
            outcome = "error" if status >= 500 or op.inner_error else "success"
        elif self.disconnected:
            status, outcome = CLIENT_CLOSED, "client_closed"
        elif error is None:
            outcome = "error" if not status or status >= 500 or op.inner_error else "success"
            status = status or 500  # the app returned without answering; the server sends a 500
        elif isinstance(error, Exception):
            status, outcome = status or 500, "error"  # a status line already sent stays
        elif isinstance(error, asyncio.CancelledError):
            status, outcome = status or SERVER_CANCELLED, "cancelled"  # the server stopped it
        else:
            status, outcome = status or CLIENT_CLOSED, "client_closed"
        op.status = status
        scope = self._scope
        if scope is not None:
            # The template the router actually used (inline: this runs for every request).
            route = scope.get("route")
            if route is not None and scope.get("root_path", "") == self._root_path:
                fmt = getattr(route, "path_format", None)
                if isinstance(fmt, str):
                    op.route = fmt
            # else no router ran (404, plain ASGI app) or a Mount rewrote the scope: the
            # prematch (``op.route`` until now) knows more
        op.end(error, outcome=outcome)

    def send(self, message: Message) -> Awaitable[None]:
        # A plain function returning the server's own coroutine (no coroutine of this layer),
        # except for the last body message, which ends the request once it is sent.
        mtype = message["type"]
        if mtype == "http.response.body":
            op = self.op
            if op.ttfb_s is None:
                op.ttfb_s = perf_counter() - op.start
            if not message.get("more_body", False) and not self.complete:
                return self._send_last(message)
        elif mtype == "http.response.start":
            self.op.status = message["status"]
            headers = message.get("headers", ())
            if type(headers) is not list:
                headers = [*headers]  # any iterable (read once)
            for key, _ in headers:
                if len(key) == _HEADER_LEN and key.lower() == _HEADER:
                    break  # the app set its own id: keep it, never send two
            else:
                message = {**message}  # the app's message and its list stay as they were
                message["headers"] = [*headers, self._rid_header]
        return self._send(message)

    async def _send_last(self, message: Message) -> None:
        hold = self.op.hold
        if hold is not None:  # e.g. usage records: on disk before the last byte goes out
            await hold.wait()
        await self._send(message)
        # Record now, not when the app returns: Starlette tears down its stream
        # task group after this, and a scrape sent right after the last chunk
        # must already see the request.
        self.complete = True
        self.finish(None)

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect" and not self.complete:
            self.disconnected = True
        return message
