"""Usage metrics: exact counts per type, GenAI buckets, and the cap on outside label values."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.events import EventBus, record_llm_call, record_tool_call
from robutler_monitoring.plugin.usage.cost import Pricer
from robutler_monitoring.plugin.usage.metrics import LLM_DURATION_BUCKETS, UsageMetrics
from robutler_monitoring.plugin.usage.recorder import UsageRecorder


def _recorder(limit: int = 200) -> tuple[EventBus, CollectorRegistry]:
    bus, registry = EventBus(), CollectorRegistry()
    UsageRecorder(Pricer(), UsageMetrics(registry, limit)).subscribe(bus)
    return bus, registry


def test_tokens_by_type_sum_to_the_total_and_parts_are_their_own_series() -> None:
    bus, registry = _recorder()
    record_llm_call(
        "o3-mini",
        input_tokens=1_000,
        output_tokens=3_000,
        cache_read_tokens=400,
        cache_write_tokens=100,
        reasoning_tokens=2_500,
        duration_s=0.3,
        agent="planner",
        bus=bus,
    )
    value = registry.get_sample_value
    labels = {"agent": "planner", "model": "o3-mini"}
    assert value("robutler_llm_tokens_total", labels | {"type": "input"}) == 1_000
    assert value("robutler_llm_tokens_total", labels | {"type": "output"}) == 3_000
    assert value("robutler_llm_cached_tokens_total", labels | {"kind": "read"}) == 400
    assert value("robutler_llm_cached_tokens_total", labels | {"kind": "write"}) == 100
    assert value("robutler_llm_reasoning_tokens_total", labels) == 2_500
    assert value("robutler_llm_requests_total", labels | {"status": "success"}) == 1
    # 500 uncached * 1.10 + 400 read * 0.55 + 100 written (no write price: input rate) * 1.10 + 3000 * 4.40
    assert value("robutler_llm_cost_usd_total", labels) == pytest.approx(0.01408, rel=1e-12)
    assert value("robutler_llm_request_duration_seconds_count", labels) == 1
    assert value("robutler_llm_request_duration_seconds_bucket", labels | {"le": "0.32"}) == 1
    assert value("robutler_llm_request_duration_seconds_bucket", labels | {"le": "0.16"}) == 0


def test_genai_bucket_boundaries() -> None:
    assert (
        LLM_DURATION_BUCKETS[0] == 0.01
        and LLM_DURATION_BUCKETS[-1] == 81.92
        and len(LLM_DURATION_BUCKETS) == 14
    )


def test_ttft_and_failed_calls() -> None:
    bus, registry = _recorder()
    record_llm_call(
        "m", ttft_s=0.05, streaming=True, agent="a", error_type="RateLimit", outcome="error", bus=bus
    )
    value = registry.get_sample_value
    assert value("robutler_llm_requests_total", {"agent": "a", "model": "m", "status": "error"}) == 1
    assert (
        value("robutler_llm_time_to_first_token_seconds_bucket", {"agent": "a", "model": "m", "le": "0.06"})
        == 1
    )
    assert (
        value("robutler_llm_time_to_first_token_seconds_bucket", {"agent": "a", "model": "m", "le": "0.04"})
        == 0
    )


def test_tool_calls_by_status() -> None:
    bus, registry = _recorder()
    record_tool_call("calc", agent="a", duration_s=0.02, bus=bus)
    record_tool_call("calc", agent="a", error=ValueError("x"), bus=bus)
    value = registry.get_sample_value
    assert value("robutler_tool_calls_total", {"agent": "a", "tool": "calc", "status": "success"}) == 1
    assert value("robutler_tool_calls_total", {"agent": "a", "tool": "calc", "status": "error"}) == 1
    assert value("robutler_tool_duration_seconds_count", {"agent": "a", "tool": "calc"}) == 2


def test_outside_label_values_are_capped_and_refusals_counted() -> None:
    bus, registry = _recorder(limit=3)
    for i in range(10):
        record_tool_call(f"tool-{i}", agent="a", bus=bus)
    value = registry.get_sample_value
    names = {
        s.labels["tool"]
        for m in registry.collect()
        if m.name == "robutler_tool_calls"
        for s in m.samples
        if s.name == "robutler_tool_calls_total"
    }
    assert names == {"tool-0", "tool-1", "tool-2", "other"}
    assert value("robutler_tool_calls_total", {"agent": "other", "tool": "other", "status": "success"}) == 7
    assert value("robutler_metric_series_refused_total", {"metric": "robutler_tool_calls"}) == 7
