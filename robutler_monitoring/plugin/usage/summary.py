"""Sums of usage records by agent, model or day: what ``robutler monitor usage`` shows.

Unpriced usage (a model with no known price) is summed apart: its tokens are never
folded into a cost of 0.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["GROUPS", "Row", "parse_duration", "summarize", "summarize_totals"]

Group = Literal["agent", "model", "day"]
GROUPS: tuple[Group, ...] = ("agent", "model", "day")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE | re.ASCII)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION_S = 100 * 366 * 86400  #: a century: older than any usage kept


def parse_duration(text: str) -> float:
    """Seconds in ``text`` such as ``90s``, ``15m``, ``24h``, ``7d``, ``2w``.

    >>> parse_duration("24h"), parse_duration("7d")
    (86400.0, 604800.0)
    >>> parse_duration("99999999999999999999w")
    Traceback (most recent call last):
    ValueError: '99999999999999999999w' is too long a duration; at most 100 years, such as 5200w
    """
    found = _DURATION.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not a duration; expected a number and s, m, h, d or w, such as 24h")
    seconds = float(found.group(1)) * _UNIT[found.group(2).lower()]
    if not seconds <= MAX_DURATION_S:  # also inf, from hundreds of digits
        raise ValueError(f"{text!r} is too long a duration; at most 100 years, such as 5200w")
    return seconds


@dataclass(slots=True)
class Row:
    """The sums of one group."""

    key: str
    llm_calls: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0  #: of priced calls only
    unpriced_calls: int = 0
    unpriced_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _key(record: dict[str, Any], by: Group) -> str:
    if by == "day":
        return datetime.fromtimestamp(float(record.get("timestamp") or 0), UTC).strftime("%Y-%m-%d")
    if by == "model" and record.get("type") == "tool":
        return f"tool:{record.get('tool') or '?'}"
    return str(record.get(by) or "-")


def summarize(
    records: Iterable[dict[str, Any]],
    *,
    by: Group = "agent",
    since_s: float | None = None,
    now: float | None = None,
) -> list[Row]:
    """Rows of ``records`` grouped ``by`` (each record counted once by ``id``), sorted by key.

    >>> rows = summarize([{"id": "a", "type": "llm", "agent": "x", "prompt_tokens": 3,
    ...                     "completion_tokens": 1, "cost_usd": None, "timestamp": 0}])
    >>> rows[0].unpriced_tokens, rows[0].cost_usd
    (4, 0.0)
    """
    cutoff = None if since_s is None else (time.time() if now is None else now) - since_s
    seen: set[str] = set()
    rows: dict[str, Row] = {}
    for record in records:
        rid = record.get("id")
        if rid is not None:
            if rid in seen:
                continue
            seen.add(rid)
        if cutoff is not None and float(record.get("timestamp") or 0) < cutoff:
            continue
        key = _key(record, by)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(key)
        if record.get("type") == "tool":
            row.tool_calls += 1
            continue
        if record.get("type") != "llm":
            continue
        row.llm_calls += 1
        prompt, completion = int(record.get("prompt_tokens") or 0), int(record.get("completion_tokens") or 0)
        row.input_tokens += prompt
        row.output_tokens += completion
        cost = record.get("cost_usd")
        if cost is None:
            row.unpriced_calls += 1
            row.unpriced_tokens += prompt + completion
        else:
            row.cost_usd += float(cost)
    return [rows[k] for k in sorted(rows)]


def summarize_totals(totals: Iterable[dict[str, Any]], *, by: Group = "agent") -> list[Row]:
    """Rows of hourly totals (:func:`.totals.read_totals`) grouped ``by``, sorted by key.

    >>> rows = summarize_totals([{"hour": 0, "agent": "x", "type": "llm", "name": "m", "calls": 2,
    ...     "input_tokens": 5, "output_tokens": 1, "cost_usd": 0.5,
    ...     "unpriced_calls": 0, "unpriced_tokens": 0}])
    >>> rows[0].key, rows[0].llm_calls, rows[0].cost_usd
    ('x', 2, 0.5)
    """
    rows: dict[str, Row] = {}
    for total in totals:
        kind, name = total.get("type"), total.get("name") or ""
        record = {"timestamp": total.get("hour"), "agent": total.get("agent"), "type": kind}
        record["model" if kind == "llm" else "tool"] = name
        key = _key(record, by)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(key)
        calls = int(total.get("calls") or 0)
        if kind == "tool":
            row.tool_calls += calls
            continue
        row.llm_calls += calls
        row.input_tokens += int(total.get("input_tokens") or 0)
        row.output_tokens += int(total.get("output_tokens") or 0)
        row.cost_usd += float(total.get("cost_usd") or 0.0)
        row.unpriced_calls += int(total.get("unpriced_calls") or 0)
        row.unpriced_tokens += int(total.get("unpriced_tokens") or 0)
    return [rows[k] for k in sorted(rows)]
