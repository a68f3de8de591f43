"""Keep stdlib ``logging`` routed into the one sink, even when libraries reconfigure it after us.

Libraries such as the Robutler SDK configure logging when they are imported: a
``StreamHandler`` to the terminal on their loggers, ``propagate = False`` and a
Logger class that does the same for every logger made later. All of that happens
after ``robutler serve`` installed the sink, so one sweep at start-up is not enough.
:meth:`StdlibRouting.sweep` puts routing back and is cheap enough to run again:
after TARGET is imported, at lifespan start-up, every second from a daemon thread
(for loggers configured lazily while serving), and at once when a foreign terminal
handler writes into captured stdout (see ``capture.py``), so not even the first such
line reaches the log stream as text.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import weakref
from typing import Any

from .intercept import STDLIB_LEVELS, InterceptHandler

#: how often the daemon thread re-applies routing; a sweep costs about 1 us per logger
SWEEP_INTERVAL_S = 1.0
#: uvicorn's loggers lose every handler: with ``log_config=None`` it adds none we want
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class StdlibRouting:
    """Route every stdlib record to loguru through one root :class:`InterceptHandler`.

    >>> # routing = StdlibRouting("INFO", interval=None)
    >>> # routing.install()
    >>> # import some_library   # adds its own terminal handler, propagate=False
    >>> # routing.sweep()       # its records reach the sink again, once
    >>> # routing.restore()     # logging as it was, library handlers included
    """

    def __init__(self, level: str, interval: float | None = SWEEP_INTERVAL_S) -> None:
        self.level = level
        self.interval = interval
        self.handler = InterceptHandler()
        self._lock = threading.Lock()
        # what sweeps changed, so that restore() can put it back
        self._removed: dict[logging.Logger, list[logging.Handler]] = {}
        self._propagated: set[logging.Logger] = set()
        self._absorbed: weakref.WeakSet[logging.Handler] = weakref.WeakSet()
        self._kept: weakref.WeakSet[logging.Handler] = weakref.WeakSet()
        self._root_level = logging.root.level
        self._logger_class: type[logging.Logger] = logging.getLoggerClass()
        self._manager_class: type[logging.Logger] | None = logging.Logger.manager.loggerClass
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sweeps = 0

    def install(self) -> None:
        """Route the stdlib into loguru at ``level`` and start the periodic sweep."""
        for name in _UVICORN:  # exist from now on, so the sweep sees them before uvicorn runs
            logging.getLogger(name)
        self.sweep()
        logging.root.setLevel(STDLIB_LEVELS[self.level])
        logging.captureWarnings(True)
        if self.interval is not None:
            self._start()

    def sweep(self) -> None:
        """Remove terminal handlers, restore propagation and the Logger class, put our root handler back."""
        with self._lock:
            first = self.sweeps == 0
            self.sweeps += 1
            self._reset_logger_class()
            for named in list(logging.Logger.manager.loggerDict.values()):
                if isinstance(named, logging.Logger):  # PlaceHolders have no handlers
                    self._sweep_logger(named, first)
            self._sweep_root()

    def absorbs(self, handler: logging.Handler) -> bool:
        """True when ``handler`` is (now) swept away: its record reaches the sink through the root."""
        if handler in self._absorbed:
            return True
        if handler in self._kept:
            return False
        self.sweep()
        if handler in self._absorbed:
            return True
        self._kept.add(handler)
        return False

    def restore(self) -> None:
        """Stop sweeping and undo every change the sweeps made."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        with self._lock:
            logging.setLoggerClass(self._logger_class)
            logging.Logger.manager.loggerClass = self._manager_class
            logging.captureWarnings(False)
            root = logging.root
            root.handlers = [h for h in root.handlers if h is not self.handler]
            root.handlers += [h for h in self._removed.pop(root, []) if h not in root.handlers]
            root.setLevel(self._root_level)
            for named, handlers in self._removed.items():
                named.handlers = named.handlers + [h for h in handlers if h not in named.handlers]
            for named in self._propagated:
                named.propagate = False
            self._removed.clear()
            self._propagated.clear()

    def _reset_logger_class(self) -> None:
        # a foreign Logger class would give every new logger its own terminal handler
        if logging.getLoggerClass() is not logging.Logger:
            self._logger_class = logging.getLoggerClass()
            logging.setLoggerClass(logging.Logger)
        manager = logging.Logger.manager
        if manager.loggerClass not in (None, logging.Logger):
            self._manager_class = manager.loggerClass
            manager.loggerClass = None

    def _sweep_logger(self, named: logging.Logger, first: bool) -> None:
        # at install, uvicorn's loggers lose every handler and propagate; later, uvicorn
        # itself silences ``uvicorn.access`` (no handler, propagate=False): leave that be
        uvicorn = first and named.name in _UVICORN
        handlers = named.handlers
        drop = [h for h in handlers if uvicorn or writes_to_terminal(h)]
        if drop:
            self._absorbed.update(drop)
            self._removed.setdefault(named, []).extend(drop)
            # rebind, never mutate: a thread in callHandlers keeps iterating the old list
            named.handlers = [h for h in handlers if h not in drop]
        if not named.propagate and (drop or uvicorn):
            named.propagate = True  # its records went to the terminal; now to the root
            self._propagated.add(named)

    def _sweep_root(self) -> None:
        root = logging.root
        handlers = root.handlers
        drop = [h for h in handlers if h is not self.handler and writes_to_terminal(h)]
        if drop:
            self._absorbed.update(drop)
            self._removed.setdefault(root, []).extend(drop)
        if drop or self.handler not in handlers:
            root.handlers = [self.handler, *(h for h in handlers if h not in drop and h is not self.handler)]

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="robutler-log-sweep", daemon=True)
        self._thread.start()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        if not self._stop.is_set():  # the thread does not survive a fork; the lock may be held
            self._lock = threading.Lock()
            self._thread = threading.Thread(target=self._run, name="robutler-log-sweep", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        interval = self.interval or SWEEP_INTERVAL_S
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception:  # a logger mutated under us: the next sweep sees it settled
                continue


def writes_to_terminal(handler: logging.Handler) -> bool:
    """True for a stream handler writing to stdout or stderr (not a file, not a buffer)."""
    if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
        return False
    stream: Any = handler.stream
    if stream is None:
        return False
    if stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        return True
    # wrapped streams (colorama, our own capture) still end on descriptor 1 or 2
    try:
        return stream.fileno() in (1, 2)
    except Exception:  # StringIO and friends have no descriptor
        return False
