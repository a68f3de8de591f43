"""SLO burn-rate alerts: the SRE workbook's pairs, in process (page) and exported (all three)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from robutler_monitoring.plugin.alerts.cli import alerts_app
from robutler_monitoring.plugin.alerts.export import rule_groups, to_yaml
from robutler_monitoring.plugin.alerts.window import Counts, History
from robutler_monitoring.plugin.config import ConfigError, load_config
from robutler_monitoring.plugin.config.schema import AlertsConfig
from robutler_monitoring.plugin.metrics.http_local import LocalHttpMetrics

from .helpers import plan
from .test_evaluator import Clock, _evaluator, _sent
from .test_export import LABELS, SKIP, _series, firing_at, needs_promtool, promtool_test

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
    assert names == [
        "HighErrorRate",
        "Unhealthy",
        "ErrorBudgetBurnFast",
        "ErrorBudgetBurnSlow",
        "ErrorBudgetBurnTicket",
    ]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_burn_rate_rules(tmp_path: Path) -> None:
    p = plan(slo={"availability": 0.995}, webhooks=[HOOK])
    path = tmp_path / "rules.yaml"
    path.write_text(to_yaml(rule_groups(p, ("/metrics",))), encoding="utf-8")
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "SUCCESS: 6 rules found" in result.stdout, result.stdout + result.stderr


def test_fast_burn_pages_on_a_burst_that_the_error_rate_rule_ignores(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    http = LocalHttpMetrics(registry)
    clock = Clock()
    ev_plan = plan(
        **{"for": 30, "window": 60, "min_requests": 10},
        slo={"availability": 0.999},
        webhooks=[{**HOOK, "events": ["error"]}],
    )
    ev = _evaluator(tmp_path, registry, clock, alert_plan=ev_plan)
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
    assert grown.requests == 6 * 360 * 7  # the oldest sample is kept: the baseline of the longest window
    assert grown.failed / grown.requests == pytest.approx(1 / 7)
    # a window starting between two thinned samples takes its share of that step, as Prometheus
    # extrapolates: as long as asked, not up to a minute longer
    for window in (1815.0, 3005.0, 7777.0):
        assert history.increase(6 * 3600.0, window).requests == pytest.approx(window * 0.7)


# --- the latency objective ------------------------------------------------------------------

LATENCY_SLO = {"latency": {"threshold": 2.5, "target": 0.99}}
PERF_HOOK = {**HOOK, "events": ["performance_degradation"]}
LATENCY_PAGES = ("LatencyBudgetBurnFast", "LatencyBudgetBurnSlow")

# One synthetic latency incident, per 10 s step (the evaluation interval): 10 requests; from
# minute 10 to 40 half of them take 3 s to the first byte (over the 2.5 s bound), the rest 0.1 s.
STEP = 10
STEPS = 80 * 6
SLOW_PER_STEP = [5 if 600 <= i * STEP < 2400 else 0 for i in range(STEPS)]
FAST_PER_STEP = [10 - n for n in SLOW_PER_STEP]


def _load_error(tmp_path: Path, latency: str) -> str:
    path = tmp_path / "robutler.yaml"
    path.write_text(f"monitoring:\n  alerts:\n    slo:\n      latency: {latency}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    return caught.value.report()


@pytest.mark.parametrize(
    ("given", "bound"), [(2.5, 2.5), ("2500ms", 2.5), ("1s", 1.0), (0.005, 0.005), (60, 60.0)]
)
def test_latency_threshold_accepts_bucket_boundaries_in_seconds_or_durations(
    given: object, bound: float
) -> None:
    cfg = AlertsConfig.model_validate({"slo": {"latency": {"threshold": given, "target": 0.99}}})
    assert cfg.slo.latency is not None and cfg.slo.latency.threshold == bound


def test_latency_threshold_off_the_buckets_is_refused_naming_key_value_and_nearest(tmp_path: Path) -> None:
    report = _load_error(tmp_path, "{threshold: 2, target: 0.99}")
    [line] = [ln for ln in report.splitlines() if "slo.latency" in ln]
    assert "monitoring.alerts.slo.latency.threshold = 2:" in line
    assert "the nearest is 2.5" in line and "0.005, 0.01," in line and "30, 60" in line
    assert "the nearest is 0.25" in _load_error(tmp_path, "{threshold: 300ms, target: 0.99}")
    assert "slo.latency.target" in _load_error(tmp_path, "{threshold: 2.5, target: 99}")
    assert "slo.latency.target" in _load_error(tmp_path, "{threshold: 2.5}")  # both keys are needed


def test_bad_latency_threshold_exits_2_with_one_line_from_the_export_command(tmp_path: Path) -> None:
    path = tmp_path / "robutler.yaml"
    path.write_text("monitoring:\n  alerts:\n    slo:\n      latency: {threshold: 3, target: 0.99}\n")
    result = CliRunner().invoke(alerts_app, ["export", "--config", str(path)])
    assert result.exit_code == 2
    assert "monitoring.alerts.slo.latency.threshold = 3" in result.output and "Traceback" not in result.output


def test_latency_slo_adds_its_page_pairs_for_channels_with_the_performance_event() -> None:
    errors_hook = {"url": "http://127.0.0.1:9/y", "name": "errors", "events": ["error"]}
    p = plan(slo={"availability": 0.999, **LATENCY_SLO}, webhooks=[errors_hook, PERF_HOOK])
    assert [r.name for r in p.rules if r.kind == "latency_burn"] == list(LATENCY_PAGES)
    fast = p.rule("LatencyBudgetBurnFast")
    assert fast is not None
    assert (fast.threshold, fast.window, fast.short_window, fast.bound, fast.objective) == (
        14.4,
        3600,
        300,
        2.5,
        0.99,
    )
    assert fast.describe(20.0) == "latency budget (99% under 2.5 s) burning 20.0x > 14.4x"
    errors_channel, perf_channel = p.channels
    assert not any(s.rule.startswith("Latency") for s in errors_channel.subscriptions)
    assert {s.rule for s in perf_channel.subscriptions} == {"SlowResponses", *LATENCY_PAGES}
    names = [r["alert"] for r in rule_groups(p, ())["groups"][0]["rules"]]
    assert names[-3:] == [*LATENCY_PAGES, "LatencyBudgetBurnTicket"]
    assert names[-6:-3] == ["ErrorBudgetBurnFast", "ErrorBudgetBurnSlow", "ErrorBudgetBurnTicket"]


def _latency_incident(
    tmp_path: Path, restart_at: int | None = None
) -> tuple[dict[str, list[float]], list[tuple[str, str]]]:
    """Drive the in-process rules through the incident, a tick a step; (state changes, notices sent).

    The state changes map each page rule to the seconds at which it fired and resolved; with
    ``restart_at`` (a step) the server stops there and a new one takes over the state file.
    """
    registry = CollectorRegistry()
    http = LocalHttpMetrics(registry)
    clock = Clock()
    start = clock.now
    p = plan(slo=LATENCY_SLO, webhooks=[PERF_HOOK])
    ev = _evaluator(tmp_path, registry, clock, alert_plan=p)
    changes: dict[str, list[float]] = {name: [] for name in LATENCY_PAGES}
    sent: list[tuple[str, str]] = []
    for step in range(STEPS + 1):
        clock.now = start + step * STEP
        if step:  # the requests of the step just ended (the series' value at `step` counts them)
            for ttfb, n in ((3.0, SLOW_PER_STEP[step - 1]), (0.1, FAST_PER_STEP[step - 1])):
                for _ in range(n):
                    http.record("POST", "/{agent}/chat/completions", 200, ttfb, ttfb)
        if step == restart_at:
            sent += _sent(ev)
            asyncio.run(ev.stop())
            ev = _evaluator(tmp_path, registry, clock, alert_plan=p)
        asyncio.run(ev.tick())
        for name in LATENCY_PAGES:
            firing = ev.engine.states[name].state == "firing"
            if firing != (len(changes[name]) % 2 == 1):
                changes[name].append(step * STEP)
    return changes, sent + _sent(ev)


@pytest.mark.slow  # 480 evaluations, each writing the state file (fsync): several seconds
def test_latency_burn_pages_and_resolves_in_process_once_across_a_restart(tmp_path: Path) -> None:
    changes, sent = _latency_incident(tmp_path, restart_at=30 * 6)  # both pairs are firing at minute 30
    # the SRE workbook's arithmetic on 50 % slow against a 1 % budget, from minute 10 (600 s):
    # the 6x pair fires when the 6 h window passes 6 % (5 (t/10 - 60) / t > 0.06: t = 690 s),
    # the 14.4x pair when the 1 h window passes 14.4 % (t = 850 s); each resolves when its
    # short window calms down: 5 min under 14.4 % at 2620 s, 30 min under 6 % at 3990 s
    assert changes == {"LatencyBudgetBurnFast": [850, 2620], "LatencyBudgetBurnSlow": [690, 3990]}
    # one firing and one resolved each, though the server restarted while both were firing
    assert sorted(sent) == sorted(
        (name, status) for name in LATENCY_PAGES for status in ("firing", "resolved")
    )


def test_fast_requests_burn_no_latency_budget(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    http = LocalHttpMetrics(registry)
    clock = Clock()
    ev = _evaluator(tmp_path, registry, clock, alert_plan=plan(slo=LATENCY_SLO, webhooks=[PERF_HOOK]))
    for _ in range(60):  # 10 minutes, all first bytes within 2.5 s (0.5 % between 1 and 2.5 s)
        for i in range(200):
            http.record("GET", "/x", 200, 2.4 if i == 0 else 0.05, 2.4 if i == 0 else 0.05)
        asyncio.run(ev.tick())
        clock.now += 10
    assert _sent(ev) == []
    fast = ev.engine.states["LatencyBudgetBurnFast"]
    assert fast.state == "inactive" and fast.value == 0.0


@pytest.mark.slow
@needs_promtool
def test_exported_latency_rules_fire_and_resolve_within_one_interval_of_the_in_process_ones(
    tmp_path: Path,
) -> None:
    changes, _ = _latency_incident(tmp_path / "state")
    bucket = "robutler_http_time_to_first_byte_seconds"
    checks = []
    for name, (fired, resolved) in changes.items():
        # on the 10 s grid, Prometheus fires and resolves at the same evaluation as in process
        checks += [
            firing_at(name, fired - STEP, False, "slo"),
            firing_at(name, fired, True, "slo"),
            firing_at(name, resolved - STEP, True, "slo"),
            firing_at(name, resolved, False, "slo"),
        ]
    total = [f + s for f, s in zip(FAST_PER_STEP, SLOW_PER_STEP, strict=True)]
    test = {
        "interval": f"{STEP}s",
        "input_series": [
            {"series": f'{bucket}_bucket{{{LABELS},le="2.5"}}', "values": _series(FAST_PER_STEP)},
            {"series": f'{bucket}_bucket{{{LABELS},le="+Inf"}}', "values": _series(total)},
            {"series": f"{bucket}_count{{{LABELS}}}", "values": _series(total)},
        ],
        "promql_expr_test": checks,
    }
    result = promtool_test(tmp_path, rule_groups(plan(slo=LATENCY_SLO, webhooks=[PERF_HOOK]), SKIP), test)
    assert result.returncode == 0, f"in process: {changes}\n{result.stdout}{result.stderr}"
