"""The trace and span ids of the current operation, for log lines, when tracing runs.

Tracing (``plugin/tracing``) installs the function that finds them with
:func:`set_trace_ids_source`; until it does, this costs one global read and no
OpenTelemetry import (tracing is the only package that imports OpenTelemetry).
"""

from __future__ import annotations

from collections.abc import Callable

TraceIdsSource = Callable[[], tuple[str | None, str | None]]

_NONE: tuple[None, None] = (None, None)
#: the installed function, or None while tracing is off; hot paths may read it directly
#: (``trace_ids.source is None``) to skip the call
source: TraceIdsSource | None = None


def set_trace_ids_source(new: TraceIdsSource | None) -> TraceIdsSource | None:
    """Install (or, with None, remove) the function that returns the current ids; returns the previous."""
    global source
    previous, source = source, new
    return previous


def current_trace_ids() -> tuple[str | None, str | None]:
    """``(trace_id, span_id)`` as hex strings of the current sampled span, or ``(None, None)``."""
    installed = source
    return _NONE if installed is None else installed()


def warm_up() -> None:
    """Nothing to load any more; kept for the logging set-up that calls it."""
