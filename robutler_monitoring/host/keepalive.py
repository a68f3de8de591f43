"""Closing idle keep-alive connections with one timer per server instead of one per response.

uvicorn arms a timer (``loop.call_later``) when each response ends and cancels it when
the connection's next request arrives: a timer made and cancelled per request, which on
the benchmark machine cost about 6 % of the server's CPU per request. Here a response's
end only notes the time; one sweep per server, every second (half the timeout when that
is shorter), closes the connections that have been idle for ``--timeout-keep-alive``
seconds. A connection is closed after at least the timeout and at most one sweep
interval later, never earlier (a load balancer's idle timeout should stay below the
server's, and so it does).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Collection
from typing import Any

#: the longest time between two sweeps (seconds)
MAX_INTERVAL_S = 1.0
#: the shortest (a timeout of 0 closes each connection this soon after its response)
MIN_INTERVAL_S = 0.05


def sweep_interval(timeout: float) -> float:
    """Seconds between sweeps for a keep-alive timeout: at most 1 s, and half the timeout below 2 s."""
    return min(MAX_INTERVAL_S, max(timeout / 2, MIN_INTERVAL_S))


class KeepAliveSweep:
    """The idle-connection sweep of one server (one event loop, one set of connections).

    Connections take part by setting ``idle_since`` (the loop's time when their last
    response ended, ``None`` while a request is in progress) and calling :meth:`arm`;
    an expired one gets ``timeout_keep_alive_handler()``, uvicorn's own close.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, connections: Collection[Any], timeout: float) -> None:
        self.loop = loop
        self._connections = connections
        self._timeout = timeout
        self._interval = sweep_interval(timeout)
        self._handle: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        """Make sure a sweep is due (once per interval, while the server has connections)."""
        if self._handle is None:
            self._handle = self.loop.call_later(self._interval, self._sweep)

    def _sweep(self) -> None:
        self._handle = None
        deadline = self.loop.time() - self._timeout
        for conn in list(self._connections):
            since = getattr(conn, "idle_since", None)
            if since is not None and since <= deadline:
                conn.idle_since = None
                conn.timeout_keep_alive_handler()
        if self._connections:
            self.arm()


_sweeps: weakref.WeakKeyDictionary[Any, KeepAliveSweep] = weakref.WeakKeyDictionary()


def sweep_for(server_state: Any, loop: asyncio.AbstractEventLoop, timeout: float) -> KeepAliveSweep:
    """The sweep of the server whose state is ``server_state`` (made by its first connection)."""
    sweep = _sweeps.get(server_state)
    if sweep is None or sweep.loop is not loop:  # a server run again on a new loop sweeps anew
        sweep = _sweeps[server_state] = KeepAliveSweep(loop, server_state.connections, timeout)
    return sweep
