"""Tracing in one process: the pipeline, the span subscribers, the log hook, the drop counter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from ...events import EventBus, default_bus
from ...host.types import ASGIApp
from ..logging.trace_ids import set_trace_ids_source
from ..metrics.registry import instruments_for
from .otel import Pipeline, build_pipeline
from .settings import TracingSettings
from .spans import SpanRecorder, TraceContextMiddleware, current_trace_ids


class TracingMetrics:
    """``robutler_tracing_spans_{dropped,exported}_total`` in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.dropped = Counter(
            "robutler_tracing_spans_dropped",
            "Finished spans not exported, by reason (queue_full, export_failed, shutdown).",
            ("reason",),
            registry=registry,
        )
        self.exported = Counter(
            "robutler_tracing_spans_exported", "Spans the collector accepted.", registry=registry
        )

    def drop(self, reason: str, count: int) -> None:
        self.dropped.labels(reason).inc(count)

    def export(self, count: int) -> None:
        self.exported.inc(count)


class Tracing:
    """Tracing of one process: started once, subscribed to a bus, wrapping the app, shut down once.

    >>> from robutler_monitoring.plugin.config.schema import TracingConfig
    >>> from robutler_monitoring.plugin.tracing.settings import resolve
    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    >>> from robutler_monitoring.events import EventBus, agent_run
    >>> bus, exporter = EventBus(), InMemorySpanExporter()
    >>> tracing = Tracing(resolve(TracingConfig(enabled=True)), bus=bus, exporter=exporter).start()
    >>> with agent_run("assistant", bus=bus):
    ...     pass
    >>> tracing.shutdown()
    >>> [span.name for span in exporter.get_finished_spans()]
    ['invoke_agent assistant']
    """

    def __init__(
        self,
        settings: TracingSettings,
        *,
        bus: EventBus | None = None,
        registry: CollectorRegistry | None = None,
        metrics: TracingMetrics | None = None,
        exporter: Any = None,
        schedule_delay: float = 1.0,
    ) -> None:
        self.settings = settings
        self.bus = bus if bus is not None else default_bus()
        if metrics is None and registry is not None:
            metrics = instruments_for(registry, TracingMetrics)
        self.metrics = metrics
        self._exporter = exporter
        self._schedule_delay = schedule_delay
        self.pipeline: Pipeline | None = None
        self.recorder: SpanRecorder | None = None
        self._unsubscribe: list[Callable[[], None]] = []

    def start(self, subscribe: Callable[..., Any] | None = None) -> Tracing:
        """Build the pipeline, subscribe (to the bus, or through ``subscribe``), give log lines their ids."""
        metrics = self.metrics
        self.pipeline = build_pipeline(
            self.settings,
            exporter=self._exporter,
            on_drop=metrics.drop if metrics is not None else None,
            on_export=metrics.export if metrics is not None else None,
            schedule_delay=self._schedule_delay,
        )
        self.recorder = SpanRecorder(self.pipeline.tracer, capture_content=self.settings.capture_content)
        found = self.recorder.subscribe(subscribe if subscribe is not None else self.bus.subscribe)
        self._unsubscribe = [f for f in found if callable(f)]  # a runtime's subscribe keeps its own
        set_trace_ids_source(current_trace_ids)
        return self

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The app with its requests' server spans (inside the monitoring wrapper)."""
        if self.recorder is None:
            self.start()
        assert self.recorder is not None
        return TraceContextMiddleware(app, self.recorder)

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop making spans; export what is queued within the shutdown timeout."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        set_trace_ids_source(None)
        if self.pipeline is not None:
            self.pipeline.shutdown(timeout)
            self.pipeline = None
