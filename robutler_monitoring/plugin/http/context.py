"""Per-request context shared by the middleware, the log sink and the metrics.

The request id of the running request is its operation's (``current_operation()``,
set by the monitoring middleware for each request, inherited by the agent runs and
tool calls inside it): :func:`current_request_id` reads it. ``request_id_var`` is for
code outside any request that wants its log lines to carry an id of its own; it wins
over the operation's. ContextVars keep both right under concurrent requests and streaming.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from contextvars import ContextVar

from ...events import current_operation

request_id_var: ContextVar[str | None] = ContextVar("robutler_request_id", default=None)
agent_var: ContextVar[str | None] = ContextVar("robutler_agent", default=None)

REQUEST_ID_HEADER = "x-request-id"


def current_request_id() -> str | None:
    """The request id of this context: ``request_id_var`` if set, else the current operation's."""
    rid = request_id_var.get()
    if rid is None:
        op = current_operation()
        if op is not None:
            rid = op.request_id
    return rid


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
    """Unique ids without a system call per request: a random per-process prefix and a counter.

    Made :data:`_BATCH` at a time (one loop, warm in the CPU's caches) and handed out one
    by one: under a real server that is a list ``pop`` per request instead of a format call.
    """

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)  # a forked worker must not repeat ids

    def reseed(self) -> None:
        self.prefix = secrets.token_hex(8)
        #: the first counter value of each batch (``next`` is atomic: threads get distinct batches)
        self.batches = itertools.count(secrets.randbits(32), _BATCH)
        self.pool: list[str] = []

    def next(self) -> str:
        try:
            return self.pool.pop()
        except IndexError:
            first = next(self.batches)
            prefix = self.prefix
            batch = [f"{prefix}{(first + i) & 0xFFFFFFFFFFFFFFFF:016x}" for i in range(_BATCH - 1, -1, -1)]
            rid = batch.pop()
            self.pool = batch
            return rid


#: ids made at a time
_BATCH = 256
_ids = _RequestIds()


def new_request_id() -> str:
    """A fresh request id, unique across processes and restarts (32 hex characters)."""
    return _ids.next()
