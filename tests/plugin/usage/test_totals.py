"""Hourly totals in the spool: each stored record once, kept after the records are sent and deleted."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from robutler_monitoring.plugin.usage.spool import DB_NAME, Spool
from robutler_monitoring.plugin.usage.summary import GROUPS, summarize, summarize_totals
from robutler_monitoring.plugin.usage.totals import read_totals

HOUR = 3600.0
NOW = 1_764_590_400.0  # 2025-12-01 12:00 UTC


def _llm(rid: str, at: float, cost: float | None, agent: str = "support", model: str = "m") -> dict[str, Any]:
    return {
        "id": rid,
        "type": "llm",
        "agent": agent,
        "model": model,
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "cost_usd": cost,
        "timestamp": at,
    }


RECORDS = [
    _llm("a-0", NOW - 10, 0.25),
    _llm("a-1", NOW - 20, 0.5),
    _llm("b-0", NOW - 30, None, agent="research", model="acme-7"),
    {"id": "b-1", "type": "tool", "agent": "research", "tool": "search", "timestamp": NOW - 30},
    _llm("c-0", NOW - 3 * HOUR, 1.0),
    _llm("d-0", NOW - 3 * 24 * HOUR, 2.0, agent="research"),
]


def test_totals_count_each_record_once_and_outlive_delivery(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), sinks=("http",))
    assert spool.add(RECORDS[:4]) == 4
    assert spool.add(RECORDS) == 2  # the first four again: skipped, in the totals too
    spool.delivered("http", spool.pending("http", 100)[-1][0])
    assert spool.all_records() == []  # sent: deleted
    for by in GROUPS:
        from_totals = [r.as_dict() for r in summarize_totals(read_totals(str(tmp_path)), by=by)]
        assert from_totals == [r.as_dict() for r in summarize(RECORDS, by=by)]
    support = summarize_totals(read_totals(str(tmp_path)))[1]
    assert (support.key, support.llm_calls, support.input_tokens, support.cost_usd) == (
        "support",
        3,
        300,
        1.75,
    )


@pytest.mark.parametrize(
    ("since_s", "ids"),
    [
        (HOUR, {"a-0", "a-1", "b-0", "b-1"}),  # 11:00-12:00, whole: the cutoff 11:01 falls in it
        (4 * HOUR, {"a-0", "a-1", "b-0", "b-1", "c-0"}),
        (None, {r["id"] for r in RECORDS}),
    ],
)
def test_since_counts_whole_hours(tmp_path: Path, since_s: float | None, ids: set[str]) -> None:
    Spool(str(tmp_path)).add(RECORDS)
    rows = summarize_totals(read_totals(str(tmp_path), since_s, now=NOW + 60), by="model")
    expected = summarize([r for r in RECORDS if r["id"] in ids], by="model")
    assert [r.as_dict() for r in rows] == [r.as_dict() for r in expected]


def test_no_spool_no_totals(tmp_path: Path) -> None:
    assert read_totals(str(tmp_path / "nowhere")) == []


@pytest.mark.parametrize("since_s", [1e300, float("inf"), 10 * NOW])
def test_a_since_beyond_the_epoch_reads_every_hour(tmp_path: Path, since_s: float) -> None:
    # neither an OverflowError (past SQLite's INTEGER) nor a NaN hour: every total
    Spool(str(tmp_path)).add(RECORDS)
    assert read_totals(str(tmp_path), since_s, now=NOW) == read_totals(str(tmp_path))


def _old_spool(directory: Path, records: list[dict[str, Any]]) -> None:
    """A spool as the release before the totals wrote it: records, no totals table."""
    db = sqlite3.connect(directory / DB_NAME)
    db.execute(
        "CREATE TABLE records (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
        "created REAL NOT NULL, body TEXT NOT NULL)"
    )
    db.executemany(
        "INSERT INTO records (id, created, body) VALUES (?, ?, ?)",
        [(r["id"], NOW, json.dumps(r)) for r in records],
    )
    db.commit()
    db.close()


def test_a_spool_from_before_the_totals_has_its_records_summed_once(tmp_path: Path) -> None:
    _old_spool(tmp_path, RECORDS[:4])
    Spool(str(tmp_path)).close()
    spool = Spool(str(tmp_path))  # a second worker: the table is there, nothing added twice
    spool.add(RECORDS[4:])
    rows = summarize_totals(read_totals(str(tmp_path)), by="model")
    assert [r.as_dict() for r in rows] == [r.as_dict() for r in summarize(RECORDS, by="model")]
