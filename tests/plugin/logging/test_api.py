"""get_logger: the seed's call, bind, keyword fields, %-args and exceptions, as JSON lines."""

from __future__ import annotations

import logging

from robutler_monitoring import get_logger

from .support import Captured


def test_seed_extra_call_puts_fields_at_top_level(logs: Captured) -> None:
    logger = get_logger("my_agent")
    user_id = "u-42"
    logger.info(
        "Processing request",
        extra={"user_id": user_id, "operation": "chat_completion", "model": "gpt-4"},
    )
    entry = logs.by_message("Processing request")
    assert entry["logger"] == "my_agent"
    assert entry["level"] == "INFO"
    assert (entry["user_id"], entry["operation"], entry["model"]) == (
        "u-42",
        "chat_completion",
        "gpt-4",
    )
    assert "extra" not in entry and "record" not in entry and "text" not in entry


def test_seed_import_path_of_utils_logging(logs: Captured) -> None:
    from robutler_monitoring.utils.logging import get_logger as from_utils

    from_utils("tools").warning("disk at %d%%", 91, extra={"mount": "/"})
    entry = logs.by_message("disk at 91%")
    assert (entry["logger"], entry["level"], entry["mount"]) == ("tools", "WARNING", "/")


def test_bind_and_keyword_fields_combine(logs: Captured) -> None:
    logger = get_logger("billing").bind(tenant="acme")
    logger.bind(plan="pro").info("charged", amount=12.5, extra={"currency": "EUR"})
    logger.info("plain")
    charged = logs.by_message("charged")
    assert (charged["tenant"], charged["plan"], charged["amount"], charged["currency"]) == (
        "acme", "pro", 12.5, "EUR",
    )  # fmt: skip
    assert "plan" not in logs.by_message("plain")  # bind returns a new logger


def test_reserved_keys_cannot_be_overwritten(logs: Captured) -> None:
    get_logger("real").info(
        "hello",
        extra={"level": "CRITICAL", "logger": "forged", "message": "forged", "timestamp": "x"},
        request_id="forged-id",
        exception="nope",
    )
    entry = logs.by_message("hello")
    assert (entry["level"], entry["logger"]) == ("INFO", "real")
    assert entry["field_level"] == "CRITICAL"
    assert entry["field_logger"] == "forged"
    assert entry["field_message"] == "forged"
    assert entry["field_timestamp"] == "x"
    assert entry["field_request_id"] == "forged-id"
    assert entry["field_exception"] == "nope"
    assert "request_id" not in entry and "exception" not in entry


def test_exception_is_structured_not_glued_to_the_message(logs: Captured) -> None:
    logger = get_logger("worker")
    try:
        {"present": 1}["missing"]
    except KeyError:
        logger.exception("lookup failed", extra={"key": "missing"})
    entry = logs.by_message("lookup failed")
    assert entry["level"] == "ERROR"
    assert entry["key"] == "missing"
    assert entry["exception"]["type"] == "KeyError"
    assert entry["exception"]["message"] == "'missing'"
    assert "in test_exception_is_structured_not_glued_to_the_message" in entry["exception"]["traceback"]
    assert entry["exception"]["traceback"].endswith("KeyError: 'missing'")


def test_levels_and_stdlib_numbers(logs: Captured) -> None:
    logger = get_logger("lv")
    logger.debug("d")
    logger.log(logging.WARNING, "w")
    logger.log("warn", "w2")
    logger.critical("c")
    assert [logs.by_message(m)["level"] for m in ("d", "w", "w2", "c")] == [
        "DEBUG", "WARNING", "WARNING", "CRITICAL",
    ]  # fmt: skip


def test_braces_and_bad_percent_args_never_lose_the_line(logs: Captured) -> None:
    logger = get_logger("fmt")
    logger.info("json {not: a format}")
    logger.info("%d items", "many")
    assert logs.by_message("json {not: a format}")
    assert logs.by_message("%d items ('many',)")


def test_below_the_configured_level_nothing_is_written() -> None:
    from .support import captured

    with captured(level="WARNING") as quiet:
        get_logger("q").info("not shown")
        get_logger("q").warning("shown")
        assert [e["message"] for e in quiet.entries()] == ["shown"]


def test_stdlib_and_loguru_style_placeholders(logs: Captured) -> None:
    log = get_logger("placeholders")
    log.info("agent %s answered in %d ms", "planner", 42)
    log.info("agent {} answered in {} ms", "planner", 42)
    log.info("odd {} %s", "x")  # both kinds: the stdlib's wins
    log.info("{broken", "x")  # cannot be formatted: the data is kept
    messages = [e["message"] for e in logs.entries() if e["logger"] == "placeholders"]
    assert messages == [
        "agent planner answered in 42 ms",
        "agent planner answered in 42 ms",
        "odd {} x",
        "{broken ('x',)",
    ]
