"""Export to a real OTLP/HTTP receiver; a dead or hanging collector never gets in the way."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.events import EventBus, agent_run, tool_call
from robutler_monitoring.plugin.config.schema import TracingConfig
from robutler_monitoring.plugin.tracing.pipeline import Tracing
from robutler_monitoring.plugin.tracing.settings import resolve
from tests.support.otlp import otlp_receiver
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


def _tracing(endpoint: str, registry: CollectorRegistry, bus: EventBus, **cfg: Any) -> Tracing:
    settings = resolve(TracingConfig(enabled=True, otlp_endpoint=endpoint, **cfg))
    return Tracing(settings, bus=bus, registry=registry, schedule_delay=0.05).start()


def _dropped(registry: CollectorRegistry) -> float:
    total = 0.0
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == "robutler_tracing_spans_dropped_total":
                total += sample.value
    return total


def test_spans_reach_a_real_otlp_receiver_with_resource_and_tree() -> None:
    bus, registry = EventBus(), CollectorRegistry()
    with otlp_receiver() as receiver:
        tracing = _tracing(receiver.url, registry, bus, service_name="shop")
        with agent_run("assistant", bus=bus), tool_call("calculator", call_id="c1", bus=bus):
            pass
        tracing.shutdown(timeout=10)
        spans = receiver.wait_for(lambda s: len(s) == 2)
    by_name = {s.name: s for s in spans}
    tool, agent = by_name["execute_tool calculator"], by_name["invoke_agent assistant"]
    assert tool.parent_id == agent.span_id and tool.trace_id == agent.trace_id
    assert tool.attributes["gen_ai.tool.call.id"] == "c1"
    assert {s.service for s in spans} == {"shop"}
    assert receiver.paths == ["/v1/traces"] * receiver.requests


def test_legacy_jaeger_endpoint_reaches_the_receiver_on_the_mapped_path() -> None:
    port = free_port()
    bus, registry = EventBus(), CollectorRegistry()
    with otlp_receiver(port=port) as receiver:
        settings = resolve(TracingConfig(enabled=True, jaeger_endpoint=f"http://127.0.0.1:{port}/api/traces"))
        assert settings.endpoint == receiver.url
        assert settings.endpoint_note is not None and receiver.url in settings.endpoint_note
        tracing = Tracing(settings, bus=bus, registry=registry, schedule_delay=0.05).start()
        with agent_run("assistant", bus=bus):
            pass
        receiver.wait_for(lambda s: [x.name for x in s] == ["invoke_agent assistant"])
        tracing.shutdown(timeout=5)


def _burst(bus: EventBus, n: int) -> float:
    """Run ``n`` agent runs; return the slowest one's seconds."""
    slowest = 0.0
    for _ in range(n):
        start = time.perf_counter()
        with agent_run("assistant", bus=bus):
            pass
        slowest = max(slowest, time.perf_counter() - start)
    return slowest


def _quiet(records: list[logging.LogRecord]) -> list[str]:
    return [
        r.getMessage() for r in records if r.name.startswith(("opentelemetry", "robutler_monitoring.tracing"))
    ]


def test_hanging_collector_costs_requests_nothing_and_drops_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus, registry = EventBus(), CollectorRegistry()
    caplog.set_level(logging.DEBUG)
    with otlp_receiver(hang=True) as receiver:
        tracing = _tracing(receiver.url, registry, bus, max_queue_size=16, export_timeout=60)
        _burst(bus, 16)
        deadline = time.monotonic() + 20
        while receiver.requests == 0 and time.monotonic() < deadline:  # the export thread is now stuck
            time.sleep(0.02)
        assert receiver.requests == 1
        started = time.monotonic()
        slowest = _burst(bus, 2000)
        assert time.monotonic() - started < 20  # an export that waits would take 60 s
        assert slowest < 1.0
        assert receiver.hang is not None and not receiver.hang.is_set()  # the collector still hangs
        assert _dropped(registry) >= 2000 - 16
        started = time.monotonic()
        tracing.shutdown(timeout=1.0)
        assert time.monotonic() - started < 10  # bounded flush
    lines = _quiet(caplog.records)
    assert 1 <= len(lines) <= 3, lines
    assert "robutler_tracing_spans_dropped_total" in lines[0]


def test_dead_collector_changes_nothing_and_does_not_flood_the_log(caplog: pytest.LogCaptureFixture) -> None:
    bus, registry = EventBus(), CollectorRegistry()
    caplog.set_level(logging.DEBUG)
    endpoint = f"http://127.0.0.1:{free_port()}/v1/traces"  # nothing listens there
    tracing = _tracing(endpoint, registry, bus, max_queue_size=64, export_timeout=1)
    for _ in range(20):  # many export rounds, each failing
        _burst(bus, 100)
        time.sleep(0.05)
    deadline = time.monotonic() + 20
    while _dropped(registry) < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _dropped(registry) >= 1000
    tracing.shutdown(timeout=1.0)
    lines = _quiet(caplog.records)
    assert len(lines) <= 8, lines  # one per kind of message per minute, not one per span or batch
