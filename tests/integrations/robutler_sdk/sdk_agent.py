"""A real Robutler SDK 0.2.0 agent, no network: a fake LLM skill as ``primary_llm``, one ``@tool``.

    robutler serve tests/integrations/robutler_sdk/sdk_agent.py:agent

The fake model asks for ``add(2, 3)`` when the conversation has no tool result yet, then
answers with the sum. Its usage per round is fixed (:data:`ROUNDS`), so tests know
exactly what it reported.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from robutler.agents.core.base_agent import BaseAgent
from robutler.agents.skills.base import Skill
from robutler.agents.skills.core.llm.litellm.skill import LiteLLMSkill
from robutler.agents.tools.decorators import tool

MODEL = "gpt-4o-mini"
#: usage the fake model reports: (prompt, completion, cached prompt tokens) per round
ROUNDS = {"tool": (40, 12, 16), "answer": (70, 9, 32)}


def _usage(kind: str) -> dict[str, Any]:
    prompt, completion, cached = ROUNDS[kind]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def _round(messages: list[dict[str, Any]]) -> str:
    return "answer" if any(m.get("role") == "tool" for m in messages) else "tool"


def _tool_result(messages: list[dict[str, Any]]) -> str:
    return next(str(m.get("content")) for m in reversed(messages) if m.get("role") == "tool")


TOOL_CALL = {
    "id": "call_add_1",
    "type": "function",
    "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
}


class FakeLLM(Skill):  # type: ignore[misc]
    """An LLM skill with OpenAI-shaped answers and usage, and no network."""

    def __init__(self) -> None:
        super().__init__({"model": MODEL})
        self.model = self.current_model = MODEL

    async def chat_completion(
        self,
        messages: list[dict[str, Any]],
        model: str | None = None,
        tools: Any = None,
        stream: bool = False,
        **_: Any,
    ) -> dict[str, Any]:
        kind = _round(messages)
        if kind == "tool":
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}
            finish = "tool_calls"
        else:
            message = {"role": "assistant", "content": f"The sum is {_tool_result(messages)}."}
            finish = "stop"
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": _usage(kind),
        }

    async def chat_completion_stream(
        self, messages: list[dict[str, Any]], model: str | None = None, tools: Any = None, **_: Any
    ) -> AsyncIterator[dict[str, Any]]:
        kind = _round(messages)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": MODEL,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        if kind == "tool":
            yield chunk({"role": "assistant", "tool_calls": [{"index": 0, **TOOL_CALL}]})
            finish = chunk({}, "tool_calls")
        else:
            for word in f"The sum is {_tool_result(messages)}.".split(" "):
                yield chunk({"content": word + " "})
            finish = chunk({}, "stop")
        # usage on the finish chunk, as LiteLLM streams it (0.2.0 fails on a chunk without choices)
        yield finish | {"usage": _usage(kind)}


class FakeLiteLLM(LiteLLMSkill):  # type: ignore[misc]
    """The SDK's real LiteLLMSkill with only its network call replaced (its usage bookkeeping runs)."""

    def __init__(self) -> None:
        super().__init__({"model": MODEL})
        self._answers = FakeLLM()

    async def _execute_completion(
        self, messages: list[dict[str, Any]], model: str, tools: Any = None, stream: bool = False, **_: Any
    ) -> dict[str, Any]:
        return await self._answers.chat_completion(messages, model=model, tools=tools)


#: a file path: :class:`GatedLLM` holds its streamed answer after the first word until it exists
GATE_ENV = "SDK_AGENT_GATE"


class GatedLLM(FakeLLM):
    """:class:`FakeLLM` whose streamed answer waits after its first word until the gate file exists."""

    async def chat_completion_stream(
        self, messages: list[dict[str, Any]], model: str | None = None, tools: Any = None, **kw: Any
    ) -> AsyncIterator[dict[str, Any]]:
        gate = os.environ.get(GATE_ENV)
        first = True
        async for chunk in super().chat_completion_stream(messages, model=model, tools=tools, **kw):
            yield chunk
            if first and gate and _round(messages) == "answer":
                first = False
                deadline = time.monotonic() + 60
                while not os.path.exists(gate) and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)


@tool  # type: ignore[untyped-decorator]
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def make_agent(name: str = "calculator", *, litellm: bool = False, gated: bool = False) -> BaseAgent:
    llm = FakeLiteLLM() if litellm else GatedLLM() if gated else FakeLLM()
    return BaseAgent(name=name, instructions="You add numbers.", skills={"primary_llm": llm}, tools=[add])


agent = make_agent()


def two_agents() -> list[BaseAgent]:
    """``--factory``: the calculator and ``gated``, whose streamed answer waits for ``$SDK_AGENT_GATE``."""
    return [make_agent(), make_agent("gated", gated=True)]
