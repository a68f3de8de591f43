"""The custom metrics API as the product docs write it, on a fresh registry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Generator

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.api.metrics import Metrics, MetricsError
from robutler_monitoring.plugin.metrics.exposition import render
from tests.plugin.metrics.helpers import sample, value


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
    Metrics(registry).increment("shared_total_name")  # the same metric, from another facade
    assert value(registry, "shared_total_name_total") == 2
    with pytest.raises(MetricsError, match="metric 'shared_total_name' cannot be created"):
        Metrics(registry).gauge("shared_total_name", 1)


def test_one_timer_shared_by_50_overlapping_tasks_times_each_block() -> None:
    # Task i enters the block i * 10 ms after the start and stays 300 ms in it, so the
    # blocks overlap and the first to enter is the first to leave: a timer that kept one
    # stack of start times would give task 0 the start of the task that entered last.
    registry = CollectorRegistry()
    timer = Metrics(registry).timer("overlap_seconds")

    async def block(i: int) -> None:
        await asyncio.sleep(0.01 * i)
        with timer:
            await asyncio.sleep(0.3)

    async def scenario() -> None:
        await asyncio.gather(*(block(i) for i in range(50)))

    asyncio.run(scenario())
    histogram = next(m for m in registry.collect() if m.name == "overlap_seconds")
    samples = {(s.name, s.labels.get("le")): s.value for s in histogram.samples}
    assert samples[("overlap_seconds_count", None)] == 50
    # Every block lasted at least its 300 ms (a loaded machine may add, never take away).
    assert samples[("overlap_seconds_bucket", "0.25")] == 0
    assert samples[("overlap_seconds_sum", None)] >= 50 * 0.3


def test_the_default_metrics_work_without_the_plugin() -> None:
    from robutler_monitoring.api.metrics import MemoryBackend, set_backend

    memory = MemoryBackend()
    previous = set_backend(memory)
    try:
        facade = Metrics()
        facade.increment("jobs_done", tags={"queue": "mail"})
        facade.increment("jobs_done", 2, tags={"queue": "mail"})
        with facade.timer("job_seconds"):
            pass
    finally:
        set_backend(previous)
    assert memory.families["jobs_done"].children[("mail",)].value == 3
    assert memory.families["job_seconds"].count == 1
