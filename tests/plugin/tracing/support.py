"""Helpers for the tracing tests: an in-memory pipeline and a stand-in for the HTTP producer."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from robutler_monitoring.events import EventBus, HttpRequest
from robutler_monitoring.host.types import ASGIApp, Message, Receive, Scope, Send
from robutler_monitoring.plugin.tracing.spans import SpanRecorder, TraceContextMiddleware


class Traced:
    """A bus, a recorder subscribed to it, and the spans it finished (synchronously)."""

    def __init__(self, *, capture_content: bool = False) -> None:
        self.bus = EventBus()
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.recorder = SpanRecorder(provider.get_tracer("test"), capture_content=capture_content)
        self.recorder.subscribe(self.bus.subscribe)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def by_name(self) -> dict[str, ReadableSpan]:
        return {s.name: s for s in self.spans()}

    def app(self, inner: ASGIApp, route: str = "/{agent}/chat/completions") -> ASGIApp:
        """``inner`` behind the trace-context middleware behind a stand-in HTTP producer."""
        return HttpProducer(TraceContextMiddleware(inner, self.recorder), self.bus, route)


class HttpProducer:
    """Stands in for the monitoring wrapper: one ``HttpRequest`` operation per request."""

    def __init__(self, app: ASGIApp, bus: EventBus, route: str) -> None:
        self.app, self.bus, self.route = app, bus, route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        op = HttpRequest(scope["method"], scope["path"], request_id="req-1", bus=self.bus).begin()

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                op.status = message["status"]
            await send(message)

        op.route = self.route
        try:
            await self.app(scope, receive, record_status)
        except BaseException as exc:
            op.status = 500
            op.end(exc)
            raise
        op.end()


def http_scope(
    path: str = "/assistant/chat/completions", headers: list[tuple[bytes, bytes]] | None = None
) -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "scheme": "http",
        "headers": headers or [],
        "client": ("127.0.0.1", 50000),
    }


async def call(app: ASGIApp, scope: Scope) -> list[Message]:
    """Call ``app`` once; return what it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})
