"""``performance_monitor`` (agents) and ``track_skill_performance`` (skills).

Both work bare (``@performance_monitor``) or with arguments, on sync functions,
coroutines, generators and async generators; a stream runs until it ends. Each call is
an operation on the event bus (:class:`~robutler_monitoring.events.AgentRun`,
:class:`~robutler_monitoring.events.SkillCall`): the monitoring plugin counts it
(``robutler_agent_executions_total{agent,status}``), logs written inside it carry the
agent, and with the plugin disabled it costs next to nothing. A failure ends as
``status="error"`` and is re-raised; a stream the consumer abandons is ``"cancelled"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from ..events import AgentRun, EventBus, SkillCall
from .wrapping import Scope, wrap_calls

F = TypeVar("F", bound=Callable[..., Any])


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


class _Spec:
    __slots__ = ("bus", "func", "kind", "module", "name", "operation", "owner")

    def __init__(
        self,
        func: Callable[..., Any],
        kind: str,
        name: str | None,
        operation: str | None,
        bus: EventBus | None,
    ) -> None:
        self.func, self.kind, self.name, self.bus = func, kind, name, bus
        self.operation = operation or func.__name__
        self.owner = _owner_class(func)
        self.module = func.__module__

    def open(self, args: tuple[Any, ...]) -> Scope:
        """The operation of one call, begun."""
        label = self.name or _owner_name(args, self)
        if self.kind == "agent":
            return AgentRun(label, bus=self.bus).begin()
        return SkillCall(label, self.operation, bus=self.bus).begin()


def _instrument(func: F, spec: _Spec) -> F:
    return wrap_calls(func, spec.open)


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
        bus: EventBus | None = ...,
    ) -> Callable[[F], F]: ...

    def __call__(
        self,
        func: Any = None,
        /,
        *,
        name: str | None = None,
        operation: str | None = None,
        bus: EventBus | None = None,
    ) -> Any:
        kind = self._kind
        if func is not None:
            return _instrument(func, _Spec(func, kind, name, operation, bus))
        return lambda f: _instrument(f, _Spec(f, kind, name, operation, bus))


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
