"""The access log: one record per finished request, written by the monitoring middleware.

Replaces uvicorn's access log. The record is built and queued directly by the sink
(no loguru record, no frame inspection), which keeps its cost per request low.
"""

from __future__ import annotations

from collections.abc import Iterable

from ...events import HttpRequest, Operation
from .sink import LogSink

ACCESS_LOGGER = "robutler.access"


class AccessLogger:
    """Subscriber to the end of ``HttpRequest`` operations: ``GET /agents 200`` lines with their fields.

    The line is at ERROR when the request failed: a 5xx, or an ``outcome`` of ``error``
    (a stream that failed after its 200 status line).
    """

    __slots__ = ("sink", "skip_paths")

    def __init__(self, sink: LogSink, skip_paths: Iterable[str] = ()) -> None:
        self.sink = sink
        self.skip_paths = frozenset(skip_paths)

    def __call__(self, record: Operation) -> None:
        assert isinstance(record, HttpRequest)
        """Write the access line for ``record`` unless its path is skipped."""
        if record.path in self.skip_paths:
            return
        fields = {
            "method": record.method,
            "path": record.path,
            "route": record.route,
            "status": record.status,
            "outcome": record.outcome,
            "duration_ms": round((record.duration_s or 0.0) * 1000, 3),
            "ttfb_ms": None if record.ttfb_s is None else round(record.ttfb_s * 1000, 3),
            "client": record.client,
        }
        if record.error is not None:
            fields["error"] = type(record.error).__name__
        if record.error is None and record.inner_error is not None:
            fields["error"] = record.inner_error
        level = "ERROR" if record.status >= 500 or record.outcome == "error" else "INFO"
        message = f"{record.method} {record.path} {record.status}"
        self.sink.emit(level, ACCESS_LOGGER, message, fields, request_id=record.request_id)
