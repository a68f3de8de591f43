"""The custom metrics API as the product docs write it, on a fresh registry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Generator

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.plugin.metrics.custom import Metrics, MetricsError
from robutler_monitoring.plugin.metrics.exposition import render

from .helpers import sample, value


def test_seed_examples_appear_in_the_scrape() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.increment("custom_operation_count", tags={"operation": "data_processing"})
    metrics.increment("custom_operation_count", 2, tags={"operation": "data_processing"})
    with metrics.timer("custom_operation_duration"):
        time.sleep(0.02)
    metrics.gauge("queue_depth", 5, tags={"queue": "a"})
    metrics.observe("payload_bytes", 512)
    text = render(registry).decode()
    assert sample(text, "custom_operation_count_total", operation="data_processing") == 3
    assert sample(text, "custom_operation_duration_count") == 1
    assert (sample(text, "custom_operation_duration_sum") or 0) >= 0.02
    assert sample(text, "queue_depth", queue="a") == 5
    assert sample(text, "payload_bytes_sum") == 512


def test_timer_decorates_sync_and_async_functions() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)

    @metrics.timer("sync_work", tags={"kind": "s"})
    def work() -> int:
        return 1

    @metrics.timer("async_work")
    async def awork() -> int:
        await asyncio.sleep(0.01)
        return 2

    assert work() + work() == 2
    assert asyncio.run(awork()) == 2
    assert value(registry, "sync_work_count", kind="s") == 2
    assert (value(registry, "async_work_sum") or 0) >= 0.01


def test_timer_times_the_whole_iteration_of_generators() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)

    @metrics.timer("rows_seconds")
    def rows(fail: bool = False) -> Generator[int, None, None]:
        for i in range(3):
            time.sleep(0.02)
            yield i
        if fail:
            raise OSError("disk")

    @metrics.timer("tokens_seconds")
    async def tokens() -> AsyncGenerator[int, None]:
        for i in range(3):
            await asyncio.sleep(0.02)
            yield i

    async def consume() -> list[int]:
        got = [t async for t in tokens()]
        early = tokens()
        await early.__anext__()
        await early.aclose()  # the consumer stopped early: timed up to here
        return got

    assert list(rows()) == [0, 1, 2]
    with pytest.raises(OSError):
        list(rows(fail=True))
    stopped = rows()
    next(stopped)
    stopped.close()
    assert asyncio.run(consume()) == [0, 1, 2]
    assert value(registry, "rows_seconds_count") == 3  # exhausted, failed, closed
    assert (value(registry, "rows_seconds_sum") or 0) >= 0.06 + 0.06 + 0.02
    assert value(registry, "tokens_seconds_count") == 2
    assert (value(registry, "tokens_seconds_sum") or 0) >= 0.06 + 0.02


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda m: m.increment("bad-name"), "metric name 'bad-name' is invalid"),
        (lambda m: m.increment("jobs", tags={"bad key": 1}), "metric 'jobs': tag key 'bad key'"),
        (lambda m: m.observe("sizes", 1, tags={"le": "x"}), "'le' is reserved"),
        (lambda m: m.increment("jobs", -1), "metric 'jobs'"),
    ],
)
def test_invalid_use_names_the_metric(action, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MetricsError, match=message):
        action(Metrics(CollectorRegistry()))


def test_changing_tags_or_type_is_a_clear_error() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.increment("orders", tags={"region": "eu"})
    with pytest.raises(MetricsError, match=r"'orders' was first used with tags \['region'\]"):
        metrics.increment("orders", tags={"country": "fr"})
    with pytest.raises(MetricsError, match="'orders' is a counter; it cannot be used as a gauge"):
        metrics.gauge("orders", 1, tags={"region": "eu"})
    with pytest.raises(MetricsError, match="'orders' is a counter"):
        metrics.timer("orders")


def test_clash_with_an_existing_metric_names_it() -> None:
    registry = CollectorRegistry()
    Metrics(registry).increment("shared_total_name")
    with pytest.raises(MetricsError, match="metric 'shared_total_name' cannot be created"):
        Metrics(registry).increment("shared_total_name")
