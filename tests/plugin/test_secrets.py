"""One secret detector: the same names are masked in log records and in `config show`."""

from __future__ import annotations

import pytest

from robutler_monitoring.plugin.config.masking import mask
from robutler_monitoring.plugin.logging.redact import redact_field
from robutler_monitoring.plugin.secrets import (
    MASK,
    is_secret_key,
    is_secret_param,
    mask_capability_url,
    mask_url,
    scrub_text,
)

SECRET_NAMES = [
    "password", "passwd", "passphrase", "secret", "token", "api_key", "apikey", "authorization",
    "cookie", "set-cookie", "credentials", "private_key", "smtp_password", "x-api-key", "X-Api-Key",
    "access_token", "accessToken", "client_secret", "refresh_token", "Proxy-Authorization",
    "auth_token", "X-Amz-Signature", "signature", "jwt",
]  # fmt: skip
READABLE_NAMES = [
    "user_id", "prompt_tokens", "max_tokens", "total_tokens", "tokenizer", "keyboard", "monkey",
    "cache_key", "key_count", "passenger", "smtp_host", "username", "url", "key", "sig",
]  # fmt: skip


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names_are_masked_in_logs_and_config_alike(name: str) -> None:
    assert is_secret_key(name)
    assert redact_field(name, "s3cr3t-value") == MASK
    assert mask(("alerts", "webhooks", 0, "headers", name), "s3cr3t-value") == MASK
    assert mask(("email", name), "s3cr3t-value") == MASK


@pytest.mark.parametrize("name", READABLE_NAMES)
def test_ordinary_names_stay_readable_in_logs_and_config_alike(name: str) -> None:
    assert not is_secret_key(name)
    assert redact_field(name, "plain") == "plain"
    assert mask(("email", name), "plain") == "plain"


@pytest.mark.parametrize("name", ["key", "Sig", "X-Api-Key", "token"])
def test_key_and_sig_are_secret_as_query_parameters_and_headers(name: str) -> None:
    assert is_secret_param(name)
    assert (
        mask_url(f"https://maps.example.com/v1?{name}=AIza-1&q=x")
        == f"https://maps.example.com/v1?{name}=***&q=x"
    )
    assert scrub_text(f"GET /v1?q=x&{name}=AIza-1 200") == f"GET /v1?q=x&{name}=*** 200"
    assert mask(("alerts", "webhooks", 0, "headers", name), "AIza-1") == MASK


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login password=hunter2 ok", "login password=*** ok"),
        ('{"token": "abc"}', '{"token": "***"}'),
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        ("prompt_tokens=12 max_tokens: 5", "prompt_tokens=12 max_tokens: 5"),
        ("monkey: password=x", "monkey: password=***"),
        ("GET /x?sig=abc&X-Amz-Signature=def&q=1", "GET /x?sig=***&X-Amz-Signature=***&q=1"),
        ("dsn https://app:pw@db.example.com:5432/x", "dsn https://app:***@db.example.com:5432/x"),
        ("clone https://ghp_tok3n@github.com/r.git", "clone https://***@github.com/r.git"),
        ("mail ann@example.com at 10:30", "mail ann@example.com at 10:30"),
        ("lookup key=user:42 missed", "lookup key=user:42 missed"),
        ("ValueError('smtp.password=pw')", "ValueError('smtp.password=***')"),
    ],
)
def test_scrub_text(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


def test_mask_url() -> None:
    assert mask_url("https://user:pass@host:8080/p") == "https://user:***@host:8080/p"
    assert mask_url("https://tok@host/p") == "https://***@host/p"
    assert mask_url("http://host/p?api_key=1&x=2") == "http://host/p?api_key=***&x=2"
    assert mask_url("http://host/p?X-Amz-Signature=1&x=2") == "http://host/p?X-Amz-Signature=***&x=2"
    assert mask_url("http://host/p?max_tokens=2") == "http://host/p?max_tokens=2"
    assert mask_url("not a url") == "not a url"


def test_mask_capability_url() -> None:
    slack = "https://hooks.slack.com/services/T0001/B0002/SuperSecretXyz123"
    assert mask_capability_url(slack) == "https://hooks.slack.com/***"
    assert (
        mask_capability_url("https://u:pw@h.example.com:8443/a?b=c") == "https://u:***@h.example.com:8443/***"
    )
    assert mask_capability_url("https://h.example.com") == "https://h.example.com"
    assert mask_capability_url("hooks.slack.com/services/T0/B0/x") == "hooks.slack.com/***"
    assert mask_capability_url("hooks.example.com") == "hooks.example.com"


def test_common_secret_names_beyond_the_obvious() -> None:
    from robutler_monitoring.plugin.secrets import is_secret_key, scrub_text

    for name in ("PGPASSWORD", "MYSQL_PWD", "pwd", "pass", "sessionid", "session_id", "bearer"):
        assert is_secret_key(name), name
    for name in ("prompt_tokens", "max_tokens", "session", "status", "compass", "passenger"):
        assert not is_secret_key(name), name
    text = scrub_text("PGPASSWORD=pg1 pwd=p2 pass=p3 sessionid=s4 ok=1")
    assert not any(secret in text for secret in ("pg1", "p2", "p3", "s4"))
    assert "ok=1" in text
