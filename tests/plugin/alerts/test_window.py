"""The rules' numbers: counts read from /metrics' registry, the sliding window, p95 from buckets."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.plugin.alerts.window import (
    Counts,
    History,
    error_ratio,
    p95_ms,
    quantile,
    read_counts,
)
from robutler_monitoring.plugin.metrics.http_local import LocalHttpMetrics
from robutler_monitoring.plugin.metrics.multiproc import scrape_registry


def test_counts_failed_requests_and_skips_monitoring_routes() -> None:
    registry = CollectorRegistry()
    m = LocalHttpMetrics(registry)
    for _ in range(8):
        m.record("POST", "/{agent}/chat/completions", 200, 0.02, 0.01)
    m.record("POST", "/{agent}/chat/completions", 500, 0.02, 0.01)
    m.record("GET", "/nope", 404, 0.001, 0.001)
    m.record("GET", "/x", 499, 0.001, None)  # the client went away: not a server failure
    m.record("GET", "/metrics", 503, 0.001, 0.001)
    counts = read_counts(registry, skip_routes=["/metrics"])
    assert (counts.requests, counts.failed) == (11, 1)
    assert counts.buckets[-1] == (float("inf"), 10.0)  # 499 without a first byte has no TTFB


def test_window_increase_spans_a_counter_reset() -> None:
    history = History(keep=300)
    history.add(0, Counts(1000, 10))
    history.add(100, Counts(1100, 20))
    history.add(200, Counts(30, 6))  # restarted: counters began again from zero
    grown = history.increase(200, window=300)
    assert (grown.requests, grown.failed) == (130, 16)
    history.keep = 400
    history.add(300, Counts(80, 7))  # and grew on after it
    grown = history.increase(300, window=400)
    assert (grown.requests, grown.failed) == (180, 17)


def test_window_forgets_what_is_older_than_the_window() -> None:
    history = History(keep=60)
    for t in range(0, 200, 10):
        history.add(t, Counts(t * 10, t))
    grown = history.increase(190, window=60)
    assert (grown.requests, grown.failed) == (600, 60)
    assert history.samples[0][0] == 130


def test_error_ratio_waits_for_min_requests() -> None:
    assert error_ratio(Counts(19, 19), min_requests=20) is None
    assert error_ratio(Counts(20, 1), min_requests=20) == 0.05


def test_quantile_matches_prometheus_histogram_quantile() -> None:
    # 100 observations: 90 under 0.1 s, 10 between 1 and 2.5 s
    buckets = ((0.1, 90.0), (1.0, 90.0), (2.5, 100.0), (float("inf"), 100.0))
    assert quantile(0.95, buckets) == pytest.approx(1.75)
    assert quantile(0.5, buckets) == pytest.approx(0.1 * 50 / 90)
    assert p95_ms(Counts(100, 0, buckets), min_requests=20) == pytest.approx(1750)
    assert p95_ms(Counts(10, 0, ((0.1, 10.0), (float("inf"), 10.0))), min_requests=20) is None


_WORKER = textwrap.dedent(
    """
    import sys
    from prometheus_client import CollectorRegistry
    from robutler_monitoring.plugin.metrics.http import HttpMetrics
    m = HttpMetrics(CollectorRegistry())
    ok, failed = int(sys.argv[1]), int(sys.argv[2])
    for _ in range(ok):
        m.record("GET", "/a", 200, 0.01, 0.01)
    for _ in range(failed):
        m.record("GET", "/a", 500, 0.01, 0.01)
    """
)


@pytest.mark.slow
def test_counts_add_up_every_worker_in_multiprocess_mode(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for ok, failed in ((30, 0), (0, 10)):  # errors on one worker only
        subprocess.run([sys.executable, "-c", _WORKER, str(ok), str(failed)], env=env, check=True)
    counts = read_counts(scrape_registry(str(tmp_path)))
    assert (counts.requests, counts.failed) == (40, 10)
    assert error_ratio(counts, min_requests=20) == 0.25
