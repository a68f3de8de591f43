"""Configure the one sink of a process from ``monitoring.logging``, and tear it down again.

Nothing here runs at import time: ``robutler serve`` calls :func:`configure_process`
once per process through the plugin hooks, and tests call :func:`configure_logging`
with their own output and close the handle they get back.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from loguru import logger as _loguru

from ...host.errors import UsageError
from ..config.schema import LoggingConfig
from . import trace_ids
from .capture import install_capture
from .outputs import FdOutput, FileOutput, StreamOutput, parse_retention, parse_size
from .routing import StdlibRouting
from .sink import LogSink
from .writer import LineWriter, Output


@dataclass
class LoggingHandle:
    """The configured sink of this process: what to flush at shutdown and how to undo it.

    >>> # handle = configure_logging(LoggingConfig(output="/tmp/app.log"))
    >>> # ...; handle.close()
    """

    config: LoggingConfig
    sink: LogSink
    writer: LineWriter
    handler_id: int
    routing: StdlibRouting | None = None
    _undo: list[Callable[[], None]] = field(default_factory=list)
    closed: bool = False

    @property
    def dropped(self) -> int:
        """Lines dropped because the queue was full (see ``logging.queue_size``)."""
        return self.writer.dropped

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every line logged so far is written."""
        return self.writer.flush(timeout)

    def drain_on_write(self, timeout: float = 2.0) -> None:
        """At shutdown: write each later line before logging returns (see ``LineWriter``)."""
        self.writer.drain_on_write(timeout)

    def resweep(self) -> None:
        """Route the stdlib into the sink again, after code that reconfigured logging."""
        if self.routing is not None and not self.closed:
            self.routing.sweep()

    def close(self) -> None:
        """Remove the loguru handler, restore stdlib logging, flush and close the output."""
        if self.closed:
            return
        self.closed = True
        for undo in reversed(self._undo):
            undo()
        with contextlib.suppress(ValueError):  # somebody removed every handler already
            _loguru.remove(self.handler_id)
        self.writer.close()


def configure_logging(
    config: LoggingConfig,
    *,
    stream: TextIO | None = None,
    route_stdlib: bool = True,
    remove_default: bool = False,
    colour: bool | None = None,
    capture: Literal["stdout", "stderr"] | None = None,
    lock_path: str | None = None,
) -> LoggingHandle:
    """Add the sink described by ``config`` (or writing to ``stream``); raise UsageError for a bad output.

    In JSON format with output ``stdout`` or ``stderr``, writes to that ``sys`` stream
    become log records (``capture`` picks a stream to capture for any output).
    ``lock_path`` names the lock file that keeps the lines of ``--workers N`` whole on
    a shared pipe or terminal (see ``writelock.py``).
    """
    output = _open_output(config, stream, lock_path)
    writer = LineWriter(output, max_queue=config.queue_size)
    if colour is None:
        colour = _wants_colour(output)
    sink = LogSink(writer, config.format, min_level=config.level, colour=colour)
    if remove_default:
        with contextlib.suppress(ValueError):  # loguru's default stderr handler; others stay
            _loguru.remove(0)
    debug = config.level in ("TRACE", "DEBUG")
    handler_id = _loguru.add(
        sink,
        level=config.level,
        format="",
        colorize=colour,
        backtrace=False,
        diagnose=debug,  # variable values in tracebacks can hold secrets
        enqueue=False,  # our own bounded queue does the job without pickling
        catch=True,
    )
    handle = LoggingHandle(config, sink, writer, handler_id)
    if route_stdlib:
        handle.routing = StdlibRouting(config.level)
        handle.routing.install()
        handle._undo.append(handle.routing.restore)
    if capture is None and stream is None and config.format == "json":
        capture = _STD_STREAMS.get(config.output.lower())
    if capture is not None:
        routing = handle.routing
        handle._undo.append(install_capture(capture, routing.absorbs if routing else _never))
    trace_ids.warm_up()
    return handle


_process: tuple[int, LoggingHandle] | None = None
_STD_STREAMS: dict[str, Literal["stdout", "stderr"]] = {"stdout": "stdout", "stderr": "stderr"}


def _never(handler: logging.Handler) -> bool:
    return False


def configure_process(config: LoggingConfig, lock_path: str | None = None) -> LoggingHandle:
    """The sink of this process, configured on first call (later calls return it)."""
    global _process
    pid = os.getpid()
    if _process is not None and _process[0] == pid and not _process[1].closed:
        return _process[1]
    handle = configure_logging(config, remove_default=True, lock_path=lock_path)
    _process = (pid, handle)
    _silence_uvicorn_access()
    _loguru.bind(_logger="robutler_monitoring.logging").debug(
        "logging configured",
        format=config.format,
        output=config.output,
        level=config.level,
        queue_size=config.queue_size,
    )
    return handle


def _silence_uvicorn_access() -> None:
    # Our access record replaces uvicorn's. uvicorn silences its access logger itself when
    # it configures logging after us (one worker); a `--workers N` worker configures it
    # before, and routing would make it propagate again: a second line for every request.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False


def process_handle() -> LoggingHandle | None:
    """The handle :func:`configure_process` made in this process, if any."""
    if _process is not None and _process[0] == os.getpid() and not _process[1].closed:
        return _process[1]
    return None


def _open_output(config: LoggingConfig, stream: TextIO | None, lock_path: str | None) -> Output:
    if stream is not None:
        return StreamOutput(stream)
    target = config.output
    if target.lower() == "stdout":
        return FdOutput(1, lock_path)
    if target.lower() == "stderr":
        return FdOutput(2, lock_path)
    try:
        max_bytes = parse_size(config.rotation) if config.rotation else None
        retention = parse_retention(config.retention) if config.retention else (None, None)
        return FileOutput(target, max_bytes=max_bytes, retention=retention)
    except ValueError as exc:
        raise UsageError(f"monitoring.logging: {exc}") from None
    except OSError as exc:
        raise UsageError(
            f"monitoring.logging.output: cannot open log file {target!r}: {exc.strerror}; "
            "expected 'stdout', 'stderr' or a writable file path"
        ) from None


def _wants_colour(output: Any) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    fd = getattr(output, "fd", None)
    try:
        return fd is not None and os.isatty(fd)
    except OSError:
        return False
