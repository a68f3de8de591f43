"""config/monitoring.yaml, the commented reference file, is valid and complete."""

from __future__ import annotations

from pathlib import Path

import yaml

from robutler_monitoring.plugin.config import load_config

REFERENCE = Path(__file__).resolve().parents[3] / "config" / "monitoring.yaml"


def test_reference_file_validates_with_an_empty_environment() -> None:
    resolved = load_config(REFERENCE, env={})
    cfg = resolved.config
    assert cfg.auth_token is None  # "${ROBUTLER_MONITORING_TOKEN:-}" with nothing set
    assert cfg.alerts.email.password is None


def test_reference_file_values_are_what_the_file_says() -> None:
    raw = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))["monitoring"]
    cfg = load_config(REFERENCE, env={}).config
    assert cfg.metrics.endpoint == raw["metrics"]["endpoint"] == "/metrics"
    assert cfg.metrics.collect_interval == raw["metrics"]["collect_interval"] == 10
    assert cfg.logging.level == raw["logging"]["level"] == "INFO"
    assert cfg.health_checks.detailed_endpoint == raw["health_checks"]["detailed_endpoint"]
    assert cfg.tracing.jaeger_endpoint == raw["tracing"]["jaeger_endpoint"]
    assert cfg.alerts.email.smtp_host == raw["alerts"]["email"]["smtp_host"] == "smtp.gmail.com"
    # copying the file sends nothing: the example channels are commented out
    assert cfg.alerts.webhooks == () and cfg.alerts.alertmanager == ()
    assert not cfg.alerts.email.configured


def test_reference_file_commented_channels_load_when_uncommented(tmp_path: Path) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    text = text.replace("    webhooks: []\n", "    webhooks:\n").replace("    #  - ", "      - ")
    text = text.replace("    #    ", "        ").replace("    #      # ", "          # ")
    text = text.replace("    alertmanager: []\n", "    alertmanager:\n")
    text = text.replace("recipients: []", 'recipients: ["admin@yourcompany.com"]')
    path = tmp_path / "robutler.yaml"
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path, env={}).config
    hook, slack = cfg.alerts.webhooks
    assert hook.events == ("error", "performance_degradation")
    assert (hook.threshold.error_rate, hook.threshold.response_time) == (0.05, 5000)
    assert hook.format == "json" and slack.url.startswith("slack://")
    assert cfg.alerts.alertmanager[0].url == "http://alertmanager:9093"
    assert cfg.alerts.email.configured


def test_reference_file_secrets_come_from_the_environment() -> None:
    cfg = load_config(REFERENCE, env={"SMTP_PASSWORD": "app-password"}).config
    assert cfg.alerts.email.password is not None
    assert cfg.alerts.email.password.get_secret_value() == "app-password"


def test_reference_file_sets_every_key_of_the_schema() -> None:
    # a key added to schema.py must be documented here too
    resolved = load_config(REFERENCE, env={})
    left_out = sorted(key for key, source in resolved.sources.items() if source == "default")
    # left out on purpose, shown as a comment: set, it would stop following moved endpoints
    assert left_out == ["logging.access_log_skip_paths"]
    assert "# access_log_skip_paths: [" in REFERENCE.read_text(encoding="utf-8")
