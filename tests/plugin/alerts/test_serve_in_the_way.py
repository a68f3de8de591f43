"""Failing channels never slow requests (one refuses, one hangs); the healthy one still gets its notice."""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.receivers import refused_url, webhook_receiver
from tests.support.servers import robutler_serve

from .test_serve_alerts import CHAT, _config

pytestmark = pytest.mark.slow

_LAG = re.compile(r"^robutler_event_loop_lag_seconds (\S+)$", re.M)


def _round(client: httpx.Client, n: int = 100) -> float:
    """p95 of ``n`` chat requests, half of them failing (the alert keeps firing)."""
    times = []
    for i in range(n):
        text = "!error" if i % 2 else "hello"
        start = time.perf_counter()
        client.post(CHAT, json={"messages": [{"role": "user", "content": text}]}, timeout=10)
        times.append(time.perf_counter() - start)
    return statistics.quantiles(times, n=20)[-1]


def test_refusing_and_hanging_channels_never_slow_requests(tmp_path: Path) -> None:
    with webhook_receiver() as healthy, webhook_receiver(mode="hang", hang_s=30) as hanging:
        hooks = [
            {"url": refused_url(), "name": "refusing", "events": ["error"], "timeout": 2},
            {"url": hanging.url, "name": "hanging", "events": ["error"], "timeout": 2},
            {"url": healthy.url, "name": "healthy", "events": ["error"], "timeout": 2},
        ]
        # evaluated every second (the default is 10 s): its cost shows, if it has one
        with_alerts = _config(
            tmp_path, {"webhooks": hooks, "evaluation_interval": 1}, metrics={"collect_interval": 0.2}
        )
        bare_dir = tmp_path / "bare"
        bare_dir.mkdir()
        bare = bare_dir / "robutler.yaml"
        same = {"alerts": {"enabled": False}, "metrics": {"collect_interval": 0.2}}
        bare.write_text(yaml.safe_dump({"monitoring": same}), encoding="utf-8")
        with (
            robutler_serve(tmp_path=tmp_path, env={"ROBUTLER_CONFIG": str(with_alerts)}) as server,
            robutler_serve(tmp_path=bare_dir, env={"ROBUTLER_CONFIG": str(bare)}) as baseline,
            httpx.Client(base_url=server.base_url) as client,
            httpx.Client(base_url=baseline.base_url) as base_client,
        ):
            _round(client)
            _round(base_client)  # warm up both
            healthy.wait_for(1, timeout=30)
            assert healthy.received, "the healthy channel got nothing"
            p95s, base_p95s, lags, base_lags = [], [], [], []
            for _ in range(7):  # interleaved rounds: both see the same machine load
                p95s.append(_round(client))
                base_p95s.append(_round(base_client))
                lags.append(float(_LAG.findall(client.get("/metrics").text)[0]))
                base_lags.append(float(_LAG.findall(base_client.get("/metrics").text)[0]))
            deadline = time.monotonic() + 60  # the refusing channel gives up after its retries
            while True:
                listing = client.get("/alerts").json()
                refusing = next(c for c in listing["channels"] if c["name"] == "refusing")
                if refusing["last_error"] or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            health = client.get("/health/detailed").json()["checks"]
        output = server.stdout()

    # one firing; the resolved notice may follow once traffic stopped (no requests: no error rate)
    assert [r.body["status"] for r in healthy.received] in (["firing"], ["firing", "resolved"])
    ratio = statistics.median(p95s) / statistics.median(base_p95s)
    assert ratio <= 1.5, f"request p95 {ratio:.2f}x of the run without alerts ({p95s} vs {base_p95s})"
    # a round where the server without alerts lagged too measured the machine, not the alerts
    quiet = [lag for lag, base in zip(lags, base_lags, strict=True) if base < 0.05]
    assert len(quiet) >= 3, f"the machine is too busy to measure: {base_lags}"
    assert max(quiet) < 0.05, f"event-loop lag {max(quiet) * 1000:.1f} ms ({lags} vs {base_lags})"
    channels = {c["name"]: c for c in listing["channels"]}
    assert channels["healthy"]["ok"] and channels["healthy"]["delivered"] >= 1
    assert not channels["refusing"]["ok"] and channels["refusing"]["last_error"].startswith("cannot connect")
    assert "not delivered to refusing" in output
    assert health["alerts:refusing"][0]["status"] == "warn"  # the channel's last delivery failed
    assert "cannot connect" in health["alerts:refusing"][0]["output"]
    assert health["alerts:healthy"][0]["status"] == "pass"
