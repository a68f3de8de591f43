"""Log lines written inside a traced operation carry its trace and span ids."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from robutler_monitoring.events import EventBus, Operation, agent_run, skill_call, tool_call
from robutler_monitoring.host.types import Receive, Scope, Send
from robutler_monitoring.plugin.config.schema import TracingConfig
from robutler_monitoring.plugin.logging.entry import build_entry
from robutler_monitoring.plugin.tracing.pipeline import Tracing
from robutler_monitoring.plugin.tracing.settings import resolve

from .support import HttpProducer, call, http_scope


def _line() -> dict[str, object]:
    return build_entry(0.0, "INFO", "app", "hello", {})


def test_lines_inside_spans_carry_ids_and_lines_outside_do_not() -> None:
    bus, exporter = EventBus(), InMemorySpanExporter()
    tracing = Tracing(resolve(TracingConfig(enabled=True)), bus=bus, exporter=exporter).start()
    try:
        outside = _line()
        with agent_run("assistant", bus=bus):
            in_agent = _line()
            with tool_call("calculator", bus=bus):
                in_tool = _line()
            with skill_call("calculator", "evaluate", bus=bus):  # no span of its own: the agent's
                in_skill = _line()
    finally:
        tracing.shutdown()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    agent, tool = spans["invoke_agent assistant"], spans["execute_tool calculator"]
    trace_hex = format(agent.context.trace_id, "032x")
    assert "trace_id" not in outside and "span_id" not in outside
    assert (in_agent["trace_id"], in_agent["span_id"]) == (trace_hex, format(agent.context.span_id, "016x"))
    assert (in_tool["trace_id"], in_tool["span_id"]) == (trace_hex, format(tool.context.span_id, "016x"))
    assert in_skill["span_id"] == in_agent["span_id"]
    assert "trace_id" not in _line()  # tracing shut down: the hook is gone


def test_unsampled_operations_add_no_ids() -> None:
    bus = EventBus()
    settings = resolve(TracingConfig(enabled=True, sampling_ratio=0.0))
    tracing = Tracing(settings, bus=bus, exporter=InMemorySpanExporter()).start()
    try:
        with agent_run("assistant", bus=bus):
            line = _line()
    finally:
        tracing.shutdown()
    assert "trace_id" not in line


def test_a_line_written_when_the_request_ends_carries_the_request_ids() -> None:
    bus, exporter = EventBus(), InMemorySpanExporter()
    access_lines: list[dict[str, object]] = []

    def access_log(op: Operation) -> None:  # like the access record: a subscriber to the end
        access_lines.append(_line())

    bus.subscribe("http", on_end=access_log)  # before tracing, as the logging concern is
    tracing = Tracing(resolve(TracingConfig(enabled=True)), bus=bus, exporter=exporter).start()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    try:
        asyncio.run(call(HttpProducer(tracing.wrap(app), bus, "/x"), http_scope("/x")))
    finally:
        tracing.shutdown()
    (server,) = exporter.get_finished_spans()
    assert access_lines[0]["trace_id"] == format(server.context.trace_id, "032x")
    assert access_lines[0]["span_id"] == format(server.context.span_id, "016x")
