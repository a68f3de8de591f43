"""A real SDK 0.2.0 agent served by `robutler serve`, called by the official openai client."""

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
TARGET = "tests/integrations/robutler_sdk/sdk_agent.py:agent"
QUESTION: Any = [{"role": "user", "content": "What is 2 + 3?"}]
# what the fake LLM reports per run: a tool round (40 in, 12 out, 16 cached), an answer (70, 9, 32)
PER_RUN = {"input": 110, "output": 21, "cached": 48}
# gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million tokens
COST_PER_RUN = (24 * 0.15 + 16 * 0.075 + 12 * 0.60 + 38 * 0.15 + 32 * 0.075 + 9 * 0.60) / 1e6


def _samples(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.mark.slow
def test_openai_client_non_streaming_and_streaming(tmp_path: Path) -> None:
    from openai import OpenAI

    export = tmp_path / "usage.jsonl"
    env = {
        "ROBUTLER_LOG_LEVEL": "DEBUG",
        "LOG_LEVEL": "DEBUG",
        "ROBUTLER_MONITORING__USAGE__SPOOL_DIR": str(tmp_path / "spool"),
        "ROBUTLER_MONITORING__USAGE__EXPORT__JSONL__PATH": str(export),
    }
    with robutler_serve(TARGET, tmp_path=tmp_path, env=env, cwd=ROOT, timeout=120) as server:
        _check_known_at_zero(_samples(server.base_url))
        client = OpenAI(base_url=f"{server.base_url}/calculator", api_key="unused", max_retries=0)
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
        assert answer.choices[0].message.content == "The sum is 5."
        stream: Any = client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True)
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        assert streamed.strip() == "The sum is 5."

        def settled() -> Any:
            samples = _samples(server.base_url)
            done = _value(
                samples,
                "robutler_llm_requests_total",
                agent="calculator",
                model="gpt-4o-mini",
                status="success",
            )
            return samples if done == 4 else None

        samples = wait_until(settled, timeout=30, what="four LLM calls on /metrics")
        labels = {"agent": "calculator", "model": "gpt-4o-mini"}
        assert _value(samples, "robutler_llm_tokens_total", **labels, type="input") == 2 * PER_RUN["input"]
        assert _value(samples, "robutler_llm_tokens_total", **labels, type="output") == 2 * PER_RUN["output"]
        assert (
            _value(samples, "robutler_llm_cached_tokens_total", **labels, kind="read")
            == 2 * PER_RUN["cached"]
        )
        cost = _value(samples, "robutler_llm_cost_usd_total", **labels)
        assert cost == pytest.approx(2 * COST_PER_RUN, rel=1e-9)
        assert (
            _value(samples, "robutler_tool_calls_total", agent="calculator", tool="add", status="success")
            == 2
        )
        assert _value(samples, "robutler_agent_executions_total", agent="calculator", status="success") == 2
        assert _value(samples, "robutler_llm_request_duration_seconds_count", **labels) == 4
        assert (
            _value(samples, "robutler_llm_time_to_first_token_seconds_count", **labels) == 2
        )  # streamed calls

        records = httpx.get(f"{server.base_url}/usage", timeout=10).json()["records"]
        llm = [
            (r["prompt_tokens"], r["completion_tokens"], r["cached_tokens"], r["streaming"])
            for r in records
            if r["type"] == "llm"
        ]
        assert llm == [(40, 12, 16, False), (70, 9, 32, False), (40, 12, 16, True), (70, 9, 32, True)]
        assert [r["tool"] for r in records if r["type"] == "tool"] == ["add", "add"]
        assert {r["agent"] for r in records} == {"calculator"}
        assert len({r["id"] for r in records}) == 6
        assert all(r["price_source"] == "genai-prices" for r in records if r["type"] == "llm")

        def six_exported() -> str:
            text = export.read_text() if export.exists() else ""
            return text if len(text.splitlines()) == 6 else ""

        exported = wait_until(six_exported, timeout=30, what="six records exported")
        assert sorted(json.loads(line)["id"] for line in exported.splitlines()) == sorted(
            r["id"] for r in records
        )


def _check_known_at_zero(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> None:
    """Before any request the served agent, its tool and its model have their series, at 0."""
    labels = {"agent": "calculator", "model": "gpt-4o-mini"}
    tool = {"agent": "calculator", "tool": "add"}
    for status in ("success", "error"):
        assert _value(samples, "robutler_agent_executions_total", agent="calculator", status=status) == 0
        assert _value(samples, "robutler_tool_calls_total", **tool, status=status) == 0
        assert _value(samples, "robutler_llm_requests_total", **labels, status=status) == 0
    assert _value(samples, "robutler_agent_execution_duration_seconds_count", agent="calculator") == 0
    assert _value(samples, "robutler_llm_tokens_total", **labels, type="input") == 0
    assert _value(samples, "robutler_llm_cost_usd_total", **labels) == 0  # gpt-4o-mini has a price
    unpriced = [key for key in samples if key[0] == "robutler_llm_unpriced_tokens_total"]
    assert unpriced == []
