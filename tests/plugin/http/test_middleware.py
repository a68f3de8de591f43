"""The monitoring wrapper under a real uvicorn: metrics by route template, request ids, streams."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

from robutler_monitoring.events import EventBus, HttpRequest, Operation
from robutler_monitoring.host.types import ASGIApp
from robutler_monitoring.plugin.http.context import current_request_id
from robutler_monitoring.plugin.http.middleware import MonitoringMiddleware
from robutler_monitoring.plugin.http.routes import UNMATCHED
from robutler_monitoring.plugin.metrics.concern import HttpRecorder
from robutler_monitoring.plugin.metrics.errors import ErrorMetrics
from robutler_monitoring.plugin.metrics.http_local import http_metrics
from robutler_monitoring.plugin.metrics.registry import instruments_for
from tests.plugin.metrics.helpers import value
from tests.support.servers import run_asgi

pytestmark = pytest.mark.slow


def monitored(
    app: ASGIApp,
    registry: CollectorRegistry,
    *,
    endpoints: dict[str, ASGIApp] | None = None,
    listeners: tuple[Callable[[Any], None], ...] = (),
) -> MonitoringMiddleware:
    """The wrapper with the HTTP metrics (and ``listeners``) subscribed, as the plugin wires it."""
    bus = EventBus()
    errors = instruments_for(registry, ErrorMetrics)
    bus.on_subscriber_error = lambda exc, where: errors.count(exc, "listener")
    HttpRecorder(instruments_for(registry, http_metrics)).subscribe(bus)  # type: ignore[arg-type]
    for listener in listeners:
        bus.subscribe("http", on_end=listener)
    return MonitoringMiddleware(app, bus=bus, endpoints=endpoints)


def _demo_like_app(seen_ids: list[str | None]) -> Starlette:
    async def agents(request: Request) -> JSONResponse:
        seen_ids.append(current_request_id())
        return JSONResponse({"agents": ["alice"]})

    async def agent(request: Request) -> JSONResponse:
        return JSONResponse({"name": request.path_params["agent"]})

    async def chat(request: Request) -> StreamingResponse | JSONResponse:
        body = await request.json()
        if not body.get("stream"):
            return JSONResponse({"ok": True})
        delay = float(body.get("delay", 0.3))

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                seen_ids.append(current_request_id())
                yield f"data: {i}\n\n".encode()
                await asyncio.sleep(delay)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("item")

    return Starlette(
        routes=[
            Route("/agents", agents),
            Route("/{agent}", agent),
            Route("/{agent}/chat/completions", chat, methods=["POST"]),
            Mount("/api", routes=[Route("/items/{id:int}", item)]),
        ]
    )


def test_counts_by_route_template_and_bounds_unknown_paths_and_methods() -> None:
    registry = CollectorRegistry()
    app = monitored(_demo_like_app([]), registry)
    with run_asgi(app) as base, httpx.Client(base_url=base) as client:
        for _ in range(3):
            assert client.get("/agents").status_code == 200
        client.get("/alice")
        client.get("/bob")
        client.post("/alice/chat/completions", json={})
        client.get("/api/items/7")
        for i in range(200):
            client.get(f"/no/such/path/{i}")
        client.request("PROPFIND", "/agents")

    def total(method: str, route: str, status: str) -> float | None:
        outcome = "error" if status.startswith("5") else "success"  # a 404 is the client's error
        labels = {"method": method, "route": route, "status": status, "outcome": outcome}
        return value(registry, "robutler_http_requests_total", **labels)

    assert total("GET", "/agents", "200") == 3
    assert total("GET", "/{agent}", "200") == 2
    assert total("POST", "/{agent}/chat/completions", "200") == 1
    assert total("GET", "/api/items/{id}", "200") == 1
    assert total("GET", UNMATCHED, "404") == 200
    assert total("OTHER", "/agents", "405") == 1
    routes = {
        s.labels["route"] for m in registry.collect() if m.name == "robutler_http_requests" for s in m.samples
    }
    assert routes == {"/agents", "/{agent}", "/{agent}/chat/completions", "/api/items/{id}", UNMATCHED}
    hist = value(registry, "robutler_http_request_duration_seconds_count", method="GET", route="/agents")
    assert hist == 3
    assert value(registry, "robutler_http_requests_in_progress", method="GET", route="/agents") == 0


def test_request_id_is_kept_when_sane_replaced_when_not_and_visible_to_the_app() -> None:
    seen: list[str | None] = []
    app = monitored(_demo_like_app(seen), CollectorRegistry())
    with run_asgi(app) as base, httpx.Client(base_url=base) as client:
        kept = client.get("/agents", headers={"X-Request-ID": "abc-123.x"})
        replaced = client.get("/agents", headers={"X-Request-ID": "bad id\twith spaces"})
        fresh = client.get("/agents")
    assert kept.headers["x-request-id"] == "abc-123.x"
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(replaced.headers["x-request-id"]) == 32
    assert fresh.headers["x-request-id"] != replaced.headers["x-request-id"]
    assert seen == ["abc-123.x", replaced.headers["x-request-id"], fresh.headers["x-request-id"]]


def test_app_exception_counts_500_and_reraises_listeners_get_records() -> None:
    registry = CollectorRegistry()
    records: list[HttpRequest] = []

    def broken(record: Operation) -> None:
        raise KeyError("listener bug")

    inner = _demo_like_app([])

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        # Raise before any response, so the server itself answers (Starlette would send its own 500).
        if scope["type"] == "http" and scope["path"] == "/crash":
            raise RuntimeError("boom")
        await inner(scope, receive, send)

    wrapped = monitored(app, registry, listeners=(broken, records.append))
    with run_asgi(wrapped) as base, httpx.Client(base_url=base) as client:
        crashed = client.get("/crash")
        ok = client.get("/agents")
    assert crashed.status_code == 500  # uvicorn answered as it would without the wrapper
    assert ok.status_code == 200  # a raising listener broke nothing
    assert (
        value(
            registry,
            "robutler_http_requests_total",
            method="GET",
            route=UNMATCHED,
            status="500",
            outcome="error",
        )
        == 1
    )
    assert value(registry, "robutler_errors_total", type="RuntimeError", source="http") == 1
    assert value(registry, "robutler_errors_total", type="KeyError", source="listener") == 2
    # no byte of it was sent: timed, but no time to first byte (the latency objective skips it)
    timed = {"method": "GET", "route": UNMATCHED}
    assert value(registry, "robutler_http_request_duration_seconds_count", **timed) == 1
    assert value(registry, "robutler_http_time_to_first_byte_seconds_count", **timed) == 0
    crash_record, ok_record = records
    assert crash_record.status == 500 and crash_record.error_type == "RuntimeError"
    assert crash_record.outcome == "error" and ok_record.outcome == "success"
    assert ok_record.route == "/agents" and ok_record.status == 200
    assert ok_record.request_id == ok.headers["x-request-id"]
    assert ok_record.ttfb_s is not None and (ok_record.duration_s or 0) >= ok_record.ttfb_s


def test_stream_first_chunk_arrives_before_the_end_and_duration_covers_the_stream() -> None:
    registry = CollectorRegistry()
    seen: list[str | None] = []
    app = monitored(_demo_like_app(seen), registry)
    with run_asgi(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        start = time.perf_counter()
        with client.stream(
            "POST", "/alice/chat/completions", json={"stream": True, "delay": 0.3}
        ) as response:
            chunks = response.iter_raw()
            first = next(chunks)
            first_at = time.perf_counter() - start
            rest = b"".join(chunks)
            end_at = time.perf_counter() - start
    assert first.startswith(b"data: 0")
    assert b"[DONE]" in rest
    # The app sleeps 0.9 s after yielding the first chunk: a buffering wrapper would hand
    # it over at the end. Half of that margin absorbs a slow client on a loaded machine.
    assert end_at - first_at > 0.45
    labels = {"method": "POST", "route": "/{agent}/chat/completions"}
    duration = value(registry, "robutler_http_request_duration_seconds_sum", **labels)
    ttfb = value(registry, "robutler_http_time_to_first_byte_seconds_sum", **labels)
    assert duration is not None and ttfb is not None
    assert duration >= 0.85  # the whole stream
    assert duration - ttfb >= 0.85  # the first byte left before the app's sleeps
    assert len(set(seen)) == 1 and seen[0] == response.headers["x-request-id"]


def test_a_scrape_right_after_the_last_chunk_sees_the_request_once() -> None:
    # The app keeps running after its last body message (Starlette tears down its stream
    # task group, a background task runs): the request is over for the client, so a scrape
    # sent right then must count it, and the access log must hear of it once.
    registry = CollectorRegistry()
    records: list[HttpRequest] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: 0\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        await asyncio.sleep(0.5)  # after the response: teardown, a background task

    labels = {"method": "GET", "route": UNMATCHED}
    seen: list[tuple[float | None, float | None, float | None, int]] = []

    async def metrics_endpoint(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(
            (
                value(registry, "robutler_http_requests_total", status="200", outcome="success", **labels),
                value(registry, "robutler_http_request_duration_seconds_count", **labels),
                value(registry, "robutler_http_requests_in_progress", **labels),
                sum(r.path == "/events" for r in records),
            )
        )
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wrapped = monitored(app, registry, endpoints={"/metrics": metrics_endpoint}, listeners=(records.append,))
    with run_asgi(wrapped, lifespan="off") as base, httpx.Client(base_url=base) as client:
        for _ in range(3):
            with client.stream("GET", "/events") as response:
                assert b"".join(response.iter_raw()).endswith(b"[DONE]\n\n")
            client.get("/metrics")
        time.sleep(0.7)  # let the last app call return: it must not count the request again
    assert seen == [(1, 1, 0, 1), (2, 2, 0, 2), (3, 3, 0, 3)]
    assert value(registry, "robutler_http_requests_total", status="200", outcome="success", **labels) == 3
    assert value(registry, "robutler_http_requests_in_progress", **labels) == 0
    assert [r.status for r in records if r.path == "/events"] == [200, 200, 200]


def test_the_request_id_outlives_an_exception_for_the_traceback_line() -> None:
    # uvicorn logs "Exception in ASGI application" in the request's own task after the
    # exception left the wrapper; that line needs the id. A normal request resets it.
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["path"] == "/crash":
            raise RuntimeError("boom")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wrapped = monitored(app, CollectorRegistry())

    async def call(path: str) -> str | None:
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "root_path": "",
            "headers": [(b"x-request-id", b"req-42")],
        }

        async def receive():  # type: ignore[no-untyped-def]
            return {"type": "http.request", "body": b""}

        async def send(message):  # type: ignore[no-untyped-def]
            pass

        with contextlib.suppress(RuntimeError):
            await wrapped(scope, receive, send)
        return current_request_id()

    assert asyncio.run(call("/crash")) == "req-42"
    assert asyncio.run(call("/fine")) is None


def test_an_app_that_sets_its_own_request_id_keeps_it_and_gets_no_second_one() -> None:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"text/plain"), (b"X-Request-ID", b"from-the-app")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    wrapped = monitored(app, CollectorRegistry())
    with run_asgi(wrapped, lifespan="off") as base, httpx.Client(base_url=base) as client:
        own = client.get("/x")
        incoming = client.get("/x", headers={"X-Request-ID": "from-the-client"})
    assert own.headers.get_list("x-request-id") == ["from-the-app"]
    assert incoming.headers.get_list("x-request-id") == ["from-the-app"]


def test_client_disconnect_mid_stream_counts_499() -> None:
    registry = CollectorRegistry()
    app = monitored(_demo_like_app([]), registry)
    with run_asgi(app) as base:
        port = int(base.rsplit(":", 1)[1])
        body = b'{"stream": true, "delay": 0.3}'
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"POST /alice/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            received = b""
            while b"data: 0" not in received:
                received += sock.recv(4096)
        labels = {
            "method": "POST",
            "route": "/{agent}/chat/completions",
            "status": "499",
            "outcome": "client_closed",
        }
        deadline = time.monotonic() + 5
        while value(registry, "robutler_http_requests_total", **labels) is None:
            assert time.monotonic() < deadline, "disconnect was not counted"
            time.sleep(0.05)
    assert value(registry, "robutler_http_requests_total", **labels) == 1
    assert value(registry, "robutler_errors_total", type="OSError", source="http") is None


def test_monitoring_endpoints_win_over_a_catch_all_route() -> None:
    async def catch_all(request: Request) -> PlainTextResponse:
        return PlainTextResponse("app")

    async def metrics_endpoint(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ours"})

    app = Starlette(routes=[Route("/{path:path}", catch_all)])
    wrapped = monitored(app, CollectorRegistry(), endpoints={"/metrics": metrics_endpoint})
    with run_asgi(wrapped) as base, httpx.Client(base_url=base) as client:
        assert client.get("/metrics").text == "ours"
        assert client.get("/anything").text == "app"


def test_plain_asgi_app_without_routes_uses_the_bounded_label() -> None:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    registry = CollectorRegistry()
    with (
        run_asgi(monitored(app, registry), lifespan="off") as base,
        httpx.Client(base_url=base) as client,
    ):
        for i in range(5):
            client.get(f"/u/{i}")
    assert (
        value(
            registry,
            "robutler_http_requests_total",
            method="GET",
            route=UNMATCHED,
            status="204",
            outcome="success",
        )
        == 5
    )
