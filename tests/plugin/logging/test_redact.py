"""Secrets are masked in every record, whatever the logger, at any depth."""

from __future__ import annotations

import collections
import dataclasses
import logging
import types
from collections.abc import Iterator, Mapping
from typing import Any

from loguru import logger as loguru_logger
from starlette.datastructures import Headers

from robutler_monitoring import get_logger
from robutler_monitoring.plugin.logging.redact import MASK, scrub_text

from .support import Captured, captured


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


class _Settings(Mapping[str, Any]):
    """A read-only Mapping that is not a dict, like pydantic-settings or a MappingProxy."""

    def __init__(self, **values: Any) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclasses.dataclass
class _DbConfig:
    host: str
    password: str
    options: dict[str, str]


class _Opaque:
    def __repr__(self) -> str:
        return "Opaque(user='ann', password='pw-in-repr', dsn='postgres://ann:pw-in-dsn@db/x')"


def test_every_kind_of_mapping_and_container_is_walked(logs: Captured) -> None:
    get_logger("app").info(
        "containers",
        extra={
            "ordered": collections.OrderedDict(user="ann", password="pw-ordered"),
            "counts": collections.defaultdict(int, token=5, hits=2),
            "headers": Headers({"authorization": "Bearer hdr-secret", "accept": "json"}),
            "settings": _Settings(api_key="k-settings", region="eu"),
            "proxy": types.MappingProxyType({"cookie": "c-proxy"}),
            "deep": [({"nested": collections.OrderedDict(secret="s-deep")},)],
            "tags": {"a"},
        },
    )
    entry = logs.by_message("containers")
    for secret in ("pw-ordered", "hdr-secret", "k-settings", "c-proxy", "s-deep"):
        assert secret not in logs.text(), secret
    assert entry["ordered"] == {"user": "ann", "password": MASK}
    assert entry["counts"] == {"token": MASK, "hits": 2}
    assert entry["headers"] == {"authorization": MASK, "accept": "json"}
    assert entry["settings"] == {"api_key": MASK, "region": "eu"}
    assert entry["proxy"] == {"cookie": MASK}
    assert entry["deep"] == [[{"nested": {"secret": MASK}}]]
    assert entry["tags"] == ["a"]


def test_dataclasses_and_reprs_are_masked(logs: Captured) -> None:
    config = _DbConfig("db.local", "pw-dataclass", {"api_key": "k-dataclass", "mode": "ro"})
    get_logger("app").info("objects", extra={"db": config, "opaque": _Opaque()})
    entry = logs.by_message("objects")
    for secret in ("pw-dataclass", "k-dataclass", "pw-in-repr", "pw-in-dsn"):
        assert secret not in logs.text(), secret
    assert entry["db"] == {"host": "db.local", "password": MASK, "options": {"api_key": MASK, "mode": "ro"}}
    assert "user='ann'" in entry["opaque"] and "password='***'" in entry["opaque"]
    assert "postgres://ann:***@db/x" in entry["opaque"]


def _fail() -> None:
    raise ValueError("connect failed: password=hunter2 url=https://app:db-pass@db.example.com/x")


def test_exception_message_and_traceback_are_scrubbed(logs: Captured) -> None:
    try:
        _fail()
    except ValueError:
        get_logger("app").exception("from get_logger")
        logging.getLogger("somelib").exception("from stdlib")
        loguru_logger.exception("from loguru")
    text = logs.text()
    assert "hunter2" not in text and "db-pass" not in text
    for message in ("from get_logger", "from stdlib", "from loguru"):
        exception = logs.by_message(message)["exception"]
        assert exception["message"] == "connect failed: password=*** url=https://app:***@db.example.com/x"
        assert "in _fail" in exception["traceback"]  # still a useful traceback
        assert exception["traceback"].endswith("ValueError: " + exception["message"])


def test_console_tracebacks_are_scrubbed_too() -> None:
    with captured(level="DEBUG", format="console") as logs:
        try:
            _fail()
        except ValueError:
            get_logger("app").exception("failed")
        text = logs.text()
    assert "Traceback" in text and "ValueError" in text
    assert "hunter2" not in text and "db-pass" not in text


def test_url_credentials_are_masked_in_messages_and_fields(logs: Captured) -> None:
    get_logger("app").info(
        "connecting to postgres://app:pw-msg@db.example.com:5432/shop",
        extra={"dsn": "redis://:pw-field@cache:6379/0", "urls": ["https://tok-in-list@git.example.com/r"]},
    )
    text = logs.text()
    assert "pw-msg" not in text and "pw-field" not in text and "tok-in-list" not in text
    entry = logs.entries()[-1]
    assert entry["message"] == "connecting to postgres://app:***@db.example.com:5432/shop"
    assert entry["dsn"] == "redis://:***@cache:6379/0"
    assert entry["urls"] == ["https://***@git.example.com/r"]
