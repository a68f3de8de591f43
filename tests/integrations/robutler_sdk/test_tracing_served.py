"""A real SDK 0.2.0 agent served with tracing: the same span tree as the demo, one trace, logs carry it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.otlp import ReceivedSpan, otlp_receiver
from tests.support.servers import robutler_serve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("robutler") is None
        or importlib.util.find_spec("openai") is None
        or importlib.util.find_spec("opentelemetry.sdk") is None,
        reason="the sdk and tracing extras and openai are not installed",
    ),
]

ROOT = Path(__file__).resolve().parents[3]
TARGET = "tests/integrations/robutler_sdk/sdk_agent.py:agent"
QUESTION: Any = [{"role": "user", "content": "What is 2 + 3?"}]
WANTED = {"invoke_agent calculator", "execute_tool add", "chat gpt-4o-mini"}


def _names(spans: list[ReceivedSpan]) -> set[str]:
    return {s.name for s in spans}


def _complete(spans: list[ReceivedSpan]) -> bool:
    servers = [s for s in spans if s.kind == "SERVER" and s.name.startswith("POST ")]
    chats = [s for s in spans if s.name == "chat gpt-4o-mini"]
    return _names(spans) >= WANTED and len(servers) >= 1 and len(chats) >= 2


def test_sdk_agent_request_is_one_trace_request_agent_tool_and_chat(tmp_path: Path) -> None:
    from openai import OpenAI

    with otlp_receiver() as receiver:
        config = tmp_path / "robutler.yaml"
        config.write_text(
            "monitoring:\n  tracing:\n    enabled: true\n"
            f"    otlp_endpoint: {receiver.url}\n    service_name: sdk-shop\n"
        )
        env = {"ROBUTLER_LOG_LEVEL": "DEBUG"}
        with robutler_serve(
            TARGET, "--config", str(config), tmp_path=tmp_path, env=env, cwd=ROOT, timeout=120
        ) as server:
            client = OpenAI(base_url=f"{server.base_url}/calculator", api_key="unused", max_retries=0)
            raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=QUESTION)
            assert raw.parse().choices[0].message.content == "The sum is 5."
            request_id = raw.headers["x-request-id"]
            spans = receiver.wait_for(_complete, timeout=60)
            assert server.stop() == 0
    server_span = next(s for s in spans if s.kind == "SERVER" and s.name.startswith("POST "))
    by_name = {s.name: s for s in spans}
    agent, tool = by_name["invoke_agent calculator"], by_name["execute_tool add"]
    chats = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert len({s.trace_id for s in spans}) == 1, [(s.name, s.trace_id) for s in spans]
    assert server_span.parent_id == ""
    assert agent.parent_id == server_span.span_id
    assert tool.parent_id == agent.span_id
    assert all(c.parent_id == agent.span_id for c in chats), [(c.parent_id, agent.span_id) for c in chats]
    assert {s.service for s in spans} == {"sdk-shop"}
    assert tool.attributes["gen_ai.tool.name"] == "add"
    assert chats[0].kind == "CLIENT"
    assert {c.attributes["gen_ai.usage.input_tokens"] for c in chats} == {40, 70}
    assert all(c.attributes["gen_ai.agent.name"] == "calculator" for c in chats)
    assert all("gen_ai.input.messages" not in c.attributes for c in chats)  # content capture is off
    trace_id = server_span.trace_id
    entries = [json.loads(line) for line in server.stdout().splitlines() if line.startswith("{")]
    lines = [e for e in entries if e.get("request_id") == request_id]
    assert len(lines) >= 2, entries[-20:]  # the SDK's own lines and the access record
    assert {e.get("trace_id") for e in lines} == {trace_id}, lines
