"""Per-day LLM totals in the spool's database: today's server-wide spend, for budgets.

Every worker adds its records' tokens and cost to ``usage_days`` (UTC day, agent, model)
in the transaction that stores the records, so the totals are those of every committed
record, across workers and restarts, and never of one that was not committed.
``budget_notices`` holds which budget warnings were logged today, so one server logs
each once, whichever worker sees the crossing first. Days older than
:data:`KEEP_DAYS` are pruned.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KEEP_DAYS",
    "SCHEMA",
    "DayTotal",
    "add_day_totals",
    "claim_notice",
    "prune_days",
    "read_day_totals",
    "utc_day",
]

KEEP_DAYS = 40

SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_days (
    day TEXT NOT NULL,
    agent TEXT NOT NULL,
    model TEXT NOT NULL,
    llm_calls INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    PRIMARY KEY (day, agent, model)
);
CREATE TABLE IF NOT EXISTS budget_notices (
    day TEXT NOT NULL,
    budget TEXT NOT NULL,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (day, budget, kind)
);
"""


def utc_day(ts: float) -> str:
    """``YYYY-MM-DD`` of a Unix time, in UTC.

    >>> utc_day(86400 * 365)
    '1971-01-01'
    """
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


@dataclass(frozen=True, slots=True)
class DayTotal:
    """One agent and model's LLM usage on one UTC day (priced calls only carry cost)."""

    agent: str
    model: str
    llm_calls: int
    tokens: int
    cost_usd: float


def add_day_totals(db: sqlite3.Connection, records: Iterable[dict[str, Any]]) -> None:
    """Add the LLM records' tokens and cost to their day's totals (call inside the records' transaction)."""
    sums: dict[tuple[str, str, str], list[float]] = {}
    for r in records:
        if r.get("type") != "llm":
            continue
        key = (utc_day(float(r.get("timestamp") or time.time())), r.get("agent") or "", r.get("model") or "")
        row = sums.setdefault(key, [0, 0, 0.0])
        row[0] += 1
        row[1] += int(r.get("total_tokens") or 0)
        row[2] += float(r.get("cost_usd") or 0.0)
    if not sums:
        return
    db.executemany(
        "INSERT INTO usage_days (day, agent, model, llm_calls, tokens, cost_usd) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(day, agent, model) DO UPDATE SET llm_calls = llm_calls + excluded.llm_calls, "
        "tokens = tokens + excluded.tokens, cost_usd = cost_usd + excluded.cost_usd",
        [(*key, int(calls), int(tokens), cost) for key, (calls, tokens, cost) in sums.items()],
    )


def read_day_totals(db: sqlite3.Connection, day: str) -> list[DayTotal]:
    """Every agent and model's totals on ``day``."""
    rows = db.execute(
        "SELECT agent, model, llm_calls, tokens, cost_usd FROM usage_days WHERE day = ?", (day,)
    ).fetchall()
    return [DayTotal(*row) for row in rows]


def claim_notice(db: sqlite3.Connection, day: str, budget: str, kind: str) -> bool:
    """True for the first worker to claim ``kind`` of ``budget`` on ``day`` (one log line per server)."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO budget_notices (day, budget, kind, at) VALUES (?, ?, ?, ?)",
        (day, budget, kind, time.time()),
    )
    return cursor.rowcount == 1


def prune_days(db: sqlite3.Connection, now: float) -> None:
    """Forget totals and notices older than :data:`KEEP_DAYS`."""
    oldest = utc_day(now - KEEP_DAYS * 86400)
    db.execute("DELETE FROM budget_notices WHERE day < ?", (oldest,))
    db.execute("DELETE FROM usage_days WHERE day < ?", (oldest,))
