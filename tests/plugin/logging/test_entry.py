"""The JSON line: schema, injection safety, values that JSON cannot hold."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from decimal import Decimal
from pathlib import Path

from loguru import logger as loguru_logger

from robutler_monitoring import get_logger
from robutler_monitoring.events import EventBus, agent_run
from robutler_monitoring.plugin.http.context import request_id_var
from robutler_monitoring.plugin.logging.entry import build_entry, iso_utc, to_json

from .support import Captured, parse_line

NASTY = 'line one\nline two\r\n{"level": "CRITICAL", "message": "forged"}\x00\x1b[31m\u2028\u2029"\'\\ end'


def test_injection_in_message_and_field_stays_one_json_line(logs: Captured) -> None:
    get_logger("inj").warning(NASTY, extra={"user_input": NASTY, "nested": {"deep": [NASTY]}})
    logging.getLogger("inj.stdlib").error("got %s", NASTY)
    text = logs.text()
    lines = text.splitlines()  # splitlines also splits on \r, \x1c-\x1e, \x85, \u2028...
    assert len(lines) == 2, text
    first, second = (parse_line(line) for line in lines)
    assert first["message"] == NASTY
    assert first["user_input"] == NASTY
    assert first["nested"] == {"deep": [NASTY]}
    assert first["level"] == "WARNING"
    assert second["message"] == f"got {NASTY}"
    assert text.isascii()


def test_timestamp_is_iso_utc_with_milliseconds() -> None:
    ts = dt.datetime(2024, 5, 1, 12, 30, 45, 123456, tzinfo=dt.UTC).timestamp()
    assert iso_utc(ts) == "2024-05-01T12:30:45.123Z"
    assert iso_utc(ts + 1) == "2024-05-01T12:30:46.123Z"


def test_context_fields_come_first_then_fields() -> None:
    rid = request_id_var.set("req-9")
    try:
        with agent_run("assistant", bus=EventBus()):
            entry = build_entry(time.time(), "INFO", "x", "m", {"b": 1, "a": 2})
    finally:
        request_id_var.reset(rid)
    assert list(entry) == ["timestamp", "level", "logger", "message", "request_id", "agent", "b", "a"]
    assert (entry["request_id"], entry["agent"]) == ("req-9", "assistant")


def test_an_agent_field_names_the_agent_once() -> None:
    alone = build_entry(time.time(), "INFO", "x", "m", {"agent": "echo"})
    assert alone["agent"] == "echo" and "field_agent" not in alone
    with agent_run("assistant", bus=EventBus()):
        same = build_entry(time.time(), "INFO", "x", "m", {"agent": "assistant"})
        other = build_entry(time.time(), "INFO", "x", "m", {"agent": "echo"})
    assert same["agent"] == "assistant" and "field_agent" not in same
    assert (other["agent"], other["field_agent"]) == ("assistant", "echo")  # the run's agent wins


def test_values_json_cannot_hold_are_written_not_lost(logs: Captured) -> None:
    cyclic: dict[str, object] = {}
    cyclic["self"] = cyclic

    class Weird:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    loguru_logger.info(
        "odd values",
        when=dt.datetime(2024, 1, 2, 3, 4, 5),
        amount=Decimal("1.10"),
        path=Path("/tmp/x"),
        raw=b"\xff\x00bytes",
        ids={3},
        nan=math.nan,
        weird=Weird(),
        cyclic=cyclic,
        tuple_keys={(1, 2): "pair"},
    )
    entry = logs.by_message("odd values")
    assert entry["when"] == "2024-01-02T03:04:05"
    assert entry["amount"] == "Decimal('1.10')"
    assert entry["raw"] == "\\xff\x00bytes"
    assert entry["ids"] == [3]
    assert entry["nan"] == "nan"
    assert entry["weird"] == "<unrepresentable Weird>"
    assert entry["tuple_keys"] == {"(1, 2)": "pair"}
    assert "nested too deep" in json.dumps(entry["cyclic"])


def test_to_json_is_compact_and_ascii() -> None:
    line = to_json({"timestamp": "t", "level": "INFO", "logger": "l", "message": "héllo"})
    assert line == '{"timestamp":"t","level":"INFO","logger":"l","message":"h\\u00e9llo"}'
