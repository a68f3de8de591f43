"""``performance_monitor`` and ``track_skill_performance`` on every kind of callable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring import performance_monitor, track_skill_performance
from robutler_monitoring.events import EventBus, current_operation
from robutler_monitoring.plugin.metrics.operations import OperationMetrics
from tests.plugin.metrics.helpers import value


def metered(registry: CollectorRegistry) -> EventBus:
    """A bus whose agent and skill operations are counted in ``registry``, as the plugin does."""
    bus = EventBus()
    OperationMetrics(registry).subscribe(bus)
    return bus


def test_agent_methods_bare_and_with_arguments() -> None:
    registry = CollectorRegistry()
    bus = metered(registry)
    seen: list[str | None] = []

    class Agent:
        name = "alice"

        @performance_monitor(bus=bus)
        async def run(self) -> str:
            seen.append(op.agent if (op := current_operation()) else None)
            return "ok"

        @performance_monitor(bus=bus, name="streamer")
        async def stream(self) -> AsyncGenerator[int, None]:
            for i in range(3):
                await asyncio.sleep(0.02)
                yield i

        @performance_monitor(bus=bus)
        async def fail(self) -> None:
            raise LookupError("nope")

    async def scenario() -> None:
        agent = Agent()
        assert await agent.run() == "ok"
        assert [i async for i in agent.stream()] == [0, 1, 2]
        with pytest.raises(LookupError):
            await agent.fail()
        abandoned = agent.stream()
        await abandoned.__anext__()
        await abandoned.aclose()

    asyncio.run(scenario())
    assert seen == ["alice"]
    assert value(registry, "robutler_agent_executions_total", agent="alice", status="success") == 1
    assert value(registry, "robutler_agent_executions_total", agent="alice", status="error") == 1
    assert value(registry, "robutler_agent_executions_total", agent="streamer", status="success") == 1
    assert value(registry, "robutler_agent_executions_total", agent="streamer", status="cancelled") == 1
    # The stream counted until its end: three 20 ms steps.
    assert (value(registry, "robutler_agent_execution_duration_seconds_sum", agent="streamer") or 0) >= 0.06
    assert value(registry, "robutler_errors_total", type="LookupError", source="agent") == 1


def test_skill_methods_sync_generator_and_errors() -> None:
    registry = CollectorRegistry()
    bus = metered(registry)

    class Calculator:
        name = "calculator"

        @track_skill_performance(bus=bus)
        def evaluate(self, expr: str) -> int:
            if expr == "1/0":
                raise ZeroDivisionError(expr)
            return 2

        @track_skill_performance(bus=bus, operation="digits")
        def each(self) -> Generator[int, None, None]:
            yield from (1, 2)

    calc = Calculator()
    assert calc.evaluate("1+1") == 2
    with pytest.raises(ZeroDivisionError):
        calc.evaluate("1/0")
    assert list(calc.each()) == [1, 2]

    def calls(op: str, status: str) -> float | None:
        return value(registry, "robutler_skill_calls_total", skill="calculator", operation=op, status=status)

    assert calls("evaluate", "success") == 1
    assert calls("evaluate", "error") == 1
    assert calls("digits", "success") == 1
    assert (
        value(registry, "robutler_skill_duration_seconds_count", skill="calculator", operation="evaluate")
        == 2
    )
    assert value(registry, "robutler_errors_total", type="ZeroDivisionError", source="skill") == 1


def test_labels_come_from_self_name_never_from_a_plain_functions_argument(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    bus = metered(registry)

    @track_skill_performance(bus=bus)
    def read_file(path: Path) -> str:
        return path.name

    @performance_monitor(bus=bus)
    async def answer(message: Path) -> str:
        return message.name

    class Files:
        name = "files"

        @track_skill_performance(bus=bus)
        def read(self, path: Path) -> str:
            return path.name

        @staticmethod
        @track_skill_performance(bus=bus)
        def stat(path: Path) -> str:
            return path.name

    class MoreFiles(Files):
        name = "more-files"

    paths = [tmp_path / f"user-{i}.txt" for i in range(5)] + [Path("/etc/passwd")]
    for path in paths:  # every Path has a .name: none of them may become a label
        read_file(path)
        asyncio.run(answer(path))
        Files().read(path)
        MoreFiles().read(path)
        Files.stat(path)

    def labels(metric: str, key: str) -> set[str]:
        return {s.labels[key] for m in registry.collect() if m.name == metric for s in m.samples}

    assert labels("robutler_skill_calls", "skill") == {"read_file", "files", "more-files", "Files"}
    assert labels("robutler_agent_executions", "agent") == {"answer"}
    stat = {"skill": "Files", "operation": "stat", "status": "success"}
    assert value(registry, "robutler_skill_calls_total", **stat) == 6
