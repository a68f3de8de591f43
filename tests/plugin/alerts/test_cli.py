"""`robutler monitor alerts ...`: test, list, silence, unsilence, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from robutler_monitoring.plugin.alerts.cli import alerts_app
from tests.support.receivers import refused_url, smtp_server, webhook_receiver
from tests.support.servers import robutler_serve

from .test_serve_alerts import CHAT, _config

runner = CliRunner()


def _write(tmp_path: Path, alerts: dict[str, Any]) -> Path:
    path = tmp_path / "robutler.yaml"
    path.write_text(yaml.safe_dump({"monitoring": {"alerts": alerts}}), encoding="utf-8")
    return path


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(alerts_app, list(args), env={"ROBUTLER_CONFIG": "", **(env or {})})


@pytest.mark.slow
def test_alerts_test_names_each_failure_and_exits_1(tmp_path: Path) -> None:
    with webhook_receiver() as ok, webhook_receiver(mode="hang", hang_s=10) as hanging, smtp_server() as smtp:
        path = _write(
            tmp_path,
            {
                "webhooks": [
                    {"url": ok.url + "/h?token=tok-secret", "name": "ok"},
                    {"url": refused_url(), "name": "refusing"},
                    {"url": hanging.url, "name": "hanging", "timeout": 2},
                ],
                "email": {
                    "smtp_host": smtp.host,
                    "smtp_port": smtp.port,
                    "sender": "robutler@example.com",
                    "recipients": ["ops@example.com"],
                    "tls": "none",
                },
            },
        )
        result = _run("test", "--config", str(path))
        [got] = ok.received
        [mail] = smtp.wait_for(1)
    assert result.exit_code == 1, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "delivered" in rows["ok"] and "delivered" in rows["email"]
    assert "failed" in rows["refusing"] and "cannot connect" in rows["refusing"]
    assert "failed" in rows["hanging"] and "timed out" in rows["hanging"]
    assert "tok-secret" not in result.output
    assert got.body["test"] is True and got.body["summary"].startswith("[TEST] [FIRING]")
    assert mail.message["Subject"].startswith("[TEST] [FIRING]")


@pytest.mark.slow
def test_alerts_test_one_channel_exit_0(tmp_path: Path) -> None:
    with webhook_receiver() as ok:
        path = _write(
            tmp_path, {"webhooks": [{"url": ok.url, "name": "ok"}, {"url": refused_url(), "name": "no"}]}
        )
        result = _run("test", "--config", str(path), "--channel", "ok")
        assert result.exit_code == 0, result.output
        assert len(ok.received) == 1
    assert _run("test", "--config", str(path), "--channel", "nope").exit_code == 2


def test_alerts_test_bad_config_exits_2_and_masks_the_password(tmp_path: Path) -> None:
    path = _write(
        tmp_path, {"email": {"smtp_host": "mail.example.com", "password": "pw-secret", "smtp_port": 0}}
    )
    result = _run("test", "--config", str(path))
    assert result.exit_code == 2
    assert "monitoring.alerts.email.smtp_port" in result.output and "pw-secret" not in result.output
    empty = _write(tmp_path, {})
    assert _run("test", "--config", str(empty)).exit_code == 2


def test_export_prints_a_rules_file(tmp_path: Path) -> None:
    path = _write(tmp_path, {"webhooks": [{"url": "https://hooks.example.com/x", "events": ["error"]}]})
    result = _run("export", "--config", str(path))
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.stdout)
    assert [r["alert"] for r in doc["groups"][0]["rules"]] == ["HighErrorRate"]
    operator = yaml.safe_load(_run("export", "--config", str(path), "--format", "prometheusrule").stdout)
    assert operator["kind"] == "PrometheusRule"


@pytest.mark.slow
def test_list_silence_unsilence_against_a_running_server(tmp_path: Path) -> None:
    token = "list-token-secret"
    with webhook_receiver() as rx:
        path = _config(
            tmp_path, {"webhooks": [{"url": rx.url, "name": "ops", "events": ["error"]}]}, auth_token=token
        )
        with robutler_serve(tmp_path=tmp_path, env={"ROBUTLER_CONFIG": str(path)}) as server:
            url = ["--url", server.base_url]
            assert _run("list", *url).exit_code == 2  # no token: told to pass one
            env = {"ROBUTLER_MONITORING_TOKEN": token}
            silenced = _run("silence", "HighErrorRate", "--for", "1h", "--comment", "deploy", *url, env=env)
            assert silenced.exit_code == 0, silenced.output
            assert _run("silence", "Nope", "--for", "1h", *url, env=env).exit_code == 2
            assert _run("silence", "HighErrorRate", "--for", "soon", *url, env=env).exit_code == 2
            with httpx.Client(base_url=server.base_url) as client:
                for _ in range(30):
                    client.post(CHAT, json={"messages": [{"role": "user", "content": "!error"}]}, timeout=10)
                listing = {}
                for _ in range(100):  # poll until the evaluator saw the errors
                    listing = json.loads(_run("list", "--json", *url, env=env).stdout)
                    if listing["rules"][0]["state"] == "firing":
                        break
                    client.post(CHAT, json={"messages": [{"role": "user", "content": "!error"}]}, timeout=10)
            [rule] = listing["rules"]
            assert (
                rule["state"] == "firing" and rule["silence_comment"] == "deploy" and rule["silenced_until"]
            )
            assert rx.received == []  # silenced: nobody told
            table = _run("list", *url, env=env).stdout
            assert "HighErrorRate" in table and "firing" in table
            assert _run("unsilence", "HighErrorRate", *url, env=env).exit_code == 0
            rx.wait_for(1, timeout=20)
            assert [r.body["status"] for r in rx.received] == ["firing"]  # the silence ended while firing
