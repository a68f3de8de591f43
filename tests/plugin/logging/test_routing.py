"""Libraries that reconfigure stdlib logging after start-up are routed back into the one sink.

This simulates what the Robutler SDK does at import (a Logger class that gives each new
logger its own terminal handler and ``propagate=False``) without importing the SDK,
which would change this test process's logging for good.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from pathlib import Path

from robutler_monitoring.plugin.config.schema import LoggingConfig
from robutler_monitoring.plugin.logging.routing import StdlibRouting, writes_to_terminal
from robutler_monitoring.plugin.logging.setup import configure_logging

from .support import Loggers, captured, parse_line


class _ChattyLogger(logging.Logger):
    """Like the SDK's RobutlerLogger: every new logger writes to the terminal on its own."""

    def __init__(self, name: str, level: int = logging.NOTSET) -> None:
        super().__init__(name, level)
        self.addHandler(logging.StreamHandler(sys.stderr))
        self.propagate = False


def _library_configures(loggers: Loggers, name: str) -> logging.Logger:
    lib = loggers(name)
    lib.handlers = [logging.StreamHandler(sys.stderr)]
    lib.propagate = False
    return lib


def test_resweep_routes_a_library_configured_after_install(loggers: Loggers) -> None:
    buffer = io.StringIO()
    handle = configure_logging(LoggingConfig(level="INFO"), stream=buffer, colour=False)
    try:
        # the "import" of a library, after our sink was installed
        lib = _library_configures(loggers, "tests.routing.lib")
        logging.setLoggerClass(_ChattyLogger)  # the fixture puts the class back
        made_by_class = loggers("tests.routing.made_by_class")
        assert isinstance(made_by_class, _ChattyLogger)

        handle.resweep()  # what `robutler serve` does once TARGET is imported
        lib.info("from the library")
        made_by_class.warning("from a logger of its class")
        after = loggers("tests.routing.after")
        after.warning("from a logger made after the sweep")
        assert type(after) is logging.Logger

        assert handle.flush()
        entries = [parse_line(line) for line in buffer.getvalue().splitlines()]
        assert [(e["logger"], e["message"]) for e in entries] == [
            ("tests.routing.lib", "from the library"),
            ("tests.routing.made_by_class", "from a logger of its class"),
            ("tests.routing.after", "from a logger made after the sweep"),
        ]
    finally:
        handle.close()
    # undone: the library's own set-up is back, as if we had never been there
    assert logging.getLoggerClass() is _ChattyLogger
    assert lib.propagate is False and len(lib.handlers) == 1
    assert made_by_class.propagate is False and len(made_by_class.handlers) == 1


def test_periodic_sweep_catches_loggers_configured_while_serving(loggers: Loggers) -> None:
    buffer = io.StringIO()
    routing = StdlibRouting("INFO", interval=0.05)
    handle = configure_logging(LoggingConfig(level="INFO"), stream=buffer, colour=False, route_stdlib=False)
    routing.install()
    try:
        lib = _library_configures(loggers, "tests.routing.lazy")
        deadline = time.monotonic() + 5
        while lib.handlers and time.monotonic() < deadline:
            time.sleep(0.01)
        lib.warning("configured while serving")
        assert handle.flush()
        entry = parse_line(buffer.getvalue().splitlines()[-1])
        assert (entry["logger"], entry["message"]) == ("tests.routing.lazy", "configured while serving")
    finally:
        routing.restore()
        handle.close()


def test_handlers_that_do_not_write_to_the_terminal_are_kept(tmp_path: Path, loggers: Loggers) -> None:
    file_handler = logging.FileHandler(tmp_path / "audit.log")
    buffer_handler = logging.StreamHandler(io.StringIO())
    audit = loggers("tests.routing.audit")
    with captured() as logs:
        audit.handlers = [file_handler, buffer_handler]
        audit.propagate = False  # deliberately file-only: it stays so
        logs.handle.resweep()
        assert audit.handlers == [file_handler, buffer_handler]
        assert audit.propagate is False
        audit.warning("audit line")
    file_handler.close()
    assert "audit line" in (tmp_path / "audit.log").read_text()
    assert not writes_to_terminal(file_handler)
    assert writes_to_terminal(logging.StreamHandler(sys.stdout))


def test_a_logger_uvicorn_silenced_stays_silent(loggers: Loggers) -> None:
    access = loggers("uvicorn.access")
    with captured() as logs:
        # uvicorn, started after us with access_log=False, silences its access logger
        access.handlers, access.propagate = [], False
        logs.handle.resweep()
        access.info('127.0.0.1:5000 - "GET / HTTP/1.1" 200')
        assert "GET / HTTP/1.1" not in logs.text()
