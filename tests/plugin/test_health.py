"""Liveness, readiness and detailed health (application/health+json), checks and token protection."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from robutler_monitoring.plugin.config.schema import HealthChecksConfig
from robutler_monitoring.plugin.endpoints import health_endpoints, protect
from robutler_monitoring.plugin.health.checks import HealthRegistry
from robutler_monitoring.plugin.health.report import HealthReporter
from robutler_monitoring.plugin.middleware import MonitoringMiddleware
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

    app = Starlette(routes=[Route("/{path:path}", hello)])  # a catch-all, like the SDK server
    return MonitoringMiddleware(app, registry=CollectorRegistry(), endpoints=endpoints), reporter


def test_liveness_is_fast_and_checks_nothing() -> None:
    checks = HealthRegistry()
    checks.register("database:connections", lambda: time.sleep(5))  # would time out if run
    app, _ = _app(checks)
    with run_asgi(app) as base, httpx.Client(base_url=base) as client:
        start = time.perf_counter()
        response = client.get("/health")
        elapsed = time.perf_counter() - start
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/health+json"
    assert response.json() == {"status": "pass"}
    assert elapsed < 0.2


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
    checks.register("sync:slow", lambda: time.sleep(3))
    app, _ = _app(checks)
    with run_asgi(app) as base, httpx.Client(base_url=base) as client:
        start = time.perf_counter()
        response = client.get("/health/detailed")
        elapsed = time.perf_counter() - start
    assert response.status_code == 503
    doc = response.json()
    assert doc["status"] == "fail"
    assert doc["checks"]["database:connections"][0]["status"] == "fail"
    assert doc["checks"]["database:connections"][0]["output"] == "check raised ConnectionError"
    assert "timed out" in doc["checks"]["upstream:latency"][0]["output"]
    assert doc["checks"]["sync:slow"][0]["status"] == "fail"
    assert doc["checks"]["disk:utilization"][0]["status"] == "warn"
    assert "hunter2" not in response.text  # neither exception messages nor unknown fields leak
    assert elapsed < 1.5  # checks ran concurrently, each bounded by the 0.5 s timeout


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
