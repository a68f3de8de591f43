"""In JSON format, print() and stray writes to the log stream become log records."""

from __future__ import annotations

import io
import logging
import sys
import threading
from pathlib import Path

import pytest

from robutler_monitoring.plugin.config.schema import LoggingConfig
from robutler_monitoring.plugin.logging.capture import StreamCapture
from robutler_monitoring.plugin.logging.setup import configure_logging

from .support import Loggers, captured, parse_line


def test_prints_become_records_on_the_real_stdout_descriptor(capfd: pytest.CaptureFixture[str]) -> None:
    # the real thing: output "stdout" is descriptor 1, and sys.stdout is captured on top of it
    handle = configure_logging(LoggingConfig(level="INFO", output="stdout"), colour=False)
    try:
        print("\U0001f680 Server initialized")
        print()  # a banner's spacing line carries nothing
        print("\x1b[32mgreen\x1b[0m text")
        sys.stdout.write("half a ")
        sys.stdout.write("line\nand the start of ")
        assert handle.flush()
        early = capfd.readouterr().out
        print("the next", flush=True)
        logging.getLogger("tests.capture").info("a stdlib line")
    finally:
        handle.close()
    assert not isinstance(sys.stdout, StreamCapture)  # put back at close
    out = early + capfd.readouterr().out
    entries = [parse_line(line) for line in out.splitlines()]  # every line is schema JSON
    assert [(e["logger"], e["level"], e["message"]) for e in entries] == [
        ("stdout", "INFO", "\U0001f680 Server initialized"),
        ("stdout", "INFO", "green text"),
        ("stdout", "INFO", "half a line"),
        ("stdout", "INFO", "and the start of the next"),
        ("tests.capture", "INFO", "a stdlib line"),
    ]


def test_partial_lines_wait_for_newline_flush_or_close() -> None:
    buffer = io.StringIO()
    handle = configure_logging(LoggingConfig(level="INFO"), stream=buffer, colour=False, capture="stdout")
    try:
        sys.stdout.write("no newline yet")
        assert handle.flush()
        assert buffer.getvalue() == ""
        sys.stdout.flush()
        assert handle.flush()
        assert parse_line(buffer.getvalue())["message"] == "no newline yet"
        sys.stdout.write("left at close")
    finally:
        handle.close()
    assert [parse_line(line)["message"] for line in buffer.getvalue().splitlines()][-1] == "left at close"


def test_lines_of_concurrent_threads_do_not_mix() -> None:
    buffer = io.StringIO()
    handle = configure_logging(LoggingConfig(level="INFO"), stream=buffer, colour=False, capture="stdout")
    try:

        def talk(name: str) -> None:
            for i in range(200):
                print(name, i)  # two writes each: the text and the newline

        threads = [threading.Thread(target=talk, args=(name,)) for name in ("alpha", "beta")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert handle.flush()
    finally:
        handle.close()
    messages = [parse_line(line)["message"] for line in buffer.getvalue().splitlines()]
    assert sorted(messages) == sorted(f"{name} {i}" for name in ("alpha", "beta") for i in range(200))


def test_stderr_output_captures_stderr_as_warnings() -> None:
    buffer = io.StringIO()
    handle = configure_logging(LoggingConfig(level="INFO"), stream=buffer, colour=False, capture="stderr")
    try:
        print("something went sideways", file=sys.stderr)
        assert handle.flush()
    finally:
        handle.close()
    entry = parse_line(buffer.getvalue())
    assert (entry["logger"], entry["level"], entry["message"]) == (
        "stderr",
        "WARNING",
        "something went sideways",
    )


def test_a_library_handler_on_captured_stdout_logs_its_record_once(loggers: Loggers) -> None:
    buffer = io.StringIO()
    handle = configure_logging(LoggingConfig(level="INFO"), stream=buffer, colour=False, capture="stdout")
    lib = loggers("tests.capture.sdk")
    try:
        # a library configured after us: its own handler on (captured) stdout, no propagation
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s pretty %(message)s"))
        lib.handlers, lib.propagate = [handler], False
        lib.warning("agent created")  # no sweep ran in between
        lib.warning("and again")
        assert handle.flush()
    finally:
        handle.close()
    entries = [parse_line(line) for line in buffer.getvalue().splitlines()]
    # the record itself, with its logger and level, not the handler's formatted text
    assert [(e["logger"], e["level"], e["message"]) for e in entries] == [
        ("tests.capture.sdk", "WARNING", "agent created"),
        ("tests.capture.sdk", "WARNING", "and again"),
    ]
    assert lib.handlers == [handler] and lib.propagate is False  # undone at close


def test_console_format_and_file_output_leave_stdout_alone(tmp_path: Path) -> None:
    before = sys.stdout
    with captured(level="INFO", format="console"):
        assert sys.stdout is before
    handle = configure_logging(LoggingConfig(output=f"{tmp_path}/app.log"))
    try:
        assert sys.stdout is before
    finally:
        handle.close()
