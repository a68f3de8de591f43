"""The SDK's own log lines and routes under `robutler serve`: a real SDK 0.2.0 agent, the openai client.

One request's lines all carry ``agent``; the SDK's two request lines are gone beside the
one access record; ``ROBUTLER_LOG_LEVEL=DEBUG`` shows the SDK's DEBUG lines (whatever the
SDK's own ``LOG_LEVEL`` says) but the conversation text only with
``monitoring.tracing.capture_content``; a streamed request in progress has its route.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.polling import wait_until
from tests.support.servers import robutler_serve

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("robutler") is None or importlib.util.find_spec("openai") is None,
    reason="the sdk extra and openai are not installed",
)

ROOT = Path(__file__).resolve().parents[3]
TARGET = "tests/integrations/robutler_sdk/sdk_agent.py:two_agents"
MARKER = "zebra-marker-7f3a"
QUESTION: Any = [{"role": "user", "content": f"{MARKER}: what is 2 + 3?"}]
HIDDEN = "[content hidden: set monitoring.tracing.capture_content]"


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _in_progress(base_url: str, route: str) -> float | None:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "robutler_http_requests_in_progress" and s.labels == {
                "method": "POST",
                "route": route,
            }:
                return s.value
    return None


@pytest.mark.slow
@pytest.mark.parametrize("capture_content", [False, True])
def test_sdk_lines_at_debug_one_access_record_agent_everywhere(tmp_path: Path, capture_content: bool) -> None:
    from openai import OpenAI

    gate = tmp_path / "gate"
    env = {
        "ROBUTLER_LOG_LEVEL": "DEBUG",
        "LOG_LEVEL": "INFO",  # the SDK's own variable: ours governs
        "ROBUTLER_MONITORING__TRACING__CAPTURE_CONTENT": str(capture_content).lower(),
        "ROBUTLER_MONITORING__USAGE__SPOOL_DIR": str(tmp_path / "spool"),
        "SDK_AGENT_GATE": str(gate),
    }
    with robutler_serve(TARGET, "--factory", tmp_path=tmp_path, env=env, cwd=ROOT, timeout=120) as server:
        client = OpenAI(base_url=f"{server.base_url}/calculator", api_key="unused", max_retries=0)
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=QUESTION, extra_headers={"X-Request-ID": "logs-one"}
        )
        assert answer.choices[0].message.content == "The sum is 5."

        gated = OpenAI(base_url=f"{server.base_url}/gated", api_key="unused", max_retries=0)
        stream: Any = gated.chat.completions.create(
            model="gpt-4o-mini", messages=QUESTION, stream=True, extra_headers={"X-Request-ID": "logs-two"}
        )
        chunks = iter(stream)
        first = next(c for c in chunks if c.choices and c.choices[0].delta.content)
        # the stream is open (the model waits for the gate): its route is known already
        in_progress = _in_progress(server.base_url, "/gated/chat/completions")
        gate.touch()
        rest = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert (first.choices[0].delta.content + rest).strip() == "The sum is 5."
        assert in_progress == 1
        wait_until(lambda: "logs-two" in server.stdout(), timeout=10, what="the stream's access record")
    lines = _lines(server.stdout())

    for rid, agent in (("logs-one", "calculator"), ("logs-two", "gated")):
        mine = [line for line in lines if line.get("request_id") == rid]
        access = [line for line in mine if line["logger"] == "robutler.access"]
        assert len(access) == 1, access
        assert not [line for line in mine if line["logger"] == "robutler.server.middleware"]
        sdk_debug = [
            line for line in mine if line["logger"].startswith("robutler.") and line["level"] == "DEBUG"
        ]
        assert len(sdk_debug) > 10  # the SDK's DEBUG lines are there
        assert all(line.get("agent") == agent for line in mine), [x for x in mine if x.get("agent") != agent]
        assert not [line for line in mine if "agent_name" in line]  # the SDK's "core" placeholder
    assert not [line for line in lines if line["logger"] == "robutler.server.middleware"]

    everything = server.stdout()
    user_lines = [line["message"] for line in lines if line["message"].startswith("  [1] USER: ")]
    assert len(user_lines) == 4  # two LLM rounds per request, each previews the conversation
    if capture_content:
        assert all(MARKER in message for message in user_lines)
    else:
        assert MARKER not in everything
        assert all(message == f"  [1] USER: {HIDDEN}" for message in user_lines)
