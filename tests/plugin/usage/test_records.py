"""Usage records: the SDK's shape, deterministic ids from the server's request id, cost filled once."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.events import (
    EventBus,
    HttpRequest,
    agent_run,
    llm_call,
    record_llm_call,
    record_tool_call,
    tool_call,
)
from robutler_monitoring.plugin.usage.cost import Pricer
from robutler_monitoring.plugin.usage.metrics import UsageMetrics
from robutler_monitoring.plugin.usage.recorder import UsageRecorder


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def recorder(bus: EventBus) -> UsageRecorder:
    rec = UsageRecorder(Pricer(), UsageMetrics(CollectorRegistry()))
    rec.subscribe(bus)
    return rec


def _request(bus: EventBus, client_id: str) -> HttpRequest:
    return HttpRequest("POST", "/chat/completions", request_id=client_id, bus=bus)


def test_records_of_one_request_share_the_server_id_and_count_up(
    bus: EventBus, recorder: UsageRecorder
) -> None:
    with _request(bus, "client-retry-1"), agent_run("assistant", bus=bus):
        with llm_call("gpt-4o-mini", bus=bus) as call:
            call.set_usage(input_tokens=120, output_tokens=30, cache_read_tokens=100)
        with tool_call("get_weather", call_id="call_1", bus=bus):
            pass
        record_llm_call("gpt-4o-mini", input_tokens=200, output_tokens=10, bus=bus)
    llm1, tool, llm2 = recorder.recent
    server_id = llm1["server_request_id"]
    assert server_id != "client-retry-1" and len(server_id) == 32
    assert [r["id"] for r in (llm1, tool, llm2)] == [f"{server_id}-0", f"{server_id}-1", f"{server_id}-2"]
    assert {r["request_id"] for r in (llm1, tool, llm2)} == {"client-retry-1"}
    assert llm1["agent"] == tool["agent"] == "assistant"
    assert llm1 | {"timestamp": 0, "duration_s": 0, "id": 0, "server_request_id": 0} == {
        "type": "llm",
        "id": 0,
        "index": 0,
        "server_request_id": 0,
        "request_id": "client-retry-1",
        "trace_id": None,
        "timestamp": 0,
        "agent": "assistant",
        "caller": None,
        "status": "success",
        "error_type": None,
        "duration_s": 0,
        "model": "gpt-4o-mini",
        "response_model": None,
        "provider": None,
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "cached_tokens": 100,
        "cache_write_tokens": 0,
        "reasoning_tokens": None,
        "streaming": False,
        "ttft_s": None,
        # 20 * 0.15 + 100 * 0.075 + 30 * 0.60 per million
        "cost_usd": pytest.approx(0.0000285, rel=1e-9),
        "priced": True,
        "price_source": "genai-prices",
        "price_version": llm1["price_version"],
    }
    assert tool["tool"] == "get_weather" and tool["call_id"] == "call_1" and tool["status"] == "success"


def test_a_retry_with_the_same_client_id_gets_new_record_ids(bus: EventBus, recorder: UsageRecorder) -> None:
    for _ in range(2):
        with _request(bus, "same-client-id"):
            record_llm_call("gpt-4o-mini", input_tokens=1, output_tokens=1, bus=bus)
    first, second = recorder.recent
    assert first["request_id"] == second["request_id"] == "same-client-id"
    assert first["id"] != second["id"]


def test_tool_error_and_pricing_reported_by_the_tool(bus: EventBus, recorder: UsageRecorder) -> None:
    with pytest.raises(TimeoutError), tool_call("search", bus=bus) as call:
        call.pricing = {"credits": 2}
        raise TimeoutError
    (record,) = recorder.recent
    assert (record["status"], record["error_type"], record["pricing"]) == (
        "error",
        "TimeoutError",
        {"credits": 2},
    )


def test_unknown_model_has_null_cost_and_counts_unpriced(bus: EventBus) -> None:
    registry = CollectorRegistry()
    recorder = UsageRecorder(Pricer(), UsageMetrics(registry))
    recorder.subscribe(bus)
    record_llm_call("acme-llm-7", input_tokens=40, output_tokens=2, agent="a", bus=bus)
    (record,) = recorder.recent
    assert (record["cost_usd"], record["priced"]) == (None, False)
    assert registry.get_sample_value("robutler_llm_unpriced_tokens_total", {"model": "acme-llm-7"}) == 42
    assert (
        registry.get_sample_value("robutler_llm_cost_usd_total", {"agent": "a", "model": "acme-llm-7"})
        is None
    )


def test_writer_thread_prices_off_the_request_path(bus: EventBus) -> None:
    recorder = UsageRecorder(Pricer(), UsageMetrics(CollectorRegistry()))
    recorder.subscribe(bus)
    recorder.start()
    try:
        for _ in range(50):
            record_tool_call("t", bus=bus)
            record_llm_call("gpt-4o", input_tokens=1_000, output_tokens=500, bus=bus)
        assert recorder.flush(timeout=30)
        assert len(recorder.recent) == 100
        costs = [r["cost_usd"] for r in recorder.recent if r["type"] == "llm"]
        assert costs == [pytest.approx(0.0075)] * 50
    finally:
        recorder.stop()


def test_a_record_outside_any_request_gets_its_own_id(bus: EventBus, recorder: UsageRecorder) -> None:
    record_llm_call("gpt-4o", input_tokens=1, bus=bus)
    record_llm_call("gpt-4o", input_tokens=1, bus=bus)
    a, b = recorder.recent
    assert a["id"] != b["id"] and a["index"] == b["index"] == 0
