"""The access log: one record per finished request, written by the monitoring middleware.

Replaces uvicorn's access log. In JSON format the line is built here, in one
f-string with the same keys, order and masking as every other line (``entry.py``):
no loguru record, no frame inspection, no intermediate dict. The only per-request
work besides that is a deque append; the writer thread takes lines in batches.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from json.encoder import encode_basestring_ascii as _quote

from ..context import RequestRecord, agent_var
from ..secrets import scrub_text
from .entry import iso_utc
from .sink import LEVEL_NUMBERS, LogSink
from .trace_ids import current_trace_ids

ACCESS_LOGGER = "robutler.access"
_INFO = LEVEL_NUMBERS["INFO"]
_ERROR = LEVEL_NUMBERS["ERROR"]
#: distinct (method, path, route, status) whose fixed line parts are kept
_MAX_CACHED = 4096


class AccessLogger:
    """A request listener writing ``GET /agents 200`` lines with the request's fields.

    >>> # listener = AccessLogger(sink, skip_paths=("/health", "/metrics"))
    >>> # listener(record)  # called by the middleware after each request
    """

    __slots__ = ("_parts", "_write", "sink", "skip_paths")

    def __init__(self, sink: LogSink, skip_paths: Iterable[str] = ()) -> None:
        self.sink = sink
        self.skip_paths = frozenset(skip_paths)
        self._write = sink.writer.write if sink.json else None
        #: (method, path, route, status) -> the line's fixed parts, masked and quoted once
        self._parts: dict[tuple[str, str, str, int], tuple[str, str]] = {}

    def __call__(self, record: RequestRecord) -> None:
        """Write the access line for ``record`` unless its path is skipped."""
        if record.path in self.skip_paths:
            return
        status = record.status
        if (_ERROR if status >= 500 else _INFO) < self.sink.min_levelno:
            return
        if self._write is None:
            self._emit_entry(record)
            return
        key = (record.method, record.path, record.route, status)
        parts = self._parts.get(key)
        if parts is None:
            parts = self._fixed_parts(key)
        head, fields = parts
        rid = record.request_id
        context = "" if rid is None else ',"request_id":' + _quote(rid)
        trace_id, span_id = current_trace_ids()
        if trace_id is not None:
            context += f',"trace_id":"{trace_id}","span_id":"{span_id}"'
        agent = agent_var.get()
        if agent is not None:
            context += ',"agent":' + _quote(agent)
        ttfb = record.ttfb_s
        client = record.client
        error = record.error
        tail = "}\n" if error is None else ',"error":' + _quote(type(error).__name__) + "}\n"
        self._write(
            f'{{"timestamp":"{iso_utc(time.time())}{head}{context}{fields}'
            f',"duration_ms":{record.duration_s * 1000:.3f}'
            f',"ttfb_ms":{"null" if ttfb is None else f"{ttfb * 1000:.3f}"}'
            f',"client":{"null" if client is None else _quote(client)}{tail}'
        )

    def _fixed_parts(self, key: tuple[str, str, str, int]) -> tuple[str, str]:
        method, path, route, status = key
        method, path = scrub_text(method), scrub_text(path)
        level = "ERROR" if status >= 500 else "INFO"
        head = (
            f'","level":"{level}","logger":"{ACCESS_LOGGER}","message":{_quote(f"{method} {path} {status}")}'
        )
        fields = f',"method":{_quote(method)},"path":{_quote(path)},"route":{_quote(route)},"status":{status}'
        if len(self._parts) >= _MAX_CACHED:
            self._parts.clear()  # a path scan: start over rather than grow
        self._parts[key] = (head, fields)
        return head, fields

    def _emit_entry(self, record: RequestRecord) -> None:
        # console format: the generic path (people read it; it need not be fast)
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
