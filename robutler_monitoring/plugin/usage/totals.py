"""Hourly usage totals kept in the spool: what ``GET /usage`` and ``monitor usage`` sum, server-wide.

Records leave the spool once every sink has them, so the spool cannot answer "what did
this server use today". Each record the spool stores is also added to an hourly total
(UTC hour, agent, llm|tool, model or tool name) in the same transaction, so the totals
count every stored record exactly once (an id already stored is skipped for both), from
every worker (they share the spool), and survive a ``kill -9`` as the records do. Totals
older than :data:`TOTALS_KEEP_DAYS` are deleted.
"""

from __future__ import annotations

import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["SCHEMA", "TOTALS_KEEP_DAYS", "add_totals", "create_totals", "read_totals"]

TOTALS_KEEP_DAYS = 400  #: a year of daily sums, and some

SCHEMA = """
CREATE TABLE IF NOT EXISTS totals (
    hour INTEGER NOT NULL,
    agent TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    calls INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    unpriced_calls INTEGER NOT NULL,
    unpriced_tokens INTEGER NOT NULL,
    PRIMARY KEY (hour, agent, type, name)
)
"""

_COLUMNS = ("calls", "input_tokens", "output_tokens", "cost_usd", "unpriced_calls", "unpriced_tokens")
_UPSERT = (
    f"INSERT INTO totals (hour, agent, type, name, {', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (4 + len(_COLUMNS)))}) "
    "ON CONFLICT (hour, agent, type, name) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in _COLUMNS)
)

Key = tuple[int, str, str, str]
_ALL_HOURS = -(2**62)  #: before every hour (and within SQLite's INTEGER)


def _key(record: dict[str, Any]) -> Key | None:
    kind = record.get("type")
    if kind not in ("llm", "tool"):
        return None
    name = record.get("model") if kind == "llm" else record.get("tool")
    hour = int(float(record.get("timestamp") or 0) // 3600)
    return hour, str(record.get("agent") or ""), kind, str(name or "")


def create_totals(db: sqlite3.Connection, stored: Callable[[], Iterable[dict[str, Any]]]) -> None:
    """Create the totals table, inside the caller's transaction. A spool from before the totals
    has records already: ``stored()`` (called only then) are added, so none goes uncounted."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'totals'").fetchone():
        return
    db.execute(SCHEMA)
    add_totals(db, stored())


def add_totals(db: sqlite3.Connection, records: Iterable[dict[str, Any]]) -> None:
    """Add ``records`` (just stored) to the hourly totals, inside the caller's transaction."""
    sums: dict[Key, list[Any]] = {}
    for record in records:
        key = _key(record)
        if key is None:
            continue
        row = sums.get(key)
        if row is None:
            row = sums[key] = [0, 0, 0, 0.0, 0, 0]
        row[0] += 1
        if key[2] != "llm":
            continue
        prompt, completion = int(record.get("prompt_tokens") or 0), int(record.get("completion_tokens") or 0)
        row[1] += prompt
        row[2] += completion
        cost = record.get("cost_usd")
        if cost is None:
            row[4] += 1
            row[5] += prompt + completion
        else:
            row[3] += float(cost)
    if sums:
        db.executemany(_UPSERT, [(*key, *row) for key, row in sums.items()])
        oldest = min(key[0] for key in sums) - TOTALS_KEEP_DAYS * 24
        db.execute("DELETE FROM totals WHERE hour < ?", (oldest,))


def read_totals(
    directory: str, since_s: float | None = None, now: float | None = None
) -> list[dict[str, Any]]:
    """The hourly totals of the spool in ``directory`` (the hours that end within ``since_s``), read-only.

    Each row: ``hour`` (start, seconds since the epoch, UTC), ``agent``, ``type``, ``name``
    (model or tool), ``calls``, ``input_tokens``, ``output_tokens``, ``cost_usd`` (priced
    calls), ``unpriced_calls``, ``unpriced_tokens``. No spool there: no rows.
    """
    from .spool import DB_NAME

    path = os.path.join(directory, DB_NAME)
    if not os.path.exists(path):
        return []
    first_hour = _ALL_HOURS
    if since_s is not None:
        cutoff = (time.time() if now is None else now) - since_s
        if math.isfinite(cutoff):  # the hour the cutoff falls in counts whole
            first_hour = max(int(cutoff // 3600), _ALL_HOURS)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute(
            f"SELECT hour, agent, type, name, {', '.join(_COLUMNS)} FROM totals WHERE hour >= ? "
            "ORDER BY hour, agent, type, name",
            (first_hour,),
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # a spool from before the totals: nothing summed yet
            return []
        raise
    finally:
        db.close()
    names = ("hour", "agent", "type", "name", *_COLUMNS)
    return [dict(zip(names, (row[0] * 3600, *row[1:]), strict=True)) for row in rows]
