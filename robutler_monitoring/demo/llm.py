"""A deterministic fake LLM: picks tool calls from the last user message and writes the answer.

Token usage rule (documented, so clients can check it): a token is a run of word
characters or a single punctuation character (regex ``\\w+|[^\\w\\s]``).
``prompt_tokens`` counts the tokens in the content of every message the client sent;
``completion_tokens`` counts the tokens in the final answer.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\w+|[^\w\s]")
#: Runs of digits, operators and parentheses: "what is (3 + 4) * 2?" -> "(3 + 4) * 2".
_ARITHMETIC = re.compile(r"[\d(.][\d\s.+\-*/%()]*")
_OPERATOR_BETWEEN = re.compile(r"[\d.)]\s*(?:\*\*|//|[+\-*/%])\s*[\d.(+\-]")
_WEATHER = re.compile(r"\bweather\b[^.?!]*?\b(?:in|for|at)\s+([A-Za-z][A-Za-z'\- ]*)", re.IGNORECASE)
_CITY_STOP = re.compile(r"\s+(?:and|today|tomorrow|now|please|right)\b.*$", re.IGNORECASE)


def count_tokens(text: str) -> int:
    """The number of tokens in ``text`` under the documented rule."""
    return len(_TOKEN.findall(text))


@dataclass(frozen=True)
class Message:
    """One chat message, content already flattened to text."""

    role: str
    content: str


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for: tool name and its single argument."""

    id: str
    name: str
    arguments: dict[str, str]

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI ``tool_calls`` item for this call."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments)},
        }


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned, or the error message it raised."""

    call: ToolCall
    output: Any = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI ``tool_calls`` item plus the tool's ``output`` or ``error``."""
        outcome = {"error": self.error} if self.error is not None else {"output": self.output}
        return {**self.call.to_openai(), **outcome}


@dataclass(frozen=True)
class Usage:
    """Token counts of one completion."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  #: the part of prompt_tokens read from the prompt cache
    reasoning_tokens: int = 0  #: the part of completion_tokens spent thinking

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI ``usage`` object (token details only when there are some).

        >>> Usage(5, 3, cached_tokens=2).to_dict()["prompt_tokens_details"]
        {'cached_tokens': 2}
        """
        total = self.prompt_tokens + self.completion_tokens
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": total,
        }
        if self.cached_tokens:
            out["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.reasoning_tokens:
            out["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return out


def last_user_text(messages: list[Message]) -> str:
    """The content of the last user message, or "" when there is none."""
    return next((m.content for m in reversed(messages) if m.role == "user"), "")


class FakeLLM:
    """Stands in for a real model: same messages in, same tool calls and answer out.

    >>> llm = FakeLLM("demo-llm")
    >>> [c.name for c in llm.plan([Message("user", "What is 12 * 7?")], {"calculator"})]
    ['calculator']
    """

    def __init__(self, model: str, *, echo: bool = False) -> None:
        self.model = model
        self.echo = echo

    def plan(self, messages: list[Message], tools: set[str]) -> list[ToolCall]:
        """The tool calls the model makes for the last user message (only tools it has)."""
        text = last_user_text(messages)
        wanted: list[tuple[str, dict[str, str]]] = []
        expression = _find_arithmetic(text)
        if expression and "calculator" in tools:
            wanted.append(("calculator", {"expression": expression}))
        city = _find_city(text)
        if city and "weather" in tools:
            wanted.append(("weather", {"city": city}))
        return [_tool_call(i, name, args) for i, (name, args) in enumerate(wanted)]

    def answer(self, messages: list[Message], results: list[ToolResult]) -> str:
        """The final answer, quoting each tool and its result."""
        text = last_user_text(messages)
        if self.echo:
            return text or "(nothing to echo)"
        if not results:
            return (
                "I am the demo assistant. Ask me to calculate something "
                '("what is 12 * 7?") or about the weather in a city ("weather in Paris").'
            )
        return " ".join(_describe(result) for result in results)

    def usage(self, messages: list[Message], answer: str) -> Usage:
        """Token usage under the documented rule.

        The messages before the last user message (an earlier turn of the conversation)
        count as read from the prompt cache; ``!think`` in the last user message makes the
        model think for as many tokens as that message has (part of the completion).

        >>> u = FakeLLM("m").usage([Message("user", "a b"), Message("user", "c !think")], "d")
        >>> (u.prompt_tokens, u.cached_tokens, u.completion_tokens, u.reasoning_tokens)
        (5, 2, 4, 3)
        """
        prompt = sum(count_tokens(m.content) for m in messages)
        last = max((i for i, m in enumerate(messages) if m.role == "user"), default=0)
        cached = sum(count_tokens(m.content) for m in messages[:last])
        text = last_user_text(messages)
        reasoning = count_tokens(text) if "!think" in text else 0
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=count_tokens(answer) + reasoning,
            cached_tokens=cached,
            reasoning_tokens=reasoning,
        )


def _find_arithmetic(text: str) -> str | None:
    candidates = [m.group().strip().rstrip(" .") for m in _ARITHMETIC.finditer(text)]
    candidates = [c for c in candidates if _OPERATOR_BETWEEN.search(c)]
    return max(candidates, key=len) if candidates else None


def _find_city(text: str) -> str | None:
    match = _WEATHER.search(text)
    if not match:
        return None
    city = _CITY_STOP.sub("", match.group(1)).strip(" -'")
    return " ".join(city.split()[:3]) or None


def _tool_call(index: int, name: str, arguments: dict[str, str]) -> ToolCall:
    digest = zlib.crc32(json.dumps([name, arguments]).encode())
    return ToolCall(id=f"call_{index}_{digest:08x}", name=name, arguments=arguments)


def _describe(result: ToolResult) -> str:
    call = result.call
    if result.error is not None:
        return f"The {call.name} tool could not answer: {result.error}."
    if call.name == "calculator":
        return f"{call.arguments['expression']} = {result.output} (calculator tool)."
    report = result.output
    return (
        f"In {report['city']} it is {report['condition']}, {report['temperature_c']} °C "
        f"with {report['humidity_percent']}% humidity (weather tool)."
    )
