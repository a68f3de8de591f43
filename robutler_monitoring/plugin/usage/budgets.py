"""Daily budgets per agent and model: a warning at the soft share, optionally 429 past the cap.

The writer thread adds each priced record to today's (UTC) spend of every budget it
matches; crossing ``soft_share`` calls ``on_soft`` once a day per budget (a WARNING log
line, and an alert event once alerting has landed); with ``hard: true`` the agent's new
chat requests are answered 429 with ``Retry-After`` (seconds to UTC midnight) before the
agent, and so the LLM, is called. Each worker process counts the spend it saw.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ...host.types import ASGIApp, Receive, Scope, Send
from ..config.schema import BudgetConfig

__all__ = ["BudgetGuard", "BudgetTracker"]

_DAY = 86400


def _day(now: float) -> int:
    return int(now // _DAY)


class BudgetTracker:
    """Today's spend against each budget.

    >>> from robutler_monitoring.plugin.config.schema import BudgetConfig
    >>> seen = []
    >>> budget = BudgetConfig(agent="a", daily_tokens=100, hard=True)
    >>> t = BudgetTracker([budget], on_soft=lambda b, s: seen.append(s))
    >>> t.add({"type": "llm", "agent": "a", "model": "m", "total_tokens": 90, "cost_usd": None})
    >>> seen, t.retry_after("a") is None
    ([90.0], True)
    >>> t.add({"type": "llm", "agent": "a", "model": "m", "total_tokens": 10, "cost_usd": None})
    >>> t.retry_after("a") is not None
    True
    """

    def __init__(
        self,
        budgets: Sequence[BudgetConfig],
        *,
        on_soft: Callable[[BudgetConfig, float], None] | None = None,
        on_exceeded: Callable[[BudgetConfig, float], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.budgets = tuple(budgets)
        self._on_soft = on_soft
        self._on_exceeded = on_exceeded
        self._clock = clock
        self._lock = threading.Lock()
        self._day = _day(clock())
        self._spent = [0.0] * len(self.budgets)
        self._warned = [False] * len(self.budgets)
        self._exceeded = [False] * len(self.budgets)

    def _roll(self) -> None:
        today = _day(self._clock())
        if today != self._day:
            self._day = today
            self._spent = [0.0] * len(self.budgets)
            self._warned = [False] * len(self.budgets)
            self._exceeded = [False] * len(self.budgets)

    def add(self, record: dict[str, Any]) -> None:
        """Count one priced LLM record (writer thread)."""
        if record.get("type") != "llm" or not self.budgets:
            return
        agent, model = record.get("agent") or "", record.get("model") or ""
        soft: list[tuple[BudgetConfig, float]] = []
        exceeded: list[tuple[BudgetConfig, float]] = []
        with self._lock:
            self._roll()
            for i, budget in enumerate(self.budgets):
                if budget.agent not in ("*", agent) or budget.model not in ("*", model):
                    continue
                if budget.daily_usd is not None:
                    amount, limit = float(record.get("cost_usd") or 0.0), budget.daily_usd
                else:
                    amount, limit = float(record.get("total_tokens") or 0), float(budget.daily_tokens or 0)
                spent = self._spent[i] = self._spent[i] + amount
                if not self._warned[i] and spent >= limit * budget.soft_share:
                    self._warned[i] = True
                    soft.append((budget, spent))
                if not self._exceeded[i] and spent >= limit:
                    self._exceeded[i] = True
                    exceeded.append((budget, spent))
        for budget, spent in soft:
            if self._on_soft is not None:
                self._on_soft(budget, spent)
        for budget, spent in exceeded:
            if self._on_exceeded is not None:
                self._on_exceeded(budget, spent)

    def retry_after(self, agent: str) -> int | None:
        """Seconds until the agent's hard budgets reset, when one is spent; else None."""
        with self._lock:
            self._roll()
            for i, budget in enumerate(self.budgets):
                if budget.hard and self._exceeded[i] and budget.agent in ("*", agent):
                    now = self._clock()
                    return max(1, int((self._day + 1) * _DAY - now))
        return None


class BudgetGuard:
    """ASGI: ``POST .../{agent}/chat/completions`` of an agent over a hard budget gets 429."""

    def __init__(self, app: ASGIApp, tracker: BudgetTracker) -> None:
        self.app = app
        self.tracker = tracker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            parts = scope.get("path", "").rstrip("/").split("/")
            if len(parts) >= 4 and parts[-2:] == ["chat", "completions"]:
                retry = self.tracker.retry_after(parts[-3])
                if retry is not None:
                    await _too_many(send, parts[-3], retry)
                    return
        await self.app(scope, receive, send)


async def _too_many(send: Send, agent: str, retry: int) -> None:
    body = json.dumps(
        {"error": {"message": f"agent {agent!r} is over its daily budget", "type": "budget_exceeded"}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
