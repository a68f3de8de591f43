"""Secrets are masked in every record, whatever the logger, at any depth."""

from __future__ import annotations

import logging

import pytest
from loguru import logger as loguru_logger

from robutler_monitoring import get_logger
from robutler_monitoring.plugin.logging.redact import MASK, is_secret_key, scrub_text

from .support import Captured


@pytest.mark.parametrize(
    "key",
    ["password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "cookie",
     "set-cookie", "credentials", "private_key", "smtp_password", "x-api-key", "X-Api-Key",
     "accessToken", "client_secret", "refresh_token", "Proxy-Authorization"],
)  # fmt: skip
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["user_id", "prompt_tokens", "max_tokens", "total_tokens", "tokenizer", "keyboard", "monkey"]
)
def test_ordinary_keys_stay_readable(key: str) -> None:
    assert not is_secret_key(key)


def test_masked_in_every_kind_of_record(logs: Captured) -> None:
    payload = {
        "user": "ann",
        "password": "hunter2",
        "headers": [(b"authorization", b"Bearer sk-live-1"), ("accept", "json")],
        "config": {"smtp": {"smtp_password": "pw", "port": 587}, "items": [{"api_key": "k"}]},
    }
    get_logger("app").info("from get_logger", extra={"request": payload, "token": "t0k"})
    logging.getLogger("somelib").info("from stdlib", extra={"request": payload, "cookie": "c"})
    loguru_logger.bind(request=payload).info("from loguru", secret="s")
    text = logs.text()
    for secret in ("hunter2", "sk-live-1", '"pw"', '"k"', "t0k", '"c"', '"s"'):
        assert secret not in text, secret
    for message, key in (("from get_logger", "token"), ("from stdlib", "cookie"), ("from loguru", "secret")):
        entry = logs.by_message(message)
        assert entry[key] == MASK
        request = entry["request"]
        assert request["user"] == "ann"
        assert request["password"] == MASK
        assert request["headers"] == [["authorization", MASK], ["accept", "json"]]
        assert request["config"] == {
            "smtp": {"smtp_password": MASK, "port": 587},
            "items": [{"api_key": MASK}],
        }


def test_secrets_inside_message_text_are_masked(logs: Captured) -> None:
    logging.getLogger("httpx").info('HTTP Request: GET https://api.example.com/v1?api_key=abc123&q=1 "200"')
    get_logger("auth").warning("login failed for ann password=hunter2 (Authorization: Bearer xyz)")
    text = logs.text()
    assert "abc123" not in text and "hunter2" not in text and "xyz" not in text
    assert "q=1" in text and "ann" in text


def test_scrub_text_keeps_counters_and_quotes() -> None:
    assert scrub_text("prompt_tokens=12 max_tokens: 5") == "prompt_tokens=12 max_tokens: 5"
    assert scrub_text('{"token": "abc"}') == '{"token": "***"}'
    assert scrub_text("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
