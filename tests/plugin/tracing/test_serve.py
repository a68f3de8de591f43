"""`robutler serve` with tracing: the demo's spans reach a real OTLP receiver as one trace."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.otlp import ReceivedSpan, otlp_receiver
from tests.support.servers import free_port, robutler_serve, run_robutler

pytestmark = pytest.mark.slow

CHAT = "/assistant/chat/completions"
SERVER_SPAN = "POST /{agent}/chat/completions"
PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


def _config(tmp_path: Path, **tracing: Any) -> str:
    lines = ["monitoring:", "  tracing:", "    enabled: true"]
    lines += [f"    {key}: {value}" for key, value in tracing.items()]
    path = tmp_path / "robutler.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _chat(base: str, text: str, headers: dict[str, str] | None = None) -> httpx.Response:
    payload = {"messages": [{"role": "user", "content": text}]}
    return httpx.post(base + CHAT, json=payload, headers=headers, timeout=30)


def _names(spans: list[ReceivedSpan]) -> set[str]:
    return {s.name for s in spans}


def _answering(spans: list[ReceivedSpan]) -> ReceivedSpan | None:
    """The demo's LLM call that answered (it reports token usage)."""
    return next(
        (s for s in spans if s.name.startswith("chat ") and "gen_ai.usage.input_tokens" in s.attributes), None
    )


def _entries(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_demo_tool_request_is_one_trace_with_attributes_and_its_logs_carry_it(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        config = _config(tmp_path, otlp_endpoint=receiver.url, service_name="demo-shop")
        env = {"ROBUTLER_LOG_LEVEL": "DEBUG"}
        with robutler_serve("--config", config, tmp_path=tmp_path, env=env) as server:
            traceparent = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"
            response = _chat(server.base_url, "what is 12 * 7?", {"traceparent": traceparent})
            assert response.status_code == 200
            wanted = {SERVER_SPAN, "invoke_agent assistant", "execute_tool calculator"}
            spans = receiver.wait_for(lambda s: wanted <= _names(s) and _answering(s) is not None)
            request_id = response.headers["x-request-id"]
            scrape = httpx.get(
                server.base_url + "/metrics", headers={"accept": "application/openmetrics-text"}, timeout=10
            ).text
            assert server.stop() == 0
    by_name = {s.name: s for s in spans}
    server_span, agent = by_name[SERVER_SPAN], by_name["invoke_agent assistant"]
    tool = by_name["execute_tool calculator"]
    chat = _answering(spans)
    assert chat is not None
    assert {s.trace_id for s in spans} == {PARENT_TRACE}  # the client's traceparent is continued
    assert server_span.parent_id == PARENT_SPAN and server_span.kind == "SERVER"
    assert agent.parent_id == server_span.span_id
    assert tool.parent_id == agent.span_id and chat.parent_id == agent.span_id
    assert {s.service for s in spans} == {"demo-shop"}
    assert server_span.attributes["http.route"] == "/{agent}/chat/completions"
    assert server_span.attributes["http.response.status_code"] == 200
    assert tool.attributes["gen_ai.tool.name"] == "calculator"
    assert tool.attributes.get("gen_ai.tool.call.id")
    assert chat.kind == "CLIENT"
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.request.model"] == "demo-assistant-1"
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0
    assert chat.attributes["gen_ai.usage.output_tokens"] > 0
    assert chat.attributes["gen_ai.agent.name"] == "assistant"
    assert "gen_ai.input.messages" not in chat.attributes  # content capture is off by default
    header = response.headers["traceresponse"].split("-")
    assert header[1] == PARENT_TRACE and header[2] == server_span.span_id
    exemplar = f'# {{trace_id="{PARENT_TRACE}"}}'
    for metric in ("robutler_http_request_duration_seconds", "robutler_llm_request_duration_seconds"):
        assert any(
            line.startswith(metric + "_bucket") and exemplar in line for line in scrape.splitlines()
        ), metric
    lines = [e for e in _entries(server.stdout()) if e.get("request_id") == request_id]
    assert len(lines) >= 2  # the demo's own lines and the access record
    assert {e.get("trace_id") for e in lines} == {PARENT_TRACE}, lines


def test_documented_jaeger_endpoint_reaches_the_receiver_with_the_startup_line(tmp_path: Path) -> None:
    port = free_port()
    with otlp_receiver(port=port) as receiver:
        config = _config(tmp_path, jaeger_endpoint=f"http://127.0.0.1:{port}/api/traces")
        with robutler_serve("--config", config, tmp_path=tmp_path) as server:
            assert httpx.get(server.base_url + "/agents", timeout=10).status_code == 200
            receiver.wait_for(lambda s: "GET /agents" in _names(s))
            server.stop()
    output = server.stdout() + server.stderr()
    line = f"sending OTLP/HTTP to http://127.0.0.1:{port}/v1/traces"
    assert output.count(line) == 1, output
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}


def test_without_the_extra_serve_says_so_and_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoOtel:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.startswith(('opentelemetry.sdk', 'opentelemetry.exporter')):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _NoOtel())\n"
    )
    config = _config(tmp_path)
    result = run_robutler(
        "serve", "--config", config, "--port", str(free_port()), env={"PYTHONPATH": str(blocker)}
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "pip install 'robutler-monitoring[tracing]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_worker_exports(tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        config = _config(tmp_path, otlp_endpoint=receiver.url)
        with robutler_serve("--config", config, "--workers", "2", tmp_path=tmp_path, timeout=60) as server:

            def get(_: int) -> int:
                headers = {"connection": "close"}
                return httpx.get(server.base_url + "/agents", headers=headers, timeout=30).status_code

            with ThreadPoolExecutor(8) as pool:
                for _ in range(30):  # bursts of parallel connections until both workers have answered
                    assert set(pool.map(get, range(16))) == {200}
                    with receiver.lock:
                        pids = {s.resource.get("process.pid") for s in receiver.spans}
                    if len(pids) >= 2:
                        break
            spans = receiver.wait_for(lambda s: len({x.resource.get("process.pid") for x in s}) >= 2)
            server.stop()
    assert all(s.name == "GET /agents" for s in spans)
