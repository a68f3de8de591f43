"""``performance_monitor`` (agents) and ``track_skill_performance`` (skills).

Both work bare (``@performance_monitor``) or with arguments, on sync functions,
coroutines, generators and async generators; a stream counts until it ends. A failure
is counted as ``status="error"`` and re-raised; a stream the consumer abandons is
``status="cancelled"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar, overload

from prometheus_client import CollectorRegistry, Counter, Histogram

from ..context import agent_var
from .errors import ErrorMetrics
from .http import DURATION_BUCKETS
from .registry import default_registry, instruments_for

F = TypeVar("F", bound=Callable[..., Any])


class AgentMetrics:
    """Agent and skill metrics of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.agent_runs = Counter(
            "robutler_agent_executions",
            "Agent executions by agent and status.",
            ("agent", "status"),
            registry=registry,
        )
        self.agent_duration = Histogram(
            "robutler_agent_execution_duration_seconds",
            "Agent execution time, a full stream included.",
            ("agent",),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.skill_calls = Counter(
            "robutler_skill_calls",
            "Skill calls by skill, operation and status.",
            ("skill", "operation", "status"),
            registry=registry,
        )
        self.skill_duration = Histogram(
            "robutler_skill_duration_seconds",
            "Skill call time.",
            ("skill", "operation"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.errors = instruments_for(registry, ErrorMetrics)


def _owner_class(func: Callable[..., Any]) -> str | None:
    """The qualified name of the class ``func`` is defined in, None for a plain function."""
    owner, _, _ = func.__qualname__.rpartition(".")
    return owner if owner and not owner.endswith("<locals>") else None


def _owner_name(args: tuple[Any, ...], spec: _Spec) -> str:
    """``self.name`` for a method called on its class's instance, else the class or function name.

    Only a method's first argument is ``self``: on a plain function (``read_file(path)``)
    or a static method it is user data, and its ``.name`` would be an unbounded label.
    """
    if spec.owner is None:
        return spec.func.__name__
    if args:
        first = args[0]
        klass = first if isinstance(first, type) else type(first)
        if any(c.__qualname__ == spec.owner and c.__module__ == spec.module for c in klass.__mro__):
            name = getattr(first, "name", None)
            if isinstance(name, str) and name:
                return name
    return spec.owner.rpartition(".")[2]


class _Call:
    """One measured call: start time, labels, and how to record its end."""

    __slots__ = ("kind", "label", "metrics", "op", "start", "token")

    def __init__(self, spec: _Spec, args: tuple[Any, ...]) -> None:
        self.kind = spec.kind
        self.op = spec.operation
        self.label = spec.name or _owner_name(args, spec)
        self.metrics = instruments_for(spec.registry or default_registry(), AgentMetrics)
        # Agent calls publish the agent name so logs and nested skills can see it.
        self.token = agent_var.set(self.label) if self.kind == "agent" else None
        self.start = time.perf_counter()

    def end(self, exc: BaseException | None) -> None:
        elapsed = time.perf_counter() - self.start
        if self.token is not None:
            with contextlib.suppress(ValueError):  # a generator finished in another context
                agent_var.reset(self.token)
            self.token = None
        status = "success" if exc is None else _status(exc)
        m = self.metrics
        if self.kind == "agent":
            m.agent_runs.labels(self.label, status).inc()
            m.agent_duration.labels(self.label).observe(elapsed)
        else:
            m.skill_calls.labels(self.label, self.op, status).inc()
            m.skill_duration.labels(self.label, self.op).observe(elapsed)
        if status == "error":
            m.errors.count(exc, self.kind)  # type: ignore[arg-type]


class _Spec:
    __slots__ = ("func", "kind", "module", "name", "operation", "owner", "registry")

    def __init__(
        self,
        func: Callable[..., Any],
        kind: str,
        name: str | None,
        operation: str | None,
        registry: CollectorRegistry | None,
    ) -> None:
        self.func, self.kind, self.name, self.registry = func, kind, name, registry
        self.operation = operation or func.__name__
        self.owner = _owner_class(func)
        self.module = func.__module__


def _status(exc: BaseException) -> str:
    cancelled = isinstance(exc, GeneratorExit | asyncio.CancelledError | KeyboardInterrupt)
    return "cancelled" if cancelled else "error"


def _instrument(func: F, spec: _Spec) -> F:
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def _agen(*args: Any, **kwargs: Any) -> Any:
            call = _Call(spec, args)
            try:
                async for item in func(*args, **kwargs):
                    yield item
            except BaseException as exc:
                call.end(exc)
                raise
            call.end(None)

        return _agen  # type: ignore[return-value]

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def _gen(*args: Any, **kwargs: Any) -> Any:
            call = _Call(spec, args)
            try:
                yield from func(*args, **kwargs)
            except BaseException as exc:
                call.end(exc)
                raise
            call.end(None)

        return _gen  # type: ignore[return-value]

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def _coro(*args: Any, **kwargs: Any) -> Any:
            call = _Call(spec, args)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                call.end(exc)
                raise
            call.end(None)
            return result

        return _coro  # type: ignore[return-value]

    @functools.wraps(func)
    def _sync(*args: Any, **kwargs: Any) -> Any:
        call = _Call(spec, args)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            call.end(exc)
            raise
        call.end(None)
        return result

    return _sync  # type: ignore[return-value]


class _Decorator:
    """A decorator usable bare (``@deco``) or with arguments (``@deco(name=...)``)."""

    def __init__(self, kind: str, doc: str) -> None:
        self._kind = kind
        self.__doc__ = doc

    @overload
    def __call__(self, func: F, /) -> F: ...
    @overload
    def __call__(
        self,
        /,
        *,
        name: str | None = ...,
        operation: str | None = ...,
        registry: CollectorRegistry | None = ...,
    ) -> Callable[[F], F]: ...

    def __call__(
        self,
        func: Any = None,
        /,
        *,
        name: str | None = None,
        operation: str | None = None,
        registry: CollectorRegistry | None = None,
    ) -> Any:
        kind = self._kind
        if func is not None:
            return _instrument(func, _Spec(func, kind, name, operation, registry))
        return lambda f: _instrument(f, _Spec(f, kind, name, operation, registry))


performance_monitor = _Decorator(
    "agent",
    "Count and time an agent method: ``robutler_agent_executions_total{agent,status}``. "
    "The agent label is ``self.name``, or ``name=``.",
)
track_skill_performance = _Decorator(
    "skill",
    "Count and time a skill method: ``robutler_skill_calls_total{skill,operation,status}``. "
    "The skill label is ``self.name`` (or ``name=``), the operation the method name "
    "(or ``operation=``).",
)
