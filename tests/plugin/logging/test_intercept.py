"""Stdlib logging is routed into the one sink, once, with its logger name and fields."""

from __future__ import annotations

import io
import logging
import sys
import warnings

from .support import Loggers, captured


def test_stdlib_records_arrive_once_with_name_and_fields(loggers: Loggers) -> None:
    terminal = logging.StreamHandler(sys.stderr)
    lib = loggers("tests.some_library")
    lib.addHandler(terminal)  # a library that set up its own console output
    uvicorn_error = loggers("uvicorn.error")
    uvicorn_error.addHandler(logging.StreamHandler(io.StringIO()))
    uvicorn_error.propagate = False
    uvicorn_error.setLevel(logging.INFO)  # uvicorn sets it from its log_level, as serve does
    with captured(level="INFO") as logs:
        lib.info("library says %s", "hi", extra={"attempt": 2})
        uvicorn_error.info("Uvicorn running")
        lib.debug("below the level")
        entries = logs.entries()
        assert lib.handlers == []  # its terminal handler would have duplicated the line
    assert [(e["logger"], e["message"]) for e in entries] == [
        ("tests.some_library", "library says hi"),
        ("uvicorn.error", "Uvicorn running"),
    ]
    assert entries[0]["attempt"] == 2
    # everything is put back afterwards
    assert lib.handlers == [terminal]
    assert uvicorn_error.propagate is False


def test_stdlib_exceptions_and_levels() -> None:
    with captured(level="DEBUG") as logs:
        log = logging.getLogger("tests.app")
        log.debug("debug from the app")
        try:
            raise ValueError("bad input")
        except ValueError:
            log.exception("handler failed")
        log.log(25, "custom level 25")
        entries = {e["message"]: e for e in logs.entries()}
    assert entries["debug from the app"]["level"] == "DEBUG"
    failed = entries["handler failed"]
    assert failed["level"] == "ERROR"
    assert failed["exception"]["type"] == "ValueError"
    assert failed["exception"]["message"] == "bad input"
    assert entries["custom level 25"]["level"] == "SUCCESS"


def test_python_warnings_are_logged() -> None:
    with captured(level="INFO") as logs, warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old api", DeprecationWarning, stacklevel=1)
        entry = next(e for e in logs.entries() if e["logger"] == "py.warnings")
    assert "DeprecationWarning: old api" in entry["message"]
    assert entry["level"] == "WARNING"


def test_private_marker_objects_on_records_are_not_fields() -> None:
    stamp = object()

    def stamp_record(record: logging.LogRecord) -> bool:
        record.litellm_redacted = stamp  # what LiteLLM's redaction filter does to each record
        return True

    lib = logging.getLogger("tests.stamped")
    lib.addFilter(stamp_record)
    try:
        with captured(level="INFO") as logs:
            lib.info("stamped", extra={"attempt": 3})
            entry = logs.by_message("stamped")
    finally:
        lib.removeFilter(stamp_record)
    assert "litellm_redacted" not in entry
    assert entry["attempt"] == 3


def test_the_sdks_agent_name_field_becomes_agent_and_its_core_placeholder_goes() -> None:
    with captured(level="INFO") as logs:
        logging.getLogger("robutler.base_agent").info("built", extra={"agent_name": "core"})
        logging.getLogger("robutler.skill.x").info("ran", extra={"agent_name": "planner"})
        logging.getLogger("tests.app").info("mine", extra={"agent_name": "kept as is"})
        entries = {e["message"]: e for e in logs.entries()}
    assert "agent_name" not in entries["built"] and "agent" not in entries["built"]
    assert entries["ran"]["agent"] == "planner" and "agent_name" not in entries["ran"]
    assert entries["mine"]["agent_name"] == "kept as is" and "agent" not in entries["mine"]
