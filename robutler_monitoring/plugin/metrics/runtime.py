"""Process and runtime metrics: standard collectors, event-loop lag, and the periodic sampler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)

from ...api.caches import CacheRegistry
from .caches import CacheMetrics
from .errors import ErrorMetrics
from .registry import instruments_for

#: The ``source`` label of ``robutler_errors_total`` for failures while sampling.
SAMPLER_SOURCE = "sampler"


def add_process_collectors(registry: CollectorRegistry) -> None:
    """Add the standard ``process_*`` and ``python_*`` collectors (the default registry has them)."""
    if registry is REGISTRY:
        return
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


class RuntimeMetrics:
    """Sampled runtime gauges of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.loop_lag = Gauge(
            "robutler_event_loop_lag_seconds",
            "Largest event-loop lag seen during the last collect interval.",
            multiprocess_mode="livemax",
            registry=registry,
        )


class LagProbe:
    """Measures event-loop lag: how late a short sleep wakes up.

    >>> probe = LagProbe(period=0.1)   # then: task = asyncio.create_task(probe.run())
    """

    def __init__(self, period: float = 0.25) -> None:
        self.period = period
        self.last = 0.0
        self._window_max = 0.0

    async def run(self) -> None:
        """Probe until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.period)
            lag = max(0.0, loop.time() - started - self.period)
            self.last = lag
            if lag > self._window_max:
                self._window_max = lag

    def take_window_max(self) -> float:
        """The largest lag since the last call, then start a new window."""
        value, self._window_max = max(self._window_max, self.last), 0.0
        return value


class Sampler:
    """Refreshes sampled metrics (event-loop lag, caches, ...) every ``interval`` seconds.

    Each step of a sample is guarded on its own: a failure is counted in
    ``robutler_errors_total{source="sampler"}`` and sampling goes on.

    >>> sampler = Sampler(CollectorRegistry(), interval=10.0, caches=CacheRegistry())
    >>> # await sampler.start() ... await sampler.stop()
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        interval: float,
        caches: CacheRegistry,
        extra: tuple[Callable[[], object], ...] = (),
    ) -> None:
        self.interval = interval
        self.probe = LagProbe(period=min(0.25, interval))
        self._runtime = instruments_for(registry, RuntimeMetrics)
        self._cache_metrics = instruments_for(registry, CacheMetrics)
        self._errors = instruments_for(registry, ErrorMetrics)
        self._caches = caches
        self._extra = extra
        self._tasks: list[asyncio.Task[None]] = []

    def sample_once(self) -> None:
        """Refresh every sampled metric now; never raises."""
        self._step(lambda: self._runtime.loop_lag.set(self.probe.take_window_max()))
        self._step(lambda: self._cache_metrics.update(self._caches.read(self._failed), self._failed))
        for fn in self._extra:
            self._step(fn)

    def _step(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as exc:  # one failing step must not stop the others, nor later samples
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        with contextlib.suppress(Exception):  # counting must not be what kills the sampler
            self._errors.count(exc, SAMPLER_SOURCE)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.sample_once()

    async def start(self) -> None:
        """Start probing and sampling in the running loop."""
        if self._tasks:
            return
        self.sample_once()
        self._tasks = [asyncio.create_task(self.probe.run()), asyncio.create_task(self._loop())]

    async def stop(self) -> None:
        """Take a last sample and stop; never raises, so later shutdown steps still run."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        # return_exceptions: a task that died is not re-raised here (a cancelled stop() still is).
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                self._failed(result)
        if tasks:
            self.sample_once()
