"""Request ids bound to every line of a request (concurrent, streaming), and the access record.

The monitoring middleware runs with only the access log subscribed to its bus; the
end-to-end tests in ``test_serve_logs.py`` cover the whole plugin.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from robutler_monitoring import get_logger
from robutler_monitoring.events import EventBus, HttpRequest
from robutler_monitoring.host.settings import ServeSettings
from robutler_monitoring.host.types import ASGIApp, Receive, Scope, Send
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


def _fast_and_generic(
    *requests: tuple[str, int, str, dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """The fast JSON access lines of ``requests``, the generic entries of the same, and the fast text."""
    with captured(level="DEBUG") as fast, captured(level="DEBUG") as slow:
        generic = AccessLogger(slow.handle.sink)
        generic._write = None  # the console format's path: build_entry
        bus = EventBus()
        bus.subscribe("http", on_end=AccessLogger(fast.handle.sink))
        bus.subscribe("http", on_end=generic)
        for path, status, outcome, attrs in requests:
            _end(bus, path, status, outcome, **attrs)
        return fast.entries(), slow.entries(), fast.text()


def _same_but_timestamp(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    for mine, theirs in zip(got, want, strict=True):
        assert list(mine) == list(theirs)
        mine.pop("timestamp"), theirs.pop("timestamp")
        assert mine == theirs


def test_the_fast_json_line_is_the_generic_entry() -> None:
    # the JSON access line is built by hand for speed: it must be exactly what the
    # generic entry (build_entry + to_json, the console format's path) would write
    got, want, lines = _fast_and_generic(
        ("/agents", 200, "success", {"route": "/agents", "ttfb_s": 0.0012345}),
        ("/x", 503, "error", {"route": "/x", "error": ValueError("boom")}),
        ('/caf\u00e9/"q"\n', 404, "success", {"route": None, "peer": None}),
        ("/reset/token=s3cr3t", 200, "error", {"route": "/reset/{t}", "inner_error": "DemoAgentError"}),
    )
    assert len(got) == len(want) == 4
    assert len(lines.splitlines()) == 4
    _same_but_timestamp(got, want)
    assert "s3cr3t" not in lines and got[3]["path"] == "/reset/token=***"
    assert [e["level"] for e in got] == ["INFO", "ERROR", "INFO", "ERROR"]


def test_access_lines_keep_their_place_among_the_other_lines(logs: Captured) -> None:
    # the access line is formatted later, by the writer thread: it still lands where it was queued
    with run_asgi(_app(logs)) as base, httpx.Client(base_url=base, timeout=10) as client:
        for job in ("a", "b", "c"):
            client.get(f"/work/{job}", headers={"X-Request-ID": f"order-{job}"})
            logging.getLogger("app.between").info("between %s", job)
    seen = [
        (e["logger"], e["message"])
        for e in logs.entries()
        if e["logger"].startswith(("app.", "robutler.access"))
    ]
    expected = []
    for job in ("a", "b", "c"):
        expected += [
            ("app.handler", f"start {job}"),
            ("app.stdlib", f"middle {job}"),
            ("app.handler", f"end {job}"),
            ("robutler.access", f"GET /work/{job} 200"),
            ("app.between", f"between {job}"),
        ]
    assert seen == expected


def test_the_fast_json_line_carries_agent_trace_ids_client_and_error_as_the_generic_entry() -> None:
    from robutler_monitoring.plugin.logging.trace_ids import set_trace_ids_source

    trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    previous = set_trace_ids_source(lambda: (trace, span))
    try:
        got, want, _ = _fast_and_generic(
            (
                "/assistant/chat",
                500,
                "error",
                {"route": "/{agent}/chat", "agent": "assistant", "error": KeyError("x")},
            ),
            ("/agents", 200, "success", {"route": "/agents", "peer": ("::1", 6000)}),
        )
    finally:
        set_trace_ids_source(previous)
    first, second = got
    assert first.pop("agent") == "assistant"  # the route's agent (the console path names only a run's)
    _same_but_timestamp(got, want)
    assert first["request_id"] == "rid-500"
    assert (first["trace_id"], first["span_id"]) == (trace, span)
    assert first["error"] == "KeyError" and first["ttfb_ms"] is None and first["client"] == "127.0.0.1:5000"
    assert "agent" not in second and "error" not in second and second["client"] == "::1:6000"


def test_warning_level_keeps_only_the_access_lines_of_failed_requests() -> None:
    with captured(level="WARNING") as logs:
        bus = EventBus()
        bus.subscribe("http", on_end=AccessLogger(logs.handle.sink))
        _end(bus, "/ok", 200, "success")
        _end(bus, "/missing", 404, "success")
        _end(bus, "/down", 503, "error")
        _end(bus, "/stream", 200, "error", inner_error="DemoAgentError")
        entries = logs.entries()
    assert [(e["path"], e["level"]) for e in entries] == [("/down", "ERROR"), ("/stream", "ERROR")]


def test_queued_access_lines_are_written_when_the_output_closes() -> None:
    # a writer that would not wake for a minute: only close (as at shutdown) writes the lines
    with captured(level="INFO") as logs:
        writer = logs.handle.sink.writer
        writer.linger = 60.0
        bus = EventBus()
        bus.subscribe("http", on_end=AccessLogger(logs.handle.sink))
        writer.flush()  # the writer thread is asleep, lingering on the next wake-up
        for status in (200, 201, 202):
            _end(bus, f"/s{status}", status, "success")
        assert logs.buffer.getvalue() == ""  # still queued, as values: nothing formatted yet
        logs.handle.close()
        lines = logs.buffer.getvalue().splitlines()
    assert [json.loads(line)["status"] for line in lines] == [200, 201, 202]


def test_the_access_line_of_a_traced_request_carries_its_span_ids() -> None:
    # the ids are taken when the request ends, in its context, though the line is formatted later
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from robutler_monitoring.plugin.config.schema import TracingConfig
    from robutler_monitoring.plugin.tracing.pipeline import Tracing
    from robutler_monitoring.plugin.tracing.settings import resolve
    from tests.plugin.tracing.support import HttpProducer, call, http_scope

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with captured(level="INFO") as logs:
        bus, exporter = EventBus(), InMemorySpanExporter()
        bus.subscribe("http", on_end=AccessLogger(logs.handle.sink))  # before tracing, as the concern is
        tracing = Tracing(resolve(TracingConfig(enabled=True)), bus=bus, exporter=exporter).start()
        try:
            asyncio.run(call(HttpProducer(tracing.wrap(app), bus, "/x"), http_scope("/x")))
        finally:
            tracing.shutdown()
        (line,) = logs.entries()
    (server,) = exporter.get_finished_spans()
    assert (line["message"], line["trace_id"]) == ("POST /x 200", format(server.context.trace_id, "032x"))
    assert line["span_id"] == format(server.context.span_id, "016x")


def test_the_timestamp_follows_every_line_across_seconds_and_a_clock_stepped_back() -> None:
    # the second is formatted once and reused: each line must still show its own time
    with captured(level="INFO") as logs:
        logger = AccessLogger(logs.handle.sink)
        base = ("GET", "/a", "/a", 200, "success", "rid", (None, None), None, 0.001, 0.0005, None, None)
        times = (1_700_000_000.9995, 1_700_000_001.0, 1_700_000_001.25, 1_699_999_999.5, 1_700_000_001.999)
        lines = [json.loads(logger.render((0, ts, *base))) for ts in times]
    assert [line["timestamp"] for line in lines] == [
        "2023-11-14T22:13:20.999Z",
        "2023-11-14T22:13:21.000Z",
        "2023-11-14T22:13:21.250Z",
        "2023-11-14T22:13:19.500Z",
        "2023-11-14T22:13:21.999Z",
    ]
    assert lines[0]["duration_ms"] == 1.0 and lines[0]["ttfb_ms"] == 0.5
