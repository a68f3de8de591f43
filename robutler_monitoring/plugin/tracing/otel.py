"""Build this process's OpenTelemetry pipeline: provider, sampler, OTLP/HTTP exporter, processor."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import sampling as _sampling
from opentelemetry.sdk.trace.export import SpanExporter

from .processor import WARN_INTERVAL, BoundedBatchProcessor, DropCounter
from .settings import TracingSettings

SCOPE = "robutler_monitoring"


def make_sampler(name: str, ratio: float) -> _sampling.Sampler:
    """The SDK sampler for an ``OTEL_TRACES_SAMPLER`` name and ratio.

    >>> make_sampler("parentbased_traceidratio", 0.25).get_description()
    'ParentBased{root:TraceIdRatioBased{0.25},remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}'
    """
    if name == "parentbased_traceidratio":
        return _sampling.ParentBasedTraceIdRatio(ratio)
    if name == "traceidratio":
        return _sampling.TraceIdRatioBased(ratio)
    fixed: dict[str, _sampling.Sampler] = {
        "parentbased_always_on": _sampling.DEFAULT_ON,
        "parentbased_always_off": _sampling.DEFAULT_OFF,
        "always_on": _sampling.ALWAYS_ON,
        "always_off": _sampling.ALWAYS_OFF,
    }
    return fixed[name]


def otlp_exporter(settings: TracingSettings) -> SpanExporter:
    """The OTLP/HTTP (protobuf) exporter for ``settings.endpoint``."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.endpoint, timeout=settings.export_timeout)


class _RateLimit(logging.Filter):
    """Let one record per (logger, message) through per interval; say how many were held back."""

    def __init__(self, interval: float = WARN_INTERVAL) -> None:
        super().__init__()
        self._interval = interval
        self._last: dict[tuple[str, Any], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = time.monotonic()
        last, held = self._last.get(key, (-self._interval, 0))
        if now - last < self._interval:
            self._last[key] = (last, held + 1)
            return False
        self._last[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} similar message(s) held back in the last {self._interval:g}s)"
        return True


_limit = _RateLimit()


def limit_sdk_warnings() -> None:
    """Rate-limit the OpenTelemetry SDK's and exporter's own log lines (a dead collector)."""
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("opentelemetry"):
            log = logging.getLogger(name)
            if _limit not in log.filters:
                log.addFilter(_limit)


@dataclass
class Pipeline:
    """A tracer and what must be shut down with it."""

    provider: TracerProvider
    processor: BoundedBatchProcessor
    tracer: trace.Tracer
    settings: TracingSettings

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush for at most ``timeout`` seconds (default: the configured one), then stop."""
        self.processor.shutdown(self.settings.shutdown_timeout if timeout is None else timeout)


def build_pipeline(
    settings: TracingSettings,
    *,
    exporter: SpanExporter | None = None,
    on_drop: DropCounter | None = None,
    on_export: Callable[[int], None] | None = None,
    schedule_delay: float = 1.0,
    extra_processors: tuple[SpanProcessor, ...] = (),
) -> Pipeline:
    """A provider of its own (never the global one) exporting through a bounded batch processor."""
    attributes: dict[str, Any] = {
        "process.pid": os.getpid(),  # tells the workers of `--workers N` apart
        **settings.resource_attributes,
        "service.name": settings.service_name,
    }
    provider = TracerProvider(
        sampler=make_sampler(settings.sampler, settings.sampling_ratio),
        resource=Resource.create(attributes),
        shutdown_on_exit=False,
    )
    processor = BoundedBatchProcessor(
        exporter if exporter is not None else otlp_exporter(settings),
        max_queue_size=settings.max_queue_size,
        schedule_delay=schedule_delay,
        on_drop=on_drop,
        on_export=on_export,
    )
    provider.add_span_processor(processor)
    for extra in extra_processors:
        provider.add_span_processor(extra)
    limit_sdk_warnings()
    from ... import __version__

    return Pipeline(provider, processor, provider.get_tracer(SCOPE, __version__), settings)
