"""A daemon thread with a spool connection of its own, doing one step at a time until stopped.

The exporter and the budget sync each run one (SQLite connections are not shared
between threads). ``step(spool)`` returns how long to wait before the next step; the
first step runs at once. ``on_exit(spool)`` runs once, however the loop ends, before the
connection closes. A spool that cannot be opened, or a step that raises (a full disk, a
locked or broken database), is tried again after ``retry_s`` seconds; each failure goes to
``on_error`` (default: a WARNING at most once a minute), and the thread lives on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from .spool import Spool

__all__ = ["ErrorReport", "SpoolLoop"]

_log = logging.getLogger("robutler.monitoring.usage")


class ErrorReport:
    """An ``on_error``: ``count(exc)`` each failure, and a WARNING naming ``what`` failed at most
    every ``every_s`` seconds (a broken spool fails each second: the log is not flooded).
    """

    def __init__(
        self,
        what: str,
        *,
        count: Callable[[BaseException], None] | None = None,
        every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self._count = count
        self._every_s = every_s
        self._clock = clock
        self._logged_at: float | None = None

    def __call__(self, exc: BaseException) -> None:
        if self._count is not None:
            with contextlib.suppress(Exception):  # counting must not be what stops the loop
                self._count(exc)
        now = self._clock()
        if self._logged_at is None or now - self._logged_at >= self._every_s:
            self._logged_at = now
            _log.warning("usage: %s failed (%s: %s); trying again", self.what, type(exc).__name__, exc)


class SpoolLoop:
    """Call ``step`` in a thread named ``name`` until :meth:`stop`.

    >>> import tempfile
    >>> seen = []
    >>> loop = SpoolLoop("demo", lambda: Spool(tempfile.mkdtemp()), lambda spool: seen.append(1) or 60.0)
    >>> loop.start(); loop.stop(); seen
    [1]
    """

    def __init__(
        self,
        name: str,
        spool_factory: Callable[[], Spool],
        step: Callable[[Spool], float],
        *,
        on_exit: Callable[[Spool], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        retry_s: float = 5.0,
    ) -> None:
        self.name = name
        self._spool_factory = spool_factory
        self._step = step
        self._on_exit = on_exit
        self._on_error = on_error or ErrorReport(f"{name}: the spool")
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None

    def start(self) -> None:
        """Start the thread (its first step runs at once)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Wake the thread, let it finish its step and exit."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout)

    def _open(self) -> Spool | None:
        """The spool, once it opens; None when stopped first."""
        while not self._stop.is_set():
            try:
                return self._spool_factory()
            except Exception as exc:  # the thread must outlive a spool it cannot open yet
                self._on_error(exc)
            self._stop.wait(self._retry_s)
        return None

    def _step_once(self, spool: Spool) -> float:
        """One step; a step that raises (a locked or broken database) is reported and tried again."""
        try:
            return self._step(spool)
        except Exception as exc:  # the thread must outlive one failed step
            self._on_error(exc)
            return self._retry_s

    def _run(self) -> None:
        spool = self._open()
        if spool is None:
            return
        try:
            while not self._stop.wait(self._step_once(spool)):
                pass
        finally:
            try:
                if self._on_exit is not None:
                    self._on_exit(spool)
            finally:
                spool.close()
