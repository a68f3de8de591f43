"""The exporter thread: sends spooled records to every sink, retrying with backoff and jitter.

Off the request path: a request never waits for a sink. With ``--workers N`` every
worker runs an exporter, and the one holding the spool's lease sends (another takes
over within ``lease_s`` when it dies, at once when it died on this host); so records
from every worker go out in order, from one place, and nothing is sent twice by two
live workers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from .sinks import Sink
from .spool import Spool, SpoolStats, lease_owner
from .spool_loop import SpoolLoop

__all__ = ["Exporter"]


class Exporter:
    """Sends what waits in the spool; ``on_sent(sink, n)`` / ``on_failed(sink, exc)`` report progress."""

    def __init__(
        self,
        spool_factory: Callable[[], Spool],
        sinks: Sequence[Sink],
        *,
        batch_size: int = 100,
        max_backoff_s: float = 60.0,
        idle_s: float = 0.5,
        lease_s: float = 10.0,
        on_sent: Callable[[str, int], None] | None = None,
        on_failed: Callable[[str, BaseException], None] | None = None,
        on_stats: Callable[[SpoolStats], None] | None = None,
    ) -> None:
        self.sinks = tuple(sinks)
        self.batch_size = batch_size
        self.max_backoff_s = max_backoff_s
        self.idle_s = idle_s
        self.lease_s = lease_s
        self.owner = lease_owner()
        self._on_sent = on_sent
        self._on_failed = on_failed
        self._on_stats = on_stats
        self._loop = SpoolLoop("robutler-usage-exporter", spool_factory, self._step, on_exit=self._exit)
        self._failures: dict[str, int] = {}
        self._next_try: dict[str, float] = {}

    def start(self) -> None:
        if not self._loop.running:
            self.owner = lease_owner()  # this process's (a server may build the exporter before it forks)
        self._loop.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.stop(timeout)

    def _step(self, spool: Spool) -> float:
        wait = self.idle_s
        if spool.acquire_lease(self.owner, self.lease_s):
            wait = self.send_once(spool)
        if self._on_stats is not None:
            self._on_stats(spool.stats())
        return wait

    def _exit(self, spool: Spool) -> None:
        try:
            spool.release_lease(self.owner)  # another worker sends at once
        finally:
            for sink in self.sinks:
                sink.close()

    def send_once(self, spool: Spool) -> float:
        """Send one batch to each sink that is due and has records waiting; returns how long to wait."""
        wait = self.idle_s
        now = time.monotonic()
        for sink in self.sinks:
            due = self._next_try.get(sink.name, 0.0)
            if now < due:  # backing off after a failure
                wait = min(wait, due - now)
                continue
            batch = spool.pending(sink.name, self.batch_size)
            if not batch:
                continue
            try:
                sink.send([record for _, record in batch])
            except Exception as exc:
                failures = self._failures[sink.name] = self._failures.get(sink.name, 0) + 1
                backoff = self._backoff(failures)
                self._next_try[sink.name] = time.monotonic() + backoff
                wait = min(wait, backoff)
                if self._on_failed is not None:
                    self._on_failed(sink.name, exc)
                continue
            self._failures[sink.name] = 0
            spool.delivered(sink.name, batch[-1][0])
            if self._on_sent is not None:
                self._on_sent(sink.name, len(batch))
            if len(batch) == self.batch_size:
                wait = 0.0  # more waiting: go on at once
        return wait

    def _backoff(self, failures: int) -> float:
        """Exponential from 0.5 s, capped, with full jitter (many servers must not retry in step)."""
        ceiling = min(self.max_backoff_s, 0.5 * 2 ** min(failures - 1, 30))
        return random.uniform(ceiling / 2, ceiling)
