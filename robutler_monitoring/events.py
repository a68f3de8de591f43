"""The seam: typed operations that producers open and close and concerns observe.

Producers (the HTTP wrapper, the agent and skill decorators, the demo's agents,
integrations such as the Robutler SDK's) open an *operation* when work starts and
end it when the work ends. Concerns (metrics, logging, alerting, tracing, usage)
subscribe to the start and the end of the kinds they care about::

    >>> bus = EventBus()
    >>> seen = []
    >>> unsubscribe = bus.subscribe("tool", on_end=lambda op: seen.append((op.name, op.outcome)))
    >>> with tool_call("calculator", bus=bus):
    ...     pass
    >>> seen
    [('calculator', 'success')]

An operation is a scope: while it runs it is the *current* operation of its context
(``current_operation()``), so operations opened inside it get it as ``parent`` and
inherit its request id and agent, and log lines written inside it can find it. Its end
carries an outcome from a closed set (:data:`OUTCOMES`), the duration and the error type.

Rules for subscribers: they run in the producer's thread, in the request path, so they
only bump a number, set an attribute or append to a bounded deque; anything slow is
drained in batches elsewhere. A subscriber that raises never breaks the work: the error
is counted (``bus.subscriber_errors``) and handed to ``bus.on_subscriber_error``.
Subscribers may keep per-operation state in ``op.state[key]`` (a tracing span, say),
and must not keep ``op.error`` beyond their call.

Nothing here imports prometheus_client or any part of the plugin: user code, the demo
and integrations use it whether or not the monitoring plugin is enabled, and with
nothing subscribed an operation costs an object and a context-variable set.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from time import perf_counter as _perf_counter
from time import time_ns as _time_ns
from types import TracebackType
from typing import Any, ClassVar, Final, Literal, Protocol, TypeVar

__all__ = [
    "KINDS",
    "OUTCOMES",
    "AgentRun",
    "EventBus",
    "HealthChange",
    "HttpRequest",
    "LLMCall",
    "Operation",
    "Outcome",
    "ResponseHold",
    "SkillCall",
    "ToolCall",
    "agent_run",
    "current_operation",
    "default_bus",
    "llm_call",
    "outcome_of",
    "record_llm_call",
    "record_tool_call",
    "set_default_bus",
    "skill_call",
    "tool_call",
]

Outcome = Literal["success", "error", "client_closed", "cancelled"]
#: How an operation ended. ``client_closed``: the client went away (HTTP 499);
#: ``cancelled``: the server stopped it (shutdown, task cancelled, stream abandoned).
OUTCOMES: Final[tuple[Outcome, ...]] = ("success", "error", "client_closed", "cancelled")

#: Every kind of operation, in nesting order.
KINDS: Final[tuple[str, ...]] = ("http", "agent", "skill", "tool", "llm")

_CANCELLED = (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt, SystemExit)


def outcome_of(exc: BaseException | None) -> Outcome:
    """The outcome of work that raised ``exc`` (``None``: it succeeded).

    >>> outcome_of(None), outcome_of(ValueError()), outcome_of(GeneratorExit())
    ('success', 'error', 'cancelled')
    """
    if exc is None:
        return "success"
    return "cancelled" if isinstance(exc, _CANCELLED) else "error"


_current: ContextVar[Operation | None] = ContextVar("robutler_operation", default=None)


def current_operation() -> Operation | None:
    """The innermost operation running in this context, if any."""
    return _current.get()


StartHandler = Callable[["Operation"], None]
EndHandler = Callable[["Operation"], None]
HealthHandler = Callable[["HealthChange"], None]
Op = TypeVar("Op", bound="Operation")


class Operation:
    """One unit of observed work, from start to end. Subclasses add what their kind knows.

    Producers either use it as a context manager (``with agent_run("x") as run:``) or
    call :meth:`begin` and :meth:`end` themselves (streams, which end elsewhere).
    :meth:`end` is idempotent: the first call decides the outcome.
    """

    kind: ClassVar[str] = "operation"

    __slots__ = (
        "_bus",
        "_start_ns",
        "_token",
        "agent",
        "caller",
        "duration_s",
        "error",
        "error_type",
        "name",
        "outcome",
        "parent",
        "request_id",
        "span_id",
        "start",
        "state",
        "trace_id",
    )

    request_id: str | None
    agent: str | None
    #: who the work is done for (a user or peer id), when known; inherited like ``agent``.
    #: Usage records carry it; it is never a metric label.
    caller: str | None

    def __init__(
        self,
        name: str,
        *,
        bus: EventBus | None = None,
        parent: Operation | None = None,
        request_id: str | None = None,
        agent: str | None = None,
    ) -> None:
        if parent is None:
            parent = _current.get()
        self.name = name
        self.parent = parent
        self.request_id: str | None = (
            request_id if request_id is not None or parent is None else parent.request_id
        )
        self.agent: str | None = agent if agent is not None or parent is None else parent.agent
        self.caller = None if parent is None else parent.caller
        self.start = _perf_counter()  #: monotonic start, for durations
        self._start_ns: int | None = None  # derived from ``start`` when first read
        self.duration_s: float | None = None
        self.outcome: Outcome | None = None  #: set once, by :meth:`end`
        self.error: BaseException | None = None  #: only while end subscribers run
        self.error_type: str | None = None
        self.state: dict[Any, Any] = {}  #: per-subscriber scratch space (a span, ...)
        #: hex ids of this operation's span when tracing records it (for logs, exemplars, records)
        self.trace_id: str | None = None
        self.span_id: str | None = None
        if bus is None:  # inside an operation, publish where it publishes (a test's bus)
            bus = parent._bus if parent is not None else _default_bus
        self._bus: EventBus = bus
        self._token: Token[Operation | None] | None = None

    @property
    def start_ns(self) -> int:
        """Wall-clock start (ns since the epoch), for spans and records.

        Derived from the monotonic ``start`` when first read (one clock read per
        operation, not two): now, less the time elapsed since ``start``.
        """
        start_ns = self._start_ns
        if start_ns is None:
            start_ns = self._start_ns = _time_ns() - int((_perf_counter() - self.start) * 1e9)
        return start_ns

    @start_ns.setter
    def start_ns(self, value: int) -> None:
        self._start_ns = value

    @property
    def ended(self) -> bool:
        return self.outcome is not None

    def begin(self: Op) -> Op:
        """Make this the current operation and tell the start subscribers."""
        self._token = _current.set(self)
        handlers = self._bus._start.get(self.kind)
        if handlers:
            for handler in handlers:  # inline: this runs for every request
                try:
                    handler(self)
                except Exception as exc:
                    self._bus._failed(exc, self.kind)
        return self

    def end(
        self,
        error: BaseException | None = None,
        *,
        outcome: Outcome | None = None,
        error_type: str | None = None,
    ) -> None:
        """End the operation (once): record duration and outcome, tell the end subscribers.

        ``outcome`` overrides what ``error`` implies (a stream that failed after its
        status line, a client that went away); ``error_type`` names an error that was
        not raised here (an upstream failure reported as text).
        """
        if self.outcome is not None:
            return
        self.duration_s = _perf_counter() - self.start
        if outcome is None:
            outcome = "success" if error is None else outcome_of(error)
        self.outcome = outcome
        if error is not None:
            self.error_type = type(error).__name__
        if error_type is not None:
            self.error_type = error_type
        elif outcome == "error" and self.error_type is None:
            self.error_type = "Error"
        token = self._token
        if token is not None:
            self._token = None
            try:  # noqa: SIM105 (suppress() would cost a context manager per operation)
                _current.reset(token)
            except ValueError:  # ended in another context (a stream's consumer)
                pass
        if outcome == "error" and self.kind == "agent" and self.parent is not None:
            _fail_response(self)
        handlers = self._bus._end.get(self.kind)
        if handlers:
            self.error = error
            for handler in handlers:
                try:
                    handler(self)
                except Exception as exc:  # a broken concern must never break the work
                    self._bus._failed(exc, self.kind)
            self.error = None

    def stay_current(self) -> None:
        """Stay the current operation of this context after :meth:`end` (call it before).

        For what is logged about the work after it ended, in the same task: a server's
        "Exception in ASGI application" line after a request failed still carries its
        request id. Only where the context ends with the task (an ASGI request's).
        """
        if self.outcome is None:
            self._token = None  # end() will leave it set
        else:
            _current.set(self)  # already ended (and reset): make it current again

    def __enter__(self: Op) -> Op:
        return self.begin()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end(exc)

    def __repr__(self) -> str:
        state = self.outcome or "running"
        return f"<{type(self).__name__} {self.name!r} {state}>"


class ResponseHold(Protocol):
    """Something a request's last response byte waits for (usage records committed to disk)."""

    async def wait(self) -> None:
        """Return when the response may end (bounded: never wait forever)."""


#: ``Operation.name``'s slot, which ``HttpRequest.name`` fills only when set.
_NAME_SLOT: Any = Operation.__dict__["name"]


class HttpRequest(Operation):
    """An HTTP request, from its arrival to the end of its response (a whole stream).

    ``status`` is what was sent on the status line; ``outcome`` says how it really
    ended: an agent run inside it that fails after the status line was sent (a streamed
    answer) sets ``inner_error``, and the request ends as ``error``. (A failed tool or LLM
    call the agent handled is not a failed request.)

    ``hold``: set by a concern whose work must be done before the response ends (the
    usage recorder, until the request's records are on disk); the HTTP wrapper awaits
    ``hold.wait()`` before it sends the last body message. ``None`` for most requests.
    """

    kind: ClassVar[str] = "http"
    __slots__ = ("hold", "inner_error", "method", "path", "peer", "route", "scope", "status", "ttfb_s")

    def __init__(
        self,
        method: str,
        path: str,
        *,
        request_id: str,
        bus: EventBus | None = None,
        parent: Operation | None = None,
    ) -> None:
        # Operation.__init__ inlined, explicit arguments: this runs for every request.
        if parent is None:
            parent = _current.get()
        # ``name`` ("METHOD path") is built when first read: most requests are never named.
        self.parent = parent
        self.request_id = request_id
        self.agent = None if parent is None else parent.agent
        self.caller = None if parent is None else parent.caller
        self.start = _perf_counter()
        self._start_ns = None
        self.duration_s = None
        self.outcome = None
        self.error = None
        self.error_type = None
        self.state = {}
        self.trace_id = None
        self.span_id = None
        if bus is None:
            bus = parent._bus if parent is not None else _default_bus
        self._bus = bus
        self._token = None
        self.method = method
        self.path = path
        self.route: str | None = None  #: the route template (the wrapper's best guess until the end)
        self.status = 0
        self.ttfb_s: float | None = None
        self.peer: Any = None  #: the ASGI scope's ``client`` (host, port), when known
        #: the request's ASGI scope, when a server wrapper set it: read off the request path
        #: (an authentication middleware inside the app may add ``user`` to it later)
        self.scope: Any = None
        self.inner_error: str | None = None  #: error type of work that failed after the status line
        self.hold: ResponseHold | None = None  #: what the last body message waits for

    @property
    def name(self) -> str:
        """``METHOD path``, unless set."""
        try:
            name: str = _NAME_SLOT.__get__(self, HttpRequest)
        except AttributeError:
            return f"{self.method} {self.path}"
        return name

    @name.setter
    def name(self, value: str) -> None:
        _NAME_SLOT.__set__(self, value)

    @property
    def client(self) -> str | None:
        """``host:port`` of the peer, when known."""
        peer = self.peer
        return f"{peer[0]}:{peer[1]}" if peer else None

    def first_byte(self) -> None:
        """Mark the first response body byte (once)."""
        if self.ttfb_s is None:
            self.ttfb_s = time.perf_counter() - self.start


def _fail_response(op: Operation) -> None:
    """The agent run ``op`` failed: if its request already sent its status line, that failed too."""
    parent = op.parent
    while parent is not None and not isinstance(parent, HttpRequest):
        parent = parent.parent
    if parent is not None and parent.status and parent.outcome is None and parent.inner_error is None:
        parent.inner_error = op.error_type


class AgentRun(Operation):
    """One run of an agent; a streamed answer runs until its stream ends."""

    kind: ClassVar[str] = "agent"
    __slots__ = ()

    def __init__(self, name: str, **kwargs: Any) -> None:
        kwargs["agent"] = name
        super().__init__(name, **kwargs)


class SkillCall(Operation):
    """One call of a skill's method (``@track_skill_performance``)."""

    kind: ClassVar[str] = "skill"
    __slots__ = ("operation",)

    def __init__(self, name: str, operation: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.operation = operation


class ToolCall(Operation):
    """One tool call made for an agent (the LLM asked for it)."""

    kind: ClassVar[str] = "tool"
    __slots__ = ("arguments", "call_id", "pricing", "result")

    def __init__(self, name: str, *, call_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.call_id = call_id
        self.pricing: Mapping[str, Any] | None = None  #: what the tool reported it costs
        self.arguments: str | None = None  #: only kept when content capture is on
        self.result: str | None = None  #: likewise


class LLMCall(Operation):
    """One call of a language model: model, token counts by kind, latency, time to first token.

    ``input_tokens`` includes cached tokens (as the OpenTelemetry GenAI conventions
    count them); ``cache_read_tokens``, ``cache_write_tokens`` and ``reasoning_tokens``
    are parts of the totals, ``None`` where the provider did not say.
    """

    kind: ClassVar[str] = "llm"
    __slots__ = (
        "cache_read_tokens",
        "cache_write_tokens",
        "completion",
        "input_tokens",
        "output_tokens",
        "prompt",
        "provider",
        "reasoning_tokens",
        "response_model",
        "streaming",
        "ttft_s",
    )

    def __init__(
        self, model: str, *, provider: str | None = None, streaming: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(model, **kwargs)
        self.provider = provider
        self.streaming = streaming
        self.response_model: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cache_read_tokens: int | None = None
        self.cache_write_tokens: int | None = None
        self.reasoning_tokens: int | None = None
        self.ttft_s: float | None = None
        self.prompt: Any = None  #: only kept when content capture is on
        self.completion: Any = None  #: likewise

    @property
    def model(self) -> str:
        """The requested model."""
        return self.name

    def first_token(self) -> None:
        """Mark the first token (once)."""
        if self.ttft_s is None:
            self.ttft_s = time.perf_counter() - self.start

    def set_usage(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        response_model: str | None = None,
    ) -> None:
        """Record the token counts the provider reported (``None`` leaves a count as it is)."""
        if input_tokens is not None:
            self.input_tokens = input_tokens
        if output_tokens is not None:
            self.output_tokens = output_tokens
        if cache_read_tokens is not None:
            self.cache_read_tokens = cache_read_tokens
        if cache_write_tokens is not None:
            self.cache_write_tokens = cache_write_tokens
        if reasoning_tokens is not None:
            self.reasoning_tokens = reasoning_tokens
        if response_model is not None:
            self.response_model = response_model


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A health component (or the overall status, component ``"overall"``) changed status."""

    component: str
    status: str  #: pass | warn | fail
    previous: str | None  #: None the first time the component is seen
    detail: str | None = None
    at_ns: int = field(default_factory=time.time_ns)


class EventBus:
    """Who listens to which kind of operation. Injectable: tests build their own.

    Subscribing is rare and copies tuples; publishing reads one dict entry per event.
    """

    def __init__(self) -> None:
        self._start: dict[str, tuple[StartHandler, ...]] = {}
        self._end: dict[str, tuple[EndHandler, ...]] = {}
        self._health: tuple[HealthHandler, ...] = ()
        self.subscriber_errors = 0
        #: called with (exception, where) when a subscriber raises; set by the metrics concern
        self.on_subscriber_error: Callable[[BaseException, str], None] | None = None

    def subscribe(
        self,
        kind: str | type[Operation],
        *,
        on_start: StartHandler | None = None,
        on_end: EndHandler | None = None,
    ) -> Callable[[], None]:
        """Call ``on_start``/``on_end`` for every operation of ``kind`` (``"*"``: every kind).

        Returns a function that unsubscribes both.
        """
        name = kind if isinstance(kind, str) else kind.kind
        kinds = KINDS if name == "*" else (name,)
        if name != "*" and name not in KINDS:
            raise ValueError(f"unknown operation kind {name!r}; expected one of {', '.join(KINDS)} or '*'")
        for k in kinds:
            if on_start is not None:
                self._start[k] = (*self._start.get(k, ()), on_start)
            if on_end is not None:
                self._end[k] = (*self._end.get(k, ()), on_end)

        def unsubscribe() -> None:
            for k in kinds:
                if on_start is not None:
                    self._start[k] = tuple(h for h in self._start.get(k, ()) if h is not on_start)
                if on_end is not None:
                    self._end[k] = tuple(h for h in self._end.get(k, ()) if h is not on_end)

        return unsubscribe

    def subscribe_health(self, handler: HealthHandler) -> Callable[[], None]:
        """Call ``handler`` on every health status change."""
        self._health = (*self._health, handler)

        def unsubscribe() -> None:
            self._health = tuple(h for h in self._health if h is not handler)

        return unsubscribe

    def publish_health(self, change: HealthChange) -> None:
        """Tell the health subscribers (the health runner calls this when a status changes)."""
        for handler in self._health:
            try:
                handler(change)
            except Exception as exc:
                self._failed(exc, "health")

    def has_subscribers(self, kind: str) -> bool:
        """Whether anything listens to ``kind`` (producers may skip optional work when not)."""
        return bool(self._start.get(kind) or self._end.get(kind))

    def clear(self) -> None:
        """Drop every subscriber (tests, and a worker that shuts its concerns down)."""
        self._start.clear()
        self._end.clear()
        self._health = ()

    def _failed(self, exc: BaseException, where: str) -> None:
        self.subscriber_errors += 1
        callback = self.on_subscriber_error
        if callback is not None:
            with contextlib.suppress(Exception):
                callback(exc, where)


_default_bus = EventBus()


def default_bus() -> EventBus:
    """The process-wide bus that producers publish to unless given another."""
    return _default_bus


def set_default_bus(bus: EventBus) -> EventBus:
    """Replace the process-wide bus (tests); returns the previous one.

    Operations already running keep the bus they started with.
    """
    global _default_bus
    previous, _default_bus = _default_bus, bus
    return previous


# -- producers' shortcuts ------------------------------------------------------------------


def agent_run(name: str, *, bus: EventBus | None = None) -> AgentRun:
    """An agent run, to use as ``with agent_run("assistant") as run:`` (or ``begin``/``end``)."""
    return AgentRun(name, bus=bus)


def skill_call(name: str, operation: str, *, bus: EventBus | None = None) -> SkillCall:
    """A skill call, to use as ``with skill_call("calculator", "evaluate"):``."""
    return SkillCall(name, operation, bus=bus)


def tool_call(name: str, *, call_id: str | None = None, bus: EventBus | None = None) -> ToolCall:
    """A tool call, to use as ``with tool_call("get_weather", call_id=...) as call:``."""
    return ToolCall(name, call_id=call_id, bus=bus)


def llm_call(
    model: str, *, provider: str | None = None, streaming: bool = False, bus: EventBus | None = None
) -> LLMCall:
    """An LLM call; set its usage with ``call.set_usage(...)`` before it ends."""
    return LLMCall(model, provider=provider, streaming=streaming, bus=bus)


def _backdate(op: Operation, duration_s: float | None) -> None:
    if duration_s is not None and duration_s > 0:
        op.start -= duration_s  # start_ns, derived from start when read, follows


def record_llm_call(
    model: str,
    *,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cache_read_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    duration_s: float | None = None,
    ttft_s: float | None = None,
    streaming: bool = False,
    provider: str | None = None,
    response_model: str | None = None,
    agent: str | None = None,
    caller: str | None = None,
    error: BaseException | None = None,
    error_type: str | None = None,
    outcome: Outcome | None = None,
    bus: EventBus | None = None,
) -> LLMCall:
    """Record an LLM call that already happened (integrations that learn of it afterwards).

    It is published as an operation that started ``duration_s`` ago and ends now,
    inside the current operation (the agent run, the request). ``caller`` (a user or
    peer id) goes on its usage record; by default it is the current operation's.

    >>> bus = EventBus()
    >>> tokens = []
    >>> _ = bus.subscribe("llm", on_end=lambda c: tokens.append((c.model, c.input_tokens, c.output_tokens)))
    >>> _ = record_llm_call("gpt-4o-mini", input_tokens=12, output_tokens=5, duration_s=0.3, bus=bus)
    >>> tokens
    [('gpt-4o-mini', 12, 5)]
    """
    call = LLMCall(model, provider=provider, streaming=streaming, bus=bus)
    if agent is not None:
        call.agent = agent
    if caller is not None:
        call.caller = caller
    _backdate(call, duration_s)
    call.set_usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
        reasoning_tokens=reasoning_tokens,
        response_model=response_model,
    )
    call.ttft_s = ttft_s
    call.begin()
    call.end(error, outcome=outcome, error_type=error_type)
    return call


def record_tool_call(
    name: str,
    *,
    duration_s: float | None = None,
    call_id: str | None = None,
    pricing: Mapping[str, Any] | None = None,
    agent: str | None = None,
    caller: str | None = None,
    error: BaseException | None = None,
    error_type: str | None = None,
    outcome: Outcome | None = None,
    bus: EventBus | None = None,
) -> ToolCall:
    """Record a tool call that already happened; like :func:`record_llm_call`."""
    call = ToolCall(name, call_id=call_id, bus=bus)
    if agent is not None:
        call.agent = agent
    if caller is not None:
        call.caller = caller
    call.pricing = pricing
    _backdate(call, duration_s)
    call.begin()
    call.end(error, outcome=outcome, error_type=error_type)
    return call
