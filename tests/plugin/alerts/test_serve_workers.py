"""Alerting with `--workers 4`: the counts of all workers, one notification per change, lock takeover."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.receivers import Received, webhook_receiver
from tests.support.servers import robutler_serve

from .test_serve_alerts import CHAT, _config

pytestmark = pytest.mark.slow


def _statuses(received: list[Received]) -> list[str]:
    return [str(r.body["status"]) for r in received]


def _until(client: httpx.Client, text: str, status: int, done: object, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    body = {"messages": [{"role": "user", "content": text}]}
    while not done():  # type: ignore[operator]
        assert client.post(CHAT, json=body, timeout=10).status_code == status
        time.sleep(0.01)
        assert time.monotonic() < deadline, f"no change after sending {text!r}"


def test_four_workers_notify_each_change_exactly_once_over_three_incidents(tmp_path: Path) -> None:
    with webhook_receiver() as rx:
        path = _config(tmp_path, {"webhooks": [{"url": rx.url, "name": "ops", "events": ["error"]}]})
        env = {"ROBUTLER_CONFIG": str(path)}
        with robutler_serve("--workers", "4", tmp_path=tmp_path, env=env, timeout=90) as server:
            for incident in range(1, 4):
                # one keep-alive connection: every request of the incident goes to one worker
                with httpx.Client(base_url=server.base_url) as client:
                    _until(
                        client, "!error", 500, lambda n=incident: _statuses(rx.received).count("firing") >= n
                    )
                with httpx.Client(base_url=server.base_url) as client:
                    _until(
                        client, "hi", 200, lambda n=incident: _statuses(rx.received).count("resolved") >= n
                    )
                time.sleep(1.5)  # six evaluation intervals: a duplicate from another worker would show now
                assert _statuses(rx.received) == ["firing", "resolved"] * incident
            starts = [r.body["started_at"] for r in rx.received]
            assert len(set(starts)) == 3  # three incidents


def test_killing_the_evaluating_worker_while_firing_sends_no_second_firing(tmp_path: Path) -> None:
    with webhook_receiver() as rx:
        path = _config(tmp_path, {"webhooks": [{"url": rx.url, "name": "ops", "events": ["error"]}]})
        env = {"ROBUTLER_CONFIG": str(path)}
        with robutler_serve("--workers", "2", tmp_path=tmp_path, env=env, timeout=90) as server:
            with httpx.Client(base_url=server.base_url) as client:
                _until(client, "!error", 500, lambda: "firing" in _statuses(rx.received))
            [lock] = (tmp_path / "state").glob("*.lock")
            holder = int(lock.read_text())
            os.kill(holder, signal.SIGKILL)  # dies without any shutdown: the kernel frees its flock
            deadline = time.monotonic() + 30
            while int(lock.read_text() or 0) in (holder, 0):
                # keep failing: the rule stays firing while another worker takes over
                with httpx.Client(base_url=server.base_url) as client:
                    client.post(CHAT, json={"messages": [{"role": "user", "content": "!error"}]}, timeout=10)
                time.sleep(0.1)
                assert time.monotonic() < deadline, "no worker took the evaluation lock over"
            time.sleep(1.5)
            assert _statuses(rx.received) == ["firing"]
            with httpx.Client(base_url=server.base_url) as client:
                _until(client, "hi", 200, lambda: "resolved" in _statuses(rx.received))
            time.sleep(1.0)
            assert _statuses(rx.received) == ["firing", "resolved"]
            assert rx.received[0].body["started_at"] == rx.received[1].body["started_at"]
