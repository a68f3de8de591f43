"""In-process cost of tracing per request, against opentelemetry-instrumentation-asgi; ratios from one run.

Run: ``.venv/bin/python benchmarks/bench_tracing.py`` (about half a minute; needs the
``bench`` extra for ``opentelemetry-instrumentation-asgi``).

The same minimal Starlette JSON route is called through the ASGI interface in a loop:

- ``bare``: the app alone;
- ``otel-asgi``: behind the official ``OpenTelemetryMiddleware`` (server span plus its
  send/receive spans, as it ships);
- ``ops``: behind the monitoring wrapper, which makes the seam's ``HttpRequest``
  operation, with nothing subscribed (tracing off: no tracing code runs in the request path);
- ``tracing``: the same wrapper plus our tracing (the trace-context middleware and the
  span subscribers), every request sampled.

Both traced variants use the same tracer settings and export through the same bounded
batch processor to an exporter that discards, so only the instrumentation differs.
The figure reported is the ratio of the added costs: (tracing - ops) / (otel-asgi - bare).
Interleaved rounds, medians; the machine may be shared, so read the ratio, not the micros.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_middleware import _drive

from robutler_monitoring.events import EventBus
from robutler_monitoring.plugin.http.middleware import MonitoringMiddleware
from robutler_monitoring.plugin.logging.trace_ids import current_trace_ids as log_trace_ids
from robutler_monitoring.plugin.tracing.processor import BoundedBatchProcessor
from robutler_monitoring.plugin.tracing.spans import SpanRecorder, TraceContextMiddleware

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "5000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


class _Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def make_app() -> Starlette:
    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["id"], "ok": True})

    return Starlette(routes=[Route("/items/{id}", item)])


def _provider() -> tuple[TracerProvider, BoundedBatchProcessor]:
    provider = TracerProvider(sampler=ALWAYS_ON, shutdown_on_exit=False)
    processor = BoundedBatchProcessor(_Discard(), max_queue_size=100_000, schedule_delay=0.2)
    provider.add_span_processor(processor)
    return provider, processor


def variants() -> dict[str, Callable[[], tuple[Any, Callable[[], None]]]]:
    """Name -> factory of (app, cleanup)."""

    def bare() -> tuple[Any, Callable[[], None]]:
        return make_app(), lambda: None

    def otel_asgi() -> tuple[Any, Callable[[], None]]:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        provider, processor = _provider()
        return OpenTelemetryMiddleware(make_app(), tracer_provider=provider), processor.shutdown

    def ops() -> tuple[Any, Callable[[], None]]:
        return MonitoringMiddleware(make_app(), bus=EventBus()), lambda: None

    def tracing() -> tuple[Any, Callable[[], None]]:
        provider, processor = _provider()
        bus = EventBus()
        recorder = SpanRecorder(provider.get_tracer("bench"))
        recorder.subscribe(bus.subscribe)
        return MonitoringMiddleware(TraceContextMiddleware(make_app(), recorder), bus=bus), processor.shutdown

    return {"bare": bare, "otel-asgi": otel_asgi, "ops": ops, "tracing": tracing}


def measure() -> dict[str, float]:
    """Median seconds per request of each variant over interleaved rounds."""
    built = {name: make() for name, make in variants().items()}
    samples: dict[str, list[float]] = {name: [] for name in built}
    loop = asyncio.new_event_loop()
    try:
        for app, _ in built.values():
            loop.run_until_complete(_drive(app, 500))  # warm up
        for _ in range(ROUNDS):
            for name, (app, _) in built.items():
                samples[name].append(loop.run_until_complete(_drive(app, REQUESTS)))
    finally:
        loop.close()
        for _, cleanup in built.values():
            cleanup()
    return {name: statistics.median(values) for name, values in samples.items()}


def _off_cost(n: int = 200_000) -> float:
    """Seconds per call of the log-line hook with tracing off (the only residue)."""
    start = time.perf_counter()
    for _ in range(n):
        log_trace_ids()
    return (time.perf_counter() - start) / n


def main() -> None:
    load = os.getloadavg()[0]
    print(f"{REQUESTS} requests x {ROUNDS} interleaved rounds per variant; load average {load:.1f}")
    medians = measure()
    for name, seconds in medians.items():
        print(f"  {name:10s} {seconds * 1e6:8.1f} us/request")
    reference = medians["otel-asgi"] - medians["bare"]
    ours = medians["tracing"] - medians["ops"]
    print(f"added by opentelemetry-instrumentation-asgi: {reference * 1e6:7.1f} us/request")
    print(f"added by our tracing (sampled, no-op export): {ours * 1e6:7.1f} us/request")
    print(f"ratio ours / reference: {ours / reference:.2f}  (target <= 0.50)")
    print(f"tracing off: no tracing code in the request path; log-line hook {_off_cost() * 1e9:.0f} ns/call")


if __name__ == "__main__":
    main()
