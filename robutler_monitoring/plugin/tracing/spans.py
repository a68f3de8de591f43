"""Spans from the seam's operations: one span per HTTP request, agent run, tool call and LLM call.

Subscribers run in the request path, so each does one ``start_span`` or one ``end`` and
sets a handful of attributes; the span lives in ``op.state`` between the two. Span names
and attributes follow the OpenTelemetry HTTP and GenAI semantic conventions (the GenAI
ones are still "Development": ``chat {model}``, ``invoke_agent {agent}``,
``execute_tool {tool}``). Prompt, completion and tool text are recorded only with
``capture_content``.

The HTTP span is opened by :class:`TraceContextMiddleware`, just inside the monitoring
wrapper, because that is where the request's ``traceparent`` / ``tracestate`` headers
can be read and ``traceresponse`` added; monitoring endpoints (``/metrics``,
``/health``) never reach it and make no spans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from ...events import HttpRequest, LLMCall, Operation, ToolCall, current_operation
from ...host.types import ASGIApp, Message, Receive, Scope, Send

SPAN_KEY = "tracing.span"  #: where the span of an operation lives in ``op.state``

_TRACEPARENT = re.compile(rb"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ROOT = Context()  # an empty context: the span has no parent
_SERVER, _INTERNAL, _CLIENT = SpanKind.SERVER, SpanKind.INTERNAL, SpanKind.CLIENT
_ERROR = StatusCode.ERROR


def _span_of(op: Operation | None) -> trace.Span | None:
    """The span of ``op`` or of its nearest ancestor that has one."""
    while op is not None:
        found = op.state.get(SPAN_KEY)
        if found is not None:
            return found  # type: ignore[no-any-return]
        op = op.parent
    return None


def _keep(op: Operation, span: trace.Span) -> None:
    """Keep ``span`` on ``op``, and its ids as hex when it is sampled (logs, exemplars)."""
    op.state[SPAN_KEY] = span
    ctx = span.get_span_context()
    if ctx.trace_flags.sampled:
        op.trace_id = format(ctx.trace_id, "032x")
        op.span_id = format(ctx.span_id, "016x")


#: The request being served in this context, set when its operation starts. Lines written
#: after that operation has ended but still for it (the access record, written by a
#: subscriber to its end; uvicorn's "Exception in ASGI application") carry its ids.
#: Each request runs in a task of its own with its own copy of the context.
_request: ContextVar[Operation | None] = ContextVar("robutler_tracing_request", default=None)
_NO_IDS: tuple[None, None] = (None, None)


def note_request(op: Operation) -> None:
    """Remember the request of this context (subscribed to the start of ``http`` operations)."""
    _request.set(op)


def current_trace_ids() -> tuple[str | None, str | None]:
    """The ids of the innermost sampled operation of this context, else of its request (log lines)."""
    op = current_operation()
    while op is not None:
        if op.trace_id is not None:
            return op.trace_id, op.span_id
        op = op.parent
    request = _request.get()
    if request is not None and request.trace_id is not None:
        return request.trace_id, request.span_id
    return _NO_IDS


def remote_context(traceparent: bytes, tracestate: bytes | None = None) -> Context | None:
    """The context an incoming W3C ``traceparent`` (and ``tracestate``) continues; None if invalid.

    >>> ctx = remote_context(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    >>> format(trace.get_current_span(ctx).get_span_context().trace_id, "032x")
    '0af7651916cd43dd8448eb211c80319c'
    """
    match = _TRACEPARENT.match(traceparent.strip().lower())
    if match is None:
        return None
    version, trace_hex, span_hex, flags, rest = match.groups()
    if version == b"ff" or (version == b"00" and rest) or not int(trace_hex, 16) or not int(span_hex, 16):
        return None
    state = TraceState()
    if tracestate:
        try:
            state = TraceState.from_header([tracestate.decode("latin-1")])
        except Exception:  # an invalid tracestate is dropped, the traceparent kept (W3C)
            state = TraceState()
    parent = SpanContext(
        int(trace_hex, 16), int(span_hex, 16), is_remote=True, trace_flags=TraceFlags(int(flags, 16)),
        trace_state=state,
    )  # fmt: skip
    return trace.set_span_in_context(NonRecordingSpan(parent), _ROOT)


def _end_ns(op: Operation) -> int:
    return op.start_ns + int((op.duration_s or 0.0) * 1e9)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


class SpanRecorder:
    """Turns operations into spans with ``tracer``; subscribe it with :meth:`subscribe`.

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from robutler_monitoring.events import EventBus, tool_call
    >>> bus = EventBus()
    >>> recorder = SpanRecorder(TracerProvider().get_tracer("doc"))
    >>> _ = recorder.subscribe(bus.subscribe)
    >>> with tool_call("calculator", bus=bus) as call:
    ...     call.state[SPAN_KEY].name
    'execute_tool calculator'
    """

    def __init__(self, tracer: trace.Tracer, *, capture_content: bool = False) -> None:
        self.tracer = tracer
        self.capture_content = capture_content

    def subscribe(self, subscribe: Callable[..., Any]) -> list[Any]:
        """Subscribe to every traced kind with ``subscribe(kind, on_start=, on_end=)``."""
        return [
            subscribe("http", on_start=note_request, on_end=self.end_http),
            subscribe("agent", on_start=self.start_agent, on_end=self.end_other),
            subscribe("tool", on_start=self.start_tool, on_end=self.end_tool),
            subscribe("llm", on_start=self.start_llm, on_end=self.end_llm),
        ]

    # -- starting ------------------------------------------------------------------------------

    def _start(self, op: Operation, name: str, kind: SpanKind, attributes: dict[str, Any]) -> None:
        parent = _span_of(op.parent)
        ctx = trace.set_span_in_context(parent, _ROOT) if parent is not None else None
        _keep(op, self.tracer.start_span(name, ctx, kind, attributes, start_time=op.start_ns))

    def start_http(
        self, op: HttpRequest, scope: Scope, parent: Context | None, user_agent: bytes | None
    ) -> trace.Span:
        """The server span of a request (called by the middleware, which sees the headers)."""
        attributes: dict[str, Any] = {
            "http.request.method": scope["method"],
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
        if user_agent:
            attributes["user_agent.original"] = user_agent.decode("latin-1")
        name = op.method if op.method != "_OTHER" else "HTTP"
        span = self.tracer.start_span(
            name, parent if parent is not None else _ROOT, _SERVER, attributes, start_time=op.start_ns
        )
        _keep(op, span)
        return span

    def start_agent(self, op: Operation) -> None:
        attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": op.name}
        self._start(op, f"invoke_agent {op.name}", _INTERNAL, attributes)

    def start_tool(self, op: Operation) -> None:
        attributes: dict[str, Any] = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": op.name}
        call_id = getattr(op, "call_id", None)
        if call_id:
            attributes["gen_ai.tool.call.id"] = call_id
        if op.agent:
            attributes["gen_ai.agent.name"] = op.agent
        self._start(op, f"execute_tool {op.name}", _INTERNAL, attributes)

    def start_llm(self, op: Operation) -> None:
        attributes: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.request.model": op.name}
        provider = getattr(op, "provider", None)
        if provider:
            attributes["gen_ai.provider.name"] = provider
        if op.agent:
            attributes["gen_ai.agent.name"] = op.agent
        self._start(op, f"chat {op.name}", _CLIENT, attributes)

    # -- ending ------------------------------------------------------------------------------

    def _finish(
        self,
        op: Operation,
        span: trace.Span,
        attributes: dict[str, Any],
        failed: bool,
        error_type: str | None = None,
    ) -> None:
        if op.outcome != "success":
            attributes["robutler.outcome"] = op.outcome
        if failed:
            error_type = error_type or op.error_type or "Error"
            attributes["error.type"] = error_type
            error = op.error
            if isinstance(error, Exception):
                span.record_exception(error)
            span.set_status(Status(_ERROR, error_type))
        if attributes:
            span.set_attributes(attributes)
        span.end(_end_ns(op))

    def end_http(self, op: Operation) -> None:
        span: trace.Span | None = op.state.get(SPAN_KEY)
        if span is None:
            return  # a monitoring endpoint, or tracing started mid-request
        assert isinstance(op, HttpRequest)
        attributes: dict[str, Any] = {}
        status = op.status
        if status:
            attributes["http.response.status_code"] = status
        if op.route:
            attributes["http.route"] = op.route
            span.update_name(f"{op.method} {op.route}" if op.method != "_OTHER" else f"HTTP {op.route}")
        failed = op.outcome == "error" or status >= 500
        error_type = op.error_type
        if failed and op.error is None:
            # no exception here: the work inside failed after the status line, or a 5xx was sent
            inner = getattr(op, "inner_error", None)
            error_type = inner or (str(status) if status >= 500 else error_type)
        self._finish(op, span, attributes, failed, error_type)

    def end_other(self, op: Operation) -> None:
        span: trace.Span | None = op.state.get(SPAN_KEY)
        if span is not None:
            self._finish(op, span, {}, op.outcome == "error")

    def end_tool(self, op: Operation) -> None:
        span: trace.Span | None = op.state.get(SPAN_KEY)
        if span is None:
            return
        attributes: dict[str, Any] = {}
        if self.capture_content and isinstance(op, ToolCall):
            if op.arguments is not None:
                attributes["gen_ai.tool.call.arguments"] = _text(op.arguments)
            if op.result is not None:
                attributes["gen_ai.tool.call.result"] = _text(op.result)
        self._finish(op, span, attributes, op.outcome == "error")

    def end_llm(self, op: Operation) -> None:
        span: trace.Span | None = op.state.get(SPAN_KEY)
        if span is None or not isinstance(op, LLMCall):
            return
        attributes: dict[str, Any] = {}
        if op.response_model:
            attributes["gen_ai.response.model"] = op.response_model
        if op.input_tokens is not None:
            attributes["gen_ai.usage.input_tokens"] = op.input_tokens
        if op.output_tokens is not None:
            attributes["gen_ai.usage.output_tokens"] = op.output_tokens
        if op.cache_read_tokens is not None:
            attributes["gen_ai.usage.cache_read.input_tokens"] = op.cache_read_tokens
        if op.ttft_s is not None:
            attributes["gen_ai.server.time_to_first_token"] = op.ttft_s
            span.add_event("gen_ai.first_token", timestamp=op.start_ns + int(op.ttft_s * 1e9))
        if self.capture_content:
            if op.prompt is not None:
                attributes["gen_ai.input.messages"] = _text(op.prompt)
            if op.completion is not None:
                attributes["gen_ai.output.messages"] = _text(op.completion)
        self._finish(op, span, attributes, op.outcome == "error")


class TraceContextMiddleware:
    """Open the request's server span (continuing ``traceparent``) and answer ``traceresponse``.

    Sits just inside the monitoring wrapper, whose ``HttpRequest`` operation is current
    when a request reaches it; without one (no monitoring wrapper) it passes through.

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> async def app(scope, receive, send): ...
    >>> wrapped = TraceContextMiddleware(app, SpanRecorder(TracerProvider().get_tracer("doc")))
    """

    def __init__(self, app: ASGIApp, recorder: SpanRecorder) -> None:
        self.app = app
        self._recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        op = current_operation()
        if scope["type"] != "http" or not isinstance(op, HttpRequest) or SPAN_KEY in op.state:
            await self.app(scope, receive, send)
            return
        traceparent = tracestate = user_agent = None
        for key, value in scope["headers"]:
            if key == b"traceparent":
                traceparent = value
            elif key == b"tracestate":
                tracestate = value
            elif key == b"user-agent":
                user_agent = value
        parent = remote_context(traceparent, tracestate) if traceparent is not None else None
        ctx = self._recorder.start_http(op, scope, parent, user_agent).get_span_context()
        header = (
            b"traceresponse",
            f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags) & 0x03:02x}".encode(),
        )

        async def send_with_traceresponse(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        await self.app(scope, receive, send_with_traceresponse)
