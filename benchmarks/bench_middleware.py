"""Per-request cost of the monitoring wrapper, and /metrics render time; ratios from one run.

Run: ``.venv/bin/python benchmarks/bench_middleware.py`` (about a minute and a half).

1. In-process: the same Starlette app called through the ASGI interface in a loop, bare,
   behind a minimal pure-ASGI middleware (one labelled counter inc + one labelled histogram
   observe), behind our wrapper (access log off, then on), and behind starlette_exporter.
2. Streaming: time to the first body message, bare vs wrapped.
3. /metrics render time at 1k, 10k and 100k series against prometheus_client's generate_latest.
4. Under uvicorn (uvloop + httptools, one worker, pinned to core 0) with wrk on core 1: the
   server's CPU time per request, and requests per second.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from robutler_monitoring.plugin.metrics.exposition import render

IN_PROCESS_REQUESTS = 40_000
WRK_SECONDS = 2
WRK_ROUNDS = 5


def make_app() -> Starlette:
    """The benchmarked app: a small JSON-less endpoint with a path parameter, and a stream."""

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def stream(request: Request) -> StreamingResponse:
        async def chunks():  # type: ignore[no-untyped-def]
            yield b"data: 1\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return Starlette(routes=[Route("/items/{id}", item), Route("/stream", stream)])


class MinimalMiddleware:
    """The yardstick: one labelled counter increment and one labelled histogram observation."""

    def __init__(self, app: Any, registry: CollectorRegistry) -> None:
        self.app = app
        self.counter = Counter("bench_requests", "r", ("method", "path", "status"), registry=registry)
        self.hist = Histogram("bench_duration_seconds", "d", ("method", "path"), registry=registry)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.counter.labels(scope["method"], scope["path"], str(status)).inc()
            self.hist.labels(scope["method"], scope["path"]).observe(time.perf_counter() - start)


_SCRATCH: list[str] = []


def _scratch_dir() -> str:
    """One temporary directory per process, removed at exit."""
    if not _SCRATCH:
        _SCRATCH.append(tempfile.mkdtemp(prefix="bench-log-"))
        atexit.register(shutil.rmtree, _SCRATCH[0], ignore_errors=True)
    return _SCRATCH[0]


def _ours(access_log: bool) -> Any:
    """The app wrapped exactly as the plugin wraps it: a runtime with its own bus and registry,
    the metrics and HTTP concerns (and the logging concern, writing to a temp file)."""
    from robutler_monitoring.events import EventBus
    from robutler_monitoring.host.settings import ServeSettings
    from robutler_monitoring.plugin.config.schema import MonitoringConfig
    from robutler_monitoring.plugin.runtime import Runtime

    out = os.path.join(_scratch_dir(), "access.log")
    cfg = MonitoringConfig.model_validate({"logging": {"output": out, "access_log": access_log}})
    concerns = [
        "robutler_monitoring.plugin.metrics.concern:MetricsConcern",
        "robutler_monitoring.plugin.http.concern:HttpConcern",
    ]
    if access_log:
        concerns.insert(0, "robutler_monitoring.plugin.logging.concern:LoggingConcern")
    rt = Runtime(ServeSettings(), cfg, bus=EventBus(), registry=CollectorRegistry(), concerns=concerns)
    app: Any = make_app()
    for concern in rt.concerns:
        concern.subscribe(rt)
    for concern in rt.concerns:
        rt.endpoints.extend(concern.endpoints(rt))
    for concern in rt.concerns:
        app = concern.wrap(app, rt)
    return app


def variants() -> dict[str, Callable[[], Any]]:
    """Name -> factory of a fresh app (each with its own registry)."""

    def exporter() -> Any:
        from starlette_exporter import PrometheusMiddleware

        app = make_app()
        app.add_middleware(PrometheusMiddleware, app_name="bench", group_paths=True)
        return app

    return {
        "bare": make_app,
        "minimal": lambda: MinimalMiddleware(make_app(), CollectorRegistry()),
        "ours": lambda: _ours(access_log=False),
        "ours+accesslog": lambda: _ours(access_log=True),
        "starlette_exporter": exporter,
    }


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def _drive(app: Any, n: int, path: str = "/items/42") -> float:
    """Seconds per request, calling the app directly through the ASGI interface."""
    scope_base = _scope(path, [(b"host", b"bench"), (b"user-agent", b"bench")])
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> Any:
        return request

    async def send(message: Any) -> None:
        return None

    start = time.perf_counter()
    for _ in range(n):
        await app(dict(scope_base), receive, send)
    return (time.perf_counter() - start) / n


async def _ttfb(app: Any, n: int = 2000) -> float:
    """Median seconds from the call to the first body message of a streamed response."""
    scope_base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/stream",
        "raw_path": b"/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    samples: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        first: list[float] = []

        async def receive() -> Any:
            await asyncio.sleep(3600)  # a client that never disconnects

        async def send(message: Any, first: list[float] = first, start: float = start) -> None:
            if message["type"] == "http.response.body" and not first:
                first.append(time.perf_counter() - start)

        await app(dict(scope_base), receive, send)
        samples.append(first[0])
    return statistics.median(samples)


def in_process(rounds: int = 5) -> dict[str, float]:
    """Per-request microseconds of each variant: best of interleaved rounds, so load noise hits all."""
    factories = variants()
    # The access log's writer thread keeps formatting after its variant ran; measured last and
    # alone, so its thread does not slow the others down.
    last = factories.pop("ours+accesslog")
    best: dict[str, float] = {}

    async def run(apps: dict[str, Any]) -> None:
        for app in apps.values():
            await _drive(app, 500)  # warm up caches and lazily compiled routes
        for _ in range(rounds):
            for name, app in apps.items():
                value = await _drive(app, IN_PROCESS_REQUESTS // rounds)
                best[name] = min(best.get(name, float("inf")), value)

    asyncio.run(run({name: factory() for name, factory in factories.items()}))
    asyncio.run(run({"bare": factories["bare"](), "ours+accesslog": last()}))
    return {name: value * 1e6 for name, value in best.items()}


def render_times() -> list[tuple[int, float, float]]:
    """(series, our render ms, generate_latest ms) at 1k, 10k and 100k series."""
    out = []
    for n in (1_000, 10_000, 100_000):
        registry = CollectorRegistry()
        counter = Counter("bench_series", "Series for the render benchmark.", ("a", "b"), registry=registry)
        for i in range(n):
            counter.labels(str(i % 1000), str(i // 1000)).inc(i)
        repeat = 5 if n < 100_000 else 1
        timings = []
        for fn in (render, generate_latest):
            fn(registry)
            start = time.perf_counter()
            for _ in range(repeat):
                fn(registry)
            timings.append((time.perf_counter() - start) / repeat * 1000)
        out.append((n, timings[0], timings[1]))
    return out


def serve(variant: str, port: int) -> None:
    """Serve one variant under uvicorn (called in a subprocess)."""
    import uvicorn

    uvicorn.run(
        variants()[variant](),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk_run(variant: str) -> tuple[float, float] | None:
    """(requests per second, server CPU microseconds per request) of one served variant.

    Requests per second alone misleads here: with the server pinned to one core and wrk
    on the other, the server core goes idle between bursts, and on a virtual machine an
    idle core wakes up slowly. A variant with a busy background thread (the access log's
    writer) keeps the core awake and came out at 160-200 % of bare. The server's CPU time
    per request (all threads, the writer's included) is what the wrapper costs.
    """
    from tests.support.servers import free_port, wait_for_port

    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    port = free_port()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1 else []  # type: ignore[operator]
    server = subprocess.Popen([*pin, sys.executable, __file__, "--serve", variant, str(port)])
    try:
        if not wait_for_port("127.0.0.1", port, 20):
            return None
        url = f"http://127.0.0.1:{port}/items/42"
        subprocess.run([wrk, "-t1", "-c32", "-d1s", url], capture_output=True, check=False)  # warm-up
        wpin = ["taskset", "-c", "1"] if pin else []
        cpu_before = _cpu_seconds(server.pid)  # taskset execs the server: same pid
        done = subprocess.run(
            [*wpin, wrk, "-t1", "-c32", f"-d{WRK_SECONDS}s", url], capture_output=True, text=True, check=False
        )
        time.sleep(0.2)  # the access log's writer finishes its last batch
        cpu = _cpu_seconds(server.pid) - cpu_before
        found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
        count = re.search(r"(\d+) requests in", done.stdout)
        if not found or not count or not int(count.group(1)):
            return None
        return float(found.group(1)), cpu / int(count.group(1)) * 1e6
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    t0 = time.perf_counter()
    note = f"real access log (JSON lines to {os.path.join(_scratch_dir(), 'access.log')})"
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; access log: {note}\n")

    us = in_process()
    bare = us["bare"]
    minimal = us["minimal"] - bare
    print(f"In process (ASGI calls; best of 5 interleaved rounds of {IN_PROCESS_REQUESTS // 5} requests)")
    for name, value in us.items():
        extra = value - bare
        ratio = f"{extra / minimal:5.2f}x minimal's overhead" if name != "bare" else ""
        print(f"  {name:20s} {value:7.2f} us/request  (+{extra:6.2f} us)  {ratio}")

    app_bare, app_ours = make_app(), _ours(access_log=False)
    ttfb_bare = asyncio.run(_ttfb(app_bare)) * 1e6
    ttfb_ours = asyncio.run(_ttfb(app_ours)) * 1e6
    print(
        f"\nStreaming time to first byte: bare {ttfb_bare:.1f} us, wrapped {ttfb_ours:.1f} us "
        f"(+{ttfb_ours - ttfb_bare:.1f} us)"
    )

    print("\n/metrics render (counter series; ours leaves out _created)")
    for n, ours_ms, theirs_ms in render_times():
        print(
            f"  {n:>7,d} series: ours {ours_ms:8.1f} ms, generate_latest {theirs_ms:8.1f} ms "
            f"({ours_ms / theirs_ms:.2f}x)"
        )

    print(
        f"\nUnder uvicorn (uvloop, httptools, 1 worker on core 0; wrk -c32 {WRK_SECONDS}s on core 1, "
        f"median of {WRK_ROUNDS} interleaved rounds): server CPU per request (all its threads), "
        "and requests per second (which an idle core's wake-up latency distorts: see _wrk_run)"
    )
    # Interleaved rounds: a shared 2-core machine is noisy (runs of one variant differ by up
    # to 40 %), so every variant sees the same load.
    rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in variants()}
    for _ in range(WRK_ROUNDS):
        for name in rounds:
            value = _wrk_run(name)
            if value is not None:
                rounds[name].append(value)
    if not rounds["bare"]:
        print("  wrk not found (apt-get install wrk): skipped")
        return
    cpu = {name: statistics.median(c for _, c in v) if v else None for name, v in rounds.items()}
    rps = {name: statistics.median(r for r, _ in v) if v else None for name, v in rounds.items()}
    cpu_bare, cpu_min = cpu["bare"], cpu["minimal"]
    for name in rounds:
        c, r = cpu[name], rps[name]
        if c is None or r is None or cpu_bare is None:
            print(f"    {name:20s} n/a")
            continue
        over = f"(+{c - cpu_bare:6.1f} us)" if name != "bare" else " " * 12
        vs_min = ""
        if name not in ("bare", "minimal") and cpu_min is not None and cpu_min > cpu_bare:
            vs_min = f"  {(c - cpu_bare) / (cpu_min - cpu_bare):5.2f}x minimal's overhead"
        print(f"    {name:20s} {c:7.1f} us CPU/request {over}{vs_min}   {r:8.0f} req/s")
    print(f"\nTotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
