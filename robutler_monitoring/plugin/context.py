"""Per-request context shared by the middleware, the log sink and the metrics.

The monitoring middleware sets these at the start of each request; anything
that runs inside the request (app code, agents, tools, stdlib loggers) reads
them. ContextVars keep them right under concurrent requests and streaming.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

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


def new_request_id() -> str:
    """A fresh, unguessable request id (32 hex characters)."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What the monitoring middleware knows about one finished HTTP request.

    Handed to every request listener (the access log, later alerting) once the
    response has ended, errored, or the client went away.
    """

    method: str
    path: str
    route: str  #: route template, or the bounded value for unmatched paths
    status: int  #: 500 for an app exception, 499 for a client that went away
    duration_s: float  #: whole response, including a full stream
    ttfb_s: float | None  #: time to the first response byte, None if none was sent
    client: str | None  #: "host:port" of the peer, when known
    request_id: str
    error: BaseException | None = None  #: the exception the app raised, if any
