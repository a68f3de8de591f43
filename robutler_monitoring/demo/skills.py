"""The demo skills: a safe calculator and an offline, deterministic weather service."""

from __future__ import annotations

import ast
import asyncio
import math
import operator
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from robutler_monitoring import track_skill_performance
from robutler_monitoring.demo.cache import LRUCache

_MAX_EXPRESSION_CHARS = 200
#: Integers beyond this many bits are refused, so `9**9**9` fails fast instead of hanging.
_MAX_INT_BITS = 4096
_BINARY_OPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY_OPS: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_CONDITIONS = ("sunny", "partly cloudy", "cloudy", "light rain", "windy", "foggy")


class SkillError(ValueError):
    """A skill refused its input; the message says why."""


@dataclass(frozen=True)
class Tool:
    """One tool an agent can call: ``skill.<method>(<parameter>=value)``."""

    name: str
    description: str
    parameter: str
    skill: Any
    method: str

    async def call(self, argument: str) -> Any:
        """Call the skill method (sync or async), looked up now so later decoration applies."""
        result = getattr(self.skill, self.method)(argument)
        return await result if asyncio.iscoroutine(result) else result


class CalculatorSkill:
    """Evaluates arithmetic without ``eval``: numbers, + - * / // % ** and parentheses.

    >>> CalculatorSkill().evaluate("(3 + 4) * 2")
    '14'
    """

    name = "calculator"
    description = "Evaluates arithmetic expressions such as '12 * 7' or '(3 + 4) ** 2'."

    def tools(self) -> list[Tool]:
        """The tools this skill gives an agent."""
        return [Tool("calculator", self.description, "expression", self, "evaluate")]

    @track_skill_performance
    def evaluate(self, expression: str) -> str:
        """The value of ``expression`` as text; SkillError for anything but plain arithmetic."""
        if len(expression) > _MAX_EXPRESSION_CHARS:
            raise SkillError(f"expression is longer than {_MAX_EXPRESSION_CHARS} characters")
        try:
            tree = ast.parse(expression.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise SkillError(f"not an arithmetic expression: {expression!r}") from exc
        return _format_number(_evaluate(tree.body))


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SkillError(f"only numbers are allowed, got {value!r}")
        return _bounded(value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPS:
        return _bounded(_UNARY_OPS[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        try:
            return _bounded(_BINARY_OPS[type(node.op)](left, right))
        except ZeroDivisionError as exc:
            raise SkillError("division by zero") from exc
        except OverflowError as exc:
            raise SkillError("result is too large") from exc
    raise SkillError(f"unsupported syntax: {type(node).__name__}")


def _check_power(base: int | float, exponent: int | float) -> None:
    # Estimate the size of an integer power before computing it: 9**9**9 would never finish.
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        if base.bit_length() * exponent > _MAX_INT_BITS:
            raise SkillError(f"exponent too large: the result would exceed {_MAX_INT_BITS} bits")
    elif abs(exponent) > 100_000 and abs(base) not in (0, 1):
        raise SkillError("exponent too large")


def _bounded(value: int | float) -> int | float:
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise SkillError(f"result is too large (more than {_MAX_INT_BITS} bits)")
    if isinstance(value, float) and not math.isfinite(value):
        raise SkillError("result is not a finite number")
    if isinstance(value, complex):  # (-8) ** 0.5
        raise SkillError("result is not a real number")
    return value


def _format_number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".10g") if isinstance(value, float) else str(value)


class WeatherSkill:
    """Offline weather: the same city always gets the same report; lookups are cached.

    >>> skill = WeatherSkill(LRUCache("weather", maxsize=8))
    >>> report = asyncio.run(skill.forecast("Paris"))
    >>> report == asyncio.run(skill.forecast("paris")), skill.cache.hits
    (True, 1)
    """

    name = "weather"
    description = "Reports the current weather in a city (offline demo data)."

    def __init__(self, cache: LRUCache) -> None:
        self.cache = cache

    def tools(self) -> list[Tool]:
        """The tools this skill gives an agent."""
        return [Tool("weather", self.description, "city", self, "forecast")]

    @track_skill_performance
    async def forecast(self, city: str) -> dict[str, Any]:
        """A deterministic report for ``city``, derived from a checksum of its name."""
        key = " ".join(city.split()).casefold()
        if not key:
            raise SkillError("city must not be empty")
        cached = self.cache.get(key)
        if cached is not None:
            return dict(cached)
        await asyncio.sleep(0)  # where a real service would do I/O
        digest = zlib.crc32(key.encode())
        report = {
            "city": key.title(),
            "condition": _CONDITIONS[digest % len(_CONDITIONS)],
            "temperature_c": digest // 7 % 29 + 2,
            "humidity_percent": 30 + digest // 11 % 61,
            "source": "offline demo data",
        }
        self.cache.put(key, report)
        return dict(report)
