"""The environment scheme: ROBUTLER_MONITORING__<KEY>__<SUBKEY>, shortcuts, and its errors."""

from __future__ import annotations

import pytest

from robutler_monitoring.plugin.config import ConfigError, Problem, load_config
from robutler_monitoring.plugin.config.env import variable_name


def _problems(env: dict[str, str]) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_config(None, env=env)
    return info.value.problems


def test_nested_keys_from_double_underscore_names() -> None:
    resolved = load_config(
        None,
        env={
            "ROBUTLER_MONITORING__METRICS__ENDPOINT": "/prom",
            "ROBUTLER_MONITORING__HEALTH_CHECKS__DETAILED_ENDPOINT": "/hz/full",
            "ROBUTLER_MONITORING__ALERTS__EMAIL__PASSWORD": "pa: ss #word",
            "ROBUTLER_MONITORING__ENABLED": "true",
        },
    )
    cfg = resolved.config
    assert cfg.metrics.endpoint == "/prom"
    assert cfg.health_checks.detailed_endpoint == "/hz/full"
    # text values are taken verbatim: no YAML mapping, no comment stripping
    assert cfg.alerts.email.password is not None
    assert cfg.alerts.email.password.get_secret_value() == "pa: ss #word"
    assert resolved.sources["health_checks.detailed_endpoint"] == (
        "env ROBUTLER_MONITORING__HEALTH_CHECKS__DETAILED_ENDPOINT"
    )


def test_non_text_values_are_yaml_numbers_booleans_and_lists() -> None:
    cfg = load_config(
        None,
        env={
            "ROBUTLER_MONITORING__METRICS__ENABLED": "false",
            "ROBUTLER_MONITORING__METRICS__COLLECT_INTERVAL": "2.5",
            "ROBUTLER_MONITORING__LOGGING__QUEUE_SIZE": "500",
            "ROBUTLER_MONITORING__ALERTS__EMAIL__RECIPIENTS": '["a@example.com", "b@example.com"]',
            "ROBUTLER_MONITORING__LOGGING__ACCESS_LOG_SKIP_PATHS": "[/health, /ping]",
        },
    ).config
    assert cfg.metrics.enabled is False
    assert cfg.metrics.collect_interval == 2.5
    assert cfg.logging.queue_size == 500
    assert cfg.alerts.email.recipients == ("a@example.com", "b@example.com")
    assert cfg.logging.access_log_skip_paths == ("/health", "/ping")


def test_webhooks_list_of_mappings_from_one_variable() -> None:
    resolved = load_config(
        None,
        env={
            "ROBUTLER_MONITORING__ALERTS__WEBHOOKS": (
                '[{"url": "http://127.0.0.1:9/hook", "events": ["error"], "threshold": {"error_rate": 0.1}}]'
            )
        },
    )
    [hook] = resolved.config.alerts.webhooks
    assert (hook.url, hook.events, hook.threshold.error_rate) == (
        "http://127.0.0.1:9/hook",
        ("error",),
        0.1,
    )
    assert resolved.sources["alerts.webhooks.0.url"] == "env ROBUTLER_MONITORING__ALERTS__WEBHOOKS"


def test_email_alias_in_the_environment() -> None:
    cfg = load_config(None, env={"ROBUTLER_MONITORING__EMAIL__SMTP_HOST": "mail.local"}).config
    assert cfg.alerts.email.smtp_host == "mail.local"


def test_email_alias_and_canonical_variable_disagreeing_is_an_error() -> None:
    [problem] = _problems(
        {
            "ROBUTLER_MONITORING__EMAIL__SMTP_HOST": "a.local",
            "ROBUTLER_MONITORING__ALERTS__EMAIL__SMTP_HOST": "b.local",
        }
    )
    assert "ROBUTLER_MONITORING__ALERTS__EMAIL__SMTP_HOST" in str(problem)
    assert "ROBUTLER_MONITORING__EMAIL__SMTP_HOST" in str(problem)


def test_shortcuts() -> None:
    resolved = load_config(
        None,
        env={
            "ROBUTLER_LOG_LEVEL": "debug",
            "ROBUTLER_LOG_FORMAT": "console",
            "ROBUTLER_MONITORING_TOKEN": "s3cret",
        },
    )
    cfg = resolved.config
    assert (cfg.logging.level, cfg.logging.format) == ("DEBUG", "console")
    assert cfg.auth_token is not None and cfg.auth_token.get_secret_value() == "s3cret"
    assert resolved.sources["auth_token"] == "env ROBUTLER_MONITORING_TOKEN"


def test_shortcut_and_long_form_agreeing_is_fine() -> None:
    env = {"ROBUTLER_LOG_LEVEL": "ERROR", "ROBUTLER_MONITORING__LOGGING__LEVEL": "ERROR"}
    assert load_config(None, env=env).config.logging.level == "ERROR"


def test_shortcut_and_long_form_disagreeing_is_an_error_naming_both() -> None:
    [problem] = _problems({"ROBUTLER_LOG_LEVEL": "DEBUG", "ROBUTLER_MONITORING__LOGGING__LEVEL": "ERROR"})
    assert problem.source == "env ROBUTLER_LOG_LEVEL"
    assert "ROBUTLER_MONITORING__LOGGING__LEVEL" in problem.message


def test_unknown_key_names_the_variable_and_suggests_the_right_one() -> None:
    [problem] = _problems({"ROBUTLER_MONITORING__METRICS__ENDPIONT": "/prom"})
    assert str(problem) == (
        "env ROBUTLER_MONITORING__METRICS__ENDPIONT: monitoring.metrics.endpiont: "
        "unknown key; did you mean 'ROBUTLER_MONITORING__METRICS__ENDPOINT'?"
    )


def test_unknown_section_in_a_variable() -> None:
    [problem] = _problems({"ROBUTLER_MONITORING__METRIX__ENABLED": "true"})
    assert problem.source == "env ROBUTLER_MONITORING__METRIX__ENABLED"
    assert "ROBUTLER_MONITORING__METRICS" in problem.message


def test_a_variable_naming_a_whole_section_is_an_error() -> None:
    [problem] = _problems({"ROBUTLER_MONITORING__METRICS": "{enabled: false}"})
    assert problem.key == "monitoring.metrics"
    assert "ROBUTLER_MONITORING__METRICS__" in problem.message


def test_bad_values_name_the_variable() -> None:
    problems = _problems(
        {
            "ROBUTLER_MONITORING__METRICS__COLLECT_INTERVAL": "-3",
            "ROBUTLER_MONITORING__ALERTS__WEBHOOKS": "[{url: ftp://x}]",
            "ROBUTLER_MONITORING__ENABLED": "[not closed",
        }
    )
    by_source = {p.source: p for p in problems}
    assert by_source["env ROBUTLER_MONITORING__METRICS__COLLECT_INTERVAL"].message == (
        "must be greater than 0"
    )
    assert by_source["env ROBUTLER_MONITORING__ALERTS__WEBHOOKS"].key == "monitoring.alerts.webhooks.0.url"
    assert "not a valid YAML value" in by_source["env ROBUTLER_MONITORING__ENABLED"].message


def test_other_robutler_variables_are_not_ours() -> None:
    env = {
        "ROBUTLER_CONFIG_X": "1",
        "ROBUTLER_SERVE_SETTINGS": "{}",
        "ROBUTLER_DISABLE_PLUGINS": "",
    }
    assert load_config(None, env=env).config.enabled is True


def test_variable_name_is_the_inverse_of_the_scheme() -> None:
    assert variable_name(("alerts", "email", "password")) == "ROBUTLER_MONITORING__ALERTS__EMAIL__PASSWORD"
