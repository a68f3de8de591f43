"""The `monitoring.alerts` schema: durations, channels, apprise URLs, email in both places."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from robutler_monitoring.plugin.config import ConfigError, load_config
from robutler_monitoring.plugin.config.schema import AlertsConfig, format_duration, parse_duration

DOCS = Path("/work/shared/seed/monitoring-and-observability.md")


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> AlertsConfig:
    path = tmp_path / "robutler.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_config(path, env=env or {}).config.alerts


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    return caught.value.report()


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(30, 30.0), (1.5, 1.5), ("30s", 30.0), ("5m", 300.0), ("4h", 14400.0), ("1h30m", 5400.0), ("90", 90.0)],
)
def test_durations_are_seconds_or_prometheus_strings(given: object, seconds: float) -> None:
    assert parse_duration(given) == seconds


def test_durations_print_back_in_prometheus_form() -> None:
    assert [format_duration(s) for s in (300, 14400, 5400, 0.5)] == ["5m", "4h", "1h30m", "500ms"]


def test_timing_keys_load_with_for_as_written(tmp_path: Path) -> None:
    alerts = _load(
        tmp_path,
        """
        monitoring:
          alerts:
            window: 10m
            for: 30s
            repeat_interval: 1h
            webhooks:
              - url: http://127.0.0.1:9/hook
                for: 0
                send_resolved: false
        """,
    )
    assert (alerts.window, alerts.for_, alerts.repeat_interval) == (600.0, 30.0, 3600.0)
    assert alerts.webhooks[0].for_ == 0.0 and alerts.webhooks[0].send_resolved is False


def test_bad_duration_names_key_value_and_form(tmp_path: Path) -> None:
    report = _error(tmp_path, "monitoring:\n  alerts:\n    window: 5 minutes\n")
    assert "monitoring.alerts.window" in report
    assert "5 minutes" in report and "'5m'" in report


def test_channel_defaults_are_all_events_at_the_documented_thresholds(tmp_path: Path) -> None:
    alerts = _load(tmp_path, "monitoring:\n  alerts:\n    webhooks: [{url: 'https://hooks.example.com/x'}]\n")
    [hook] = alerts.webhooks
    assert hook.events == ("error", "performance_degradation", "health")
    assert (hook.threshold.error_rate, hook.threshold.response_time) == (0.05, 5000.0)
    assert hook.timeout == 10.0


def test_apprise_urls_are_accepted_and_unknown_schemes_refused(tmp_path: Path) -> None:
    alerts = _load(
        tmp_path,
        "monitoring:\n  alerts:\n    webhooks: [{url: 'slack://TokenA/TokenB/TokenC'}, {url: 'mailto://u:p@example.com'}]\n",
    )
    assert [h.url.split(":")[0] for h in alerts.webhooks] == ["slack", "mailto"]
    report = _error(tmp_path, "monitoring:\n  alerts:\n    webhooks: [{url: 'nosuch://x/y'}]\n")
    assert "monitoring.alerts.webhooks.0.url" in report and "nosuch" in report


def test_error_rate_is_a_fraction(tmp_path: Path) -> None:
    report = _error(
        tmp_path,
        "monitoring:\n  alerts:\n    webhooks: [{url: 'http://h.example', threshold: {error_rate: 5}}]\n",
    )
    assert "monitoring.alerts.webhooks.0.threshold.error_rate" in report


def test_email_at_either_place_and_sender_defaults_to_username(tmp_path: Path) -> None:
    for where in ("monitoring:\n  email:\n", "monitoring:\n  alerts:\n    email:\n"):
        indent = " " * (where.count("\n") * 2)
        body = "".join(
            f"{indent}{line}\n"
            for line in (
                "smtp_host: mail.example.com",
                "username: alerts@example.com",
                "recipients: [a@example.com]",
            )
        )
        email = _load(tmp_path, where + body).email
        assert email.from_address == "alerts@example.com" and email.configured
        assert email.tls_mode == "starttls"


def test_email_tls_mode_follows_the_port() -> None:
    cfg = AlertsConfig.model_validate({"email": {"smtp_host": "mail.example.com", "smtp_port": 465}})
    assert cfg.email.tls_mode == "ssl"
    local = AlertsConfig.model_validate({"email": {"smtp_host": "localhost", "smtp_port": 25}})
    assert local.email.tls_mode == "none"


def test_duplicate_channel_names_are_refused(tmp_path: Path) -> None:
    hooks = "[{url: 'http://a.example', name: ops}, {url: 'http://b.example', name: ops}]"
    report = _error(tmp_path, f"monitoring:\n  alerts:\n    webhooks: {hooks}\n")
    assert "'ops'" in report


def _docs_block(heading: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    return after.split("```yaml\n", 1)[1].split("```", 1)[0]


@pytest.mark.skipif(not DOCS.exists(), reason="product documentation not present")
def test_the_documentations_alert_and_email_examples_load(tmp_path: Path) -> None:
    alerts = _load(tmp_path, _docs_block("### Webhook Alerts"))
    [hook] = alerts.webhooks
    assert hook.events == ("error", "performance_degradation")
    assert (hook.threshold.error_rate, hook.threshold.response_time) == (0.05, 5000)
    email = _load(tmp_path, _docs_block("### Email Notifications")).email
    assert email.configured and email.from_address == "alerts@yourcompany.com"
    assert email.password is not None and email.tls_mode == "starttls"


def test_config_show_masks_apprise_tokens_even_in_the_host(tmp_path: Path) -> None:
    from robutler_monitoring.plugin.config.show import render_json

    token = "123456789:abcdefgh_ijklmnopqrstuvwxyz"
    path = tmp_path / "robutler.yaml"
    path.write_text(
        f"monitoring:\n  alerts:\n    webhooks: [{{url: 'tgram://{token}/12345'}}]\n", encoding="utf-8"
    )
    shown = render_json(load_config(path, env={}))
    assert "tgram://" in shown and token not in shown
