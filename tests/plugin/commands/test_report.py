"""The status report from scrapes: quantiles as Prometheus computes them, sections as extension points."""

from __future__ import annotations

import math

import pytest
from rich.console import Console

from robutler_monitoring.plugin.commands import report
from robutler_monitoring.plugin.commands.remote import Health, Scrape
from robutler_monitoring.plugin.commands.samples import Samples, quantile
from robutler_monitoring.plugin.commands.status import duration, render, sparkline

PAGE = """
robutler_http_requests_total{method="POST",route="/{agent}/chat",status="200"} %(ok)s
robutler_http_requests_total{method="POST",route="/{agent}/chat",status="500"} %(bad)s
robutler_http_requests_total{method="GET",route="/metrics",status="200"} 50
robutler_http_request_duration_seconds_bucket{method="POST",route="/{agent}/chat",le="0.1"} %(fast)s
robutler_http_request_duration_seconds_bucket{method="POST",route="/{agent}/chat",le="1.0"} %(all)s
robutler_http_request_duration_seconds_bucket{method="POST",route="/{agent}/chat",le="+Inf"} %(all)s
robutler_http_request_duration_seconds_count{method="POST",route="/{agent}/chat"} %(all)s
robutler_http_request_duration_seconds_sum{method="POST",route="/{agent}/chat"} 1.0
robutler_workers 3
"""
MONITORING = frozenset({"/metrics", "/health", "/health/ready", "/health/detailed"})


def _scrape(at: float, ok: int, bad: int, fast: int, status: str = "pass") -> Scrape:
    page = PAGE % {"ok": ok, "bad": bad, "fast": fast, "all": ok + bad}
    doc = {"status": status, "releaseId": "1.2.3", "checks": {"uptime": [{"observedValue": 100.0}]}}
    return Scrape(Health(200, doc), Samples.parse(page), at)


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, {0.1: 2.0, 0.2: 4.0, math.inf: 4.0}, 0.1),
        (0.75, {0.1: 2.0, 0.2: 4.0, math.inf: 4.0}, 0.15),  # linear inside the bucket
        (0.5, {0.1: 0.0, 1.0: 10.0, math.inf: 10.0}, 0.55),
        (0.99, {0.1: 1.0, math.inf: 10.0}, 0.1),  # in +Inf: the highest finite bound
        (0.5, {0.1: 0.0, math.inf: 0.0}, None),  # nothing observed
        (0.5, {0.1: 3.0}, None),  # no +Inf bucket: not a histogram
    ],
)
def test_quantile_matches_prometheus_histogram_quantile(
    q: float, buckets: dict[float, float], expected: float | None
) -> None:
    assert quantile(q, buckets) == (pytest.approx(expected) if expected is not None else None)


def test_rates_and_errors_over_the_window_leave_monitoring_endpoints_out() -> None:
    before = _scrape(10.0, ok=10, bad=0, fast=10)
    now = _scrape(12.0, ok=16, bad=2, fast=12)  # 8 requests in 2 s: 2 failed, 2 fast, 6 slow
    [server, *_] = report.build(report.Window(now, before, MONITORING))
    data = server.data
    assert isinstance(data, dict)
    assert data["request_rate_per_second"] == pytest.approx(4.0)
    assert data["error_rate_ratio"] == pytest.approx(0.25)
    assert data["latency_p50_seconds"] == pytest.approx(0.1 + 0.9 * (4 - 2) / 6)
    assert (data["workers"], data["status"], data["version"]) == (3, "pass", "1.2.3")


def test_without_a_window_rates_are_since_start() -> None:
    now = _scrape(5.0, ok=150, bad=50, fast=200)
    [server, *_] = report.build(report.Window(now, None, MONITORING))
    assert isinstance(server.data, dict)
    assert server.data["request_rate_per_second"] == pytest.approx(200 / 100.0)  # uptime 100 s
    assert server.data["error_rate_ratio"] == pytest.approx(0.25)


def test_a_feature_adds_a_section_with_one_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    def alerts(window: report.Window) -> report.Section | None:
        if not window.now.samples.has("robutler_workers"):
            return None
        return report.Section("alerts", "Alerts firing", [{"alert": "HighErrorRate", "since_seconds": 90.0}])

    monkeypatch.setattr(report, "SECTIONS", [*report.SECTIONS, alerts])
    sections = report.build(report.Window(_scrape(1.0, 1, 0, 1), None, MONITORING))
    doc = report.as_document("http://x", sections)
    assert doc["alerts"] == [{"alert": "HighErrorRate", "since_seconds": 90.0}]
    console = Console(width=120, record=True)
    console.print(render("http://x", sections))
    text = console.export_text()
    assert "Alerts firing" in text and "HighErrorRate" in text and "1m 30s" in text


def test_sections_without_their_metrics_are_left_out() -> None:
    sections = report.build(report.Window(_scrape(1.0, 1, 0, 1), None, MONITORING))
    assert [s.key for s in sections] == ["server", "checks"]  # no agent, skill or tool metrics


def test_readable_units() -> None:
    assert duration(0.0123) == "12.3 ms"
    assert duration(3725) == "1h 02m 05s"
    assert sparkline([0, 1, 2, 3]) == "▁▃▆█"
    assert sparkline([]) == "" and sparkline([2, 2]) == "▁▁"


def test_errors_follow_the_outcome_label_when_there_is_one() -> None:
    page = (
        'robutler_http_requests_total{route="/c",status="200",outcome="success"} 6\n'
        'robutler_http_requests_total{route="/c",status="200",outcome="error"} 1\n'  # a stream that failed
        'robutler_http_requests_total{route="/c",status="503",outcome="cancelled"} 1\n'
    )
    scrape = Scrape(Health(200, {"status": "pass"}), Samples.parse(page), 1.0)
    [server, *_] = report.build(report.Window(scrape, None, MONITORING))
    assert isinstance(server.data, dict)
    assert server.data["error_rate_ratio"] == pytest.approx(1 / 8)


def test_agents_get_cost_of_priced_models_and_unpriced_tokens_apart() -> None:
    page = """
robutler_agent_executions_total{agent="a",status="success"} 2
robutler_agent_executions_total{agent="b",status="success"} 1
robutler_agent_executions_total{agent="c",status="success"} 0
robutler_llm_tokens_total{agent="a",model="priced",type="input"} 100
robutler_llm_tokens_total{agent="a",model="priced",type="output"} 10
robutler_llm_tokens_total{agent="a",model="house",type="input"} 7
robutler_llm_tokens_total{agent="b",model="house",type="output"} 5
robutler_llm_cost_usd_total{agent="a",model="priced"} 0.25
robutler_llm_unpriced_tokens_total{model="house"} 12
"""
    window = report.Window(Scrape(None, Samples.parse(page), 0.0), None, MONITORING)
    section = report.agents_section(window)
    assert section is not None and isinstance(section.data, list)
    got = {row["agent"]: (row["cost_usd"], row["unpriced_tokens"]) for row in section.data}
    assert got == {"a": (0.25, 7), "b": (None, 5), "c": (None, 0)}  # no price: None, never 0
    console = Console(width=200, record=True)
    console.print(render("http://x", [section]))
    text = console.export_text()
    assert "cost (USD)" in text and "$0.250000" in text and "+ 5" in text
