"""The single-process HTTP store exposes exactly what prometheus_client's metrics would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.plugin.metrics.exposition import render
from robutler_monitoring.plugin.metrics.http import DURATION_BUCKETS, HttpMetrics
from robutler_monitoring.plugin.metrics.http_local import LocalHttpMetrics, http_metrics

RECORDS = [
    ("GET", "/agents", 200, 0.012, 0.010, "success"),
    ("GET", "/agents", 200, 0.005, 0.005, "success"),  # exactly on a bucket bound: counted in it
    ("POST", "/{agent}/chat/completions", 200, 4.2, 0.3, "success"),
    ("POST", "/{agent}/chat/completions", 200, 1.5, 0.2, "error"),  # a stream that failed after its 200
    ("POST", "/{agent}/chat/completions", 500, 0.0001, None, "error"),  # failed before any byte
    ("GET", "<unmatched>", 404, 90.0, 0.001, "success"),  # above the last bound: only +Inf
    ("OTHER", "<unmatched>", 405, 0.02, 0.02, "success"),
]


def _fill(metrics: HttpMetrics | LocalHttpMetrics) -> None:
    for record in RECORDS:
        metrics.record(*record)
    gauge = metrics.in_progress("POST", "/{agent}/chat/completions")
    gauge.inc()
    gauge.inc()
    gauge.dec()
    metrics.in_progress("GET", "/agents").inc()
    metrics.error(ValueError("boom"), "http")


def test_exposition_matches_prometheus_client_exactly() -> None:
    reference, local = CollectorRegistry(), CollectorRegistry()
    _fill(HttpMetrics(reference))
    _fill(LocalHttpMetrics(local))
    assert render(local).decode() == render(reference).decode()
    assert 'robutler_http_requests_in_progress{method="POST",route="/{agent}/chat/completions"} 1.0' in (
        render(local).decode()
    )


def test_every_bucket_bound_lands_where_prometheus_puts_it() -> None:
    reference, local = CollectorRegistry(), CollectorRegistry()
    ref, mine = HttpMetrics(reference), LocalHttpMetrics(local)
    for bound in DURATION_BUCKETS:
        for value in (bound * 0.999, bound, bound * 1.001):
            ref.record("GET", "/x", 200, value, value)
            mine.record("GET", "/x", 200, value, value)
    assert render(local) == render(reference)


def test_multiprocess_mode_uses_prometheus_client_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert isinstance(http_metrics(CollectorRegistry()), LocalHttpMetrics)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent-not-used")
    assert isinstance(http_metrics(CollectorRegistry()), HttpMetrics)
