"""The demo skills: a calculator that only does arithmetic, an offline weather service."""

from __future__ import annotations

import asyncio
import time

import pytest

from robutler_monitoring.demo.cache import LRUCache
from robutler_monitoring.demo.skills import CalculatorSkill, SkillError, WeatherSkill


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("12 * 7", 12 * 7),
        ("(3 + 4) ** 2", (3 + 4) ** 2),
        ("-3 + +5", -3 + +5),
        ("17 // 5", 17 // 5),
        ("17 % 5", 17 % 5),
        ("7 / 2", 7 / 2),
        ("2 ** 100", 2**100),
        ("10 / 4 * 2", 10 / 4 * 2),
    ],
)
def test_calculator_evaluates_arithmetic(expression: str, expected: float) -> None:
    assert float(CalculatorSkill().evaluate(expression)) == expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("__import__('os')", "unsupported syntax"),
        ("().__class__", "unsupported syntax"),
        ("open('/etc/passwd')", "unsupported syntax"),
        ("'a' * 3", "only numbers"),
        ("True + 1", "only numbers"),
        ("x + 1", "unsupported syntax"),
        ("2 ^ 3", "unsupported syntax"),
        ("1 << 100000", "unsupported syntax"),
        ("1 / 0", "division by zero"),
        ("(-8) ** 0.5", "not a real number"),
        ("1e308 * 10", "not a finite number"),
        ("2.5 ** 100000", "too large"),
        ("12 *", "not an arithmetic expression"),
        ("1 + " * 60 + "1", "longer than 200"),
    ],
)
def test_calculator_refuses_anything_else(expression: str, reason: str) -> None:
    with pytest.raises(SkillError, match=reason):
        CalculatorSkill().evaluate(expression)


@pytest.mark.parametrize(
    "expression", ["9**9**9", "10 ** 10 ** 10", "(2 ** 4000) * (2 ** 4000)", "2 ** -99999999999"]
)
def test_calculator_refuses_huge_numbers_quickly(expression: str) -> None:
    started = time.monotonic()
    with pytest.raises(SkillError, match="too large"):
        CalculatorSkill().evaluate(expression)
    assert time.monotonic() - started < 0.5


def test_weather_is_deterministic_and_cached_per_city() -> None:
    cache = LRUCache("weather", maxsize=8)
    skill = WeatherSkill(cache)
    paris = asyncio.run(skill.forecast("Paris"))
    assert asyncio.run(skill.forecast("  paris ")) == paris
    assert paris["city"] == "Paris"
    assert isinstance(paris["temperature_c"], int)
    # A fresh skill with an empty cache computes the same report: it is offline data.
    assert asyncio.run(WeatherSkill(LRUCache("other")).forecast("PARIS")) == paris
    assert asyncio.run(skill.forecast("Oslo"))["city"] == "Oslo"
    assert (cache.hits, cache.misses, cache.size) == (1, 2, 2)


def test_weather_refuses_an_empty_city() -> None:
    with pytest.raises(SkillError, match="city must not be empty"):
        asyncio.run(WeatherSkill(LRUCache("weather")).forecast("   "))
