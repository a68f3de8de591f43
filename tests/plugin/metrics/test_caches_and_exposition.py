"""Cache statistics, the sampler, and the scrape renderer."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from robutler_monitoring.api.caches import CacheRegistry
from robutler_monitoring.plugin.metrics.exposition import render
from robutler_monitoring.plugin.metrics.runtime import Sampler
from tests.support.polling import async_wait_until

from .helpers import value


class _Cache:
    def __init__(self) -> None:
        self.hits, self.misses, self.size = 0, 0, 0


def test_sampler_refreshes_cache_metrics_and_loop_lag_every_interval() -> None:
    registry = CollectorRegistry()
    caches = CacheRegistry()
    cache = _Cache()
    caches.register("weather", cache)
    caches.register("broken", lambda: 1 / 0)  # type: ignore[arg-type,return-value]

    async def scenario() -> list[float | None]:
        sampler = Sampler(registry, interval=0.05, caches=caches)
        await sampler.start()
        cache.hits, cache.misses, cache.size = 3, 1, 2
        first = await async_wait_until(lambda: value(registry, "robutler_cache_hits_total", cache="weather"))
        cache.hits, cache.size = 5, 4
        await async_wait_until(lambda: value(registry, "robutler_cache_size", cache="weather") == 4)
        await sampler.stop()
        return [
            first,
            value(registry, "robutler_cache_hits_total", cache="weather"),
            value(registry, "robutler_cache_size", cache="weather"),
            value(registry, "robutler_cache_misses_total", cache="weather"),
            value(registry, "robutler_event_loop_lag_seconds"),
        ]

    first, hits, size, misses, lag = asyncio.run(scenario())
    assert (first, hits, size, misses) == (3, 5, 4, 1)
    assert lag is not None and lag >= 0
    assert value(registry, "robutler_cache_hits_total", cache="broken") is None


def test_sampler_keeps_sampling_after_failures_and_counts_them() -> None:
    registry = CollectorRegistry()
    caches = CacheRegistry()
    state = {"hits": 5}
    caches.register("answers", lambda: {"hits": state["hits"], "misses": 0, "size": 1})
    cache = _Cache()
    caches.register("weather", cache)

    def reaper() -> None:
        raise OSError("multiprocess directory vanished")

    async def scenario() -> None:
        sampler = Sampler(registry, interval=0.05, caches=caches, extra=(reaper,))
        await sampler.start()
        state["hits"] = -1  # a buggy source: a negative count cannot move a counter
        await async_wait_until(
            lambda: value(registry, "robutler_errors_total", type="ValueError", source="sampler")
        )
        state["hits"], cache.hits, cache.size = 50, 7, 3
        await async_wait_until(lambda: value(registry, "robutler_cache_size", cache="weather") == 3)
        await async_wait_until(
            lambda: (value(registry, "robutler_errors_total", type="OSError", source="sampler") or 0) >= 4
        )
        await sampler.stop()  # the last sample fails too (the reaper): stop() must not raise

    asyncio.run(scenario())
    assert value(registry, "robutler_cache_hits_total", cache="answers") == 50
    assert value(registry, "robutler_cache_hits_total", cache="weather") == 7
    assert value(registry, "robutler_cache_size", cache="weather") == 3
    bad_readings = value(registry, "robutler_errors_total", type="ValueError", source="sampler")
    reaper_failures = value(registry, "robutler_errors_total", type="OSError", source="sampler")
    assert bad_readings is not None and bad_readings >= 1
    assert reaper_failures is not None and reaper_failures >= 5  # every sample, up to the last


def test_a_negative_cache_reading_is_an_error_naming_the_cache() -> None:
    caches = CacheRegistry()
    caches.register("answers", lambda: {"hits": 1, "misses": -2, "size": 0})
    errors: list[BaseException] = []
    assert caches.read(errors.append) == {}
    assert [str(e) for e in errors] == ["cache 'answers': misses is -2; expected a count >= 0"]


def test_cache_registry_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="cache name 'a b' is invalid"):
        CacheRegistry().register("a b", _Cache())
    with pytest.raises(TypeError, match="cache 'x': expected an object with hits"):
        CacheRegistry().register("x", object())  # type: ignore[arg-type]


def test_render_matches_generate_latest_without_created_series() -> None:
    registry = CollectorRegistry()
    c = Counter("jobs", "Jobs\nwith newline", ("kind",), registry=registry)
    c.labels('we"ird\\value').inc(3)
    h = Histogram("lat", "Latency.", registry=registry, buckets=(0.1, 1.0))
    h.observe(0.5)
    ours = {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for f in text_string_to_metric_families(render(registry).decode())
        for s in f.samples
    }
    theirs = {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for f in text_string_to_metric_families(generate_latest(registry).decode())
        for s in f.samples
        if not s.name.endswith("_created")
    }
    assert ours == theirs
    assert b"_created" not in render(registry)
