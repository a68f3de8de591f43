"""Per-request cost of alerting, in process: the request path, and the evaluation's share of the loop.

Run: ``.venv/bin/python benchmarks/bench_alerts.py`` (about half a minute).

Alerting adds no work to the request path: the evaluator reads the metrics' counters once
per evaluation. So the benchmark reports (1) the wrapper's per-request cost alone and with
three rules configured and evaluating (best of interleaved rounds), and (2) the CPU time
of one evaluation (all threads, median of 200) over a registry with 50 routes, amortized
over the requests a fully busy process serves in one evaluation interval (10 s default).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from typing import Any

from prometheus_client import CollectorRegistry

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_middleware import _drive, make_app

from robutler_monitoring.events import EventBus
from robutler_monitoring.host.settings import ServeSettings
from robutler_monitoring.plugin.alerts.concern import AlertsConcern
from robutler_monitoring.plugin.alerts.evaluator import Evaluator
from robutler_monitoring.plugin.config.schema import MonitoringConfig
from robutler_monitoring.plugin.metrics.http_local import http_metrics
from robutler_monitoring.plugin.metrics.registry import instruments_for
from robutler_monitoring.plugin.runtime import Runtime

REQUESTS = 40_000
ROUNDS = 7


def _wrapped(state_dir: str | None) -> tuple[Any, Runtime]:
    """The app wrapped as the plugin wraps it; with ``state_dir``, the alerts concern too."""
    alerts: dict[str, Any] = {"enabled": False}
    concerns = [
        "robutler_monitoring.plugin.metrics.concern:MetricsConcern",
        "robutler_monitoring.plugin.http.concern:HttpConcern",
    ]
    if state_dir is not None:
        alerts = {
            "evaluation_interval": 0.5,
            "state_dir": state_dir,
            "webhooks": [{"url": "http://127.0.0.1:9/bench", "name": "bench"}],
        }
        concerns.insert(1, "robutler_monitoring.plugin.alerts.concern:AlertsConcern")
    cfg = MonitoringConfig.model_validate({"logging": {"access_log": False}, "alerts": alerts})
    rt = Runtime(ServeSettings(), cfg, bus=EventBus(), registry=CollectorRegistry(), concerns=concerns)
    app: Any = make_app()
    for concern in rt.concerns:
        concern.subscribe(rt)
    for concern in rt.concerns:
        rt.health_checks.extend(concern.health_checks(rt))
    for concern in rt.concerns:
        rt.endpoints.extend(concern.endpoints(rt))
    for concern in rt.concerns:
        app = concern.wrap(app, rt)
    return app, rt


def _evaluator(rt: Runtime) -> Evaluator:
    concern = rt.concern(AlertsConcern)
    assert concern is not None and concern.service is not None
    return concern.service.evaluator


async def measure() -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as state_dir:
        plain, _ = _wrapped(None)
        with_rules, rt = _wrapped(state_dir)
        for concern in rt.concerns:
            await concern.startup(rt)
        best: dict[str, float] = {}
        apps: dict[str, Any] = {"wrapper": plain, "wrapper+rules": with_rules}
        for app in apps.values():
            await _drive(app, 500)
        for _ in range(ROUNDS):
            for name, app in apps.items():
                value = await _drive(app, REQUESTS // ROUNDS)
                best[name] = min(best.get(name, float("inf")), value)
        for concern in reversed(rt.concerns):
            await concern.shutdown(rt)
        # one evaluation over a registry with 50 routes' series
        _, busy_rt = _wrapped(state_dir)
        metrics = instruments_for(busy_rt.registry, http_metrics)
        for i in range(50):
            for status in (200, 404, 500):
                metrics.record("GET", f"/route{i}", status, 0.01, 0.005)
        evaluator = _evaluator(busy_rt)
        await evaluator.tick()
        cpu = []
        for _ in range(200):
            start = time.process_time()
            await evaluator.tick()
            cpu.append(time.process_time() - start)
        await evaluator.stop()
    return best["wrapper"] * 1e6, best["wrapper+rules"] * 1e6, statistics.median(cpu)


def main() -> None:
    wrapper, with_rules, tick = asyncio.run(measure())
    per_interval = 10.0 / (wrapper / 1e6)  # requests one busy process serves in 10 s
    amortized = tick / per_interval * 1e6
    print("In-process (one run; this machine is shared and noisy):")
    print(f"  wrapper alone              {wrapper:7.2f} us/request (best of {ROUNDS} interleaved rounds)")
    print(f"  wrapper, 3 rules running   {with_rules:7.2f} us/request ({with_rules / wrapper:.3f}x)")
    print(f"  one evaluation (CPU)       {tick * 1000:7.3f} ms, every 10 s")
    print(f"  amortized per request      {amortized:7.3f} us at {per_interval / 10:,.0f} requests/s")
    print(f"  total per-request growth   {with_rules - wrapper + amortized:+7.3f} us (target <= 1 us)")


if __name__ == "__main__":
    main()
