"""Statuses that tell the truth: a stream that fails after its 200, a stream the server cuts."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.plugin.metrics.helpers import sample
from tests.support.servers import robutler_serve

pytestmark = pytest.mark.slow


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_stream_that_fails_after_its_200_is_an_error_everywhere(tmp_path: Path) -> None:
    body = {"messages": [{"role": "user", "content": "one two three !error"}], "stream": True}
    with robutler_serve(tmp_path=tmp_path) as server, httpx.Client(base_url=server.base_url) as client:
        response = client.post("/assistant/chat/completions", json=body)
        assert response.status_code == 200 and "agent_error" in response.text  # reported in-band
        text = client.get("/metrics").text
        deadline = time.monotonic() + 10
        while not any(e.get("logger") == "robutler.access" for e in _lines(server.stdout())):
            assert time.monotonic() < deadline, server.stdout()
            time.sleep(0.05)
    labels = {"method": "POST", "route": "/{agent}/chat/completions", "status": "200"}
    assert sample(text, "robutler_http_requests_total", outcome="error", **labels) == 1
    assert sample(text, "robutler_http_requests_total", outcome="success", **labels) is None
    assert sample(text, "robutler_agent_executions_total", agent="assistant", status="error") == 1
    assert sample(text, "robutler_errors_total", type="DemoAgentError", source="agent") == 1
    access = [e for e in _lines(server.stdout()) if e.get("logger") == "robutler.access"]
    assert [(e["level"], e["status"], e["outcome"], e["error"]) for e in access] == [
        ("ERROR", 200, "error", "DemoAgentError")
    ]


def test_a_stream_cut_at_the_graceful_shutdown_timeout_is_a_server_cancellation(tmp_path: Path) -> None:
    words = " ".join(f"w{i}" for i in range(400))  # 400 pieces, 50 ms apart: 20 s
    body = {"messages": [{"role": "user", "content": words}], "stream": True}
    first_chunk = threading.Event()
    received: list[bytes] = []

    with robutler_serve("--timeout-graceful-shutdown", "1", tmp_path=tmp_path) as server:

        def consume() -> None:
            try:
                with httpx.stream("POST", f"{server.base_url}/echo/chat/completions", json=body) as response:
                    for chunk in response.iter_raw():
                        received.append(chunk)
                        first_chunk.set()
            except httpx.HTTPError:
                pass  # the server closed the connection mid-stream: expected

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        assert first_chunk.wait(20), server.stdout()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(30)
        reader.join(10)
    out = server.stdout() + server.stderr()
    assert b"[DONE]" not in b"".join(received)  # the stream was cut
    assert "Exception in ASGI application" not in out
    assert "Traceback" not in out and '"exception"' not in out
    assert "timeout graceful shutdown exceeded" in out  # uvicorn says what happened, once
    access = [e for e in _lines(server.stdout()) if e.get("logger") == "robutler.access"]
    assert [(e["status"], e["outcome"]) for e in access] == [(200, "cancelled")]
