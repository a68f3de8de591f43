"""Event-loop time that recording usage adds to one LLM call, and the export's effect on requests.

Run: ``.venv/bin/python benchmarks/bench_usage.py`` (about ten seconds).

Part 1 publishes finished LLM calls (an agent run around them, as a served agent does)
on a bus with the usage recorder subscribed (with its writer thread running and a spool),
and on a bus with nothing subscribed; the difference per call, in CPU time of the thread
that publishes (the event loop's), is what recording adds to the request path. Target:
at most 5 us per LLM call. Records, metrics, pricing, SQLite and export run in threads;
their CPU time is reported apart (it shares the GIL, so a saturating benchmark also
shows up in wall time, which is printed too).

Part 2 measures event-loop lag while the HTTP export endpoint hangs (a socket that
accepts and never answers) and the recorder keeps producing: the loop must not wait on
the export. Target: lag under 50 ms.

Part 3 sends requests through the monitoring wrapper, one LLM call each, in waves of
concurrent requests (a server under load), with the usage service and its spool, where
the last body message waits until the request's record is committed, and without: the
event loop's CPU time per request, holding included (the ticket, a future, a bounded
wait, the writer's wake-up call), and the latency the commit adds (SQLite, fsync) while
the loop serves others. Requests without usage records take no ticket and do not wait.
(Sequential requests would mostly measure the VM's cost of idling and waking a thread:
on the shared 2-core machine an ``asyncio.sleep(0.003)`` alone costs ~140 us of CPU.)
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from robutler_monitoring.events import AgentRun, EventBus, HttpRequest, LLMCall
from robutler_monitoring.plugin.config.schema import UsageConfig
from robutler_monitoring.plugin.http.middleware import MonitoringMiddleware
from robutler_monitoring.plugin.usage.service import UsageService

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_middleware import _scope

CALLS = 20_000
TARGET_US = 5.0
LAG_TARGET_MS = 50.0


def _publish(bus: EventBus, n: int, clock: Callable[[], float] = time.thread_time) -> float:
    start = clock()
    with HttpRequest("POST", "/chat", request_id="bench", bus=bus), AgentRun("assistant", bus=bus):
        for _ in range(n):
            call = LLMCall("gpt-4o-mini", bus=bus).begin()
            call.set_usage(input_tokens=120, output_tokens=30, cache_read_tokens=64)
            call.end()
    return clock() - start


def part1() -> float:
    spool = tempfile.mkdtemp()
    service = UsageService(UsageConfig(spool_dir=spool), CollectorRegistry())
    recording, bare = EventBus(), EventBus()
    service.subscribe(recording)
    service.start()
    try:
        _publish(recording, 2_000)  # warm the label children
        _publish(bare, 2_000)
        service.recorder.flush(60)
        # best of interleaved rounds: load on the shared machine (and the writer thread, which
        # shares the GIL) only ever adds time, and hits both sides alike
        rounds = [(_publish(recording, CALLS), _publish(bare, CALLS)) for _ in range(7)]
        with_usage = min(r for r, _ in rounds)
        without = min(b for _, b in rounds)
        wall_with = _publish(recording, CALLS, time.perf_counter)
        wall_without = _publish(bare, CALLS, time.perf_counter)
        process_before = time.process_time()
        _publish(recording, CALLS)
        service.recorder.flush(60)
        process_per_call = (time.process_time() - process_before) / CALLS * 1e6
    finally:
        service.stop()
    added_us = (with_usage - without) / CALLS * 1e6
    per = CALLS / 1e6
    print(f"loop-thread CPU per LLM call: {without / per:.2f} us bare, {with_usage / per:.2f} us recorded")
    print(
        f"recording usage adds {added_us:.2f} us of event-loop time per LLM call (target <= {TARGET_US} us)"
    )
    print(f"whole process CPU per recorded LLM call (writer thread included): {process_per_call:.1f} us")
    print(
        f"tight-loop wall time per call: {wall_without / per:.2f} us bare, {wall_with / per:.2f} us recorded"
    )
    return added_us


async def _lag_while_export_hangs(url: str) -> float:
    spool = tempfile.mkdtemp()
    cfg = UsageConfig.model_validate(
        {"spool_dir": spool, "export": {"http": {"url": url, "timeout": 30, "batch_size": 10}}}
    )
    service = UsageService(cfg, CollectorRegistry())
    bus = EventBus()
    service.subscribe(bus)
    service.start()
    lags: list[float] = []
    try:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            _publish(bus, 50)
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - before - 0.01) * 1000)
    finally:
        service.recorder.stop()
        if service.exporter is not None:
            service.exporter.stop(timeout=0.1)  # it is stuck in the hanging POST: leave it
    return max(lags)


def part2() -> float:
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(100)  # accepts connections, never answers
    url = f"http://127.0.0.1:{hang.getsockname()[1]}/events"
    lag = asyncio.run(_lag_while_export_hangs(url))
    hang.close()
    print(f"event-loop lag while the export endpoint hangs: max {lag:.1f} ms (target < {LAG_TARGET_MS} ms)")
    return lag


WAVES = 40
CONCURRENCY = 50


def _llm_app(bus: EventBus) -> Any:
    """An app that makes one LLM call per request (an agent run around it) and answers."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        with AgentRun("assistant", bus=bus):
            call = LLMCall("gpt-4o-mini", bus=bus).begin()
            call.set_usage(input_tokens=120, output_tokens=30)
            call.end()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def _waves(app: Any, waves: int) -> tuple[float, float]:
    """(loop-thread CPU us per request, median wall ms per wave) of ``waves`` waves of requests."""
    scope = _scope("/chat", [(b"host", b"bench")])
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> Any:
        return request

    async def send(message: Any) -> None:
        return None

    walls = []
    cpu = time.thread_time()
    for _ in range(waves):
        start = time.perf_counter()
        await asyncio.gather(*(app(dict(scope), receive, send) for _ in range(CONCURRENCY)))
        walls.append(time.perf_counter() - start)
    return (time.thread_time() - cpu) / (waves * CONCURRENCY) * 1e6, statistics.median(walls) * 1e3


def part3() -> float:
    services: list[UsageService] = []

    def wrapped(commit_wait: float | None) -> Any:
        bus = EventBus()
        if commit_wait is not None:
            cfg = UsageConfig(spool_dir=tempfile.mkdtemp(), commit_wait=commit_wait)
            service = UsageService(cfg, CollectorRegistry())
            service.subscribe(bus)
            service.start()
            services.append(service)
        return MonitoringMiddleware(_llm_app(bus), bus=bus)

    apps = {"no usage": wrapped(None), "recorded, no wait": wrapped(0.0), "recorded, held": wrapped(1.0)}
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    wall: dict[str, list[float]] = {name: [] for name in apps}

    async def run() -> None:
        for app in apps.values():
            await _waves(app, 2)
        for _ in range(5):
            for name, app in apps.items():
                c, w = await _waves(app, WAVES // 5)
                cpu[name].append(c)
                wall[name].append(w)

    try:
        asyncio.run(run())
    finally:
        timeouts = sum(s.recorder.gate.timeouts for s in services if s.recorder.gate is not None)
        for service in services:
            service.stop()
    med = {name: statistics.median(v) for name, v in cpu.items()}
    lat = {name: statistics.median(v) for name, v in wall.items()}
    print(
        f"\nRequests through the wrapper, one LLM call each, {WAVES} waves of {CONCURRENCY} concurrent "
        "(median of 5 rounds):"
    )
    for name in apps:
        print(f"  {name:18s} loop CPU {med[name]:6.1f} us/request   a wave takes {lat[name]:6.1f} ms")
    added = med["recorded, held"] - med["no usage"]
    hold = med["recorded, held"] - med["recorded, no wait"]
    print(
        f"event-loop time per request with one LLM call: recording and holding add {added:.2f} us "
        f"(holding alone {hold:.2f} us; target <= {TARGET_US} us); "
        f"{timeouts} response(s) hit commit_wait"
    )
    return added


if __name__ == "__main__":
    added = part1()
    lag = part2()
    held = part3()
    ok = added <= TARGET_US and lag < LAG_TARGET_MS
    verdict = "OK" if ok else "OVER TARGET (a loaded machine inflates both; rerun when idle)"
    print(f"per LLM call and lag: {verdict}")
    if held > TARGET_US:
        print(
            f"a held response (once per response with records, not per LLM call) adds {held:.1f} us: "
            f"more than {TARGET_US} us for a request with one LLM call"
        )
