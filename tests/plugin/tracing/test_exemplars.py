"""Traced requests and LLM calls leave their trace id as exemplars on the duration histograms."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest

from robutler_monitoring.events import EventBus, agent_run, llm_call
from robutler_monitoring.host.types import Receive, Scope, Send
from robutler_monitoring.plugin.config.schema import TracingConfig
from robutler_monitoring.plugin.metrics.concern import HttpRecorder
from robutler_monitoring.plugin.metrics.http_local import LocalHttpMetrics
from robutler_monitoring.plugin.metrics.operations import OperationMetrics
from robutler_monitoring.plugin.tracing.pipeline import Tracing
from robutler_monitoring.plugin.tracing.settings import resolve
from robutler_monitoring.plugin.usage.metrics import UsageMetrics

from .support import HttpProducer, call, http_scope


def _record_http(registry: CollectorRegistry, bus: EventBus) -> None:
    HttpRecorder(LocalHttpMetrics(registry)).subscribe(bus)  # type: ignore[arg-type]  # a bus works too


def _openmetrics(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()  # type: ignore[no-untyped-call,no-any-return]


def _exemplar_lines(text: str, metric: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(metric + "_bucket") and " # {" in line]


def test_request_and_llm_duration_buckets_carry_the_trace_id() -> None:
    registry, bus, exporter = CollectorRegistry(), EventBus(), InMemorySpanExporter()
    _record_http(registry, bus)
    OperationMetrics(registry).subscribe(bus)
    bus.subscribe("llm", on_end=UsageMetrics(registry).llm_ended)  # LLM series are the usage concern's
    tracing = Tracing(resolve(TracingConfig(enabled=True)), bus=bus, exporter=exporter).start()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        with agent_run("assistant", bus=bus), llm_call("demo-model", bus=bus):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    try:
        asyncio.run(call(HttpProducer(tracing.wrap(app), bus, "/{agent}/chat/completions"), http_scope()))
    finally:
        tracing.shutdown()
    trace_id = format(exporter.get_finished_spans()[0].context.trace_id, "032x")
    text = _openmetrics(registry)
    (request_line,) = _exemplar_lines(text, "robutler_http_request_duration_seconds")
    (llm_line,) = _exemplar_lines(text, "robutler_llm_request_duration_seconds")
    assert f'# {{trace_id="{trace_id}"}}' in request_line
    assert f'# {{trace_id="{trace_id}"}}' in llm_line
    assert 'route="/{agent}/chat/completions"' in request_line


def test_untraced_requests_leave_no_exemplar() -> None:
    registry, bus = CollectorRegistry(), EventBus()
    _record_http(registry, bus)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    asyncio.run(call(HttpProducer(app, bus, "/x"), http_scope("/x")))
    text = _openmetrics(registry)
    assert "robutler_http_request_duration_seconds_bucket" in text
    assert " # {" not in text
