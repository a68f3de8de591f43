"""The trace and span ids of the current operation, for log lines, when tracing runs.

Tracing (``plugin/tracing``) installs the function that finds them with
:func:`set_trace_ids_source`; until it does, this costs one global read and no
OpenTelemetry import (tracing is the only package that imports OpenTelemetry).
"""

from __future__ import annotations

from collections.abc import Callable

TraceIdsSource = Callable[[], tuple[str | None, str | None]]

_NONE: tuple[None, None] = (None, None)
_source: TraceIdsSource | None = None


def set_trace_ids_source(source: TraceIdsSource | None) -> TraceIdsSource | None:
    """Install (or, with None, remove) the function that returns the current ids; returns the previous."""
    global _source
    previous, _source = _source, source
    return previous


def current_trace_ids() -> tuple[str | None, str | None]:
    """``(trace_id, span_id)`` as hex strings of the current sampled span, or ``(None, None)``."""
    source = _source
    return _NONE if source is None else source()


def warm_up() -> None:
    """Nothing to load any more; kept for the logging set-up that calls it."""
