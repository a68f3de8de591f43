"""The SDK's DEBUG previews of the conversation, hidden unless the user opts in (its 0.2.0 messages)."""

from __future__ import annotations

import logging

import pytest

from robutler_monitoring.integrations.robutler_sdk.logs import HIDDEN, ContentFilter, hide_content

AGENT = "robutler.base_agent"
#: (message as robutler 0.2.0 writes it, the same line with the content hidden)
PREVIEWS = [
    ("  [0] SYSTEM: You add numbers. secret", f"  [0] SYSTEM: {HIDDEN}"),
    ("  [1] USER: secret: what is 2+3?", f"  [1] USER: {HIDDEN}"),
    ("  [2] ASSISTANT: secret | TOOL_CALLS: ['add']", f"  [2] ASSISTANT: {HIDDEN} | TOOL_CALLS: ['add']"),
    ("  [3] TOOL[call_1]: secret 5", f"  [3] TOOL[call_1]: {HIDDEN}"),
    ("  [4] USER: line one secret\nline two", f"  [4] USER: {HIDDEN}"),
    ("  Content: The sum is secret.", f"  Content: {HIDDEN}"),
    ('    [0] add[call_1]: {"a": "secret"}', f"    [0] add[call_1]: {HIDDEN}"),
    (
        '\U0001f527 ITERATION 1 - Executing tool: add[call_1] with args: {"a": "secret"}',
        f"\U0001f527 ITERATION 1 - Executing tool: add[call_1] with args: {HIDDEN}",
    ),
    (
        "\U0001f527 STREAMING ITERATION 1 - Tool result for add[call_1]: secret",
        f"\U0001f527 STREAMING ITERATION 1 - Tool result for add[call_1]: {HIDDEN}",
    ),
    (
        '\U0001f527 Iteration 1: Processing 1 tool call(s): [\'add(args={"a": "secret"})\']',
        f"\U0001f527 Iteration 1: Processing 1 tool call(s): {HIDDEN}",
    ),
    (
        "\U0001f6e0\ufe0f Tool success name='add' call_id='c' result_preview='secret...' (len=6)",
        f"\U0001f6e0\ufe0f Tool success name='add' call_id='c' result_preview='{HIDDEN}...' (len=6)",
    ),
]


def _filtered(name: str, message: str, level: int = logging.DEBUG) -> str:
    record = logging.LogRecord(name, level, __file__, 1, message, None, None)
    assert ContentFilter(name).filter(record) is True  # never drops the line
    return record.getMessage()


@pytest.mark.parametrize(("message", "hidden"), PREVIEWS)
def test_previews_of_the_conversation_are_hidden(message: str, hidden: str) -> None:
    assert _filtered(AGENT, message) == hidden


def test_litellm_parameters_hold_the_messages() -> None:
    shown = _filtered("robutler.skill.llm.litellm", "Parameters: {'messages': [{'content': 'secret'}]}")
    assert shown == f"Parameters: {HIDDEN}"


@pytest.mark.parametrize(
    "message",
    ["\U0001f680 Calling LLM for agent 'calculator' (iteration 1) with 1 tools", "  Finish reason: stop"],
)
def test_lines_without_content_stay_as_they_are(message: str) -> None:
    assert _filtered(AGENT, message) == message


def test_only_debug_lines_are_touched() -> None:
    assert _filtered(AGENT, "  [1] USER: shown", logging.INFO) == "  [1] USER: shown"


def test_the_opt_in_takes_the_filter_away() -> None:
    named = logging.getLogger(AGENT)
    before = list(named.filters)
    try:
        hide_content(False)
        hide_content(False)  # idempotent: one filter
        assert sum(isinstance(f, ContentFilter) for f in named.filters) == 1
        hide_content(True)
        assert not [f for f in named.filters if isinstance(f, ContentFilter)]
    finally:
        named.filters = before
