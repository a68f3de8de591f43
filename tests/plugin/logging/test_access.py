"""Request ids bound to every line of a request (concurrent, streaming), and the access record.

A tiny stand-in for the monitoring middleware sets the request id the way
``plugin/middleware.py`` does; the end-to-end tests in ``test_serve_logs.py``
cover the real one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from robutler_monitoring import get_logger
from robutler_monitoring.host.settings import ServeSettings
from robutler_monitoring.host.types import ASGIApp, Message, Receive, Scope, Send
from robutler_monitoring.plugin.config.schema import MonitoringConfig
from robutler_monitoring.plugin.context import (
    RequestRecord,
    new_request_id,
    request_id_var,
    sanitize_request_id,
)
from robutler_monitoring.plugin.logging import hooks
from robutler_monitoring.plugin.logging.access import AccessLogger
from tests.support.servers import run_asgi

from .support import Captured, captured


class RequestIdStandIn:
    """Sets ``request_id_var`` for the whole response and calls the listeners after it."""

    def __init__(self, app: ASGIApp, listeners: list[Callable[[RequestRecord], None]]) -> None:
        self.app = app
        self.listeners = listeners

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id")
        rid = sanitize_request_id(incoming) or new_request_id()
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            client = scope.get("client")
            record = RequestRecord(
                method=scope["method"], path=scope["path"], route=scope["path"], status=status,
                duration_s=time.perf_counter() - started, ttfb_s=None,
                client=f"{client[0]}:{client[1]}" if client else None, request_id=rid,
            )  # fmt: skip
            for listener in self.listeners:
                listener(record)


async def work(request: Request) -> PlainTextResponse:
    job = request.path_params["job"]
    get_logger("app.handler").info(f"start {job}", job=job)
    await asyncio.sleep(0.01)  # let the other requests interleave
    logging.getLogger("app.stdlib").info("middle %s", job)
    await asyncio.sleep(0.01)
    get_logger("app.handler").info(f"end {job}")
    return PlainTextResponse(job)


async def stream(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[str]:
        for i in range(3):
            logging.getLogger("app.stream").info("chunk %d", i)
            yield f"data: {i}\n\n"
            await asyncio.sleep(0.02)

    return StreamingResponse(chunks(), media_type="text/event-stream")


def _app(logs: Captured, **access: object) -> ASGIApp:
    inner = Starlette(routes=[Route("/work/{job}", work), Route("/stream", stream), Route("/health", work)])
    return RequestIdStandIn(inner, [AccessLogger(logs.handle.sink, **access)])  # type: ignore[arg-type]


def test_concurrent_requests_each_see_their_own_id(logs: Captured) -> None:
    async def go(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            return await asyncio.gather(
                *(client.get(f"/work/j{i}", headers={"X-Request-ID": f"rid-{i}"}) for i in range(20))
            )

    with run_asgi(_app(logs)) as base:
        responses = asyncio.run(go(base))
    assert [r.headers["x-request-id"] for r in responses] == [f"rid-{i}" for i in range(20)]
    entries = logs.entries()
    for i in range(20):
        mine = [e for e in entries if e.get("job") == f"j{i}" or e["message"].endswith(f" j{i}")]
        assert len(mine) == 3, mine
        assert {e["request_id"] for e in mine} == {f"rid-{i}"}
        assert {e["logger"] for e in mine} == {"app.handler", "app.stdlib"}


def test_an_insane_incoming_id_is_replaced(logs: Captured) -> None:
    with run_asgi(_app(logs)) as base:
        response = httpx.get(f"{base}/work/x", headers={"X-Request-ID": "<script>" + "a" * 300})
    rid = response.headers["x-request-id"]
    assert len(rid) == 32 and all(c in "0123456789abcdef" for c in rid)
    assert {e["request_id"] for e in logs.entries() if e["logger"].startswith("app.")} == {rid}
    assert "<script>" not in logs.text()


def test_lines_logged_while_streaming_carry_the_id(logs: Captured) -> None:
    with run_asgi(_app(logs)) as base:
        body = httpx.get(f"{base}/stream", headers={"X-Request-ID": "stream-1"}).text
    assert body.count("data:") == 3
    chunk_lines = [e for e in logs.entries() if e["logger"] == "app.stream"]
    assert [e["message"] for e in chunk_lines] == ["chunk 0", "chunk 1", "chunk 2"]
    assert {e["request_id"] for e in chunk_lines} == {"stream-1"}
    access = [e for e in logs.entries() if e["logger"] == "robutler.access"]
    assert access[0]["duration_ms"] >= 40  # the whole stream, not the first chunk


def test_access_record_fields_and_skipped_paths(logs: Captured) -> None:
    with run_asgi(_app(logs, skip_paths=("/health",))) as base:
        httpx.get(f"{base}/work/a", headers={"X-Request-ID": "acc-1"})
        httpx.get(f"{base}/health")
        httpx.get(f"{base}/nope")
    access = [e for e in logs.entries() if e["logger"] == "robutler.access"]
    assert [e["path"] for e in access] == ["/work/a", "/nope"]
    first = access[0]
    assert first["message"] == "GET /work/a 200"
    assert first["request_id"] == "acc-1"
    assert (first["method"], first["status"], first["route"]) == ("GET", 200, "/work/a")
    assert first["duration_ms"] > 0 and first["client"].startswith("127.0.0.1:")
    assert list(first)[:5] == ["timestamp", "level", "logger", "message", "request_id"]
    assert access[1]["status"] == 404


def test_access_log_level_follows_status() -> None:
    with captured(level="INFO") as logs:
        listener = AccessLogger(logs.handle.sink)
        for status in (200, 503):
            listener(RequestRecord("POST", "/a", "/a", status, 0.01, 0.001, None, "r"))
        assert [e["level"] for e in logs.entries()] == ["INFO", "ERROR"]


def test_access_log_can_be_turned_off() -> None:
    settings = ServeSettings()
    on = MonitoringConfig.model_validate({"logging": {"output": "stderr"}})
    off = MonitoringConfig.model_validate({"logging": {"access_log": False}})
    try:
        assert len(hooks.request_listeners(on, settings)) == 1
        assert hooks.request_listeners(off, settings) == []
    finally:
        from robutler_monitoring.plugin.logging.setup import process_handle

        handle = process_handle()
        assert handle is not None
        handle.close()


def _generic_line(logs: Captured, record: RequestRecord) -> dict[str, object]:
    """The access record as the generic path (``LogSink.emit``: build_entry + to_json) writes it."""
    listener = AccessLogger(logs.handle.sink)
    listener._write = None  # the console-format path, which goes through build_entry
    listener(record)
    return logs.entries()[-1]


def test_the_fast_json_line_is_the_generic_entry() -> None:
    from robutler_monitoring.plugin.context import agent_var

    records = [
        RequestRecord("GET", "/agents", "/agents", 200, 0.0012345, 0.001, "127.0.0.1:5000", "rid-1"),
        RequestRecord("POST", "/x", "/x", 503, 1.0, None, None, "rid-2", error=ValueError("boom")),
        RequestRecord("GET", '/caf\u00e9/"q"\n', "/{p}", 404, 0.0, 0.0, "[::1]:8", "rid-3"),
        RequestRecord("GET", "/reset/token=s3cr3t", "/reset/{t}", 200, 0.2, 0.1, "10.0.0.1:1", "rid-4"),
    ]
    token = agent_var.set("assistant")
    try:
        for record in records:
            with captured(level="DEBUG") as fast:
                AccessLogger(fast.handle.sink)(record)
                line = fast.text()
                got = fast.entries()[-1]
            with captured(level="DEBUG") as slow:
                want = _generic_line(slow, record)
            assert line.count("\n") == 1 and line.endswith("\n")
            assert list(got) == list(want)
            got.pop("timestamp"), want.pop("timestamp")
            assert got == want
    finally:
        agent_var.reset(token)
    assert "s3cr3t" not in line and got["path"] == "/reset/token=***"
