"""Budgets: a warning once at the soft share, 429 with Retry-After past a hard cap, a new day resets."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest
from pydantic import ValidationError

from robutler_monitoring.plugin.config.schema import BudgetConfig, UsageConfig
from robutler_monitoring.plugin.usage.budgets import BudgetGuard, BudgetTracker

DAY = 86400.0


def _llm(agent: str, cost: float | None, tokens: int = 10, model: str = "gpt-4o") -> dict[str, Any]:
    return {"type": "llm", "agent": agent, "model": model, "cost_usd": cost, "total_tokens": tokens}


class _Clock:
    def __init__(self) -> None:
        self.now = 100 * DAY + 3600.0  # 01:00 UTC

    def __call__(self) -> float:
        return self.now


def test_soft_share_warns_once_and_hard_cap_blocks_until_midnight() -> None:
    clock, soft, over = _Clock(), [], []
    budget = BudgetConfig(agent="support", daily_usd=1.0, soft_share=0.8, hard=True)
    tracker = BudgetTracker(
        [budget], on_soft=lambda b, s: soft.append(s), on_exceeded=lambda b, s: over.append(s), clock=clock
    )
    tracker.add(_llm("support", 0.5))
    tracker.add(_llm("research", 5.0))  # another agent: not this budget
    assert (soft, tracker.retry_after("support")) == ([], None)
    tracker.add(_llm("support", 0.35))
    tracker.add(_llm("support", 0.05))
    assert soft == [pytest.approx(0.85)] and over == []
    tracker.add(_llm("support", 0.2))
    assert over == [pytest.approx(1.1)]
    assert tracker.retry_after("support") == 23 * 3600
    assert tracker.retry_after("research") is None
    clock.now += 23 * 3600  # midnight UTC: a new day
    assert tracker.retry_after("support") is None


def test_token_budget_for_a_model_across_agents() -> None:
    soft: list[float] = []
    tracker = BudgetTracker(
        [BudgetConfig(model="o3", daily_tokens=1_000)], on_soft=lambda b, s: soft.append(s)
    )
    tracker.add(_llm("a", None, 500, model="o3"))
    tracker.add(_llm("b", None, 300, model="o3"))
    tracker.add(_llm("b", None, 900, model="gpt-4o"))
    assert soft == [800.0]
    assert tracker.retry_after("a") is None  # not hard


def test_a_budget_needs_exactly_one_limit() -> None:
    with pytest.raises(ValidationError, match="exactly one of daily_usd or daily_tokens"):
        UsageConfig.model_validate({"budgets": [{"agent": "a"}]})
    with pytest.raises(ValidationError, match="exactly one"):
        UsageConfig.model_validate({"budgets": [{"daily_usd": 1, "daily_tokens": 5}]})


def test_guard_answers_429_before_the_agent_runs() -> None:
    tracker = BudgetTracker([BudgetConfig(agent="support", daily_tokens=10, hard=True)])
    tracker.add(_llm("support", None, 10))
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    guard = BudgetGuard(app, tracker)
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    def call(path: str, method: str = "POST") -> None:
        asyncio.run(guard({"type": "http", "method": method, "path": path}, receive, send))

    call("/support/chat/completions")
    call("/research/chat/completions")
    call("/support", method="GET")
    assert reached == ["/research/chat/completions", "/support"]
    assert sent[0]["status"] == 429
    headers = dict(sent[0]["headers"])
    assert int(headers[b"retry-after"]) > 0
    assert b"over its daily budget" in sent[1]["body"]
