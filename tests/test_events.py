"""The seam: operations nest, end once, isolate broken subscribers, and stay per-task."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncGenerator

import pytest

from robutler_monitoring import events
from robutler_monitoring.events import EventBus, HealthChange


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


def test_nested_operations_inherit_request_id_and_agent_and_end_in_order(bus: EventBus) -> None:
    log: list[tuple[str, str, str | None, str | None, str | None]] = []
    bus.subscribe("*", on_start=lambda op: log.append(("start", op.kind, op.name, op.request_id, op.agent)))
    bus.subscribe("*", on_end=lambda op: log.append(("end", op.kind, op.outcome, op.request_id, op.agent)))
    with events.HttpRequest("POST", "/chat", request_id="r1", bus=bus) as req:
        with events.agent_run("assistant", bus=bus) as run:
            assert run.parent is req
            with events.tool_call("calc", bus=bus) as tool:
                assert events.current_operation() is tool
            events.record_llm_call("m", input_tokens=3, output_tokens=2, duration_s=0.01, bus=bus)
        assert events.current_operation() is req
    assert events.current_operation() is None
    assert log == [
        ("start", "http", "POST /chat", "r1", None),
        ("start", "agent", "assistant", "r1", "assistant"),
        ("start", "tool", "calc", "r1", "assistant"),
        ("end", "tool", "success", "r1", "assistant"),
        ("start", "llm", "m", "r1", "assistant"),
        ("end", "llm", "success", "r1", "assistant"),
        ("end", "agent", "success", "r1", "assistant"),
        ("end", "http", "success", "r1", None),
    ]


def test_end_is_idempotent_and_the_first_outcome_wins(bus: EventBus) -> None:
    ends: list[str | None] = []
    bus.subscribe("agent", on_end=lambda op: ends.append(op.outcome))
    run = events.agent_run("a", bus=bus).begin()
    run.end(ValueError("boom"))
    run.end(None)
    assert ends == ["error"]
    assert run.error_type == "ValueError"
    assert run.error is None  # not kept after the subscribers ran
    assert run.duration_s is not None and run.duration_s >= 0


def test_outcomes_of_exceptions_and_overrides(bus: EventBus) -> None:
    with pytest.raises(KeyError), events.tool_call("t", bus=bus) as t:
        raise KeyError("x")
    assert (t.outcome, t.error_type) == ("error", "KeyError")
    c = events.agent_run("a", bus=bus).begin()
    c.end(outcome="client_closed")
    assert c.outcome == "client_closed" and c.error_type is None
    s = events.agent_run("a", bus=bus).begin()
    s.end(outcome="error", error_type="UpstreamTimeout")
    assert (s.outcome, s.error_type) == ("error", "UpstreamTimeout")
    g = events.agent_run("a", bus=bus).begin()
    g.end(GeneratorExit())
    assert g.outcome == "cancelled"


def test_a_raising_subscriber_never_breaks_the_work_and_is_counted(bus: EventBus) -> None:
    reported: list[str] = []
    seen: list[str] = []
    bus.on_subscriber_error = lambda exc, where: reported.append(f"{where}:{exc}")

    def broken(op: events.Operation) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe("tool", on_start=broken, on_end=broken)
    bus.subscribe("tool", on_end=lambda op: seen.append(op.name))
    with events.tool_call("t", bus=bus):
        pass
    assert seen == ["t"]
    assert bus.subscriber_errors == 2
    assert reported == ["tool:subscriber bug", "tool:subscriber bug"]


def test_unsubscribe_and_unknown_kinds(bus: EventBus) -> None:
    seen: list[str] = []
    off = bus.subscribe("llm", on_end=lambda op: seen.append(op.name))
    assert bus.has_subscribers("llm")
    events.record_llm_call("a", bus=bus)
    off()
    assert not bus.has_subscribers("llm")
    events.record_llm_call("b", bus=bus)
    assert seen == ["a"]
    with pytest.raises(ValueError, match="unknown operation kind 'spaceship'"):
        bus.subscribe("spaceship", on_end=print)


def test_record_llm_call_is_backdated_and_carries_usage(bus: EventBus) -> None:
    ended: list[events.LLMCall] = []
    bus.subscribe(events.LLMCall, on_end=lambda op: ended.append(op))  # type: ignore[arg-type]
    call = events.record_llm_call(
        "gpt-x",
        input_tokens=100,
        output_tokens=20,
        cache_read_tokens=60,
        reasoning_tokens=5,
        duration_s=2.0,
        ttft_s=0.5,
        streaming=True,
        provider="openai",
        agent="helper",
        bus=bus,
    )
    assert ended == [call]
    assert call.duration_s is not None and call.duration_s >= 2.0
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens, call.reasoning_tokens) == (
        100,
        20,
        60,
        5,
    )
    assert call.cache_write_tokens is None
    assert (call.ttft_s, call.streaming, call.provider, call.agent) == (0.5, True, "openai", "helper")
    failed = events.record_llm_call("gpt-x", error_type="RateLimitError", outcome="error", bus=bus)
    assert (failed.outcome, failed.error_type) == ("error", "RateLimitError")


def test_start_ns_is_the_wall_clock_start_read_once(bus: EventBus) -> None:
    before = time.time_ns()
    op = events.tool_call("calc", bus=bus)
    after = time.time_ns()
    with op:
        time.sleep(0.01)
    first = op.start_ns
    assert before - 5_000_000 <= first <= after + 5_000_000  # derived from the monotonic start
    assert op.start_ns == first  # read once, then fixed
    backdated = events.record_tool_call("calc", duration_s=60.0, bus=bus)
    assert abs(time.time_ns() - backdated.start_ns - 60e9) < 1e9


def test_an_operation_that_stays_current_outlives_its_end(bus: EventBus) -> None:
    async def crash(stay_after_end: bool) -> str | None:
        op = events.HttpRequest("GET", "/crash", request_id="r-9", bus=bus).begin()
        if stay_after_end:
            op.end(RuntimeError("boom"))
            op.stay_current()
        else:
            op.stay_current()
            op.end(RuntimeError("boom"))
        current = events.current_operation()
        return current.request_id if current is not None else None

    async def clean() -> str | None:
        with events.HttpRequest("GET", "/fine", request_id="r-10", bus=bus):
            pass
        return events.current_operation() and "still set"  # type: ignore[return-value]

    assert asyncio.run(crash(stay_after_end=False)) == "r-9"
    assert asyncio.run(crash(stay_after_end=True)) == "r-9"
    assert asyncio.run(clean()) is None


def test_concurrent_tasks_each_see_their_own_current_operation(bus: EventBus) -> None:
    parents: dict[str, str | None] = {}

    async def one(i: int) -> None:
        with events.HttpRequest("GET", f"/{i}", request_id=f"r{i}", bus=bus):
            await asyncio.sleep(0.001 * (i % 3))
            with events.tool_call(f"t{i}", bus=bus) as t:
                await asyncio.sleep(0)
                parents[t.name] = t.request_id

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(20)))

    asyncio.run(main())
    assert parents == {f"t{i}": f"r{i}" for i in range(20)}


def test_a_stream_ended_by_its_consumer_in_another_context_still_ends(bus: EventBus) -> None:
    ends: list[str | None] = []
    bus.subscribe("agent", on_end=lambda op: ends.append(op.outcome))

    async def stream() -> AsyncGenerator[int, None]:
        run = events.agent_run("streamer", bus=bus).begin()
        try:
            yield 1
            yield 2
        except BaseException as exc:
            run.end(exc)
            raise
        run.end()

    async def main() -> None:
        gen = stream()
        assert await gen.__anext__() == 1
        await asyncio.create_task(gen.aclose())  # closed from another task: another context

    asyncio.run(main())
    assert ends == ["cancelled"]


def test_health_changes_reach_their_subscribers(bus: EventBus) -> None:
    seen: list[tuple[str, str, str | None]] = []
    off = bus.subscribe_health(lambda c: seen.append((c.component, c.status, c.previous)))
    bus.publish_health(HealthChange("database", "fail", "pass", detail="timeout"))
    off()
    bus.publish_health(HealthChange("database", "pass", "fail"))
    assert seen == [("database", "fail", "pass")]


def test_the_default_bus_can_be_replaced(bus: EventBus) -> None:
    previous = events.set_default_bus(bus)
    try:
        seen: list[str] = []
        bus.subscribe("skill", on_end=lambda op: seen.append(op.name))
        with events.skill_call("calculator", "evaluate"):
            pass
        assert seen == ["calculator"]
    finally:
        events.set_default_bus(previous)


@pytest.mark.slow
def test_the_events_module_imports_no_prometheus_and_no_plugin() -> None:
    import subprocess

    code = (
        "import sys, robutler_monitoring.events; "
        "watched = ('prometheus_client', 'robutler_monitoring.plugin'); "
        "bad = [m for m in sys.modules if m.startswith(watched)]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
