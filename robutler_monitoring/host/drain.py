"""Drain before stopping: on SIGTERM/SIGINT, tell the plugins, keep serving a while, then stop.

Load balancers and Kubernetes stop sending traffic once readiness fails; the delay
(``robutler serve --drain-delay``) gives them time to notice before the server stops
accepting connections. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

import pluggy

from .plugins import call_each
from .settings import ServeSettings

log = logging.getLogger("robutler_monitoring.host")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DrainOnSignal:
    """Wraps the server's signal handlers in a worker so that a stop signal drains first.

    >>> # DrainOnSignal(pm, settings).install()  # in the worker's event loop, after start-up
    """

    def __init__(self, pm: pluggy.PluginManager, settings: ServeSettings) -> None:
        self.pm = pm
        self.settings = settings
        self.draining = False

    def install(self) -> None:
        """Wrap the current SIGINT/SIGTERM handlers (the server's); a no-op off the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            previous = signal.getsignal(sig)
            if callable(previous):
                signal.signal(sig, self._handler(loop, previous))

    def _handler(
        self, loop: asyncio.AbstractEventLoop, previous: Callable[[int, Any], Any]
    ) -> Callable[[int, Any], None]:
        def handle(sig: int, frame: Any) -> None:
            if self.draining:  # a second signal: stop now
                previous(sig, frame)
                return
            self.draining = True
            # Signal handlers interrupt arbitrary code: do the work in the event loop.
            loop.call_soon_threadsafe(self._begin, loop, previous, sig, frame)

        return handle

    def _begin(
        self, loop: asyncio.AbstractEventLoop, previous: Callable[[int, Any], Any], sig: int, frame: Any
    ) -> None:
        delay = self.settings.drain_delay
        call_each(self.pm, "robutler_draining", warn=log.warning, settings=self.settings)
        if delay > 0:
            log.info("Draining for %g s before stopping (%s)", delay, signal.Signals(sig).name)
            loop.call_later(delay, previous, sig, frame)
        else:
            previous(sig, frame)
