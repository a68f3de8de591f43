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

The HTTP wrapper keeps each request's scope on its operation (``HttpRequest.scope``; the
scope's ``user`` is set later, by middleware inside the app); :func:`caller_of` reads it
when the writer thread builds the record, so the request path pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...events import HttpRequest, Operation
from ...host.types import Scope

__all__ = ["MAX_CALLER", "caller_of", "caller_of_scope", "header_key"]

#: longer caller values are cut (they come from outside)
MAX_CALLER = 256
_USER_KEYS = ("id", "sub", "user_id", "username")


def header_key(header: str | None) -> bytes | None:
    """``usage.caller_header`` as ASGI header names are: lower-case bytes."""
    return header.lower().encode("latin-1") if header else None


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


def caller_of(op: Operation, header: bytes | None = None) -> str | None:
    """The caller of a finished LLM or tool call: its own, else its request's (writer thread).

    Read when the record is built, off the request path, from the scope the HTTP wrapper
    kept on the request's operation and ``header`` (:func:`header_key`).
    """
    if op.caller is not None:
        return op.caller
    outer = op.parent
    while outer is not None:
        if isinstance(outer, HttpRequest):
            return None if outer.scope is None else caller_of_scope(outer.scope, header)
        outer = outer.parent
    return None
