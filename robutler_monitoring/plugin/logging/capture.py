"""Turn ``print()`` and other writes to ``sys.stdout``/``sys.stderr`` into log records.

In JSON format, when the log output is the process's stdout (or stderr), anything
else Python code writes there (the Robutler SDK prints banners, libraries print
notices) would break the one-JSON-object-per-line stream. :class:`StreamCapture`
takes the place of ``sys.stdout`` (or ``sys.stderr``) and makes each complete line a
record of logger ``stdout`` at INFO (``stderr`` at WARNING). The sink itself writes
with ``os.write`` on the descriptor, never through ``sys.stdout``, so this cannot loop.

A write that comes from a stdlib ``StreamHandler`` a library attached after us is
not text to keep: the handler is swept away on the spot and the record, which
then propagates to the root, is logged once with its own logger name and level.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, TextIO

from loguru import logger as _loguru

#: ANSI escape sequences (colours, cursor moves): noise inside a JSON message
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_STREAM_EMIT = logging.StreamHandler.emit.__code__
#: frames between our write() and StreamHandler.emit (colorama's wrapper adds four)
_MAX_DEPTH = 10
_LEVELS = {"stdout": "INFO", "stderr": "WARNING"}
#: set while a captured line is being logged, so text that loguru itself writes
#: (its report of a failing sink) goes to the terminal instead of looping
_busy = threading.local()


class StreamCapture:
    """A text stream that logs each complete line written to it.

    >>> # capture = StreamCapture("stdout", sys.stdout, absorbs=lambda h: False)
    >>> # sys.stdout = capture; print("hello")  # -> {"logger":"stdout","message":"hello",...}
    >>> # capture.close(); sys.stdout = capture.original
    """

    def __init__(self, name: str, original: TextIO, absorbs: Callable[[logging.Handler], bool]) -> None:
        self.name = name
        self.level = _LEVELS[name]
        self.original = original
        self._absorbs = absorbs
        self._log = _loguru.bind(_logger=name)
        self._pending: dict[int, str] = {}  # per thread: print() writes text and "\n" separately
        self._closed = False

    def write(self, text: str) -> int:
        """Log the complete lines in ``text``; keep a partial line until its newline or a flush."""
        if self._closed or getattr(_busy, "on", False):
            # after close, or loguru reporting an error of its own: plain text, no loop
            return self.original.write(text)
        handler = _emitting_handler()
        if handler is not None and self._absorbs(handler):
            return len(text)
        ident = threading.get_ident()
        if "\n" not in text:
            if text:
                self._pending[ident] = self._pending.get(ident, "") + text
            return len(text)
        lines = (self._pending.pop(ident, "") + text).split("\n")
        rest = lines.pop()
        if rest:
            self._pending[ident] = rest
        for line in lines:
            self._emit(line)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        """Write each of ``lines``."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Log this thread's partial line, if any."""
        if self._closed:
            self.original.flush()
            return
        rest = self._pending.pop(threading.get_ident(), "")
        if rest:
            self._emit(rest)

    def close(self) -> None:
        """Log every thread's partial line; from now on writes pass straight to the original."""
        pending, self._pending = self._pending, {}
        for rest in pending.values():
            self._emit(rest)
        self._closed = True

    def isatty(self) -> bool:
        """What the original stream says."""
        return bool(self.original.isatty())

    def fileno(self) -> int:
        """The original descriptor (1 or 2), so code that asks still finds the terminal."""
        return self.original.fileno()

    def __getattr__(self, name: str) -> Any:
        # encoding, errors, buffer, closed, ...: as the original stream
        return getattr(self.original, name)

    def _emit(self, line: str) -> None:
        if "\x1b" in line:
            line = _ANSI.sub("", line)
        line = line.rstrip("\r")
        if "\r" in line:  # a progress bar redraws the line: its last state is the line
            line = line.rsplit("\r", 1)[1]
        if not line.strip():
            return  # blank spacing lines of banners carry nothing
        _busy.on = True
        try:
            self._log.log(self.level, line)
        finally:
            _busy.on = False


def install_capture(name: str, absorbs: Callable[[logging.Handler], bool]) -> Callable[[], None]:
    """Put a :class:`StreamCapture` in place of ``sys.<name>``; return the function that undoes it."""
    original = getattr(sys, name)
    capture = StreamCapture(name, original, absorbs)
    setattr(sys, name, capture)

    def undo() -> None:
        capture.close()
        # someone (colorama) may have wrapped us since: then the capture stays as a pass-through
        if getattr(sys, name) is capture:
            setattr(sys, name, original)

    return undo


def _emitting_handler() -> logging.Handler | None:
    frame: FrameType | None = sys._getframe(2)
    for _ in range(_MAX_DEPTH):
        if frame is None:
            return None
        if frame.f_code is _STREAM_EMIT:
            handler = frame.f_locals.get("self")
            return handler if isinstance(handler, logging.Handler) else None
        frame = frame.f_back
    return None
