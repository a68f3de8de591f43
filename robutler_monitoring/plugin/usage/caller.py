"""Who a usage record is for: the ``caller`` field (a user or peer id; never a metric label).

In order, the first that is known when the LLM or tool call ends:

1. the operation's own ``caller``: set by the Robutler SDK integration from the SDK's
   ``context.auth.user_id`` (what its auth skill verified), or by an app through
   ``record_llm_call(..., caller=...)``, or inherited from an enclosing operation;
2. the ASGI scope's ``user``, when an authentication middleware set one (Starlette's
   ``AuthenticationMiddleware``: ``identity``, else ``display_name``; a plain string or
   a mapping's ``id``/``sub``/``user_id``/``username`` too); unauthenticated users are none;
3. the request header named by ``monitoring.usage.caller_header`` (e.g. ``x-user-id``),
   as the client or a gateway in front sent it.

:class:`CallerScope` keeps each request's scope on its operation (the scope's ``user``
is set by middleware inside the app, after this wrapper ran); :func:`caller_of` reads
it when the writer thread builds the record, so the request path pays only the wrapper.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...events import Operation, current_operation
from ...host.types import ASGIApp, Receive, Scope, Send

__all__ = ["MAX_CALLER", "SCOPE_KEY", "CallerScope", "caller_of", "caller_of_scope"]

#: ``op.state`` key of (the request's ASGI scope, the header to read), on its HTTP request's operation
SCOPE_KEY = "usage.scope"
#: longer caller values are cut (they come from outside)
MAX_CALLER = 256
_USER_KEYS = ("id", "sub", "user_id", "username")


class CallerScope:
    """ASGI: keep each HTTP request's scope (and the header to read) on its operation."""

    def __init__(self, app: ASGIApp, header: str | None = None) -> None:
        self.app = app
        self._header = header.lower().encode("latin-1") if header else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        op = current_operation()
        if op is not None:
            op.state[SCOPE_KEY] = (scope, self._header)
        await self.app(scope, receive, send)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:MAX_CALLER] or None


def _user_identity(user: Any) -> str | None:
    if isinstance(user, str):
        return _text(user)
    if isinstance(user, Mapping):
        return next((_text(user[k]) for k in _USER_KEYS if user.get(k)), None)
    try:
        if not getattr(user, "is_authenticated", True):
            return None
    except NotImplementedError:
        pass
    for attr in ("identity", "display_name", "username", "id"):
        try:
            found = _text(getattr(user, attr, None))
        except NotImplementedError:  # Starlette's BaseUser leaves identity to subclasses
            continue
        if found:
            return found
    return None


def caller_of_scope(scope: Scope, header: bytes | None = None) -> str | None:
    """The caller an ASGI scope names: its ``user``, else the ``header`` (lower-case bytes).

    >>> caller_of_scope({"headers": [(b"x-user-id", b"u-42")]}, b"x-user-id")
    'u-42'
    >>> caller_of_scope({"user": {"sub": "alice"}, "headers": [(b"x-user-id", b"u-42")]}, b"x-user-id")
    'alice'
    """
    user = scope.get("user")
    if user is not None:
        found = _user_identity(user)
        if found is not None:
            return found
    if header is not None:
        for name, value in scope.get("headers") or ():
            if name.lower() == header:
                return _text(value.decode("latin-1"))
    return None


def caller_of(op: Operation) -> str | None:
    """The caller of a finished LLM or tool call: its own, else its request's (writer thread).

    Read when the record is built, off the request path: the request's scope and the
    configured header were kept on its operation by :class:`CallerScope`.
    """
    if op.caller is not None:
        return op.caller
    outer = op.parent
    while outer is not None:
        kept = outer.state.get(SCOPE_KEY)
        if kept is not None:
            scope, header = kept
            return caller_of_scope(scope, header)
        outer = outer.parent
    return None
