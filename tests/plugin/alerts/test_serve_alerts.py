"""Alerting through a real `robutler serve` of the demo: real webhook receiver, real SMTP server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.receivers import Received, SmtpServer, WebhookReceiver, smtp_server, webhook_receiver
from tests.support.servers import robutler_serve

pytestmark = pytest.mark.slow

CHAT = "/assistant/chat/completions"
TOKEN = "tok-e2e-secret"
SMTP_PASSWORD = "smtp-pass-never-shown"


def _config(tmp_path: Path, alerts: dict[str, Any], **monitoring: Any) -> Path:
    timing = {
        "evaluation_interval": 0.25,
        "window": "4s",
        "for": 0.5,
        "min_requests": 5,
        "state_dir": str(tmp_path / "state"),
        "shutdown_timeout": 3,
    }
    doc = {"monitoring": {"alerts": {**timing, **alerts}, **monitoring}}
    path = tmp_path / "robutler.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def _chat(base: str, text: str) -> int:
    body = {"messages": [{"role": "user", "content": text}]}
    return httpx.post(base + CHAT, json=body, timeout=10).status_code


def drive_incident(
    base: str, fired: Callable[[], bool], resolved: Callable[[], bool], timeout: float = 60, why: Any = None
) -> None:
    """Fail requests until the alert fires, then answer well until it resolves."""
    deadline = time.monotonic() + timeout
    while not fired():
        assert _chat(base, "!error please") == 500
        assert time.monotonic() < deadline, f"the alert never fired: {why() if why else ''}"
    while not resolved():
        assert _chat(base, "hello") == 200
        time.sleep(0.02)
        assert time.monotonic() < deadline, f"the alert never resolved: {why() if why else ''}"


def _status(r: Received) -> str:
    return str(r.body.get("status"))


def _mail_status(smtp: SmtpServer, status: str) -> int:
    return sum(1 for m in smtp.inbox if m.message["Subject"].startswith(f"[{status}]"))


def _settle(rx: WebhookReceiver, smtp: SmtpServer | None, seconds: float = 2.0) -> None:
    """Wait a few evaluation intervals: anything extra (a second firing) would arrive now."""
    time.sleep(seconds)


def test_one_firing_and_one_resolved_reach_webhook_and_email(tmp_path: Path) -> None:
    creds = ("alerts@example.com", SMTP_PASSWORD)
    with webhook_receiver() as rx, webhook_receiver() as am, smtp_server(creds) as smtp:
        email = {
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "username": "alerts@example.com",
            "password": "${SMTP_PASSWORD}",
            "recipients": ["ops@example.com"],
            "tls": "none",
            "events": ["error"],
        }
        hooks = [
            {"url": rx.url + "/hook?token=hook-secret", "name": "ops", "events": ["error"]},
            {"url": am.url + "/am", "name": "am", "events": ["error"], "format": "alertmanager"},
        ]
        path = _config(tmp_path, {"webhooks": hooks}, email=email, auth_token=TOKEN)
        env = {"ROBUTLER_CONFIG": str(path), "SMTP_PASSWORD": SMTP_PASSWORD}
        with robutler_serve(tmp_path=tmp_path, env=env, timeout=60) as server:
            drive_incident(
                server.base_url,
                fired=lambda: bool(rx.received) and _mail_status(smtp, "FIRING") > 0,
                resolved=lambda: (
                    any(_status(r) == "resolved" for r in rx.received) and _mail_status(smtp, "RESOLVED") > 0
                ),
                why=lambda: ([_status(r) for r in rx.received], [m.message["Subject"] for m in smtp.inbox]),
            )
            am.wait_for(2, where=lambda r: True)
            _settle(rx, smtp)
            listing = httpx.get(server.base_url + "/alerts", headers={"authorization": f"Bearer {TOKEN}"})
            unauthorized = httpx.get(server.base_url + "/alerts")
            health = httpx.get(
                server.base_url + "/health/detailed", headers={"authorization": f"Bearer {TOKEN}"}
            )
            metrics = httpx.get(
                server.base_url + "/metrics", headers={"authorization": f"Bearer {TOKEN}"}
            ).text
        output = server.stdout() + server.stderr()

    assert [_status(r) for r in rx.received] == ["firing", "resolved"]
    fired, ended = (r.body for r in rx.received)
    assert fired["rule"] == "HighErrorRate" and fired["event"] == "error" and fired["value"] > 0.05
    assert fired["threshold"] == 0.05 and fired["window"] == 4 and fired["service"] == "robutler"
    assert fired["instance"] == server.base_url.removeprefix("http://")
    assert fired["link"] == server.base_url + "/health/detailed"
    assert fired["started_at"] == ended["started_at"] and ended["ended_at"]
    assert rx.received[0].path == "/hook?token=hook-secret"

    assert [r.body["status"] for r in am.received] == ["firing", "resolved"]
    assert am.received[0].body["version"] == "4"

    subjects = [m.message["Subject"] for m in smtp.inbox]
    assert len(subjects) == 2
    assert subjects[0].startswith("[FIRING] error rate ") and subjects[0].endswith(
        f"> 5% on robutler@{fired['instance']}"
    )
    assert subjects[1].startswith("[RESOLVED] HighErrorRate")
    assert {m.sender for m in smtp.inbox} == {"alerts@example.com"}
    assert all(m.recipients == ["ops@example.com"] for m in smtp.inbox)
    assert smtp.logins == ["alerts@example.com", "alerts@example.com"]  # the password was used

    assert unauthorized.status_code == 401
    assert listing.status_code == 200
    [rule] = listing.json()["rules"]
    assert rule["name"] == "HighErrorRate" and rule["state"] == "inactive"
    assert {c["name"]: c["delivered"] for c in listing.json()["channels"]} == {"ops": 2, "am": 2, "email": 2}
    checks = health.json()["checks"]
    assert checks["alerts:ops"][0]["status"] == "pass"
    assert 'robutler_alert_notifications_total{channel="ops",status="delivered"} 2.0' in metrics
    assert 'robutler_alerts{alertname="HighErrorRate",alertstate="inactive"} 1.0' in metrics

    shown = output + listing.text + health.text + metrics + json.dumps([r.body for r in rx.received])
    for secret in (SMTP_PASSWORD, "hook-secret", TOKEN):
        assert secret not in shown
