"""The access log: one record per finished request, written by the monitoring middleware.

Replaces uvicorn's access log. The record is built and queued directly by the sink
(no loguru record, no frame inspection), which keeps its cost per request low.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..context import RequestRecord
from .sink import LogSink

ACCESS_LOGGER = "robutler.access"


class AccessLogger:
    """A request listener writing ``GET /agents 200`` lines with the request's fields.

    >>> # listener = AccessLogger(sink, skip_paths=("/health", "/metrics"))
    >>> # listener(record)  # called by the middleware after each request
    """

    __slots__ = ("sink", "skip_paths")

    def __init__(self, sink: LogSink, skip_paths: Iterable[str] = ()) -> None:
        self.sink = sink
        self.skip_paths = frozenset(skip_paths)

    def __call__(self, record: RequestRecord) -> None:
        """Write the access line for ``record`` unless its path is skipped."""
        if record.path in self.skip_paths:
            return
        fields = {
            "method": record.method,
            "path": record.path,
            "route": record.route,
            "status": record.status,
            "duration_ms": round(record.duration_s * 1000, 3),
            "ttfb_ms": None if record.ttfb_s is None else round(record.ttfb_s * 1000, 3),
            "client": record.client,
        }
        if record.error is not None:
            fields["error"] = type(record.error).__name__
        level = "ERROR" if record.status >= 500 else "INFO"
        message = f"{record.method} {record.path} {record.status}"
        self.sink.emit(level, ACCESS_LOGGER, message, fields, request_id=record.request_id)
