"""The current OpenTelemetry trace and span ids, when OpenTelemetry is installed and a span records.

The only module of the logging package that imports ``opentelemetry``; it does so
lazily, once, so that logging works (and stays cheap) without it.
"""

from __future__ import annotations

from typing import Any

_UNSET: Any = object()
_trace: Any = _UNSET


def _load() -> Any:
    global _trace
    try:
        from opentelemetry import trace
    except ImportError:  # tracing is an optional extra
        _trace = None
    else:
        _trace = trace
    return _trace


def current_trace_ids() -> tuple[str | None, str | None]:
    """``(trace_id, span_id)`` as hex strings of the recording span, or ``(None, None)``."""
    trace = _trace if _trace is not _UNSET else _load()
    if trace is None:
        return None, None
    span = trace.get_current_span()
    if not span.is_recording():
        return None, None
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def warm_up() -> None:
    """Do the import now rather than inside the first request."""
    if _trace is _UNSET:
        _load()
