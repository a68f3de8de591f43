"""Helpers for the logging tests: capture the sink's lines and check them against the schema."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from robutler_monitoring.plugin.config.schema import LoggingConfig
from robutler_monitoring.plugin.logging.setup import LoggingHandle, configure_logging

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"}
HEAD = ["timestamp", "level", "logger", "message"]
CONTEXT = ["request_id", "trace_id", "span_id", "agent"]


@dataclass
class Captured:
    """The lines one configured sink wrote to a buffer."""

    handle: LoggingHandle
    buffer: io.StringIO

    def text(self) -> str:
        assert self.handle.flush(5.0)
        return self.buffer.getvalue()

    def entries(self) -> list[dict[str, Any]]:
        return [parse_line(line) for line in self.text().splitlines()]

    def by_message(self, message: str) -> dict[str, Any]:
        found = [e for e in self.entries() if e["message"] == message]
        assert len(found) == 1, (message, self.text())
        return found[0]


@contextmanager
def captured(**config: Any) -> Iterator[Captured]:
    """Configure the real sink (stdlib routed in) writing to a buffer; undo it afterwards."""
    buffer = io.StringIO()
    handle = configure_logging(LoggingConfig(**config), stream=buffer, colour=False)
    try:
        yield Captured(handle, buffer)
    finally:
        handle.close()


def parse_line(line: str) -> dict[str, Any]:
    """One output line as a dict, after checking it against the documented schema."""
    entry = json.loads(line)
    assert isinstance(entry, dict), line
    check_schema(entry)
    return entry


def check_schema(entry: dict[str, Any]) -> None:
    """Key order and value shapes of the documented JSON schema."""
    keys = list(entry)
    assert keys[:4] == HEAD, keys
    assert TIMESTAMP.match(entry["timestamp"]), entry["timestamp"]
    assert entry["level"] in LEVELS, entry["level"]
    assert isinstance(entry["logger"], str) and entry["logger"], entry
    assert isinstance(entry["message"], str)
    context = [k for k in keys[4:] if k in CONTEXT]
    assert keys[4 : 4 + len(context)] == context, keys  # context right after the message, in order
    assert context == [k for k in CONTEXT if k in context], keys
    if "exception" in entry:
        assert keys[-1] == "exception", keys
        exc = entry["exception"]
        assert set(exc) == {"type", "message", "traceback"}, exc
        assert exc["traceback"].startswith("Traceback (most recent call last):"), exc
