"""A batch span processor that never gets in the request's way, and counts what it drops.

``on_end`` runs in the request path: it appends to a bounded deque (or counts a drop) and,
when a batch is ready, wakes the export thread. The thread exports batches with the
configured exporter; a failed export counts its spans as dropped. A dead or hanging
collector therefore costs a request nothing, and the log gets at most one warning per
:data:`WARN_INTERVAL` seconds from here. (Written here rather than using the SDK's
``BatchSpanProcessor`` because that one neither reports its drops nor bounds its
per-span warnings; this one is 100 lines.)
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

WARN_INTERVAL = 60.0
logger = logging.getLogger("robutler_monitoring.tracing")

DropCounter = Callable[[str, int], None]  #: (reason, count); reasons: queue_full, export_failed, shutdown


class BoundedBatchProcessor(SpanProcessor):
    """Queue finished sampled spans (at most ``max_queue_size``); export them from a thread.

    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    >>> p = BoundedBatchProcessor(InMemorySpanExporter(), max_queue_size=16)
    >>> p.shutdown()
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        max_batch_size: int = 512,
        schedule_delay: float = 1.0,
        on_drop: DropCounter | None = None,
        on_export: Callable[[int], None] | None = None,
    ) -> None:
        self._exporter = exporter
        self._max_queue = max_queue_size
        self._batch = min(max_batch_size, max_queue_size)
        self._delay = schedule_delay
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = False
        self._on_drop = on_drop
        self._on_export = on_export
        self.dropped = 0
        self.exported = 0
        self._warned_at = -WARN_INTERVAL
        self._unwarned = 0
        self._thread = threading.Thread(target=self._run, name="robutler-tracing-export", daemon=True)
        self._thread.start()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue a sampled span (request path: a deque append, or a counted drop)."""
        ctx = span.context
        if ctx is None or not ctx.trace_flags.sampled:
            return
        queue = self._queue
        if self._stopping or len(queue) >= self._max_queue:
            self._drop("shutdown" if self._stopping else "queue_full", 1)
            return
        queue.append(span)
        if len(queue) >= self._batch and not self._wake.is_set():
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            self._idle.clear()
            try:
                self._export_all()
            finally:
                self._idle.set()
            if self._stopping:
                return

    def _export_all(self) -> None:
        queue = self._queue
        while queue:
            batch = [queue.popleft() for _ in range(min(self._batch, len(queue)))]
            try:
                ok = self._exporter.export(batch) is SpanExportResult.SUCCESS
            except Exception:  # an exporter bug must not kill the thread
                ok = False
            if ok:
                self.exported += len(batch)
                if self._on_export is not None:
                    self._on_export(len(batch))
            else:
                self._drop("export_failed", len(batch))
            if self._stopping and self._deadline is not None and time.monotonic() > self._deadline:
                self._drop("shutdown", len(queue))
                queue.clear()
                return

    _deadline: float | None = None

    def _drop(self, reason: str, count: int) -> None:
        if count <= 0:
            return
        self.dropped += count
        if self._on_drop is not None:
            with contextlib.suppress(Exception):  # a metrics problem must not stop the export thread
                self._on_drop(reason, count)
        self._unwarned += count
        now = time.monotonic()
        if now - self._warned_at >= WARN_INTERVAL:
            self._warned_at = now
            n, self._unwarned = self._unwarned, 0
            logger.warning(
                "tracing: dropped %d span(s) (%s; counted in robutler_tracing_spans_dropped_total); "
                "next warning in %ds at the earliest",
                n,
                reason.replace("_", " "),
                int(WARN_INTERVAL),
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export what is queued now; wait at most ``timeout_millis``."""
        deadline = time.monotonic() + timeout_millis / 1000
        self._wake.set()
        while time.monotonic() < deadline:
            if not self._queue and self._idle.is_set() and not self._wake.is_set():
                return True
            time.sleep(0.01)
        return False

    def shutdown(self, timeout: float = 5.0) -> None:
        """Export what is queued, for at most ``timeout`` seconds; then stop (spans left are dropped)."""
        if self._stopping:
            return
        self._deadline = time.monotonic() + timeout
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        self._exporter.shutdown()  # aborts the exporter's retries
        if self._thread.is_alive():  # an export hangs: leave the daemon thread, drop the rest
            self._drop("shutdown", len(self._queue))
            self._queue.clear()


def export_nothing(spans: Sequence[ReadableSpan]) -> SpanExportResult:
    """An exporter body that discards (benchmarks)."""
    return SpanExportResult.SUCCESS
