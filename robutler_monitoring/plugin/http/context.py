"""Per-request context shared by the middleware, the log sink and the metrics.

The monitoring middleware sets these at the start of each request; anything
that runs inside the request (app code, agents, tools, stdlib loggers) reads
them. ContextVars keep them right under concurrent requests and streaming.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("robutler_request_id", default=None)
agent_var: ContextVar[str | None] = ContextVar("robutler_agent", default=None)

REQUEST_ID_HEADER = "x-request-id"
_MAX_REQUEST_ID = 128
_SAFE_REQUEST_ID = re.compile(rf"^[A-Za-z0-9._:\-]{{1,{_MAX_REQUEST_ID}}}$")


def sanitize_request_id(value: str | bytes | None) -> str | None:
    """Return an incoming request id when it is sane (bounded length, safe characters), else None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    return value if _SAFE_REQUEST_ID.match(value) else None


class _RequestIds:
    """Unique ids without a system call per request: a random per-process prefix and a counter."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)  # a forked worker must not repeat ids

    def reseed(self) -> None:
        self.prefix = secrets.token_hex(8)
        self.counter = itertools.count(secrets.randbits(32))

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFFFFFF:016x}"


_ids = _RequestIds()


def new_request_id() -> str:
    """A fresh request id, unique across processes and restarts (32 hex characters)."""
    return _ids.next()
