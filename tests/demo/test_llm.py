"""The fake LLM: which tools it calls for which prompts, and its answers."""

from __future__ import annotations

import pytest

from robutler_monitoring.demo.llm import FakeLLM, Message, ToolResult

_TOOLS = {"calculator", "weather"}


def _plan(text: str, tools: set[str] = _TOOLS) -> list[tuple[str, dict[str, str]]]:
    calls = FakeLLM("m").plan([Message("user", text)], tools)
    return [(call.name, call.arguments) for call in calls]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what is 12 * 7", [("calculator", {"expression": "12 * 7"})]),
        ("What is (3 + 4) * 2?", [("calculator", {"expression": "(3 + 4) * 2"})]),
        ("calc 2**10.", [("calculator", {"expression": "2**10"})]),
        ("What's the weather in Paris?", [("weather", {"city": "Paris"})]),
        ("weather for new york today please", [("weather", {"city": "new york"})]),
        (
            "What is 1 + 1 and the weather at Rome",
            [("calculator", {"expression": "1 + 1"}), ("weather", {"city": "Rome"})],
        ),
        ("hello, I am 42 years old", []),
        ("tell me about weather", []),
    ],
)
def test_plan_picks_tools_from_the_last_user_message(
    text: str, expected: list[tuple[str, dict[str, str]]]
) -> None:
    assert _plan(text) == expected


def test_plan_only_uses_tools_the_agent_has() -> None:
    assert _plan("what is 2 + 2 and the weather in Oslo", {"weather"}) == [("weather", {"city": "Oslo"})]
    assert _plan("what is 2 + 2", set()) == []


def test_plan_reads_the_last_user_message_only() -> None:
    messages = [Message("user", "what is 2 + 2"), Message("assistant", "4"), Message("user", "hi")]
    assert FakeLLM("m").plan(messages, _TOOLS) == []


def test_tool_call_ids_are_deterministic() -> None:
    first = FakeLLM("m").plan([Message("user", "what is 2 + 2")], _TOOLS)
    again = FakeLLM("m").plan([Message("user", "what is 2 + 2")], _TOOLS)
    assert first == again
    assert first[0].id.startswith("call_0_")


def test_answer_quotes_tool_results_and_errors() -> None:
    llm = FakeLLM("m")
    [call] = llm.plan([Message("user", "what is 6 * 7")], _TOOLS)
    ok = llm.answer([], [ToolResult(call, output="42")])
    assert ok == "6 * 7 = 42 (calculator tool)."
    failed = llm.answer([], [ToolResult(call, error="division by zero")])
    assert failed == "The calculator tool could not answer: division by zero."


def test_echo_model_repeats_the_last_user_message() -> None:
    llm = FakeLLM("m", echo=True)
    assert llm.answer([Message("user", "a"), Message("user", "b c")], []) == "b c"
    assert llm.answer([Message("system", "only system")], []) == "(nothing to echo)"
