"""The exported Prometheus rules: promtool accepts them; they fire and resolve as the in-process ones do."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from robutler_monitoring.plugin.alerts.engine import Engine, Observation
from robutler_monitoring.plugin.alerts.export import prometheus_rule, rule_groups, to_yaml
from robutler_monitoring.plugin.alerts.window import Counts, History, error_ratio
from robutler_monitoring.plugin.config.schema import MonitoringConfig

from .helpers import plan

PROMTOOL = shutil.which("promtool") or "promtool"
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian prometheus) is not installed"
)
SKIP = ("/metrics", "/health")
LABELS = 'job="robutler",instance="h:8000",method="POST",route="/{agent}/chat/completions"'

# One synthetic incident, per minute: 100 requests a minute; from minute 10 to 20, 20 of them fail.
MINUTES = 40
OK_PER_MIN = [100 if not 10 <= m < 20 else 80 for m in range(MINUTES)]
FAILED_PER_MIN = [20 if 10 <= m < 20 else 0 for m in range(MINUTES)]


def _cumulative(per_minute: list[int]) -> list[int]:
    out, total = [0], 0
    for n in per_minute:
        total += n
        out.append(total)
    return out


def _in_process_transitions() -> tuple[float, float]:
    """Minutes at which the in-process rule fires and resolves on the synthetic series (10 s ticks)."""
    error_plan = plan(webhooks=[{"url": "http://127.0.0.1:9/x", "events": ["error"]}])
    [rule] = error_plan.rules
    engine, history = Engine(error_plan), History(keep=rule.window + 60)
    ok, failed = _cumulative(OK_PER_MIN), _cumulative(FAILED_PER_MIN)
    fired = resolved = None
    for tick in range(MINUTES * 6):
        now = tick * 10.0
        minute = int(now // 60)  # a scrape each minute: the counters step once a minute
        history.add(now, Counts(ok[minute] + failed[minute], failed[minute]))
        value = error_ratio(history.increase(now, rule.window), rule.min_requests)
        engine.evaluate(now, {rule.name: Observation(value is not None and value > 0.05, value)})
        state = engine.states[rule.name].state
        if state == "firing" and fired is None:
            fired = now / 60
        if fired is not None and state == "inactive" and resolved is None:
            resolved = now / 60
    assert fired is not None and resolved is not None
    return fired, resolved


def _series(per_minute: list[int]) -> str:
    return " ".join(str(v) for v in _cumulative(per_minute))


def firing_at(
    alertname: str, seconds: float, expect: bool, event: str = "error", severity: str = "critical"
) -> dict[str, object]:
    """A promtool check: ``alertname`` is firing (or not) at ``seconds`` into the series."""
    selector = f'ALERTS{{alertname="{alertname}",alertstate="firing"}}'
    labels = selector.replace(
        "}", f',event="{event}",instance="h:8000",job="robutler",severity="{severity}"}}'
    )
    exp = [{"labels": labels, "value": 1}]
    return {"expr": selector, "eval_time": f"{round(seconds)}s", "exp_samples": exp if expect else []}


def promtool_test(
    tmp_path: Path, rules: dict[str, Any], test: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` of one test case over ``rules`` (a rules document), in ``tmp_path``."""
    (tmp_path / "rules.yaml").write_text(to_yaml(rules), encoding="utf-8")
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "10s", "tests": [test]}
    test_file = tmp_path / "rules_test.yaml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    return subprocess.run(
        [PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True, check=False, cwd=tmp_path
    )


@pytest.mark.slow
@needs_promtool
def test_promtool_accepts_both_export_formats(tmp_path: Path) -> None:
    p = plan(
        webhooks=[
            {"url": "http://127.0.0.1:9/x"},
            {"url": "http://127.0.0.1:9/y", "threshold": {"error_rate": 0.2}},
        ]
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text(to_yaml(rule_groups(p, SKIP)), encoding="utf-8")
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout  # two error rules, one latency rule, the health rule
    operator = prometheus_rule(p, SKIP)
    assert operator["kind"] == "PrometheusRule"
    spec = tmp_path / "spec.yaml"
    spec.write_text(to_yaml(operator["spec"]), encoding="utf-8")
    assert (
        subprocess.run([PROMTOOL, "check", "rules", str(spec)], capture_output=True, check=False).returncode
        == 0
    )


@pytest.mark.slow
@needs_promtool
def test_exported_rule_fires_and_resolves_within_one_interval_of_the_in_process_rule(tmp_path: Path) -> None:
    fired, resolved = _in_process_transitions()
    p = plan(webhooks=[{"url": "http://127.0.0.1:9/x", "events": ["error"]}])
    test = {
        "interval": "1m",
        "input_series": [
            {
                "series": f'robutler_http_requests_total{{{LABELS},status="200"}}',
                "values": _series(OK_PER_MIN),
            },
            {
                "series": f'robutler_http_requests_total{{{LABELS},status="500"}}',
                "values": _series(FAILED_PER_MIN),
            },
        ],
        "promql_expr_test": [
            firing_at("HighErrorRate", (fired - 1) * 60, False),
            firing_at("HighErrorRate", (fired + 1) * 60, True),
            firing_at("HighErrorRate", (resolved - 1) * 60, True),
            firing_at("HighErrorRate", (resolved + 1) * 60, False),
        ],
    }
    result = promtool_test(tmp_path, rule_groups(p, SKIP), test)
    assert result.returncode == 0, (
        f"in process: fired {fired} min, resolved {resolved} min\n{result.stdout}{result.stderr}"
    )


@pytest.mark.slow
@needs_promtool
def test_exported_health_rule_fires_and_resolves_on_the_health_gauge(tmp_path: Path) -> None:
    # Two workers' gauge per minute as /metrics shows it (livemin: the worst live worker):
    # pass, warn (no alert), fail from minute 5 to 10, pass again.
    per_minute = ["1"] * 3 + ["0.5"] * 2 + ["0"] * 5 + ["1"] * 10
    p = plan(webhooks=[{"url": "http://127.0.0.1:9/x", "events": ["health"], "for": "2m"}])
    test = {
        "interval": "1m",
        "input_series": [
            {
                "series": 'robutler_health_status{job="robutler",instance="h:8000"}',
                "values": " ".join(per_minute),
            }
        ],
        "promql_expr_test": [
            firing_at("Unhealthy", 4 * 60, False, event="health"),  # warn is no incident
            firing_at("Unhealthy", 6 * 60, False, event="health"),  # failing, pending for 2m
            firing_at("Unhealthy", 7 * 60 + 10, True, event="health"),
            firing_at("Unhealthy", 9 * 60 + 50, True, event="health"),
            firing_at("Unhealthy", 10 * 60 + 10, False, event="health"),  # resolved at the next evaluation
        ],
    }
    result = promtool_test(tmp_path, rule_groups(p, SKIP), test)
    assert result.returncode == 0, result.stdout + result.stderr


def test_export_leaves_out_monitoring_routes_and_keeps_thresholds() -> None:
    cfg = MonitoringConfig.model_validate({"alerts": {"webhooks": [{"url": "http://127.0.0.1:9/x"}]}})
    p = plan(webhooks=[{"url": "http://127.0.0.1:9/x"}])
    doc = rule_groups(p, (cfg.metrics.endpoint, cfg.health_checks.endpoint))
    [error, slow, health] = doc["groups"][0]["rules"]
    assert error["alert"] == "HighErrorRate" and "> 0.05" in error["expr"] and ">= 20" in error["expr"]
    assert 'route!~"/metrics|/health"' in error["expr"] and error["for"] == "1m"
    assert "histogram_quantile(0.95" in slow["expr"] and "* 1000 > 5000" in slow["expr"]
    assert health["expr"] == "min by (job, instance) (robutler_health_status) == 0"
    assert (health["alert"], health["for"], health["labels"]) == (
        "Unhealthy",
        "1m",
        {"severity": "critical", "event": "health"},
    )
