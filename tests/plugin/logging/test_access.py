"""Request ids bound to every line of a request (concurrent, streaming), and the access record.

The monitoring middleware runs with only the access log subscribed to its bus; the
end-to-end tests in ``test_serve_logs.py`` cover the whole plugin.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from robutler_monitoring import get_logger
from robutler_monitoring.events import EventBus, HttpRequest
from robutler_monitoring.host.settings import ServeSettings
from robutler_monitoring.host.types import ASGIApp
from robutler_monitoring.plugin.config.schema import MonitoringConfig
from robutler_monitoring.plugin.http.middleware import MonitoringMiddleware
from robutler_monitoring.plugin.logging.access import AccessLogger
from robutler_monitoring.plugin.logging.concern import LoggingConcern
from robutler_monitoring.plugin.runtime import Runtime
from tests.support.servers import run_asgi

from .support import Captured, captured


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
    bus = EventBus()
    bus.subscribe("http", on_end=AccessLogger(logs.handle.sink, **access))  # type: ignore[arg-type]
    return MonitoringMiddleware(inner, bus=bus)


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
    assert (first["method"], first["status"], first["route"]) == ("GET", 200, "/work/{job}")
    assert first["outcome"] == "success"
    assert first["duration_ms"] > 0 and first["client"].startswith("127.0.0.1:")
    assert list(first)[:5] == ["timestamp", "level", "logger", "message", "request_id"]
    assert access[1]["status"] == 404


def test_access_log_level_follows_status_and_outcome() -> None:
    with captured(level="INFO") as logs:
        bus = EventBus()
        bus.subscribe("http", on_end=AccessLogger(logs.handle.sink))
        for status, inner_error in ((200, None), (503, None), (200, "DemoAgentError")):
            op = HttpRequest("POST", "/a", request_id="r", bus=bus).begin()
            op.status, op.route, op.inner_error = status, "/a", inner_error
            op.end(outcome="error" if status >= 500 or inner_error else "success")
        entries = logs.entries()
        assert [e["level"] for e in entries] == ["INFO", "ERROR", "ERROR"]
        assert [e["outcome"] for e in entries] == ["success", "error", "error"]
        assert entries[2]["status"] == 200 and entries[2]["error"] == "DemoAgentError"


def test_access_log_can_be_turned_off() -> None:
    settings = ServeSettings()
    on = MonitoringConfig.model_validate({"logging": {"output": "stderr"}})
    off = MonitoringConfig.model_validate({"logging": {"access_log": False}})
    try:
        for cfg, subscribed in ((on, True), (off, False)):
            rt = Runtime(settings, cfg, bus=EventBus(), concerns=[LoggingConcern])
            rt.concerns[0].subscribe(rt)
            assert rt.bus.has_subscribers("http") is subscribed
    finally:
        from robutler_monitoring.plugin.logging.setup import process_handle

        handle = process_handle()
        assert handle is not None
        handle.close()


def _end(bus: EventBus, path: str, status: int, outcome: str, **attrs: object) -> None:
    op = HttpRequest("GET", path, request_id=f"rid-{status}", bus=bus).begin()
    op.status = status
    op.peer = ("127.0.0.1", 5000)
    for name, value in attrs.items():
        setattr(op, name, value)
    error = attrs.pop("error", None)
    op.end(outcome=outcome, error=error)  # type: ignore[arg-type]


def test_the_fast_json_line_is_the_generic_entry() -> None:
    # the JSON access line is built by hand for speed: it must be exactly what the
    # generic entry (build_entry + to_json, the console format's path) would write
    with captured(level="DEBUG") as fast, captured(level="DEBUG") as slow:
        generic = AccessLogger(slow.handle.sink)
        generic._write = None  # the console format's path: build_entry
        bus = EventBus()
        bus.subscribe("http", on_end=AccessLogger(fast.handle.sink))
        bus.subscribe("http", on_end=generic)
        _end(bus, "/agents", 200, "success", route="/agents", ttfb_s=0.0012345)
        _end(bus, "/x", 503, "error", route="/x", error=ValueError("boom"))
        _end(bus, '/caf\u00e9/"q"\n', 404, "success", route=None, peer=None)
        _end(bus, "/reset/token=s3cr3t", 200, "error", route="/reset/{t}", inner_error="DemoAgentError")
        got, want = fast.entries(), slow.entries()
        lines = fast.text()
    assert len(got) == len(want) == 4
    assert len(lines.splitlines()) == 4
    for mine, theirs in zip(got, want, strict=True):
        assert list(mine) == list(theirs)
        mine.pop("timestamp"), theirs.pop("timestamp")
        assert mine == theirs
    assert "s3cr3t" not in lines and got[3]["path"] == "/reset/token=***"
    assert [e["level"] for e in got] == ["INFO", "ERROR", "INFO", "ERROR"]
