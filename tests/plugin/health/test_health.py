"""Liveness, readiness and detailed health (application/health+json), checks and token protection."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from robutler_monitoring.api.health import HealthRegistry
from robutler_monitoring.events import EventBus
from robutler_monitoring.plugin.config.schema import HealthChecksConfig
from robutler_monitoring.plugin.health import builtin
from robutler_monitoring.plugin.health.report import HealthReporter
from robutler_monitoring.plugin.http.endpoints import health_endpoints, protect
from robutler_monitoring.plugin.http.middleware import MonitoringMiddleware
from tests.support.servers import run_asgi

pytestmark = pytest.mark.slow

SECRET = "s3cret-token-value"


def _app(
    checks: HealthRegistry,
    *,
    token: str | None = None,
    ready: bool = True,
    cfg: HealthChecksConfig | None = None,
) -> tuple[MonitoringMiddleware, HealthReporter]:
    cfg = cfg or HealthChecksConfig(check_timeout=0.5)
    reporter = HealthReporter(cfg, checks, service_id="robutler-test")
    if ready:
        reporter.readiness.mark_ready()
    endpoints = health_endpoints(reporter)
    endpoints[cfg.detailed_endpoint] = protect(endpoints[cfg.detailed_endpoint], token)

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hi")

    async def resolve(request: Any) -> PlainTextResponse:
        # getaddrinfo runs on the loop's default executor: this answers only while it has room.
        loop = asyncio.get_running_loop()
        found = await asyncio.wait_for(loop.getaddrinfo("127.0.0.1", 80), timeout=5)
        return PlainTextResponse(found[0][4][0])

    app = Starlette(  # a catch-all, like the SDK server
        routes=[Route("/resolve", resolve), Route("/{path:path}", hello)]
    )
    return MonitoringMiddleware(app, bus=EventBus(), endpoints=endpoints), reporter


def test_liveness_checks_nothing() -> None:
    calls: list[str] = []
    checks = HealthRegistry()
    checks.register("database:connections", lambda: calls.append("sync"))

    async def ping() -> None:
        calls.append("async")

    checks.register("cache:ping", ping)
    app, _ = _app(checks)
    with run_asgi(app) as base, httpx.Client(base_url=base) as client:
        responses = [client.get("/health") for _ in range(5)]
        assert calls == []
        client.get("/health/detailed")  # the same checks do run for the detailed health
    for response in responses:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/health+json"
        assert response.json() == {"status": "pass"}
    assert sorted(calls) == ["async", "sync"]


def test_detailed_follows_the_health_json_draft() -> None:
    checks = HealthRegistry()
    checks.register("queue:depth", lambda: 7, component_type="component", observed_unit="jobs")
    app, _ = _app(checks)
    with run_asgi(app) as base, httpx.Client(base_url=base) as client:
        response = client.get("/health/detailed")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/health+json"
    doc = response.json()
    assert doc["status"] == "pass"
    assert doc["serviceId"] == "robutler-test" and doc["version"]
    for name in ("uptime", "memory:utilization", "eventloop:lag", "readiness", "queue:depth"):
        entry = doc["checks"][name][0]
        assert entry["status"] in ("pass", "warn", "fail")
        assert entry["time"].endswith("Z")
    assert doc["checks"]["queue:depth"][0]["observedValue"] == 7
    assert doc["checks"]["queue:depth"][0]["observedUnit"] == "jobs"
    assert doc["checks"]["uptime"][0]["observedUnit"] == "s"


def test_raising_slow_and_async_checks_fail_without_breaking_the_endpoint() -> None:
    checks = HealthRegistry()

    def raising() -> None:
        raise ConnectionError("postgres://admin:hunter2@db/prod unreachable")

    async def slow_async() -> bool:
        await asyncio.sleep(5)
        return True

    async def warn_async() -> dict[str, Any]:
        return {"status": "warn", "observedValue": 91, "password": "hunter2"}

    checks.register("database:connections", raising)
    checks.register("upstream:latency", slow_async)
    checks.register("disk:utilization", warn_async)
    release = threading.Event()
    checks.register("sync:slow", lambda: release.wait(30))
    app, _ = _app(checks)
    with run_asgi(app) as base, httpx.Client(base_url=base) as client:
        start = time.perf_counter()
        response = client.get("/health/detailed")
        elapsed = time.perf_counter() - start
        release.set()
    assert response.status_code == 503
    doc = response.json()
    assert doc["status"] == "fail"
    assert doc["checks"]["database:connections"][0]["status"] == "fail"
    assert doc["checks"]["database:connections"][0]["output"] == "check raised ConnectionError"
    assert "timed out" in doc["checks"]["upstream:latency"][0]["output"]
    assert doc["checks"]["sync:slow"][0]["status"] == "fail"
    assert doc["checks"]["disk:utilization"][0]["status"] == "warn"
    assert "hunter2" not in response.text  # neither exception messages nor unknown fields leak
    assert elapsed < 10  # bounded by the 0.5 s timeout, not by checks that would take 5 and 30 s


def test_a_hanging_sync_check_holds_one_thread_and_starves_nothing() -> None:
    release = threading.Event()
    started: list[int] = []

    def hangs() -> bool:
        started.append(threading.get_ident())
        return release.wait(60)

    checks = HealthRegistry()
    checks.register("database:ping", hangs)
    for i in range(6):  # more hung checks than any thread pool would hold
        checks.register(f"replica{i}:ping", lambda: release.wait(60))
    checks.register("queue:depth", lambda: 3)  # another sync check: it still runs, at once
    app, _ = _app(checks, cfg=HealthChecksConfig(check_timeout=1.0))
    try:
        with run_asgi(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            docs = [client.get("/health/detailed").json() for _ in range(20)]
            resolved = client.get("/resolve")
    finally:
        release.set()
    builtins = ("readiness", "uptime", "memory:utilization", "memory:rss", "eventloop:lag")
    for doc in docs:
        statuses = {name: doc["checks"][name][0]["status"] for name in builtins}
        assert statuses == dict.fromkeys(builtins, "pass")
        assert doc["checks"]["queue:depth"][0]["observedValue"] == 3
        assert doc["checks"]["database:ping"][0]["status"] == "fail"
    outputs = [doc["checks"]["database:ping"][0]["output"] for doc in docs]
    assert outputs[0] == "check timed out after 1 s"
    assert set(outputs[1:]) <= {outputs[0], "still running (previous run exceeded the timeout)"}
    assert "still running (previous run exceeded the timeout)" in outputs
    assert len(started) == 1  # never started again while the first run hangs
    assert resolved.status_code == 200 and resolved.text == "127.0.0.1"  # default executor free


def test_concurrent_requests_share_one_run_of_a_slow_check() -> None:
    calls: list[float] = []

    def slow() -> int:
        calls.append(time.monotonic())
        time.sleep(0.3)
        return 1

    checks = HealthRegistry()
    checks.register("upstream:latency", slow)
    app, _ = _app(checks, cfg=HealthChecksConfig(check_timeout=5))

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.gather(*(client.get("/health/detailed") for _ in range(5)))

    responses = asyncio.run(scenario())
    assert [r.json()["checks"]["upstream:latency"][0]["observedValue"] for r in responses] == [1] * 5
    assert len(calls) == 1


def test_warn_answers_200() -> None:
    checks = HealthRegistry()
    checks.register("disk:utilization", lambda: "warn")
    app, _ = _app(checks)
    with run_asgi(app) as base, httpx.Client(base_url=base) as client:
        response = client.get("/health/detailed")
    assert response.status_code == 200 and response.json()["status"] == "warn"


def test_token_protects_detailed_but_never_liveness() -> None:
    app, _ = _app(HealthRegistry(), token=SECRET)
    with run_asgi(app) as base, httpx.Client(base_url=base) as client:
        missing = client.get("/health/detailed")
        wrong = client.get("/health/detailed", headers={"Authorization": "Bearer nope"})
        basic = client.get("/health/detailed", auth=("user", SECRET))
        right = client.get("/health/detailed", headers={"Authorization": f"Bearer {SECRET}"})
        live = client.get("/health")
    for denied in (missing, wrong, basic):
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Bearer")
        assert SECRET not in denied.text
    assert right.status_code == 200 and SECRET not in right.text
    assert live.status_code == 200


def test_readiness_fails_while_starting_and_draining() -> None:
    app, reporter = _app(HealthRegistry(), ready=False)

    async def scenario() -> list[tuple[int, str]]:
        transport = httpx.ASGITransport(app=app)
        out = []
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for step in (None, reporter.readiness.mark_ready, reporter.readiness.mark_draining):
                if step:
                    step()
                ready = await client.get("/health/ready")
                detailed = await client.get("/health/detailed")
                out.append((ready.status_code, ready.json()["output"]))
                out.append((detailed.status_code, detailed.json()["checks"]["readiness"][0]["status"]))
        return out

    assert asyncio.run(scenario()) == [
        (503, "starting"),
        (503, "fail"),
        (200, "ready"),
        (200, "pass"),
        (503, "draining"),
        (503, "fail"),
    ]


def test_registry_rejects_bad_names_with_a_clear_error() -> None:
    checks = HealthRegistry()
    with pytest.raises(ValueError, match="health check name 'bad name!' is invalid"):
        checks.register("bad name!", lambda: True)
    with pytest.raises(TypeError, match="'db:ok': expected a callable"):
        checks.register("db:ok", 42)  # type: ignore[arg-type]


def test_memory_is_read_once_for_both_memory_checks_and_a_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    # Counting reads needs a spy: /proc gives the same answer either way.
    reads: list[None] = []
    real = builtin._memory

    def counted() -> tuple[int, int] | None:
        reads.append(None)
        return real()

    monkeypatch.setattr(builtin, "_memory", counted)
    reporter = HealthReporter(HealthChecksConfig(), HealthRegistry(), service_id="robutler-test")

    async def burst() -> list[dict[str, Any]]:
        return [(await reporter.detailed())[1] for _ in range(10)]

    docs = asyncio.run(burst())
    assert len(reads) == 1
    for doc in docs:
        assert doc["checks"]["memory:utilization"][0]["observedValue"] > 0
        assert doc["checks"]["memory:rss"][0]["observedValue"] > 0
