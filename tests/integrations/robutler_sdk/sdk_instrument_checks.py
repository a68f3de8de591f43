"""SDK 0.2.0 agents instrumented in process: agent runs, LLM calls with usage, tool calls, counted once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.events import EventBus, Operation
from robutler_monitoring.integrations.robutler_sdk.serving import prepare_environment
from robutler_monitoring.plugin.usage.cost import Pricer
from robutler_monitoring.plugin.usage.metrics import UsageMetrics
from robutler_monitoring.plugin.usage.recorder import UsageRecorder

prepare_environment()  # LiteLLM's price list from its bundled copy: no network
pytest.importorskip("robutler")

from robutler_monitoring.integrations.robutler_sdk.instrument import instrument_agent  # noqa: E402
from tests.integrations.robutler_sdk import sdk_agent  # noqa: E402

QUESTION = [{"role": "user", "content": "What is 2 + 3?"}]


class _Seen:
    def __init__(self, bus: EventBus) -> None:
        self.ops: list[Operation] = []
        bus.subscribe("*", on_end=self.ops.append)

    def kinds(self) -> list[tuple[str, str, str | None]]:
        return [(op.kind, op.name, op.outcome) for op in self.ops]


def _setup() -> tuple[Any, EventBus, _Seen, UsageRecorder, CollectorRegistry]:
    bus, registry = EventBus(), CollectorRegistry()
    seen = _Seen(bus)
    recorder = UsageRecorder(Pricer(), UsageMetrics(registry))
    recorder.subscribe(bus)
    agent = instrument_agent(sdk_agent.make_agent(), bus=bus)
    return agent, bus, seen, recorder, registry


def _llm_records(recorder: UsageRecorder) -> list[tuple[int, int, int, bool]]:
    return [
        (r["prompt_tokens"], r["completion_tokens"], r["cached_tokens"], r["streaming"])
        for r in recorder.recent
        if r["type"] == "llm"
    ]


def test_non_streaming_run_with_a_tool_round() -> None:
    agent, _, seen, recorder, registry = _setup()
    response = asyncio.run(agent.run(QUESTION))
    assert response["choices"][0]["message"]["content"] == "The sum is 5."
    assert seen.kinds() == [
        ("llm", "gpt-4o-mini", "success"),
        ("tool", "add", "success"),
        ("llm", "gpt-4o-mini", "success"),
        ("agent", "calculator", "success"),
    ]
    assert _llm_records(recorder) == [(40, 12, 16, False), (70, 9, 32, False)]
    labels = {"agent": "calculator", "model": "gpt-4o-mini"}
    assert registry.get_sample_value("robutler_llm_tokens_total", labels | {"type": "input"}) == 110
    assert registry.get_sample_value("robutler_llm_tokens_total", labels | {"type": "output"}) == 21
    assert registry.get_sample_value("robutler_llm_cached_tokens_total", labels | {"kind": "read"}) == 48
    tool = {"agent": "calculator", "tool": "add", "status": "success"}
    assert registry.get_sample_value("robutler_tool_calls_total", tool) == 1
    assert {r["agent"] for r in recorder.recent} == {"calculator"}


def test_streaming_run_records_the_tool_round_usage_the_sdk_skips() -> None:
    agent, _, seen, recorder, _ = _setup()

    async def consume() -> str:
        text = ""
        async for chunk in agent.run_streaming(QUESTION):
            for choice in chunk.get("choices", []):
                text += (choice.get("delta") or {}).get("content") or ""
        return text

    assert asyncio.run(consume()).strip() == "The sum is 5."
    assert seen.kinds() == [
        ("llm", "gpt-4o-mini", "success"),
        ("tool", "add", "success"),
        ("llm", "gpt-4o-mini", "success"),
        ("agent", "calculator", "success"),
    ]
    assert _llm_records(recorder) == [(40, 12, 16, True), (70, 9, 32, True)]
    llm_ops = [op for op in seen.ops if op.kind == "llm"]
    assert all(getattr(op, "ttft_s", None) is not None for op in llm_ops)


def test_a_failing_tool_is_an_error_with_its_type() -> None:
    agent, _, _, recorder, _ = _setup()

    def broken(a: int, b: int) -> int:
        raise ZeroDivisionError("no")

    for config in agent._registered_tools:
        if config["name"] == "add":
            config["function"] = broken  # registered after instrumenting: wrapped at the next run
    response = asyncio.run(agent.run(QUESTION))
    assert "Tool execution error" in response["choices"][0]["message"]["content"]
    (tool,) = [r for r in recorder.recent if r["type"] == "tool"]
    assert (tool["status"], tool["error_type"]) == ("error", "ZeroDivisionError")


def test_a_stream_abandoned_by_the_client_ends_the_agent_run() -> None:
    agent, _, seen, _, _ = _setup()

    async def first_chunk_only() -> None:
        stream = agent.run_streaming(QUESTION)
        await stream.__anext__()
        await stream.aclose()

    asyncio.run(first_chunk_only())
    runs = [op for op in seen.ops if op.kind == "agent"]
    assert [(op.name, op.outcome) for op in runs] == [("calculator", "cancelled")]


def test_instrumenting_twice_counts_once() -> None:
    agent, bus, seen, _, _ = _setup()
    instrument_agent(agent, bus=bus)
    asyncio.run(agent.run(QUESTION))
    assert len([op for op in seen.ops if op.kind == "llm"]) == 2


def test_litellm_call_listed_twice_in_context_usage_is_counted_once() -> None:
    from robutler.server.context.context_vars import get_context

    bus, registry = EventBus(), CollectorRegistry()
    recorder = UsageRecorder(Pricer(), UsageMetrics(registry))
    recorder.subscribe(bus)
    agent = instrument_agent(sdk_agent.make_agent(litellm=True), bus=bus)

    async def run() -> list[dict[str, Any]]:
        await agent.run(QUESTION)
        return list(get_context().usage)

    sdk_usage = asyncio.run(run())
    sdk_llm = [(u.get("skill"), u["prompt_tokens"]) for u in sdk_usage if u["type"] == "llm"]
    # 0.2.0 lists each LiteLLM call twice: once from the skill, once from BaseAgent
    assert sdk_llm == [("litellm", 40), (None, 40), ("litellm", 70), (None, 70)]
    assert _llm_records(recorder) == [(40, 12, 16, False), (70, 9, 32, False)]
    labels = {"agent": "calculator", "model": "gpt-4o-mini", "type": "input"}
    assert registry.get_sample_value("robutler_llm_tokens_total", labels) == 110


def test_monitoring_skill_instruments_the_agent_it_is_added_to() -> None:
    from robutler.agents.core.base_agent import BaseAgent

    from robutler_monitoring.integrations.robutler_sdk.skill import MonitoringSkill

    bus = EventBus()
    seen = _Seen(bus)
    skills = {"primary_llm": sdk_agent.FakeLLM(), "monitoring": MonitoringSkill(bus=bus)}
    agent = BaseAgent(name="skilled", instructions="", skills=skills, tools=[sdk_agent.add])
    asyncio.run(agent.run(QUESTION))  # the skill is initialized inside this first run
    asyncio.run(agent.run(QUESTION))
    assert seen.kinds()[-4:] == [
        ("llm", "gpt-4o-mini", "success"),
        ("tool", "add", "success"),
        ("llm", "gpt-4o-mini", "success"),
        ("agent", "skilled", "success"),
    ]
    assert len([op for op in seen.ops if op.kind == "llm"]) == 4  # the first run's LLM calls too
