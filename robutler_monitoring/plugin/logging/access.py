"""The access log: one record per finished request, from the end of each ``HttpRequest``.

Replaces uvicorn's access log. In JSON format the line has the same keys, order and
masking as every other line (``entry.py``), built in one format call: no loguru record,
no frame inspection, no intermediate dict. The parts that only depend on method,
path, route, status and outcome are masked and quoted once and cached. The request
path only queues the line's values; the writer thread formats them in batches (the
date and time to the second once a second, the rest with one ``%`` call).
"""

from __future__ import annotations

from collections.abc import Iterable
from json.encoder import encode_basestring_ascii as _quote
from time import time as _time
from typing import Any

from ...events import HttpRequest, Operation
from ...events import current_operation as _current_operation
from ..http.context import request_id_var
from ..secrets import scrub_text
from . import trace_ids as _trace_ids
from .entry import MILLIS, utc_second
from .sink import LEVEL_NUMBERS, LogSink

ACCESS_LOGGER = "robutler.access"
_INFO = LEVEL_NUMBERS["INFO"]
_ERROR = LEVEL_NUMBERS["ERROR"]
#: distinct (method, path, route, status, outcome) whose fixed line parts are kept
_MAX_CACHED = 4096

_Key = tuple[str, str, str | None, int, str | None]
_NO_PEER = object()
_request_id_get = request_id_var.get
_NO_IDS = (None, None)
#: the line: the start up to the timestamp's second, its milliseconds, fixed parts, context,
#: fixed fields, then duration and time to first byte (one ``%`` call formats both numbers),
#: then the client (and the error, when there is one)
_LINE = '%s%s%s%s%s,"duration_ms":%.3f,"ttfb_ms":%.3f,"client":%s}\n'
_LINE_NO_TTFB = _LINE.replace('"ttfb_ms":%.3f', '"ttfb_ms":null')


class AccessLogger:
    """Subscriber to the end of ``HttpRequest`` operations: ``GET /agents 200`` lines with their fields.

    The line is at ERROR when the request failed: a 5xx, or an ``outcome`` of ``error``
    (a stream that failed after its 200 status line).

    In JSON format the request path only notes the line's values (one tuple, queued in
    order with every other line); the writer thread formats the lines of a batch one
    after another, where the code and data stay in the CPU's caches (see
    :meth:`render`). Under a real server that costs a third of formatting each line
    between two requests.

    >>> # rt.subscribe("http", on_end=AccessLogger(sink, skip_paths=("/health", "/metrics")))
    """

    __slots__ = ("_client", "_parts", "_second", "_tag", "_write", "sink", "skip_paths")

    def __init__(self, sink: LogSink, skip_paths: Iterable[str] = ()) -> None:
        self.sink = sink
        self.skip_paths = frozenset(skip_paths)
        self._write = sink.writer.write if sink.json else None
        self._tag = sink.writer.renderer(self.render) if sink.json else -1
        #: the line's fixed parts per key, masked and quoted once: (head, fields); writer thread only
        self._parts: dict[_Key, tuple[str, str]] = {}
        #: the last peer and its quoted ``client`` value (writer thread only), swapped as one
        self._client: tuple[object, str] = (_NO_PEER, "null")
        #: the current second and the line's start up to it (writer thread only)
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, record: Operation) -> None:
        """Queue the access line for ``record`` unless its path is skipped or its level is off."""
        path = record.path  # type: ignore[attr-defined]  # an HttpRequest: the bus calls this for "http" only
        if path in self.skip_paths:
            return
        status = record.status  # type: ignore[attr-defined]
        outcome = record.outcome
        error_line = status >= 500 or outcome == "error"
        if (_ERROR if error_line else _INFO) < self.sink.min_levelno:
            return
        write = self._write
        if write is None:
            assert isinstance(record, HttpRequest)
            self._emit_entry(record, error_line)
            return
        # what the context says now, in the request's own context: the keys build_entry finds
        # (the wrapper's requests carry their id and mostly no agent: look up only what is missing)
        rid = record.request_id
        agent = record.agent
        if not rid or not agent:
            op = _current_operation()
            if not rid:
                rid = _request_id_get()
                if rid is None and op is not None:
                    rid = op.request_id
            if not agent:
                agent = op.agent if op is not None else None  # the route's, else the run's
        exc = record.error
        write(
            (  # a deferred line of plain values: the writer thread calls render(item)
                self._tag,
                _time(),
                record.method,  # type: ignore[attr-defined]
                path,
                record.route,  # type: ignore[attr-defined]
                status,
                outcome,
                rid,
                # the trace ids: one global read while tracing is off
                _NO_IDS if _trace_ids.source is None else _trace_ids.current_trace_ids(),
                agent,
                record.duration_s,
                record.ttfb_s,  # type: ignore[attr-defined]
                record.peer,  # type: ignore[attr-defined]
                type(exc).__name__ if exc is not None else record.inner_error,  # type: ignore[attr-defined]
            )
        )

    def render(self, item: tuple[Any, ...]) -> str:
        """The JSON line of a queued item (the writer thread calls this, in queue order)."""
        _, ts, method, path, route, status, outcome, rid, ids, agent, duration, ttfb, peer, error = item
        parts = self._parts.get((method, path, route, status, outcome))
        if parts is None:
            parts = self._fixed_parts((method, path, route, status, outcome))
        sec = int(ts)
        second, stamp = self._second
        if sec != second:  # the date and time to the second, formatted once a second
            stamp = '{"timestamp":"' + utc_second(sec)
            self._second = (sec, stamp)
        last, client = self._client
        if peer is not last:  # one tuple per connection: keep-alive requests reuse it
            client = "null" if not peer else _quote(f"{peer[0]}:{peer[1]}")
            self._client = (peer, client)
        context = "" if rid is None else ',"request_id":' + _quote(rid)
        if ids[0] is not None:
            context += f',"trace_id":"{ids[0]}","span_id":"{ids[1]}"'
        if agent is not None:
            context += ',"agent":' + _quote(agent)
        tail = client if error is None else client + ',"error":' + _quote(error)
        if ttfb is None:  # no first byte: one number less
            return _LINE_NO_TTFB % (
                stamp,
                MILLIS[int((ts - sec) * 1000)],
                parts[0],
                context,
                parts[1],
                (duration or 0.0) * 1000,
                tail,
            )
        return _LINE % (
            stamp,
            MILLIS[int((ts - sec) * 1000)],
            parts[0],
            context,
            parts[1],
            (duration or 0.0) * 1000,
            ttfb * 1000,
            tail,
        )

    def _fixed_parts(self, key: _Key) -> tuple[str, str]:
        method, path, route, status, outcome = key
        method, path = scrub_text(method), scrub_text(path)
        error_line = status >= 500 or outcome == "error"
        head = (
            f'","level":"{"ERROR" if error_line else "INFO"}","logger":"{ACCESS_LOGGER}"'
            f',"message":{_quote(f"{method} {path} {status}")}'
        )
        fields = (
            f',"method":{_quote(method)},"path":{_quote(path)}'
            f',"route":{"null" if route is None else _quote(route)},"status":{status}'
            f',"outcome":{"null" if outcome is None else _quote(outcome)}'
        )
        if len(self._parts) >= _MAX_CACHED:
            self._parts.clear()  # a path scan: start over rather than grow
        parts = (head, fields)
        self._parts[key] = parts
        return parts

    def _emit_entry(self, record: HttpRequest, error_line: bool) -> None:
        # console format: the generic path (people read it; it need not be fast)
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
        error = _error_name(record)
        if error is not None:
            fields["error"] = error
        level = "ERROR" if error_line else "INFO"
        message = f"{record.method} {record.path} {record.status}"
        self.sink.emit(level, ACCESS_LOGGER, message, fields, request_id=record.request_id)


def _error_name(record: HttpRequest) -> str | None:
    if record.error is not None:
        return type(record.error).__name__
    return record.inner_error
