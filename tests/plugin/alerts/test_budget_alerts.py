"""Budget alerts: two rules per budget, one notice per incident, resolved at midnight UTC, exported."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from robutler_monitoring.plugin.alerts.evaluator import Evaluator
from robutler_monitoring.plugin.alerts.export import rule_groups, to_yaml
from robutler_monitoring.plugin.alerts.metrics import AlertMetrics
from robutler_monitoring.plugin.alerts.payloads import value_text, webhook_json
from robutler_monitoring.plugin.alerts.rules import AlertPlan, alerted_budgets, build_plan
from robutler_monitoring.plugin.alerts.state import StatePaths
from robutler_monitoring.plugin.config.loader import load_config
from robutler_monitoring.plugin.config.schema import AlertsConfig, BudgetConfig
from robutler_monitoring.plugin.usage.budget_sync import BudgetMetrics
from robutler_monitoring.plugin.usage.budgets import BudgetState

from .helpers import CTX
from .test_evaluator import Clock, Recorder, _sent

HOOK = {"url": "http://127.0.0.1:9/x", "name": "ops"}
SUPPORT = BudgetConfig(agent="support", daily_usd=5.0, soft_share=0.8)


def _plan(budgets: list[BudgetConfig], **alerts: Any) -> AlertPlan:
    return build_plan(
        AlertsConfig.model_validate(alerts), instance=CTX.instance, service=CTX.service, budgets=budgets
    )


def test_one_budget_gives_a_soft_and_an_exceeded_rule() -> None:
    p = _plan([SUPPORT], webhooks=[HOOK])
    soft, exceeded = p.rules[-2:]
    assert [r.name for r in p.rules[-2:]] == ["BudgetSoftLimit", "BudgetExceeded"]
    assert (soft.severity, exceeded.severity, soft.event, exceeded.event) == (
        "warning",
        "critical",
        "budget",
        "budget",
    )
    assert dict(soft.labels) == {
        "service": "robutler",
        "instance": CTX.instance,
        "budget": "support",
        "agent": "support",
        "model": "*",
    }
    assert (soft.threshold, exceeded.threshold, soft.for_) == (4.0, 5.0, 0.0)
    assert soft.describe(4.1) == "budget support: $4.1 spent today >= 80% of its daily $5"
    assert exceeded.describe(5.25) == "budget support: $5.25 spent today >= its daily $5"
    assert value_text(soft, 4.1) == "$4.1" and soft.threshold_text() == "$4"


def test_which_channels_get_budget_alerts() -> None:
    tokens = BudgetConfig(model="o3", daily_tokens=2_000_000)
    p = _plan(
        [SUPPORT, tokens],
        webhooks=[
            {"url": "http://127.0.0.1:9/all", "name": "all"},  # no events: every event, budget too
            {"url": "http://127.0.0.1:9/err", "name": "errors", "events": ["error"]},
            {"url": "http://127.0.0.1:9/b", "name": "finance", "events": ["budget"]},
        ],
    )
    subscribed = {c.name: [s.rule for s in c.subscriptions] for c in p.channels}
    budget_rules = [
        "BudgetSoftLimit_support",
        "BudgetExceeded_support",
        "BudgetSoftLimit_o3",
        "BudgetExceeded_o3",
    ]
    assert subscribed == {
        "all": ["HighErrorRate", "SlowResponses", "Unhealthy", *budget_rules],
        "errors": ["HighErrorRate"],
        "finance": budget_rules,
    }
    finance = p.channels[2]
    assert {s.repeat_interval for s in finance.subscriptions} == {float("inf")}  # no reminders
    o3 = p.rule("BudgetSoftLimit_o3")
    assert o3 is not None and o3.describe(1_700_000) == (
        "budget o3: 1,700,000 tokens spent today >= 80% of its daily 2,000,000 tokens"
    )
    assert _plan([], webhooks=[HOOK]).rules[-1].name == "Unhealthy"  # no budgets: no budget rules


def test_a_loaded_config_knows_which_channels_left_events_out(tmp_path: Path) -> None:
    path = tmp_path / "robutler.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "monitoring": {
                    "usage": {"spool_dir": str(tmp_path / "spool"), "budgets": [{"daily_usd": 10}]},
                    "email": {"smtp_host": "localhost", "recipients": ["a@example.com"], "sender": "s@x.io"},
                    "alerts": {"webhooks": [{"url": "http://127.0.0.1:9/e", "events": ["error"]}]},
                }
            }
        ),
        encoding="utf-8",
    )
    cfg = load_config(path, env={}).config
    assert alerted_budgets(cfg) == cfg.usage.budgets
    p = build_plan(cfg.alerts, instance="h", service="s", budgets=alerted_budgets(cfg))
    subscribed = {c.name: {s.rule for s in c.subscriptions} for c in p.channels}
    assert {"BudgetSoftLimit", "BudgetExceeded"} <= subscribed["email"]
    assert subscribed["webhook-127.0.0.1"] == {"HighErrorRate"}


def _budget_evaluator(tmp_path: Path, registry: CollectorRegistry, clock: Clock) -> Evaluator:
    p = _plan([SUPPORT], webhooks=[{**HOOK, "events": ["budget"]}])
    recorder = Recorder()
    return Evaluator(
        p,
        CTX,
        StatePaths(tmp_path, CTX.instance),
        registry_source=lambda: registry,
        metrics=AlertMetrics(registry),
        clock=clock,
        dispatcher_factory=lambda ev: recorder,
    )


def test_in_process_rules_fire_once_per_incident_and_resolve_at_midnight(tmp_path: Path) -> None:
    registry, clock = CollectorRegistry(), Clock()
    clock.now = 20_000 * 86400.0 + 3600.0  # 01:00 UTC
    gauges = BudgetMetrics(registry)
    ev = _budget_evaluator(tmp_path, registry, clock)

    def spend(usd: float, hours: float) -> None:
        gauges.show([BudgetState(SUPPORT, "support", "usd", 5.0, usd)])  # what each worker's sync sets
        for _ in range(max(1, int(hours * 4))):  # a tick every 15 minutes
            asyncio.run(ev.tick())
            clock.now += 900

    asyncio.run(ev.tick())  # no worker has read today's totals yet: nothing known, nothing sent
    assert _sent(ev) == [] and ev.engine.states["BudgetSoftLimit"].state == "inactive"
    spend(3.9, 1)
    assert _sent(ev) == []
    spend(4.0, 6)  # 80 %: fires at once, and stays quiet for hours (no reminders)
    assert _sent(ev) == [("BudgetSoftLimit", "firing")]
    assert ev.dispatcher is not None
    [note] = ev.dispatcher.sent  # type: ignore[attr-defined]
    body = webhook_json(note, CTX)
    assert (body["event"], body["severity"], body["value_text"], body["threshold_text"]) == (
        "budget",
        "warning",
        "$4",
        "$4",
    )
    assert body["labels"]["alertname"] == "BudgetSoftLimit"
    spend(5.2, 1)
    assert _sent(ev) == [("BudgetSoftLimit", "firing"), ("BudgetExceeded", "firing")]
    firing = {"alertname": "BudgetExceeded", "alertstate": "firing"}
    assert registry.get_sample_value("robutler_alerts", firing) == 1.0
    clock.now = 20_001 * 86400.0  # midnight UTC: the workers' next read of the new day's totals is 0
    spend(0.0, 0.1)
    assert _sent(ev)[2:] == [("BudgetSoftLimit", "resolved"), ("BudgetExceeded", "resolved")]


PROMTOOL = shutil.which("promtool")


@pytest.mark.slow
@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian prometheus) is not installed")
def test_exported_budget_rules_fire_on_the_same_gauge(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    p = _plan([SUPPORT], webhooks=[HOOK])
    doc = rule_groups(p, ("/metrics",))
    exported = {r["alert"]: r for r in doc["groups"][0]["rules"]}
    assert exported["BudgetSoftLimit"]["expr"] == 'robutler_budget_spent{budget="support"} >= 4'
    assert exported["BudgetExceeded"]["labels"] == {"severity": "critical", "event": "budget"}
    (tmp_path / "rules.yaml").write_text(to_yaml(doc), encoding="utf-8")
    check = subprocess.run(
        [PROMTOOL, "check", "rules", str(tmp_path / "rules.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    # errors, slowness, health, the two budget rules
    assert check.returncode == 0 and "SUCCESS: 5 rules found" in check.stdout, check.stdout + check.stderr

    series = f"robutler_budget_spent{{{_LABELS}}}"

    spent = "0 1 2 3 4 4.5 5 5.5 0 0"  # one sample a minute; midnight at minute 8
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": spent}],
                "promql_expr_test": [
                    _firing(3, []),
                    _firing(4, ["BudgetSoftLimit"]),
                    _firing(6, ["BudgetSoftLimit", "BudgetExceeded"]),
                    _firing(8, []),
                ],
            }
        ],
    }
    (tmp_path / "rules_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "rules_test.yaml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


_LABELS = 'agent="support",budget="support",instance="h:8000",job="robutler",model="*",unit="usd"'


def _firing(minute: int, names: list[str]) -> dict[str, Any]:
    severity = {"BudgetSoftLimit": "warning", "BudgetExceeded": "critical"}
    labels = f'{_LABELS},event="budget"'
    return {
        "expr": 'ALERTS{alertstate="firing"}',
        "eval_time": f"{minute}m",
        "exp_samples": [
            {
                "labels": f'ALERTS{{alertname="{n}",alertstate="firing",{labels},severity="{severity[n]}"}}',
                "value": 1,
            }
            for n in sorted(names)
        ],
    }


def test_alerts_export_includes_the_configured_budgets(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from robutler_monitoring.plugin.alerts.cli import alerts_app

    doc = {
        "monitoring": {
            "usage": {"spool_dir": str(tmp_path / "spool"), "budgets": [{"name": "team-a", "daily_usd": 20}]},
            "alerts": {"webhooks": [{"url": "https://hooks.example.com/x", "events": ["budget"]}]},
        }
    }
    path = tmp_path / "robutler.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = CliRunner().invoke(alerts_app, ["export", "--config", str(path)], env={"ROBUTLER_CONFIG": ""})
    assert result.exit_code == 0, result.output
    rules = yaml.safe_load(result.stdout)["groups"][0]["rules"]
    assert [(r["alert"], r["expr"].strip()) for r in rules] == [
        ("BudgetSoftLimit", 'robutler_budget_spent{budget="team-a"} >= 16'),
        ("BudgetExceeded", 'robutler_budget_spent{budget="team-a"} >= 20'),
    ]
