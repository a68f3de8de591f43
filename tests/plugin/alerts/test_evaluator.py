"""The evaluator with an injected clock: health and latency rules, lock takeover, restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from robutler_monitoring.plugin.alerts.delivery import ChannelStatus, Dispatcher
from robutler_monitoring.plugin.alerts.engine import Notification
from robutler_monitoring.plugin.alerts.evaluator import Evaluator
from robutler_monitoring.plugin.alerts.metrics import AlertMetrics
from robutler_monitoring.plugin.alerts.rules import AlertPlan
from robutler_monitoring.plugin.alerts.state import StatePaths
from robutler_monitoring.plugin.metrics.http_local import LocalHttpMetrics

from .helpers import CTX, plan


class Recorder(Dispatcher):
    """Keeps what would be sent (the delivery itself is tested against real receivers)."""

    def __init__(self) -> None:
        super().__init__([])
        self.sent: list[Notification] = []

    def send(self, notifications: list[Notification]) -> None:
        self.sent.extend(notifications)

    def status(self) -> dict[str, ChannelStatus]:
        return {}

    def close(self, timeout: float) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _evaluator(
    tmp_path: Path,
    registry: CollectorRegistry,
    clock: Clock,
    health: Any = None,
    alert_plan: AlertPlan | None = None,
    **hook: Any,
) -> Evaluator:
    p = alert_plan or plan(
        **{"for": 30, "window": 60, "min_requests": 10},
        webhooks=[{"url": "http://127.0.0.1:9/x", "name": "ops", **hook}],
    )
    recorder = Recorder()
    return Evaluator(
        p,
        CTX,
        StatePaths(tmp_path, CTX.instance),
        registry_source=lambda: registry,
        metrics=AlertMetrics(CollectorRegistry()),
        health=health,
        clock=clock,
        dispatcher_factory=lambda ev: recorder,
    )


def _sent(ev: Evaluator) -> list[tuple[str, str]]:
    assert isinstance(ev.dispatcher, Recorder)
    return [(n.rule.name, n.status) for n in ev.dispatcher.sent]


def _ticks(ev: Evaluator, clock: Clock, seconds: float, step: float = 10) -> None:
    end = clock.now + seconds
    while clock.now < end:
        asyncio.run(ev.tick())
        clock.now += step


def test_health_rule_fires_after_for_and_resolves(tmp_path: Path) -> None:
    status = {"now": "pass"}

    async def health() -> str:
        return status["now"]

    clock = Clock()
    ev = _evaluator(tmp_path, CollectorRegistry(), clock, health=health, events=["health"])
    _ticks(ev, clock, 30)
    status["now"] = "fail"
    _ticks(ev, clock, 30)
    assert _sent(ev) == []
    _ticks(ev, clock, 10)
    assert _sent(ev) == [("Unhealthy", "firing")]
    status["now"] = "warn"  # warn is not fail
    _ticks(ev, clock, 10)
    assert _sent(ev) == [("Unhealthy", "firing"), ("Unhealthy", "resolved")]


def test_latency_rule_uses_p95_time_to_first_byte(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    http = LocalHttpMetrics(registry)
    clock = Clock()
    ev = _evaluator(tmp_path, registry, clock, events=["performance"], threshold={"response_time": 2000})
    for _ in range(10):
        for i in range(10):  # streams: slow to finish (40 s), quick to start, except 1 in 10
            http.record("POST", "/chat", 200, 40.0, 8.0 if i == 0 else 0.05)
        _ticks(ev, clock, 10)
    assert _sent(ev) == [("SlowResponses", "firing")]
    [note] = ev.dispatcher.sent  # type: ignore[union-attr]
    assert note.value is not None and note.value > 2000
    for _ in range(12):
        for _ in range(10):
            http.record("POST", "/chat", 200, 40.0, 0.05)
        _ticks(ev, clock, 10)
    assert _sent(ev) == [("SlowResponses", "firing"), ("SlowResponses", "resolved")]


def _fail(http: LocalHttpMetrics, n: int = 10) -> None:
    for _ in range(n):
        http.record("GET", "/x", 500, 0.01, 0.01)


def test_lock_holder_evaluates_alone_and_a_takeover_sends_no_second_firing(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    http = LocalHttpMetrics(registry)
    clock = Clock()
    first = _evaluator(tmp_path, registry, clock, events=["error"])
    second = _evaluator(tmp_path, registry, clock, events=["error"])
    for _ in range(5):
        _fail(http)
        assert asyncio.run(first.tick()) is True
        assert asyncio.run(second.tick()) is False  # exactly one evaluates per tick
        clock.now += 10
    assert _sent(first) == [("HighErrorRate", "firing")]
    first.lock.release()  # as when its process dies: the kernel frees the flock
    _fail(http)
    assert asyncio.run(second.tick()) is True  # taken over at the next tick
    clock.now += 10
    assert second.dispatcher is not None and _sent(second) == []
    for _ in range(8):
        http.record("GET", "/x", 200, 0.01, 0.01)
        for _ in range(20):
            http.record("GET", "/x", 200, 0.01, 0.01)
        asyncio.run(second.tick())
        clock.now += 10
    assert _sent(second) == [("HighErrorRate", "resolved")]


def test_restart_while_firing_keeps_the_incident(tmp_path: Path) -> None:
    clock = Clock()
    before = CollectorRegistry()
    http = LocalHttpMetrics(before)
    ev = _evaluator(tmp_path, before, clock, events=["error"])
    for _ in range(5):
        _fail(http)
        _ticks(ev, clock, 10)
    assert _sent(ev) == [("HighErrorRate", "firing")]
    asyncio.run(ev.stop())
    after = CollectorRegistry()  # a restart: every counter starts again from zero
    http = LocalHttpMetrics(after)
    restarted = _evaluator(tmp_path, after, clock, events=["error"])
    for _ in range(3):
        _fail(http)
        _ticks(restarted, clock, 10)
    assert _sent(restarted) == []  # still the same incident
    for _ in range(8):
        for _ in range(20):
            http.record("GET", "/x", 200, 0.01, 0.01)
        _ticks(restarted, clock, 10)
    assert _sent(restarted) == [("HighErrorRate", "resolved")]
