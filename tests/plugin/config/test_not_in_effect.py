"""What the configuration says is what happens: moved endpoints stay out of the access log,
and sections not in effect yet say so at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from robutler_monitoring.plugin.config import load_config
from robutler_monitoring.plugin.config.inert import NOT_YET, inert_warnings
from tests.support.servers import robutler_serve


def test_skip_paths_follow_moved_endpoints() -> None:
    env = {
        "ROBUTLER_MONITORING__METRICS__ENDPOINT": "/prom",
        "ROBUTLER_MONITORING__HEALTH_CHECKS__ENDPOINT": "/livez",
    }
    resolved = load_config(None, env=env)
    assert resolved.config.logging.access_log_skip_paths == (
        "/livez",
        "/health/ready",
        "/health/detailed",
        "/prom",
        "/alerts",
        "/alerts/silences",
    )
    assert resolved.sources["logging.access_log_skip_paths"] == "default"


def test_an_explicit_skip_list_is_kept() -> None:
    env = {
        "ROBUTLER_MONITORING__METRICS__ENDPOINT": "/prom",
        "ROBUTLER_MONITORING__LOGGING__ACCESS_LOG_SKIP_PATHS": '["/health"]',
    }
    assert load_config(None, env=env).config.logging.access_log_skip_paths == ("/health",)


def test_alerts_and_tracing_are_in_effect_so_nothing_is_named(tmp_path: Path) -> None:
    path = tmp_path / "robutler.yaml"
    path.write_text("monitoring:\n  email:\n    smtp_host: smtp.example.com\n  tracing:\n    enabled: true\n")
    assert NOT_YET == {}  # alerting and tracing landed: the not-yet list is empty
    assert inert_warnings(load_config(path, env={})) == []
    assert inert_warnings(load_config(None, env={})) == []  # defaults alone: nothing to say
    tracing_on = {"ROBUTLER_MONITORING__TRACING__ENABLED": "true"}
    assert inert_warnings(load_config(None, env=tracing_on)) == []  # tracing works: nothing to warn of


@pytest.mark.slow
def test_scrapes_of_a_moved_endpoint_stay_out_of_the_access_log(tmp_path: Path) -> None:
    hooks = '[{"url": "https://hooks.example.com/x"}]'
    env = {"ROBUTLER_MONITORING__METRICS__ENDPOINT": "/prom", "ROBUTLER_MONITORING__ALERTS__WEBHOOKS": hooks}
    with robutler_serve(tmp_path=tmp_path, env=env) as server:
        for _ in range(3):
            assert httpx.get(server.base_url + "/prom", timeout=10).status_code == 200
        assert httpx.get(server.base_url + "/agents", timeout=10).status_code == 200
        server.stop()
    entries = [json.loads(line) for line in server.stdout().splitlines() if line.startswith("{")]
    access = [e["path"] for e in entries if e["logger"] == "robutler.access"]
    assert access == ["/agents"]
    warnings = [e["message"] for e in entries if e["level"] == "WARNING" and "no effect" in e["message"]]
    assert warnings == []  # alerts are in effect
