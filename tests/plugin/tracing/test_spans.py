"""Spans from operations: names, attributes, nesting, traceparent, endings, exceptions, content."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from robutler_monitoring.events import (
    AgentRun,
    LLMCall,
    ToolCall,
    agent_run,
    llm_call,
    record_llm_call,
    tool_call,
)
from robutler_monitoring.host.types import Message, Receive, Scope, Send
from robutler_monitoring.plugin.tracing.spans import current_trace_ids, remote_context

from .support import Traced, attrs, call, http_scope

PARENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN = "b7ad6b7169203331"


def _agent_app(t: Traced, seen_ids: list[tuple[str | None, str | None]]):  # type: ignore[no-untyped-def]
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen_ids.append(current_trace_ids())
        with agent_run("assistant", bus=t.bus):
            with tool_call("calculator", call_id="call_1", bus=t.bus):
                seen_ids.append(current_trace_ids())
            with llm_call("demo-assistant-1", provider="openai", bus=t.bus) as llm:
                llm.first_token()
                llm.set_usage(input_tokens=30, output_tokens=7, cache_read_tokens=10, response_model="demo-1")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def test_request_agent_tool_and_chat_make_one_tree_with_semconv_attributes() -> None:
    t = Traced()
    ids: list[tuple[str | None, str | None]] = []
    sent = asyncio.run(call(t.app(_agent_app(t, ids)), http_scope()))
    spans = t.by_name()
    assert set(spans) == {
        "POST /{agent}/chat/completions",
        "invoke_agent assistant",
        "execute_tool calculator",
        "chat demo-assistant-1",
    }
    server, agent = spans["POST /{agent}/chat/completions"], spans["invoke_agent assistant"]
    tool, chat = spans["execute_tool calculator"], spans["chat demo-assistant-1"]
    assert len({s.context.trace_id for s in spans.values()}) == 1
    assert server.parent is None
    assert agent.parent is not None and agent.parent.span_id == server.context.span_id
    assert tool.parent is not None and tool.parent.span_id == agent.context.span_id
    assert chat.parent is not None and chat.parent.span_id == agent.context.span_id
    assert (server.kind, agent.kind, tool.kind, chat.kind) == (
        SpanKind.SERVER, SpanKind.INTERNAL, SpanKind.INTERNAL, SpanKind.CLIENT,
    )  # fmt: skip
    assert attrs(server) | {} == {
        "http.request.method": "POST",
        "url.path": "/assistant/chat/completions",
        "url.scheme": "http",
        "client.address": "127.0.0.1",
        "http.response.status_code": 200,
        "http.route": "/{agent}/chat/completions",
    }
    assert attrs(agent) == {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "assistant"}
    assert attrs(tool) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "calculator",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.agent.name": "assistant",
    }
    chat_attrs = attrs(chat)
    ttft = chat_attrs.pop("gen_ai.server.time_to_first_token")
    assert ttft >= 0
    assert chat_attrs == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "demo-assistant-1",
        "gen_ai.agent.name": "assistant",
        "gen_ai.response.model": "demo-1",
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 10,
    }
    assert [e.name for e in chat.events] == ["gen_ai.first_token"]
    # log lines inside the spans carry their ids
    trace_hex = format(server.context.trace_id, "032x")
    assert ids == [
        (trace_hex, format(server.context.span_id, "016x")),
        (trace_hex, format(tool.context.span_id, "016x")),
    ]
    assert current_trace_ids() == (None, None)
    # W3C Trace Context level 2: the response names the trace
    headers = dict(sent[0]["headers"])
    version, trace, span, flags = headers[b"traceresponse"].decode().split("-")
    assert (version, trace, span) == ("00", trace_hex, f"{server.context.span_id:016x}")
    assert int(flags, 16) & 0x01  # sampled (0x02, level 2's random-trace-id flag, may be set too)


def test_incoming_traceparent_and_tracestate_are_continued() -> None:
    t = Traced()
    headers = [
        (b"traceparent", f"00-{PARENT_TRACE}-{PARENT_SPAN}-01".encode()),
        (b"tracestate", b"vendor=abc"),
    ]
    asyncio.run(call(t.app(_agent_app(t, [])), http_scope(headers=headers)))
    server = t.by_name()["POST /{agent}/chat/completions"]
    assert format(server.context.trace_id, "032x") == PARENT_TRACE
    assert server.parent is not None and format(server.parent.span_id, "016x") == PARENT_SPAN
    assert server.parent.is_remote
    assert server.context.trace_state.get("vendor") == "abc"
    assert all(format(s.context.trace_id, "032x") == PARENT_TRACE for s in t.spans())


def test_unsampled_traceparent_is_followed_and_makes_no_spans() -> None:
    t = Traced()
    headers = [(b"traceparent", f"00-{PARENT_TRACE}-{PARENT_SPAN}-00".encode())]
    sent = asyncio.run(call(t.app(_agent_app(t, [])), http_scope(headers=headers)))
    assert t.spans() == []
    assert dict(sent[0]["headers"])[b"traceresponse"].startswith(f"00-{PARENT_TRACE}-".encode())


@pytest.mark.parametrize(
    "header",
    [
        b"garbage",
        b"00-00000000000000000000000000000000-b7ad6b7169203331-01",
        b"ff-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01",
    ],
)
def test_invalid_traceparent_starts_a_new_trace(header: bytes) -> None:
    assert remote_context(header) is None
    t = Traced()
    asyncio.run(call(t.app(_agent_app(t, [])), http_scope(headers=[(b"traceparent", header)])))
    server = t.by_name()["POST /{agent}/chat/completions"]
    assert server.parent is None


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("success", StatusCode.UNSET),
        ("client_closed", StatusCode.UNSET),
        ("cancelled", StatusCode.UNSET),
        ("error", StatusCode.ERROR),
    ],
)
def test_every_ending_ends_the_span(outcome: str, status: StatusCode) -> None:
    t = Traced()
    run = AgentRun("assistant", bus=t.bus).begin()
    llm = LLMCall("m", streaming=True, bus=t.bus).begin()
    llm.end(outcome=outcome, error_type="UpstreamError" if outcome == "error" else None)  # type: ignore[arg-type]
    run.end(outcome=outcome)  # type: ignore[arg-type]
    spans = t.by_name()
    assert set(spans) == {"invoke_agent assistant", "chat m"}
    for span in spans.values():
        assert span.end_time is not None
        assert span.status.status_code is status
        if outcome != "success":
            assert attrs(span)["robutler.outcome"] == outcome
    if outcome == "error":
        assert attrs(spans["chat m"])["error.type"] == "UpstreamError"


def test_exceptions_are_recorded_with_status_error() -> None:
    t = Traced()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        with agent_run("assistant", bus=t.bus), tool_call("weather", bus=t.bus):
            raise KeyError("no such city")

    with pytest.raises(KeyError):
        asyncio.run(call(t.app(app), http_scope()))
    spans = t.by_name()
    for name in ("execute_tool weather", "invoke_agent assistant", "POST /{agent}/chat/completions"):
        span = spans[name]
        assert span.status.status_code is StatusCode.ERROR, name
        assert attrs(span)["error.type"] == "KeyError"
        assert [e.name for e in span.events] == ["exception"]
        assert span.events[0].attributes is not None
        assert span.events[0].attributes["exception.type"] == "KeyError"


def test_server_error_status_marks_the_server_span() -> None:
    t = Traced()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    asyncio.run(call(t.app(app, route="/"), http_scope("/")))
    (server,) = t.spans()
    assert server.status.status_code is StatusCode.ERROR
    assert attrs(server)["error.type"] == "503"


def test_prompt_and_completion_only_with_capture_content() -> None:
    for capture in (False, True):
        t = Traced(capture_content=capture)
        with llm_call("m", bus=t.bus) as llm:
            llm.prompt = [{"role": "user", "content": "my secret question"}]
            llm.completion = "the answer"
        with tool_call("calc", bus=t.bus) as tool:
            assert isinstance(tool, ToolCall)
            tool.arguments, tool.result = '{"expression": "2+2"}', "4"
        chat, calc = t.by_name()["chat m"], t.by_name()["execute_tool calc"]
        text = str(attrs(chat)) + str(attrs(calc))
        assert ("my secret question" in text) is capture
        assert ("the answer" in text) is capture
        assert ("2+2" in text) is capture


def test_recorded_calls_keep_their_timing() -> None:
    t = Traced()
    with agent_run("a", bus=t.bus):
        record_llm_call("m", input_tokens=1, output_tokens=2, duration_s=0.25, bus=t.bus)
    chat = t.by_name()["chat m"]
    assert chat.end_time is not None and chat.start_time is not None
    assert abs((chat.end_time - chat.start_time) - 250_000_000) < 50_000_000
    assert chat.parent is not None and chat.parent.span_id == t.by_name()["invoke_agent a"].context.span_id


def test_requests_without_an_http_operation_pass_through() -> None:
    t = Traced()
    from robutler_monitoring.plugin.tracing.spans import TraceContextMiddleware

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    sent: list[Message] = asyncio.run(call(TraceContextMiddleware(app, t.recorder), http_scope()))
    assert sent[0]["headers"] == []
    assert t.spans() == []
