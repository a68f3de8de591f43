"""Daily budgets per agent and model: today's server-wide spend, and 429 past a hard cap.

Today's (UTC) spend of each budget is a cached number, read in the request path with
no I/O. :class:`~.budget_sync.BudgetSync` sets it every second from the spool's
hourly totals of today (every worker's stored records, kept across restarts); between two reads the
writer thread adds this worker's own records at once. So a worker sees its own spend
at once and the other workers' within about a second. With ``hard: true`` the agent's
new chat requests are answered 429 with ``Retry-After`` (seconds to UTC midnight) before
the agent, and so the LLM, is called.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ...host.types import ASGIApp, Receive, Scope, Send
from ..config.schema import BudgetConfig
from .budget_names import budget_limit, budget_names, budget_unit
from .daytotals import DAY, DayTotal

__all__ = ["BudgetGuard", "BudgetState", "BudgetTracker"]


@dataclass(frozen=True, slots=True)
class BudgetState:
    """One budget and what was spent of it today."""

    budget: BudgetConfig
    name: str
    unit: str  #: usd | tokens
    limit: float
    spent: float

    @property
    def soft_at(self) -> float:
        """The spend at which the soft warning is due."""
        return self.limit * self.budget.soft_share

    def describe(self) -> str:
        """``agent=support model=* daily $5``."""
        limit = f"${self.limit:g}" if self.unit == "usd" else f"{self.limit:.0f} tokens"
        return f"{self.name} (agent={self.budget.agent} model={self.budget.model} daily {limit})"


def _day_of(ts: float) -> int:
    return int(ts // DAY)


def _matches(budget: BudgetConfig, agent: str, model: str) -> bool:
    return budget.agent in ("*", agent) and budget.model in ("*", model)


def _amount(budget: BudgetConfig, tokens: float, cost: float) -> float:
    return cost if budget.daily_usd is not None else tokens


class BudgetTracker:
    """Today's spend against each budget.

    >>> from robutler_monitoring.plugin.usage.daytotals import DayTotal
    >>> budget = BudgetConfig(agent="a", daily_tokens=100, hard=True)
    >>> t = BudgetTracker([budget])
    >>> t.add({"type": "llm", "agent": "a", "model": "m", "total_tokens": 90, "cost_usd": None})
    >>> t.retry_after("a") is None
    True
    >>> t.refresh([DayTotal("a", "m", 3, 120, 0.0)], time.time())  # every worker's, from the spool
    >>> t.retry_after("a") is not None, t.states()[0].spent
    (True, 120.0)
    """

    def __init__(self, budgets: Sequence[BudgetConfig], *, clock: Callable[[], float] = time.time) -> None:
        self.budgets = tuple(budgets)
        self.names = budget_names(self.budgets)
        self._limits = tuple(budget_limit(b) for b in self.budgets)
        self._hard = tuple(i for i, b in enumerate(self.budgets) if b.hard)
        self._clock = clock
        self._lock = threading.Lock()
        self._day = _day_of(clock())
        self._spent = [0.0] * len(self.budgets)

    def _roll(self) -> int:
        today = _day_of(self._clock())
        if today != self._day:
            self._day = today
            self._spent = [0.0] * len(self.budgets)
        return today

    def add(self, record: dict[str, Any]) -> None:
        """Count one of this worker's priced LLM records at once (writer thread)."""
        if record.get("type") != "llm" or not self.budgets:
            return
        agent, model = record.get("agent") or "", record.get("model") or ""
        tokens, cost = float(record.get("total_tokens") or 0), float(record.get("cost_usd") or 0.0)
        with self._lock:
            self._roll()
            for i, budget in enumerate(self.budgets):
                if _matches(budget, agent, model):
                    self._spent[i] += _amount(budget, tokens, cost)

    def refresh(self, totals: Iterable[DayTotal], at: float) -> None:
        """Set today's spend from every worker's totals, read for the UTC day of ``at``."""
        spent = [0.0] * len(self.budgets)
        for row in totals:
            for i, budget in enumerate(self.budgets):
                if _matches(budget, row.agent, row.model):
                    spent[i] += _amount(budget, float(row.tokens), float(row.cost_usd))
        with self._lock:
            if self._roll() == _day_of(at):
                self._spent = spent

    def states(self) -> list[BudgetState]:
        """Every budget with today's spend."""
        with self._lock:
            self._roll()
            spent = list(self._spent)
        return [
            BudgetState(b, name, budget_unit(b), limit, s)
            for b, name, limit, s in zip(self.budgets, self.names, self._limits, spent, strict=True)
        ]

    def retry_after(self, agent: str) -> int | None:
        """Seconds until the agent's spent hard budgets reset (UTC midnight); else None. No I/O."""
        now = self._clock()
        if _day_of(now) != self._day:
            return None  # a new day: nothing is spent yet (the writer or the sync rolls over)
        spent = self._spent
        for i in self._hard:
            if spent[i] >= self._limits[i] and self.budgets[i].agent in ("*", agent):
                return max(1, int((now // DAY + 1) * DAY - now))
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
