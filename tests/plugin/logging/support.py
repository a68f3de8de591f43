"""Helpers for the logging tests: capture the sink's lines and check them against the schema."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from robutler_monitoring.plugin.config.schema import LoggingConfig
from robutler_monitoring.plugin.logging.setup import LoggingHandle, configure_logging
from tests.support.servers import free_port, interrupt, robutler_command, wait_for_port

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


@dataclass
class PipedServe:
    """A `robutler serve` subprocess whose stdout and stderr are pipes, read by threads."""

    proc: subprocess.Popen[bytes]
    base_url: str
    out: bytearray = field(default_factory=bytearray)
    err: bytearray = field(default_factory=bytearray)
    readers: list[threading.Thread] = field(default_factory=list)

    def stop(self, timeout: float = 30.0) -> int:
        """Stop as Ctrl-C would, wait for the pipes to close, return the exit code."""
        interrupt(self.proc, timeout)
        for reader in self.readers:
            reader.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return self.proc.returncode

    def stdout(self) -> str:
        return self.out.decode(errors="replace")

    def stderr(self) -> str:
        return self.err.decode(errors="replace")


@contextmanager
def robutler_serve_piped(*args: str, read_pause: float = 0.0, timeout: float = 60.0) -> Iterator[PipedServe]:
    """`robutler serve ARGS` on a free port, stdout and stderr to pipes (``read_pause``: a slow reader)."""
    port = free_port()
    argv = robutler_command("serve", *args, "--host", "127.0.0.1", "--port", str(port))
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=_clean_env()
    )
    assert proc.stdout is not None and proc.stderr is not None
    served = PipedServe(proc, f"http://127.0.0.1:{port}")
    for pipe, into in ((proc.stdout, served.out), (proc.stderr, served.err)):
        reader = threading.Thread(target=_drain, args=(pipe, into, read_pause), daemon=True)
        reader.start()
        served.readers.append(reader)
    try:
        deadline = time.monotonic() + timeout
        while not wait_for_port("127.0.0.1", port, timeout=0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                served.stop()
                raise RuntimeError(f"robutler serve did not start:\n{served.stdout()}\n{served.stderr()}")
        yield served
    finally:
        served.stop()


def _drain(pipe: IO[bytes], into: bytearray, pause: float) -> None:
    while chunk := pipe.read1(4096 if pause else 65536):  # type: ignore[attr-defined]
        into += chunk
        if pause:
            time.sleep(pause)  # a log shipper that falls behind: the pipe fills up


def _clean_env() -> dict[str, str]:
    # the developer's ROBUTLER_* settings must not change what the server does
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBUTLER_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return {**env, "PYTHONUNBUFFERED": "1"}


@dataclass
class _Saved:
    handlers: list[logging.Handler]
    level: int
    propagate: bool
    disabled: bool


class Loggers:
    """Stdlib loggers a test reconfigures; everything about them is put back after the test."""

    def __init__(self) -> None:
        self._saved: dict[str, _Saved] = {}
        self._logger_class = logging.getLoggerClass()

    def __call__(self, name: str) -> logging.Logger:
        """``logging.getLogger(name)``, remembering its state the first time."""
        logger = logging.getLogger(name)
        if name not in self._saved:
            self._saved[name] = _Saved(logger.handlers[:], logger.level, logger.propagate, logger.disabled)
        return logger

    def restore(self) -> None:
        logging.setLoggerClass(self._logger_class)
        for name, saved in self._saved.items():
            logger = logging.getLogger(name)
            logger.handlers = saved.handlers
            logger.setLevel(saved.level)
            logger.propagate, logger.disabled = saved.propagate, saved.disabled
