"""A stop signal drains first: readiness fails while the server keeps serving, then it stops."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import robutler_serve

pytestmark = pytest.mark.slow  # every test here runs the robutler command


def test_sigterm_drains_with_readiness_failing_then_stops(tmp_path: Path) -> None:
    with robutler_serve("--drain-delay", "5", tmp_path=tmp_path) as server:
        assert httpx.get(f"{server.base_url}/health/ready", timeout=5).status_code == 200
        server.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2
        ready = httpx.get(f"{server.base_url}/health/ready", timeout=5)
        while ready.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
            ready = httpx.get(f"{server.base_url}/health/ready", timeout=5)
        alive = httpx.get(f"{server.base_url}/health", timeout=5)
        agents = httpx.get(f"{server.base_url}/agents", timeout=5)
        assert ready.status_code == 503  # load balancers stop sending traffic ...
        assert alive.status_code == 200  # ... while the process still serves
        assert agents.status_code == 200
        # ... and then it stops by itself: re-raising SIGTERM once shut down, as uvicorn does
        assert server.proc.wait(timeout=20) == -signal.SIGTERM
    assert "Draining for 5 s" in server.stdout()


def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    with robutler_serve("--drain-delay", "30", tmp_path=tmp_path) as server:
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=15)
        assert time.monotonic() - started < 10
