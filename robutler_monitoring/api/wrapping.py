"""The one helper that wraps a function, coroutine, generator or async generator in a scope.

Used by the agent and skill decorators and by ``metrics.timer``: each call opens a
scope and ends it once, with the exception that ended the work (or None). A generator's
work happens while it is iterated, so its scope runs from the call to exhaustion, close
or error; a consumer that stops an async generator early closes the inner one at once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Scope(Protocol):
    """What one call is wrapped in: ended exactly once."""

    def end(self, error: BaseException | None = None) -> None: ...


#: Opens the scope of one call, given the call's positional arguments.
Opener = Callable[[tuple[Any, ...]], Scope]


def wrap_calls(func: F, open_scope: Opener) -> F:
    """``func`` with every call inside ``open_scope(args)``, whatever kind of callable it is.

    >>> ended = []
    >>> class Printed:
    ...     def end(self, error=None):
    ...         ended.append(error)
    >>> double = wrap_calls(lambda x: 2 * x, lambda args: Printed())
    >>> double(21), ended
    (42, [None])
    """
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def _agen(*args: Any, **kwargs: Any) -> Any:
            scope = open_scope(args)
            inner = func(*args, **kwargs)
            try:
                async for item in inner:
                    yield item
            except BaseException as exc:
                scope.end(exc)
                raise
            finally:
                await inner.aclose()  # a consumer that stopped early stops the inner one now
            scope.end(None)

        return _agen  # type: ignore[return-value]

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def _gen(*args: Any, **kwargs: Any) -> Any:
            scope = open_scope(args)
            try:
                result = yield from func(*args, **kwargs)
            except BaseException as exc:
                scope.end(exc)
                raise
            scope.end(None)
            return result

        return _gen  # type: ignore[return-value]

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def _coro(*args: Any, **kwargs: Any) -> Any:
            scope = open_scope(args)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                scope.end(exc)
                raise
            scope.end(None)
            return result

        return _coro  # type: ignore[return-value]

    @functools.wraps(func)
    def _sync(*args: Any, **kwargs: Any) -> Any:
        scope = open_scope(args)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            scope.end(exc)
            raise
        scope.end(None)
        return result

    return _sync  # type: ignore[return-value]
