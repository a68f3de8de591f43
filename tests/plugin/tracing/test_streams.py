"""A streamed answer's spans end in all four ways a stream ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from robutler_monitoring.demo.agents import DemoAgent
from robutler_monitoring.demo.llm import FakeLLM, Message
from robutler_monitoring.events import EventBus, set_default_bus
from robutler_monitoring.plugin.config.schema import TracingConfig
from robutler_monitoring.plugin.tracing.pipeline import Tracing
from robutler_monitoring.plugin.tracing.settings import resolve
from tests.support.otlp import ReceivedSpan, otlp_receiver
from tests.support.servers import robutler_serve

CHAT = "/{agent}/chat/completions"


@pytest.fixture
def bus() -> Iterator[EventBus]:
    bus = EventBus()
    previous = set_default_bus(bus)
    yield bus
    set_default_bus(previous)


def test_the_app_closing_the_generator_ends_the_agent_span(bus: EventBus) -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing(resolve(TracingConfig(enabled=True)), bus=bus, exporter=exporter).start()
    agent = DemoAgent("echo", "Repeats you.", FakeLLM("echo-llm", echo=True), stream_delay=0)

    async def read_one_piece_then_close() -> None:
        stream = cast(AsyncGenerator[Any, None], agent.stream([Message("user", "one two three four")]))
        await stream.__anext__()
        await stream.aclose()  # the app stops early: GeneratorExit inside the agent's stream

    try:
        asyncio.run(read_one_piece_then_close())
    finally:
        tracing.shutdown()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    run = spans["invoke_agent echo"]
    assert run.end_time is not None
    assert (run.attributes or {})["robutler.outcome"] == "cancelled"


def _trace(n: int) -> str:
    return f"{n:032x}"


def _stream(base: str, agent: str, text: str, trace: str, *, read_all: bool = True) -> None:
    body = {"messages": [{"role": "user", "content": text}], "stream": True}
    headers = {"traceparent": f"00-{trace}-{'1' * 16}-01"}
    with httpx.stream(
        "POST", f"{base}/{agent}/chat/completions", json=body, headers=headers, timeout=30
    ) as r:
        assert r.status_code == 200
        chunks = r.iter_raw()
        next(chunks)
        if read_all:
            for _ in chunks:
                pass
    # leaving the block without reading everything closes the connection: a client disconnect


def _of(spans: list[ReceivedSpan], trace: str, name: str) -> ReceivedSpan | None:
    return next((s for s in spans if s.trace_id == trace and s.name == name), None)


@pytest.mark.slow
def test_completed_disconnected_and_failed_streams_end_their_spans(tmp_path: Path) -> None:
    completed, disconnected, failed = _trace(1), _trace(2), _trace(3)
    long_text = " ".join(f"word{i}" for i in range(400))  # 400 pieces, 50 ms apart
    with otlp_receiver() as receiver:
        config = tmp_path / "robutler.yaml"
        config.write_text(f"monitoring:\n  tracing:\n    enabled: true\n    otlp_endpoint: {receiver.url}\n")
        with robutler_serve("--config", str(config), tmp_path=tmp_path) as server:
            _stream(server.base_url, "assistant", "what is 12 * 7?", completed)
            _stream(server.base_url, "echo", long_text, disconnected, read_all=False)
            _stream(server.base_url, "assistant", "what is 2 + 2? !error", failed)

            def ended(spans: list[ReceivedSpan]) -> bool:
                return all(
                    _of(spans, trace, name) is not None
                    for trace in (completed, disconnected, failed)
                    for name in (
                        f"POST {CHAT}",
                        "invoke_agent echo" if trace == disconnected else "invoke_agent assistant",
                    )
                )

            spans = receiver.wait_for(ended)
            server.stop()
    ok_server, ok_agent = (
        _of(spans, completed, f"POST {CHAT}"),
        _of(spans, completed, "invoke_agent assistant"),
    )
    assert ok_server is not None and ok_agent is not None
    assert (ok_server.status, ok_agent.status) == ("UNSET", "UNSET")
    assert "robutler.outcome" not in ok_server.attributes and "robutler.outcome" not in ok_agent.attributes

    gone_server, gone_agent = (
        _of(spans, disconnected, f"POST {CHAT}"),
        _of(spans, disconnected, "invoke_agent echo"),
    )
    assert gone_server is not None and gone_agent is not None
    assert gone_server.attributes["robutler.outcome"] == "client_closed"
    assert gone_agent.attributes["robutler.outcome"] in ("client_closed", "cancelled")
    assert gone_agent.end_ns - gone_agent.start_ns < 15e9  # ended at the disconnect, not after 400 pieces

    bad_server, bad_agent = _of(spans, failed, f"POST {CHAT}"), _of(spans, failed, "invoke_agent assistant")
    assert bad_server is not None and bad_agent is not None
    assert bad_agent.status == "ERROR" and bad_agent.attributes["error.type"] == "DemoAgentError"
    assert [name for name, _ in bad_agent.events] == ["exception"]
    assert bad_server.status == "ERROR" and bad_server.attributes["error.type"] == "DemoAgentError"
