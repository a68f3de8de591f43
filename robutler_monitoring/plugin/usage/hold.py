"""A response's last byte waits until the request's usage records are committed to the spool.

The recorder hands a request's records to its writer thread with a :class:`CommitTicket`
kept on the request's HTTP operation (``HttpRequest.hold``): the request path only counts
(``handed``). The writer thread counts what it committed (``done``) and, once a ticket is
complete and a response waits on it, resolves that response's future through
``loop.call_soon_threadsafe``. The HTTP wrapper awaits :meth:`CommitTicket.wait` before the
last body message, so a client that has the whole response knows its records are on disk,
and a ``kill -9`` after that loses none of them. The event loop never blocks: the wait is a
future, and a bounded one: past ``timeout_s`` the response ends anyway, counted and logged.

Requests that produced no records have no ticket and do not wait; a streamed response
sends every chunk at once and holds only its final (empty) body message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence

__all__ = ["CommitGate", "CommitTicket"]

_log = logging.getLogger("robutler.monitoring.usage")
_LOG_EVERY_S = 60.0


class CommitTicket:
    """The usage records of one response: how many were handed over, how many are committed."""

    __slots__ = ("_gate", "_waiter", "done", "handed")

    def __init__(self, gate: CommitGate) -> None:
        self._gate = gate
        self.handed = 0  #: records handed over (the request path)
        self.done = 0  #: of those, committed or given up on (the writer thread)
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[bool]] | None = None

    async def wait(self) -> None:
        """Return once every record handed over so far is committed, or after the gate's timeout."""
        if self.done >= self.handed:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._waiter = (loop, future)
        # The writer counts first and looks for a waiter after: one of the two sees the other.
        if self.done >= self.handed:
            return
        self._gate.expiry(loop).add(loop, future)
        if await future:  # True: the gate's timeout passed first
            self._gate.timed_out(self)


def _release(futures: list[asyncio.Future[bool]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(False)


class _Expiry:
    """The bounded waits of one event loop: one timer for all of them, not one per response.

    A timer per response (``call_later`` + ``cancel``, or ``asyncio.wait_for``) costs more
    event-loop time than the rest of the wait; every wait here has the same length, so the
    deadlines arrive in order and one timer, set for the oldest, expires them all.
    """

    __slots__ = ("_handle", "_timeout_s", "_waiting")

    def __init__(self, timeout_s: float) -> None:  # no reference to the loop: a weak key to it
        self._timeout_s = timeout_s
        self._waiting: deque[tuple[float, asyncio.Future[bool]]] = deque()
        self._handle: asyncio.TimerHandle | None = None

    def add(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[bool]) -> None:
        self._waiting.append((loop.time() + self._timeout_s, future))
        if self._handle is None:
            self._handle = loop.call_later(self._timeout_s, self._expire)

    def _expire(self) -> None:
        self._handle = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        waiting = self._waiting
        while waiting:
            deadline, future = waiting[0]
            if not future.done():
                if deadline > now:
                    self._handle = loop.call_at(deadline, self._expire)
                    return
                future.set_result(True)
            waiting.popleft()


class CommitGate:
    """Makes tickets, marks them committed (writer thread), counts responses that stopped waiting.

    >>> import asyncio
    >>> gate = CommitGate(timeout_s=1.0)
    >>> ticket = gate.ticket()
    >>> ticket.handed += 1
    >>> async def respond():
    ...     waiting = asyncio.ensure_future(ticket.wait())
    ...     await asyncio.sleep(0)
    ...     gate.committed([ticket])  # what the writer thread does after its commit
    ...     await waiting
    >>> asyncio.run(respond())
    >>> gate.timeouts
    0
    """

    def __init__(self, timeout_s: float, on_timeout: Callable[[], None] | None = None) -> None:
        self.timeout_s = timeout_s
        self.timeouts = 0  #: responses that ended before their records were committed
        self._on_timeout = on_timeout
        self._lock = threading.Lock()
        self._logged_at = float("-inf")
        self._unlogged = 0
        self._expiries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Expiry] = (
            weakref.WeakKeyDictionary()
        )
        self._last: tuple[asyncio.AbstractEventLoop, _Expiry] | None = None  # a server has one loop

    def expiry(self, loop: asyncio.AbstractEventLoop) -> _Expiry:
        """The bounded waits of ``loop`` (its thread only)."""
        last = self._last
        if last is not None and last[0] is loop:
            return last[1]
        found = self._expiries.get(loop)
        if found is None:
            found = self._expiries[loop] = _Expiry(self.timeout_s)
        self._last = (loop, found)
        return found

    def ticket(self) -> CommitTicket:
        return CommitTicket(self)

    def committed(self, tickets: Sequence[CommitTicket]) -> None:
        """The writer thread finished one record of each of ``tickets`` (a ticket once per record)."""
        for ticket in tickets:
            ticket.done += 1
        ready: dict[asyncio.AbstractEventLoop, list[asyncio.Future[bool]]] = {}
        for ticket in tickets:
            waiter = ticket._waiter
            if waiter is not None and ticket.done >= ticket.handed:
                ticket._waiter = None
                ready.setdefault(waiter[0], []).append(waiter[1])
        for loop, futures in ready.items():  # one wake-up per loop and batch
            with contextlib.suppress(RuntimeError):  # the loop is closed (shutdown): nobody waits
                loop.call_soon_threadsafe(_release, futures)

    def timed_out(self, ticket: CommitTicket) -> None:
        """A response stopped waiting for its records (the event loop's thread)."""
        self.timeouts += 1
        if self._on_timeout is not None:
            self._on_timeout()
        now = time.monotonic()
        with self._lock:
            self._unlogged += 1
            if now - self._logged_at < _LOG_EVERY_S:
                return
            count, self._unlogged, self._logged_at = self._unlogged, 0, now
        _log.warning(
            "usage: %d response(s) ended before their usage records were committed to the spool "
            "(waited %g s; monitoring.usage.commit_wait); a kill -9 now could lose them",
            count,
            self.timeout_s,
        )
