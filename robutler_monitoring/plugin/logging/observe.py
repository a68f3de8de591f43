"""What the logging itself reports: lines it lost (a metric) and a health check.

Kept to two small entry points, :func:`count_drops` and :func:`output_check`, that
the plugin's metrics and health wiring call; the writer knows nothing of either.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from ..metrics.registry import instruments_for
from .writer import DROP_REASONS, LineWriter

#: a drop this recent makes the ``logging:output`` health check warn (seconds)
WARN_WINDOW_S = 300.0
HEALTH_CHECK = "logging:output"


class LogDropMetrics:
    """``robutler_log_lines_dropped_total{reason}`` of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.dropped = Counter(
            "robutler_log_lines_dropped_total",
            "Log lines lost, by reason: queue_full (the writer fell behind), broken_pipe "
            "(nobody reads the output), no_space (disk full), output_error (any other write error), "
            "format_error (a line could not be formatted).",
            ["reason"],
            registry=registry,
        )
        for reason in DROP_REASONS:  # every reason visible from the start, at 0
            self.dropped.labels(reason)


def count_drops(writer: LineWriter, registry: CollectorRegistry) -> None:
    """Count ``writer``'s dropped lines (so far and from now on) in ``registry``."""
    metrics = instruments_for(registry, LogDropMetrics)
    writer.on_drop(lambda reason, count: metrics.dropped.labels(reason).inc(count))


def output_check(writer: LineWriter, window: float = WARN_WINDOW_S) -> Any:
    """A ``/health/detailed`` check: warn while lines were dropped in the last ``window`` seconds."""

    def check() -> dict[str, Any]:
        drops = writer.drops()
        total = sum(drops.values())
        last = writer.last_drop()
        if last is None or time.monotonic() - last[0] > window:
            return {"status": "pass", "observedValue": total}
        counts = ", ".join(f"{reason}: {n}" for reason, n in drops.items() if n)
        ago = time.monotonic() - last[0]
        return {
            "status": "warn",
            "observedValue": total,
            "output": f"log lines are being dropped ({counts}); last {ago:.0f} s ago, {last[1]}",
        }

    return check
