"""A fleet uses its Alertmanager: two `robutler serve` firing one rule give one grouped notification."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.receivers import WebhookReceiver, webhook_receiver
from tests.support.servers import free_port, interrupt, robutler_serve, wait_for_port

from .test_serve_alerts import CHAT, _config

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        ALERTMANAGER is None, reason="Alertmanager (Debian prometheus-alertmanager) is not installed"
    ),
]


@contextlib.contextmanager
def alertmanager(tmp_path: Path, receiver: WebhookReceiver) -> Iterator[str]:
    """A real Alertmanager on loopback ports, grouping by alertname, notifying ``receiver``."""
    config = {
        "route": {
            "receiver": "hook",
            "group_by": ["alertname"],
            "group_wait": "3s",
            "group_interval": "3s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {"name": "hook", "webhook_configs": [{"url": receiver.url + "/am", "send_resolved": True}]}
        ],
    }
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log = (tmp_path / "am.log").open("wb")
    assert ALERTMANAGER is not None
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port("127.0.0.1", port, timeout=30), (tmp_path / "am.log").read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        interrupt(proc)
        log.close()


def _fail_on(bases: list[str], text: str, status: int) -> None:
    for base in bases:
        assert (
            httpx.post(
                base + CHAT, json={"messages": [{"role": "user", "content": text}]}, timeout=10
            ).status_code
            == status
        )


def test_two_servers_firing_one_rule_give_one_grouped_notification(tmp_path: Path) -> None:
    with webhook_receiver() as rx, alertmanager(tmp_path, rx) as am_url:
        servers = []
        with contextlib.ExitStack() as stack:
            for name in ("a", "b"):
                folder = tmp_path / name
                folder.mkdir()
                alerts = {"alertmanager": [{"url": am_url, "events": ["error"]}], "webhooks": []}
                path = _config(folder, alerts)
                servers.append(
                    stack.enter_context(robutler_serve(tmp_path=folder, env={"ROBUTLER_CONFIG": str(path)}))
                )
            bases = [s.base_url for s in servers]
            deadline = time.monotonic() + 60
            while not rx.received:
                _fail_on(bases, "!error", 500)
                assert time.monotonic() < deadline, "Alertmanager never notified"
            api = httpx.get(am_url + "/api/v2/alerts", timeout=10).json()
            time.sleep(1)
            firing = [r.body for r in rx.received]
            while not any(b["status"] == "resolved" for b in (r.body for r in rx.received)):
                _fail_on(bases, "ok", 200)
                time.sleep(0.05)
                assert time.monotonic() < deadline + 60, (
                    "the resolution never reached Alertmanager's receiver"
                )
            resolved_api = httpx.get(
                am_url + "/api/v2/alerts",
                params={
                    "active": "false",
                    "inhibited": "false",
                    "silenced": "false",
                    "unprocessed": "false",
                },
                timeout=10,
            ).json()

    instances = {b.removeprefix("http://") for b in bases}
    [first] = firing
    assert first["status"] == "firing" and first["groupLabels"] == {"alertname": "HighErrorRate"}
    assert {a["labels"]["instance"] for a in first["alerts"]} == instances  # one notification, both servers
    assert {a["labels"]["instance"] for a in api if a["labels"]["alertname"] == "HighErrorRate"} == instances
    assert all(a["annotations"]["summary"].startswith("[FIRING] error rate") for a in api)
    last = rx.received[-1].body
    assert last["status"] == "resolved" and {a["labels"]["instance"] for a in last["alerts"]} == instances
    assert resolved_api == []
