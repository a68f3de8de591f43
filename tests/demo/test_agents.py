"""The demo agents as Python objects: the shape the monitoring decorators rely on."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

import pytest

from robutler_monitoring.demo import agents as agents_module
from robutler_monitoring.demo import create_demo_app
from robutler_monitoring.demo.agents import Completion, DemoAgent, DemoAgentError, DemoCrash
from robutler_monitoring.demo.llm import Message
from robutler_monitoring.demo.skills import CalculatorSkill, WeatherSkill


def _assistant(**timing: float) -> DemoAgent:
    agent: DemoAgent = create_demo_app(stream_delay=0, **timing).state.agents["assistant"]
    return agent


async def _collect(agent: DemoAgent, text: str) -> list[str | Completion]:
    return [item async for item in agent.stream([Message("user", text)])]


def test_skill_methods_are_looked_up_per_call_so_decorators_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The metrics decorators wrap skill methods on the class, possibly after the app exists.
    seen: list[tuple[str, Any]] = []

    def spy(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(self: Any, argument: str) -> Any:
            seen.append((self.name, argument))
            return method(self, argument)

        return wrapper

    agent = _assistant()
    monkeypatch.setattr(CalculatorSkill, "evaluate", spy(CalculatorSkill.evaluate))
    monkeypatch.setattr(WeatherSkill, "forecast", spy(WeatherSkill.forecast))
    completion = asyncio.run(agent.run([Message("user", "what is 3 * 3 and the weather in Rome")]))
    assert seen == [("calculator", "3 * 3"), ("weather", "Rome")]
    assert "3 * 3 = 9" in completion.content


def test_stream_yields_pieces_then_the_completion() -> None:
    items = asyncio.run(_collect(_assistant(), "what is 3 * 3"))
    *pieces, completion = items
    assert isinstance(completion, Completion)
    assert "".join(str(piece) for piece in pieces) == completion.content
    assert [result.call.name for result in completion.tool_results] == ["calculator"]


def test_error_and_crash_raise_their_own_exceptions() -> None:
    agent = _assistant()
    with pytest.raises(DemoAgentError):
        asyncio.run(agent.run([Message("user", "!error")]))
    with pytest.raises(DemoCrash):
        asyncio.run(agent.run([Message("user", "!crash")]))
    with pytest.raises(DemoCrash):
        asyncio.run(_collect(agent, "!crash"))


@pytest.mark.parametrize(
    ("text", "default", "low", "high"),
    [
        # Upper bounds sit far below the alternative they rule out (the default of 3 s,
        # or the 30 s cap), so a loaded machine's slack cannot fail them.
        ("!slow", 0.5, 0.5, 2.5),
        ("!slow=0.1", 3.0, 0.1, 2.5),
        ("!slow=.2", 3.0, 0.2, 2.5),
        ("hi", 3.0, 0, 2.5),
    ],
)
def test_slow_seconds_come_from_the_text(text: str, default: float, low: float, high: float) -> None:
    started = time.monotonic()
    asyncio.run(_assistant(slow_seconds=default).run([Message("user", text)]))
    assert low <= time.monotonic() - started < high


def test_slow_seconds_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real cap is 30 s; lower it so that the test does not wait that long.
    monkeypatch.setattr(agents_module, "MAX_SLOW_SECONDS", 0.2)
    started = time.monotonic()
    asyncio.run(_assistant().run([Message("user", "!slow=999")]))
    assert 0.2 <= time.monotonic() - started < 5.0  # uncapped, it would sleep 999 s
