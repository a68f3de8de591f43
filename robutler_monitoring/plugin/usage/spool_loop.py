"""A daemon thread with a spool connection of its own, doing one step at a time until stopped.

The exporter and the budget sync each run one (SQLite connections are not shared
between threads). ``step(spool)`` returns how long to wait before the next step; the
first step runs at once. ``on_exit(spool)`` runs once, however the loop ends, before the
connection closes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .spool import Spool

__all__ = ["SpoolLoop"]


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
    ) -> None:
        self.name = name
        self._spool_factory = spool_factory
        self._step = step
        self._on_exit = on_exit
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

    def _run(self) -> None:
        spool = self._spool_factory()
        try:
            while not self._stop.wait(self._step(spool)):
                pass
        finally:
            try:
                if self._on_exit is not None:
                    self._on_exit(spool)
            finally:
                spool.close()
