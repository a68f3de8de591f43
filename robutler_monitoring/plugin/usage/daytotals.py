"""Today's LLM spend from the spool's hourly totals, and which budget notices were given today.

Every worker adds its stored records to the spool's hourly totals (:mod:`.totals`) in
the transaction that stores them, so the sum of a UTC day's hours is that day's usage of
every worker, across restarts, counting each stored record once. ``budget_notices``
holds which budget warnings were logged today, so one server logs each once, whichever
worker sees the crossing first; notices older than :data:`NOTICES_KEEP_DAYS` are pruned.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

__all__ = [
    "DAY",
    "NOTICES_KEEP_DAYS",
    "NOTICES_SCHEMA",
    "DayTotal",
    "claim_notice",
    "prune_notices",
    "read_day_totals",
    "utc_day",
]

NOTICES_KEEP_DAYS = 40  #: budget notices older than this are pruned
DAY = 86400  #: seconds in a UTC day

NOTICES_SCHEMA = """
CREATE TABLE IF NOT EXISTS budget_notices (
    day TEXT NOT NULL,
    budget TEXT NOT NULL,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (day, budget, kind)
)
"""


def utc_day(ts: float) -> str:
    """``YYYY-MM-DD`` of a Unix time, in UTC.

    >>> utc_day(86400 * 365)
    '1971-01-01'
    """
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


@dataclass(frozen=True, slots=True)
class DayTotal:
    """One agent and model's LLM usage on one UTC day (cost: of priced calls)."""

    agent: str
    model: str
    llm_calls: int
    tokens: int
    cost_usd: float


def read_day_totals(db: sqlite3.Connection, at: float) -> list[DayTotal]:
    """Every agent and model's LLM totals on the UTC day of ``at`` (input + output tokens)."""
    first_hour = int(at // DAY) * 24
    rows = db.execute(
        "SELECT agent, name, SUM(calls), SUM(input_tokens + output_tokens), SUM(cost_usd) FROM totals "
        "WHERE hour >= ? AND hour < ? AND type = 'llm' GROUP BY agent, name",
        (first_hour, first_hour + 24),
    ).fetchall()
    return [
        DayTotal(agent, model, int(calls), int(tokens), float(cost))
        for agent, model, calls, tokens, cost in rows
    ]


def claim_notice(db: sqlite3.Connection, day: str, budget: str, kind: str) -> bool:
    """True for the first worker to claim ``kind`` of ``budget`` on ``day`` (one log line per server)."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO budget_notices (day, budget, kind, at) VALUES (?, ?, ?, ?)",
        (day, budget, kind, time.time()),
    )
    return cursor.rowcount == 1


def prune_notices(db: sqlite3.Connection, now: float) -> None:
    """Forget notices older than :data:`NOTICES_KEEP_DAYS` (the totals prune themselves)."""
    db.execute("DELETE FROM budget_notices WHERE day < ?", (utc_day(now - NOTICES_KEEP_DAYS * DAY),))
