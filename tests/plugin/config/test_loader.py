"""The loader: precedence and sources, file errors with line numbers, all problems at once."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from robutler_monitoring.plugin.config import (
    ConfigError,
    Problem,
    load_config,
    resolve_config_path,
)


def _file(tmp_path: Path, text: str, name: str = "robutler.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _problems(path: Path | None, env: dict[str, str] | None = None, **kwargs: Any) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {}, **kwargs)
    return info.value.problems


# --- precedence and sources -------------------------------------------------------------


def test_no_file_gives_defaults_with_default_sources() -> None:
    resolved = load_config(None, env={})
    assert resolved.path is None
    assert resolved.config.metrics.endpoint == "/metrics"
    assert resolved.config.logging.level == "INFO"
    assert set(resolved.sources.values()) == {"default"}
    assert "alerts.email.smtp_port" in resolved.sources  # every leaf has a source


def test_flags_beat_env_beat_file_beat_defaults(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
        monitoring:
          logging:
            level: WARNING
            format: console
          metrics:
            endpoint: /prom-file
          health_checks:
            endpoint: /hc
        """,
    )
    env = {
        "ROBUTLER_LOG_LEVEL": "ERROR",
        "ROBUTLER_MONITORING__LOGGING__FORMAT": "json",
        "ROBUTLER_MONITORING__METRICS__ENDPOINT": "/prom-env",
    }
    overrides = {
        "logging.level": ("debug", "flag --log-level"),
        "logging.output": (None, "flag --log-output"),  # not given on the command line
    }
    resolved = load_config(path, env=env, overrides=overrides)
    cfg, sources = resolved.config, resolved.sources

    assert (cfg.logging.level, sources["logging.level"]) == ("DEBUG", "flag --log-level")
    assert (cfg.logging.format, sources["logging.format"]) == (
        "json",
        "env ROBUTLER_MONITORING__LOGGING__FORMAT",
    )
    assert (cfg.metrics.endpoint, sources["metrics.endpoint"]) == (
        "/prom-env",
        "env ROBUTLER_MONITORING__METRICS__ENDPOINT",
    )
    assert (cfg.health_checks.endpoint, sources["health_checks.endpoint"]) == ("/hc", f"{path}:8")
    assert (cfg.logging.output, sources["logging.output"]) == ("stdout", "default")
    assert resolved.path == path


def test_seed_debug_switch_works_from_the_environment() -> None:
    resolved = load_config(None, env={"ROBUTLER_LOG_LEVEL": "DEBUG"})
    assert resolved.config.logging.level == "DEBUG"
    assert resolved.sources["logging.level"] == "env ROBUTLER_LOG_LEVEL"


def test_keys_left_out_of_a_file_list_item_are_defaults(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
        monitoring:
          alerts:
            webhooks:
              - url: https://hooks.example.com/a
                events: [error]
        """,
    )
    resolved = load_config(path, env={})
    assert resolved.sources["alerts.webhooks.0.url"] == f"{path}:4"
    assert resolved.sources["alerts.webhooks.0.events"] == f"{path}:5"
    assert resolved.sources["alerts.webhooks.0.threshold.error_rate"] == "default"


def test_empty_section_means_defaults(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  metrics:\n  logging:\n    level: debug\n")
    resolved = load_config(path, env={})
    assert resolved.config.metrics.endpoint == "/metrics"
    assert resolved.config.logging.level == "DEBUG"


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    path = _file(tmp_path, "# nothing here yet\n")
    assert load_config(path, env={}).config.enabled is True


# --- the file location --------------------------------------------------------------------


def test_config_path_flag_then_env_then_cwd_file(tmp_path: Path) -> None:
    flag = _file(tmp_path, "monitoring: {}\n", "flag.yaml")
    from_env = _file(tmp_path, "monitoring: {}\n", "env.yaml")
    env = {"ROBUTLER_CONFIG": str(from_env)}
    assert resolve_config_path(str(flag), env, tmp_path) == flag
    assert resolve_config_path(None, env, tmp_path) == from_env
    assert resolve_config_path(None, {}, tmp_path) is None
    _file(tmp_path, "monitoring: {}\n")
    assert resolve_config_path(None, {}, tmp_path) == tmp_path / "robutler.yaml"


def test_missing_explicit_or_env_path_names_where_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config_path("nope.yaml", {}, tmp_path)
    assert str(info.value) == "flag --config: config file 'nope.yaml' does not exist"
    with pytest.raises(ConfigError) as info:
        resolve_config_path(None, {"ROBUTLER_CONFIG": "/no/such.yaml"}, tmp_path)
    assert str(info.value) == "env ROBUTLER_CONFIG: config file '/no/such.yaml' does not exist"


# --- the two places for email settings -----------------------------------------------------


def test_email_at_monitoring_email_moves_to_alerts_email_with_its_lines(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
        monitoring:
          email:
            smtp_host: smtp.example.com
            smtp_port: 2525
          alerts:
            email:
              smtp_port: 2525
              recipients: [ops@example.com]
        """,
    )
    resolved = load_config(path, env={})
    email = resolved.config.alerts.email
    assert (email.smtp_host, email.smtp_port, email.recipients) == (
        "smtp.example.com",
        2525,
        ("ops@example.com",),
    )
    assert resolved.sources["alerts.email.smtp_host"] == f"{path}:3"
    assert resolved.sources["alerts.email.recipients"] == f"{path}:8"


def test_email_set_differently_in_both_places_names_both(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
        monitoring:
          email:
            smtp_host: a.example.com
          alerts:
            email:
              smtp_host: b.example.com
        """,
    )
    [problem] = _problems(path)
    assert problem.source == f"{path}:3"
    assert problem.key == "monitoring.email.smtp_host"
    assert "monitoring.alerts.email.smtp_host" in problem.message
    assert f"{path}:6" in problem.message


def test_email_password_conflict_does_not_print_either_password(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
        monitoring:
          email: {password: first-secret}
          alerts: {email: {password: second-secret}}
        """,
    )
    [problem] = _problems(path)
    assert "secret" not in str(problem)


# --- what the file can get wrong ----------------------------------------------------------------


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  metrics:\n    endpont: /prom\n")
    [problem] = _problems(path)
    assert str(problem) == f"{path}:3: monitoring.metrics.endpont: unknown key; did you mean 'endpoint'?"


def test_unknown_top_level_section_suggests_a_known_one(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring: {}\nmonitorng:\n  enabled: true\n")
    [problem] = _problems(path, known_sections=("monitoring", "payments"))
    assert problem.source == f"{path}:2"
    assert problem.key == "monitorng"
    assert "did you mean 'monitoring'?" in problem.message


def test_sections_of_other_plugins_are_accepted(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring: {}\npayments:\n  currency: EUR\n")
    assert load_config(path, env={}, known_sections=("monitoring", "payments")).config.enabled


def test_wrong_type(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  metrics:\n    enabled: maybe\n")
    [problem] = _problems(path)
    assert str(problem) == f"{path}:3: monitoring.metrics.enabled = 'maybe': expected true or false"


def test_out_of_range(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  metrics:\n    collect_interval: -1\n")
    [problem] = _problems(path)
    assert str(problem) == f"{path}:3: monitoring.metrics.collect_interval = -1: must be greater than 0"


def test_unknown_log_level(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  logging:\n    level: LOUD\n")
    [problem] = _problems(path)
    assert (problem.source, problem.key, problem.value) == (
        f"{path}:3",
        "monitoring.logging.level",
        "LOUD",
    )
    assert "unknown log level" in problem.message and "DEBUG" in problem.message


def test_unknown_event_name(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
        monitoring:
          alerts:
            webhooks:
              - url: https://hooks.example.com
                events: [error, explosion]
        """,
    )
    [problem] = _problems(path)
    assert problem.source == f"{path}:5"
    assert problem.key == "monitoring.alerts.webhooks.0.events.1"
    assert problem.value == "explosion"
    assert "'performance_degradation'" in problem.message


def test_malformed_url(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  tracing:\n    jaeger_endpoint: 'localhost:14268'\n")
    [problem] = _problems(path)
    assert str(problem) == (
        f"{path}:3: monitoring.tracing.jaeger_endpoint = 'localhost:14268': "
        "expected an http:// or https:// URL with a host"
    )


def test_missing_required_key_points_at_its_list_item(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  alerts:\n    webhooks:\n      - events: [error]\n")
    [problem] = _problems(path)
    assert str(problem) == f"{path}:4: monitoring.alerts.webhooks.0.url: required key is missing"


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  logging:\n    level: INFO\n    level: DEBUG\n")
    [problem] = _problems(path)
    assert problem.source == f"{path}:4"
    assert problem.key == "monitoring.logging.level"
    assert "duplicate key" in problem.message and "line 3" in problem.message


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  metrics:\n    endpoint: [/prom\n  logging: {}\n")
    [problem] = _problems(path)
    assert problem.source.startswith(f"{path}:4:")
    assert problem.message.startswith("YAML syntax error:")


def test_cross_key_check_points_at_the_section(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  metrics:\n    endpoint: /health\n")
    [problem] = _problems(path)
    assert problem.source == f"{path}:1"
    assert "already used by" in problem.message


def test_all_problems_are_reported_together_each_with_its_line(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
        monitoring:
          metrics:
            endpont: /prom
            collect_interval: -1
          logging:
            level: LOUD
          tracing:
            jaeger_endpoint: nowhere
        """,
    )
    problems = _problems(path)
    assert [(p.source, p.key) for p in problems] == [
        (f"{path}:3", "monitoring.metrics.endpont"),
        (f"{path}:4", "monitoring.metrics.collect_interval"),
        (f"{path}:6", "monitoring.logging.level"),
        (f"{path}:8", "monitoring.tracing.jaeger_endpoint"),
    ]
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    lines = str(info.value).splitlines()
    assert len(lines) == 4
    assert lines[1] == f"{path}:4: monitoring.metrics.collect_interval = -1: must be greater than 0"
    assert "pydantic" not in str(info.value)


def test_file_and_environment_problems_are_reported_together(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  metrics:\n    collect_interval: 0\n")
    env = {"ROBUTLER_MONITORING__LOGGING__QUEUE_SIZE": "ten"}
    problems = _problems(path, env)
    assert [p.source for p in problems] == [
        f"{path}:3",
        "env ROBUTLER_MONITORING__LOGGING__QUEUE_SIZE",
    ]
    assert problems[1].message == "expected a whole number"


def test_flag_values_are_validated_and_named(tmp_path: Path) -> None:
    [problem] = _problems(None, overrides={"logging.level": ("loud", "flag --log-level")})
    assert problem.source == "flag --log-level"
    assert problem.key == "monitoring.logging.level"


def test_secret_values_are_masked_in_problems(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  auth_token: [hunter2]\n")
    [problem] = _problems(path)
    assert problem.key == "monitoring.auth_token"
    assert "hunter2" not in str(problem)


def test_usage_waits_take_durations_as_the_alert_timings_do(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  usage:\n    retention: 24h\n    commit_wait: 500ms\n")
    usage = load_config(path, env={}).config.usage
    assert (usage.retention, usage.commit_wait) == (86400.0, 0.5)
    problems = _problems(_file(tmp_path, "monitoring:\n  usage:\n    retention: forever\n", "bad.yaml"))
    assert [p.key for p in problems] == ["monitoring.usage.retention"]
