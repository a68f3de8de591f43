"""The demo agents: run the fake LLM, call their skills' tools, honour the magic texts."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from robutler_monitoring import performance_monitor
from robutler_monitoring.demo.llm import (
    FakeLLM,
    Message,
    ToolCall,
    ToolResult,
    Usage,
    last_user_text,
)
from robutler_monitoring.demo.skills import SkillError, Tool
from robutler_monitoring.events import llm_call, tool_call

logger = logging.getLogger("robutler_monitoring.demo")

MAX_SLOW_SECONDS = 30.0
_SLOW = re.compile(r"!slow(?:=(\d+(?:\.\d*)?|\.\d+))?")
_PIECE = re.compile(r"\S+\s*|\s+")


class DemoAgentError(RuntimeError):
    """The agent failed on purpose (``!error``); the server answers 500 with a JSON error."""


class DemoCrash(RuntimeError):
    """The agent crashed on purpose (``!crash``); nothing catches this."""


@dataclass(frozen=True)
class Completion:
    """A finished answer: text, the tools called on the way (with results), token usage."""

    content: str
    model: str
    usage: Usage
    tool_results: list[ToolResult] = field(default_factory=list)


@dataclass(frozen=True)
class _Directives:
    error: bool
    crash: bool
    slow: float | None


class DemoAgent:
    """An agent with a name, a fake LLM and skills; ``run`` answers, ``stream`` streams.

    >>> agent = DemoAgent("echo", "Repeats you.", FakeLLM("echo-llm", echo=True))
    >>> asyncio.run(agent.run([Message("user", "hi")])).content
    'hi'
    """

    def __init__(
        self,
        name: str,
        description: str,
        llm: FakeLLM,
        skills: Sequence[Any] = (),
        *,
        slow_seconds: float = 3.0,
        stream_delay: float = 0.05,
    ) -> None:
        self.name = name
        self.description = description
        self.llm = llm
        self.skills = list(skills)
        self.slow_seconds = slow_seconds
        self.stream_delay = stream_delay
        self.tools: dict[str, Tool] = {t.name: t for s in self.skills for t in s.tools()}

    @property
    def model(self) -> str:
        """The model this agent's LLM answers as."""
        return self.llm.model

    @performance_monitor
    async def run(self, messages: list[Message]) -> Completion:
        """Answer ``messages`` in one piece."""
        completion, directives = await self._complete(messages)
        if directives.error:
            raise DemoAgentError(f"agent {self.name!r} failed on purpose (!error)")
        _log_completion(self.name, completion, stream=False)
        return completion

    @performance_monitor
    async def stream(self, messages: list[Message]) -> AsyncIterator[str | Completion]:
        """Yield the answer in pieces, ``stream_delay`` apart, then the finished Completion."""
        completion, directives = await self._complete(messages)
        for index, piece in enumerate(_PIECE.findall(completion.content)):
            if index and self.stream_delay:
                await asyncio.sleep(self.stream_delay)
            yield piece
            if directives.error:
                raise DemoAgentError(f"agent {self.name!r} failed mid-stream on purpose (!error)")
        _log_completion(self.name, completion, stream=True)
        yield completion

    async def _complete(self, messages: list[Message]) -> tuple[Completion, _Directives]:
        directives = self._directives(last_user_text(messages))
        if directives.slow:
            await asyncio.sleep(directives.slow)
        if directives.crash:
            raise DemoCrash(f"agent {self.name!r} crashed on purpose (!crash)")
        # Each model call and each tool call is an operation that monitoring observes.
        with llm_call(self.llm.model, provider="demo"):
            calls = self.llm.plan(messages, set(self.tools))
        results = [await self._call_tool(call) for call in calls]
        with llm_call(self.llm.model, provider="demo") as answering:
            answer = self.llm.answer(messages, results)
            usage = self.llm.usage(messages, answer)
            answering.first_token()
            answering.set_usage(
                input_tokens=usage.prompt_tokens,
                output_tokens=usage.completion_tokens,
                cache_read_tokens=usage.cached_tokens,
                reasoning_tokens=usage.reasoning_tokens,
            )
        return Completion(answer, self.llm.model, usage, results), directives

    async def _call_tool(self, call: ToolCall) -> ToolResult:
        tool = self.tools[call.name]
        logger.debug("agent %s calls tool %s(%s)", self.name, call.name, call.arguments)
        operation = tool_call(call.name, call_id=call.id).begin()
        try:
            output = await tool.call(call.arguments[tool.parameter])
        except SkillError as exc:
            # A refused input is an answer for the model, not a server error.
            logger.debug("tool %s refused %s: %s", call.name, call.arguments, exc)
            operation.end(exc)
            return ToolResult(call, error=str(exc))
        except BaseException as exc:
            operation.end(exc)
            raise
        operation.end()
        return ToolResult(call, output=output)

    def _directives(self, text: str) -> _Directives:
        slow = _SLOW.search(text)
        seconds = None
        if slow:
            seconds = float(slow.group(1)) if slow.group(1) else self.slow_seconds
            seconds = min(seconds, MAX_SLOW_SECONDS)
        return _Directives(error="!error" in text, crash="!crash" in text, slow=seconds)

    def describe(self, root_path: str = "") -> dict[str, Any]:
        """What ``GET /{agent}`` and ``GET /agents`` report about this agent."""
        base = f"{root_path}/{self.name}"
        return {
            "name": self.name,
            "type": "static",
            "description": self.description,
            "model": self.llm.model,
            "url": base,
            "skills": [skill.name for skill in self.skills],
            "tools": list(self.tools),
            "tools_count": len(self.tools),
            "capabilities": ["chat_completions", "streaming", *(["tools"] if self.tools else [])],
            "endpoints": {"info": base, "chat_completions": f"{base}/chat/completions"},
            "status": "active",
        }


def _log_completion(agent: str, completion: Completion, *, stream: bool) -> None:
    logger.info(
        "agent %s completed (stream=%s, tools=%s, total_tokens=%d)",
        agent,
        stream,
        [result.call.name for result in completion.tool_results],
        completion.usage.to_dict()["total_tokens"],
        extra={"agent": agent},
    )
