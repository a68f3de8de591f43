"""Budgets: today's spend is the server's (every worker's day totals), one warning, 429 past a hard cap."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from robutler_monitoring.plugin.config.schema import BudgetConfig, UsageConfig
from robutler_monitoring.plugin.usage.budget_sync import BudgetMetrics, BudgetSync
from robutler_monitoring.plugin.usage.budgets import BudgetGuard, BudgetTracker
from robutler_monitoring.plugin.usage.daytotals import DayTotal
from robutler_monitoring.plugin.usage.spool import Spool

DAY = 86400.0


class _Clock:
    def __init__(self) -> None:
        self.now = 20_000 * DAY + 3600.0  # 01:00 UTC

    def __call__(self) -> float:
        return self.now


def _llm(
    agent: str, cost: float | None, tokens: int = 10, model: str = "gpt-4o", *, at: float, n: int = 0
) -> dict[str, Any]:
    return {
        "type": "llm",
        "id": f"{agent}-{at}-{n}",
        "timestamp": at,
        "agent": agent,
        "model": model,
        "cost_usd": cost,
        "prompt_tokens": tokens - tokens // 4,
        "completion_tokens": tokens // 4,
        "total_tokens": tokens,
    }


class _Worker:
    """One serving process's share of budgets: its tracker, its spool connection, its sync."""

    def __init__(self, spool_dir: Path, budgets: list[BudgetConfig], clock: _Clock, seen: list[str]) -> None:
        self.tracker = BudgetTracker(budgets, clock=clock)
        self.spool = Spool(str(spool_dir))
        self.registry = CollectorRegistry()
        self.sync = BudgetSync(
            self.tracker,
            lambda: self.spool,
            metrics=BudgetMetrics(self.registry),
            on_crossed=lambda st, kind: seen.append(f"{st.name}:{kind}:{st.spent:g}"),
            clock=clock,
        )

    def serve(self, *records: dict[str, Any]) -> None:
        """What the writer thread does: commit its records, then count them at once."""
        self.spool.add(records)
        for record in records:
            self.tracker.add(record)


def test_spend_is_every_workers_and_each_crossing_is_announced_once(tmp_path: Path) -> None:
    clock, seen = _Clock(), list[str]()
    budget = BudgetConfig(agent="support", daily_usd=1.0, soft_share=0.8, hard=True)
    a, b = (_Worker(tmp_path, [budget], clock, seen) for _ in range(2))
    t = clock.now
    a.serve(_llm("support", 0.5, at=t), _llm("research", 5.0, at=t))  # another agent: not this budget
    b.serve(_llm("support", 0.35, at=t, n=1))
    assert a.tracker.states()[0].spent == pytest.approx(0.5)  # its own, at once
    assert b.tracker.retry_after("support") is None
    for worker in (a, b):
        worker.sync.sync(worker.spool)
    assert [w.tracker.states()[0].spent for w in (a, b)] == [pytest.approx(0.85)] * 2
    assert seen == ["support:soft:0.85"]  # one line for the server, not one per worker
    assert b.registry.get_sample_value(
        "robutler_budget_spent", {"budget": "support", "agent": "support", "model": "*", "unit": "usd"}
    ) == pytest.approx(0.85)
    assert b.registry.get_sample_value(
        "robutler_budget_limit", {"budget": "support", "agent": "support", "model": "*", "unit": "usd"}
    ) == pytest.approx(1.0)

    a.serve(_llm("support", 0.2, at=t, n=2))
    assert a.tracker.retry_after("support") == 23 * 3600  # its own spend: at once
    assert b.tracker.retry_after("support") is None  # the other worker's: at its next sync
    b.sync.sync(b.spool)
    a.sync.sync(a.spool)
    assert b.tracker.retry_after("support") == 23 * 3600
    assert b.tracker.retry_after("research") is None
    assert seen == ["support:soft:0.85", "support:exceeded:1.05"]

    restarted = _Worker(tmp_path, [budget], clock, seen)  # a restart keeps today's spend
    restarted.sync.sync(restarted.spool)
    assert restarted.tracker.retry_after("support") == 23 * 3600
    assert len(seen) == 2  # and does not announce it again

    clock.now += 23 * 3600  # midnight UTC: a new day
    assert b.tracker.retry_after("support") is None
    b.sync.sync(b.spool)
    assert b.tracker.states()[0].spent == 0.0
    assert b.registry.get_sample_value(
        "robutler_budget_spent", {"budget": "support", "agent": "support", "model": "*", "unit": "usd"}
    ) == pytest.approx(0.0)


def test_token_budget_for_a_model_across_agents() -> None:
    clock = _Clock()
    tracker = BudgetTracker([BudgetConfig(model="o3", daily_tokens=1_000, hard=True)], clock=clock)
    totals = [
        DayTotal("a", "o3", 2, 500, 0.0),
        DayTotal("b", "o3", 1, 300, 0.0),
        DayTotal("b", "x", 1, 900, 0),
    ]
    tracker.refresh(totals, clock.now)
    (state,) = tracker.states()
    assert (state.name, state.unit, state.spent) == ("o3", "tokens", 800.0)
    tracker.refresh(totals, clock.now - DAY)  # yesterday's read, seen after midnight: ignored
    assert tracker.states()[0].spent == 800.0


def test_the_warning_line_is_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    tracker = BudgetTracker([BudgetConfig(agent="support", daily_tokens=100)], clock=clock)
    spool = Spool(str(tmp_path))
    spool.add([_llm("support", None, 85, at=clock.now)])
    with caplog.at_level(logging.WARNING, logger="robutler.monitoring.usage"):
        BudgetSync(tracker, lambda: spool, clock=clock).sync(spool)
    assert caplog.messages == ["budget: support (agent=support model=* daily 100 tokens) is 85% spent today"]


def test_budget_config_is_checked() -> None:
    with pytest.raises(ValidationError, match="exactly one of daily_usd or daily_tokens"):
        UsageConfig.model_validate({"spool_dir": "/tmp/s", "budgets": [{"agent": "a"}]})
    with pytest.raises(ValidationError, match="exactly one"):
        UsageConfig.model_validate({"spool_dir": "/tmp/s", "budgets": [{"daily_usd": 1, "daily_tokens": 5}]})
    with pytest.raises(ValidationError, match=r"usage\.budgets needs usage\.spool_dir"):
        UsageConfig.model_validate({"budgets": [{"daily_usd": 1}]})
    with pytest.raises(ValidationError, match="two budgets are named 'support'"):
        UsageConfig.model_validate(
            {
                "spool_dir": "/tmp/s",
                "budgets": [{"agent": "support", "daily_usd": 1}, {"name": "support", "daily_tokens": 9}],
            }
        )


def test_guard_answers_429_before_the_agent_runs() -> None:
    clock = _Clock()
    tracker = BudgetTracker([BudgetConfig(agent="support", daily_tokens=10, hard=True)], clock=clock)
    tracker.add(_llm("support", None, 10, at=clock.now))
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
    assert int(headers[b"retry-after"]) == 23 * 3600
    assert b"over its daily budget" in sent[1]["body"]


def test_a_spool_the_sync_cannot_open_is_counted_logged_once_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from robutler_monitoring.plugin.usage.service import UsageService
    from tests.support.polling import wait_until

    blocker = tmp_path / "spool"
    blocker.write_text("a file where the spool directory goes")
    registry = CollectorRegistry()
    cfg = UsageConfig(spool_dir=str(blocker), budgets=(BudgetConfig(agent="a", daily_tokens=100),))
    sync = UsageService(cfg, registry).budget_sync
    assert sync is not None

    def failures() -> float:
        labels = {"type": "FileExistsError", "source": "budget_sync"}
        return registry.get_sample_value("robutler_errors_total", labels) or 0.0

    with caplog.at_level(logging.WARNING, logger="robutler.monitoring.usage"):
        sync.start()
        try:
            wait_until(lambda: failures() >= 2, timeout=15, what="two counted failures")
            blocker.unlink()  # the directory can be made now: the same thread reads budgets
            wait_until(lambda: sync.syncs > 0, timeout=15, what="a budget read after the failures")
        finally:
            sync.stop()
    logged = [m for m in caplog.messages if "reading today's spend from the spool failed" in m]
    assert len(logged) == 1 and "FileExistsError" in logged[0]  # once a minute at most


def test_the_writer_counts_a_record_for_budgets_only_once_it_is_in_the_totals(tmp_path: Path) -> None:
    # a sync reading the totals between the count and the commit would set the spend to totals
    # lacking the record: the worker's spend would drop (and a hard budget let a request through)
    from robutler_monitoring.events import EventBus, record_llm_call
    from robutler_monitoring.plugin.usage.cost import Pricer
    from robutler_monitoring.plugin.usage.recorder import UsageRecorder
    from robutler_monitoring.plugin.usage.totals import read_totals

    in_totals_when_counted: list[int] = []

    def counted(record: dict[str, Any]) -> None:
        in_totals_when_counted.append(sum(t["calls"] for t in read_totals(str(tmp_path))))

    recorder = UsageRecorder(Pricer(), None, spool_factory=lambda: Spool(str(tmp_path)), on_record=counted)
    bus = EventBus()
    recorder.subscribe(bus)
    recorder.start()
    try:
        record_llm_call("gpt-4o", input_tokens=10, agent="a", bus=bus)
        assert recorder.flush()
    finally:
        recorder.stop()
    assert in_totals_when_counted == [1]
