"""${VAR} references in the config file, and YAML features that must keep their line numbers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from robutler_monitoring.plugin.config import ConfigError, load_config
from robutler_monitoring.plugin.config.yamlsource import InterpolationError, interpolate


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "robutler.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_secret_comes_from_the_environment(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
        monitoring:
          alerts:
            email:
              smtp_host: "${SMTP_HOST:-smtp.example.com}"
              smtp_port: ${SMTP_PORT:-587}
              password: "${SMTP_PASSWORD}"
        """,
    )
    resolved = load_config(path, env={"SMTP_PASSWORD": "hunter2", "SMTP_PORT": "2525"})
    email = resolved.config.alerts.email
    assert email.password is not None and email.password.get_secret_value() == "hunter2"
    assert email.smtp_port == 2525
    assert email.smtp_host == "smtp.example.com"  # the default after ':-'
    assert resolved.sources["alerts.email.password"] == f"{path}:6"


def test_missing_variable_names_variable_line_and_key(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
        monitoring:
          alerts:
            email:
              password: "${SMTP_PASSWORD}"
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    [problem] = info.value.problems
    assert problem.source == f"{path}:4"
    assert problem.key == "monitoring.alerts.email.password"
    assert "SMTP_PASSWORD is not set" in problem.message


def test_empty_default_secret_means_not_set(tmp_path: Path) -> None:
    path = _file(tmp_path, 'monitoring:\n  auth_token: "${TOKEN:-}"\n')
    assert load_config(path, env={}).config.auth_token is None
    token = load_config(path, env={"TOKEN": "t0ken"}).config.auth_token
    assert token is not None and token.get_secret_value() == "t0ken"


def test_dollar_dollar_brace_is_a_literal(tmp_path: Path) -> None:
    path = _file(tmp_path, 'monitoring:\n  tracing:\n    service_name: "cost-$${NOT_A_VAR}"\n')
    assert load_config(path, env={}).config.tracing.service_name == "cost-${NOT_A_VAR}"


def test_interpolate_rules() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("x${A}y", env) == "x1y"
    assert interpolate("${EMPTY:-fallback}", env) == "fallback"
    assert interpolate("${EMPTY}", env) == ""
    assert interpolate("$${A} ${A}", env) == "${A} 1"
    with pytest.raises(InterpolationError, match="unclosed"):
        interpolate("${A", env)
    with pytest.raises(InterpolationError, match="bad reference"):
        interpolate("${1BAD}", env)


def test_keys_are_not_interpolated(tmp_path: Path) -> None:
    path = _file(tmp_path, "monitoring:\n  ${KEY}: true\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"KEY": "enabled"})
    assert info.value.problems[0].key == "monitoring.${KEY}"


def test_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
        base: &base
          url: https://hooks.example.com/base
          events: [error]
        monitoring:
          alerts:
            webhooks:
              - <<: *base
                events: [health]
        """,
    )
    [hook] = load_config(path, env={}, known_sections=("monitoring", "base")).config.alerts.webhooks
    assert (hook.url, hook.events) == ("https://hooks.example.com/base", ("health",))


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = _file(tmp_path, "- monitoring\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.problems[0].source == f"{path}:1"
    assert "top level" in info.value.problems[0].message


def test_unreadable_bytes_are_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "robutler.yaml"
    path.write_bytes(b"monitoring:\n  enabled: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "not UTF-8" in str(info.value)
