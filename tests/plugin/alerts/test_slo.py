"""SLO burn-rate alerts: the SRE workbook's pairs, in process (page) and exported (all three)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.plugin.alerts.export import rule_groups, to_yaml
from robutler_monitoring.plugin.alerts.window import Counts, History
from robutler_monitoring.plugin.metrics.http_local import LocalHttpMetrics

from .helpers import plan
from .test_evaluator import Clock, _sent

HOOK = {"url": "http://127.0.0.1:9/x", "name": "ops"}


def test_slo_adds_the_two_page_pairs_and_exports_the_ticket_too() -> None:
    p = plan(
        slo={"availability": 0.999},
        webhooks=[{**HOOK, "events": ["error"]}, {"url": "http://127.0.0.1:9/y", "events": ["health"]}],
    )
    assert [r.name for r in p.rules] == [
        "HighErrorRate",
        "Unhealthy",
        "ErrorBudgetBurnFast",
        "ErrorBudgetBurnSlow",
    ]
    fast = p.rule("ErrorBudgetBurnFast")
    assert fast is not None and (fast.threshold, fast.window, fast.short_window) == (14.4, 3600, 300)
    [ticket] = p.export_only
    assert (ticket.name, ticket.window, ticket.short_window, ticket.severity) == (
        "ErrorBudgetBurnTicket",
        259200,
        21600,
        "warning",
    )
    error_channel, health_channel = p.channels
    assert {s.rule for s in error_channel.subscriptions} == {
        "HighErrorRate",
        "ErrorBudgetBurnFast",
        "ErrorBudgetBurnSlow",
    }
    assert {s.rule for s in health_channel.subscriptions} == {"Unhealthy"}
    names = [r["alert"] for r in rule_groups(p, ())["groups"][0]["rules"]]
    assert names == ["HighErrorRate", "ErrorBudgetBurnFast", "ErrorBudgetBurnSlow", "ErrorBudgetBurnTicket"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_burn_rate_rules(tmp_path: Path) -> None:
    p = plan(slo={"availability": 0.995}, webhooks=[HOOK])
    path = tmp_path / "rules.yaml"
    path.write_text(to_yaml(rule_groups(p, ("/metrics",))), encoding="utf-8")
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "SUCCESS: 5 rules found" in result.stdout, result.stdout + result.stderr


def test_fast_burn_pages_on_a_burst_that_the_error_rate_rule_ignores(tmp_path: Path) -> None:
    from .test_evaluator import _evaluator

    registry = CollectorRegistry()
    http = LocalHttpMetrics(registry)
    clock = Clock()
    ev = _evaluator(tmp_path, registry, clock, events=["error"])
    ev_plan = plan(
        **{"for": 30, "window": 60, "min_requests": 10},
        slo={"availability": 0.999},
        webhooks=[{**HOOK, "events": ["error"]}],
    )
    ev.plan = ev.engine.plan = ev_plan
    ev.engine.states.update({r.name: type(ev.engine.states["HighErrorRate"])() for r in ev_plan.rules})
    ev.history = History(keep=6 * 3600 + 20)
    for _ in range(60):  # 10 minutes at 2 % errors: 20x the 0.1 % budget, far under the 5 % rule
        for i in range(50):
            http.record("GET", "/x", 500 if i == 0 else 200, 0.01, 0.01)
        asyncio.run(ev.tick())
        clock.now += 10
    sent = _sent(ev)
    assert ("ErrorBudgetBurnFast", "firing") in sent and ("ErrorBudgetBurnSlow", "firing") in sent
    assert not any(name == "HighErrorRate" for name, _ in sent)
    for _ in range(40):  # clean traffic: the 5 min window stops burning first, and that resets it
        for _ in range(50):
            http.record("GET", "/x", 200, 0.01, 0.01)
        asyncio.run(ev.tick())
        clock.now += 10
    assert ("ErrorBudgetBurnFast", "resolved") in _sent(ev)


def test_long_history_is_thinned_to_a_sample_a_minute_without_losing_counts() -> None:
    history = History(keep=6 * 3600)
    for tick in range(6 * 360 + 1):  # 6 h of 10 s ticks, 7 requests a tick
        history.add(tick * 10.0, Counts(tick * 7.0, tick * 1.0))
    assert len(history.samples) < 6 * 60 + 70
    grown = history.increase(6 * 3600.0, window=6 * 3600)
    # the window's start is found to within a minute (6 ticks of 7 requests)
    assert 6 * 360 * 7 - 6 * 7 <= grown.requests <= 6 * 360 * 7
    assert grown.failed / grown.requests == pytest.approx(1 / 7)
