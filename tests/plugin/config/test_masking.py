"""Errors never echo a secret: values filled in from ``${VAR}``, tokens in query strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from robutler_monitoring.plugin.config import ConfigError, load_config
from robutler_monitoring.plugin.config.masking import mask


def _message(tmp_path: Path, text: str, env: dict[str, str]) -> str:
    path = tmp_path / "robutler.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    return info.value.report()


def test_a_value_from_an_env_reference_is_never_echoed(tmp_path: Path) -> None:
    # the password put under a non-secret key by mistake
    text = "monitoring:\n  metrics:\n    collect_interval: ${SMTP_PASSWORD}\n"
    message = _message(tmp_path, text, {"SMTP_PASSWORD": "hunter2-secret"})
    assert "hunter2-secret" not in message
    assert "monitoring.metrics.collect_interval = ${SMTP_PASSWORD} (value not shown): expected a number" in (
        message
    )


def test_an_env_reference_inside_a_list_is_never_echoed(tmp_path: Path) -> None:
    text = 'monitoring:\n  alerts:\n    webhooks: ["${HOOK}", 1]\n'
    message = _message(tmp_path, text, {"HOOK": "s3cret-hook-value"})
    assert "s3cret-hook-value" not in message


def test_an_env_reference_in_email_conflict_is_never_echoed(tmp_path: Path) -> None:
    text = "monitoring:\n  email:\n    username: ${A}\n  alerts:\n    email:\n      username: ${B}\n"
    message = _message(tmp_path, text, {"A": "first-secret", "B": "second-secret"})
    assert "first-secret" not in message and "second-secret" not in message
    assert "${A}" in message and "${B}" in message


def test_a_token_in_a_query_string_without_a_scheme_is_masked(tmp_path: Path) -> None:
    text = "monitoring:\n  tracing:\n    jaeger_endpoint: collector:14268/api?token=qs-secret&x=1\n"
    message = _message(tmp_path, text, {})
    assert "qs-secret" not in message
    assert "collector:14268/api?token=***&x=1" in message


def test_mask_query_strings_without_a_scheme() -> None:
    assert mask(("x",), "host/p?api_key=k1&sig=s2&q=3") == "host/p?api_key=***&sig=***&q=3"
    assert mask(("x",), "what? no") == "what? no"
    assert mask(("x",), "plain") == "plain"
