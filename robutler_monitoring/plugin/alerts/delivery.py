"""Delivery off the event loop: one thread and one bounded queue per channel.

A channel that refuses connections or hangs only delays its own queue: each attempt is
bounded by the channel's timeout, retried with exponential backoff and jitter, and when
the queue is full the oldest notification is dropped and counted. At shutdown the queues
get a bounded time to drain; the threads are daemons, so a hung send never holds the exit.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger

from .engine import Notification
from .rules import Channel
from .senders import Sender

Outcome = Callable[[str, str], None]  # (channel, "delivered" | "failed" | "dropped" | "retried")


@dataclass
class ChannelStatus:
    """The last delivery of one channel, for ``/health/detailed`` and ``alerts list``."""

    last_attempt: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    queued: int = 0

    @property
    def ok(self) -> bool:
        """False when the last delivery failed."""
        return self.last_error_at is None or (self.last_success or 0) > self.last_error_at


class ChannelWorker:
    """Sends one channel's notifications in order, in its own daemon thread."""

    def __init__(
        self,
        channel: Channel,
        sender: Sender,
        *,
        queue_size: int,
        retries: int,
        on_failed: Callable[[Notification], None],
        on_outcome: Outcome,
        on_delivered: Callable[[Notification], None] | None = None,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.channel = channel
        self.sender = sender
        self.status = ChannelStatus()
        self._queue: deque[Notification] = deque()
        self._size = queue_size
        self._retries = retries
        self._on_failed = on_failed
        self._on_outcome = on_outcome
        self._on_delivered = on_delivered
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._busy = False
        self._thread = threading.Thread(target=self._run, name=f"alerts-{channel.name}", daemon=True)
        self._thread.start()

    def put(self, n: Notification) -> None:
        """Queue a notification; never blocks (the oldest is dropped when the queue is full)."""
        with self._cond:
            if len(self._queue) >= self._size:
                old = self._queue.popleft()
                self.status.dropped += 1
                self._on_outcome(self.channel.name, "dropped")
                logger.warning(
                    "alerts: channel {} queue full, dropped a {} notification of {}",
                    self.channel.name,
                    old.status,
                    old.rule.name,
                )
            self._queue.append(n)
            self.status.queued = len(self._queue)
            self._cond.notify()

    def idle(self) -> bool:
        """True when nothing is queued or being sent."""
        with self._cond:
            return not self._queue and not self._busy

    def stop(self, deadline: float) -> None:
        """Let queued notifications go out until ``deadline`` (monotonic), then stop retrying."""
        while time.monotonic() < deadline and not self.idle():
            time.sleep(0.02)
        self._stopping.set()
        with self._cond:
            self._cond.notify()
        self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            left = len(self._queue) + int(self._busy)
            logger.warning(
                "alerts: channel {} still had {} notification(s) at shutdown", self.channel.name, left
            )
        else:
            self.sender.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping.is_set():
                    self._cond.wait()
                if not self._queue:
                    return
                n = self._queue.popleft()
                self.status.queued = len(self._queue)
                self._busy = True
            try:
                self._deliver(n)
            finally:
                with self._cond:
                    self._busy = False

    def _deliver(self, n: Notification) -> None:
        reason: str | None = "not sent"
        for attempt in range(self._retries + 1):
            if attempt:
                delay = min(self._max_backoff, self._backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
                if self._stopping.wait(delay):
                    break  # shutting down: no more waiting
                self._on_outcome(self.channel.name, "retried")
            self.status.last_attempt = time.time()
            try:
                reason = self.sender.send(n)
            except Exception as exc:  # a sender bug must not kill the channel's thread
                reason = f"{type(exc).__name__}"
            if reason is None:
                self.status.last_success = time.time()
                self.status.delivered += 1
                self._on_outcome(self.channel.name, "delivered")
                if self._on_delivered is not None:
                    self._on_delivered(n)
                logger.info(
                    "alerts: {} {} sent to {} ({})",
                    n.rule.name,
                    n.status,
                    self.channel.name,
                    self.channel.shown,
                )
                return
        self.status.failed += 1
        self.status.last_error, self.status.last_error_at = reason, time.time()
        self._on_outcome(self.channel.name, "failed")
        logger.warning(
            "alerts: {} {} not delivered to {} ({}): {}",
            n.rule.name,
            n.status,
            self.channel.name,
            self.channel.shown,
            reason,
        )
        self._on_failed(n)


class Dispatcher:
    """Routes notifications to their channel's worker."""

    def __init__(self, workers: list[ChannelWorker]) -> None:
        self.workers = {w.channel.name: w for w in workers}

    def send(self, notifications: list[Notification]) -> None:
        """Queue each notification on its channel (returns at once)."""
        for n in notifications:
            worker = self.workers.get(n.channel)
            if worker is not None:
                worker.put(n)

    def status(self) -> dict[str, ChannelStatus]:
        """The last delivery of every channel."""
        return {name: w.status for name, w in self.workers.items()}

    def close(self, timeout: float) -> None:
        """Give queued notifications up to ``timeout`` seconds in all, then stop."""
        deadline = time.monotonic() + timeout
        threads = [
            threading.Thread(target=w.stop, args=(deadline,), daemon=True) for w in self.workers.values()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()) + 0.5)
