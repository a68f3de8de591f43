"""``robutler_cache_*``: the registered caches' statistics as Prometheus metrics (read by the sampler)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge

from ...api.caches import CacheStats


class CacheMetrics:
    """``robutler_cache_hits_total``, ``_misses_total`` and ``robutler_cache_size`` in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.hits = Counter("robutler_cache_hits", "Cache hits.", ("cache",), registry=registry)
        self.misses = Counter("robutler_cache_misses", "Cache misses.", ("cache",), registry=registry)
        self.size = Gauge(
            "robutler_cache_size",
            "Entries in the cache.",
            ("cache",),
            multiprocess_mode="livesum",
            registry=registry,
        )
        self._last: dict[str, CacheStats] = {}

    def update(
        self, readings: Mapping[str, CacheStats], on_error: Callable[[BaseException], None] | None = None
    ) -> None:
        """Move the metrics to the latest readings (counters by their increase since last time)."""
        for name, stats in readings.items():
            try:
                self._update(name, stats)
            except Exception as exc:  # one bad reading must not keep the other caches stale
                if on_error is None:
                    raise
                on_error(exc)

    def _update(self, name: str, stats: CacheStats) -> None:
        last = self._last.get(name, CacheStats(0, 0, 0))
        # A cache that was cleared restarts its counts; count from zero again.
        self.hits.labels(name).inc(stats.hits - last.hits if stats.hits >= last.hits else stats.hits)
        self.misses.labels(name).inc(
            stats.misses - last.misses if stats.misses >= last.misses else stats.misses
        )
        self.size.labels(name).set(stats.size)
        self._last[name] = stats
