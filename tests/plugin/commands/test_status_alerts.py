"""Alerting seen through the operator's commands: `status` shows what fires, `alerts` finds the server."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from robutler_monitoring.plugin.alerts.cli import alerts_app
from robutler_monitoring.plugin.commands import report
from robutler_monitoring.plugin.commands.remote import Health, Scrape
from robutler_monitoring.plugin.commands.samples import Samples
from tests.plugin.commands.support import chat, invoke
from tests.support.receivers import refused_url, webhook_receiver
from tests.support.servers import robutler_serve

TOKEN = "status-alerts-token"
ALERTS_PAGE = """
robutler_alerts{alertname="HighErrorRate",alertstate="inactive"} 0
robutler_alerts{alertname="HighErrorRate",alertstate="pending"} 0
robutler_alerts{alertname="HighErrorRate",alertstate="firing"} 1
robutler_alerts{alertname="SlowResponses",alertstate="inactive"} 0
robutler_alerts{alertname="SlowResponses",alertstate="pending"} 1
robutler_alerts{alertname="SlowResponses",alertstate="firing"} 0
robutler_alerts{alertname="Quiet",alertstate="inactive"} 1
"""


def alerts(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `robutler monitor alerts ARGS` with a clean ROBUTLER_* environment."""
    clean = {name: None for name in os.environ if name.startswith("ROBUTLER_")}
    result = CliRunner().invoke(alerts_app, list(args), env={**clean, "COLUMNS": "200", **env})
    return result.exit_code, result.stdout, result.stderr


def _window(page: str) -> report.Window:
    scrape = Scrape(Health(200, {"status": "pass"}), Samples.parse(page), 0.0)
    return report.Window(scrape, None, frozenset())


def test_alerts_section_lists_firing_then_pending_and_skips_inactive() -> None:
    section = report.alerts_section(_window(ALERTS_PAGE))
    assert section is not None and section.key == "alerts"
    assert section.data == [
        {"alert": "HighErrorRate", "state": "firing"},
        {"alert": "SlowResponses", "state": "pending"},
    ]
    assert report.alerts_section in report.SECTIONS


def test_alerts_section_is_empty_when_all_is_quiet_and_absent_without_alerting() -> None:
    quiet = report.alerts_section(_window('robutler_alerts{alertname="X",alertstate="inactive"} 1\n'))
    assert quiet is not None and quiet.data == []  # alerting on, nothing to see: [] in --json
    assert report.alerts_section(_window("robutler_workers 1\n")) is None


def _config(tmp_path: Path, hook: str, server_url: str) -> Path:
    alerts = {
        "evaluation_interval": 0.25,
        "window": "4s",
        "for": 0.5,
        "min_requests": 5,
        "state_dir": str(tmp_path / "state"),
        "shutdown_timeout": 3,
        "webhooks": [{"url": hook, "name": "ops", "events": ["error"]}],
    }
    doc = {"monitoring": {"auth_token": TOKEN, "server_url": server_url, "alerts": alerts}}
    path = tmp_path / "robutler.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.slow
def test_status_shows_a_firing_alert_and_alerts_list_finds_the_server_from_the_config(
    tmp_path: Path,
) -> None:
    with webhook_receiver() as rx:
        path = _config(tmp_path, rx.url, "http://127.0.0.1:1")  # server_url fixed below
        with robutler_serve(tmp_path=tmp_path, env={"ROBUTLER_CONFIG": str(path)}, timeout=90) as server:
            path = _config(tmp_path, rx.url, server.base_url)  # what the operator's file says
            env = {"ROBUTLER_CONFIG": str(path)}  # no --url, no --token: both from the file
            deadline = time.monotonic() + 60
            first: dict[str, object] = {}
            while "alerts" not in first:  # the evaluator's first round sets robutler_alerts
                assert time.monotonic() < deadline, f"no alerts section: {first}"
                code, out, err = invoke("monitor", "status", "--json", "--window", "0", env=env)
                assert (code, err) == (0, ""), err
                first = json.loads(out)
            assert first["alerts"] == []  # alerting on, nothing firing yet
            shown: list[dict[str, str]] = []
            while {"alert": "HighErrorRate", "state": "firing"} not in shown:
                assert time.monotonic() < deadline, f"never saw the alert fire: {shown}"
                assert chat(server.base_url, "!error please", count=3) == [500, 500, 500]
                code, out, _ = invoke("monitor", "status", "--json", "--window", "0", env=env)
                shown = json.loads(out)["alerts"]
            code, table, _ = invoke("monitor", "status", "--window", "0", env=env)
            listed = alerts("list", "--json", env=env)
            silenced = alerts("silence", "HighErrorRate", "--for", "5m", env=env)
            lifted = alerts("unsilence", "HighErrorRate", env=env)
            wrong = alerts("list", "--token", "not-it", env=env)  # the flag wins over the file
    assert "Alerts firing or pending" in table, table
    assert any(line.replace("│", " ").split() == ["HighErrorRate", "firing"] for line in table.splitlines())
    assert listed[0] == 0, listed
    assert json.loads(listed[1])["rules"][0]["state"] == "firing"
    assert silenced[0] == 0 and "silenced until" in silenced[1]
    assert lifted[0] == 0 and "no longer silenced" in lifted[1]
    assert wrong[0] == 2 and "bearer token" in wrong[2]


def test_alerts_list_takes_the_url_from_the_environment_and_names_it_when_down() -> None:
    down = refused_url()
    code, _, err = alerts("list", env={"ROBUTLER_MONITORING_URL": down})
    assert code == 2 and "cannot reach" in err and down.removeprefix("http://").split("/")[0] in err


def test_alerts_commands_name_a_bad_server_url(tmp_path: Path) -> None:
    for args in (["list"], ["silence", "HighErrorRate", "--for", "5m"], ["unsilence", "HighErrorRate"]):
        code, _, err = alerts(*args, env={"ROBUTLER_MONITORING_URL": "ftp://nowhere"})
        assert code == 2 and "monitoring.server_url" in err and "ftp://nowhere" in err, err
