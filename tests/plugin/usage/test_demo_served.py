"""The demo under `robutler serve` fills the usage series; its unpriced model shows apart."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.polling import wait_until
from tests.support.servers import robutler_command, robutler_serve


def _value(base_url: str, name: str, labels: dict[str, str]) -> float | None:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


@pytest.mark.slow
def test_demo_usage_is_unpriced_and_shown_apart(tmp_path: Path) -> None:
    with robutler_serve(tmp_path=tmp_path) as server:
        body = {"messages": [{"role": "user", "content": "what is 2+3?"}]}
        reply = httpx.post(f"{server.base_url}/assistant/chat/completions", json=body, timeout=30).json()
        usage = reply["usage"]
        model = {"model": "demo-assistant-1"}
        unpriced = wait_until(
            lambda: _value(server.base_url, "robutler_llm_unpriced_tokens_total", model),
            what="unpriced tokens",
        )
        assert unpriced == usage["prompt_tokens"] + usage["completion_tokens"]
        labels = {"agent": "assistant", "model": "demo-assistant-1"}
        assert (
            _value(server.base_url, "robutler_llm_tokens_total", labels | {"type": "input"})
            == usage["prompt_tokens"]
        )
        assert _value(server.base_url, "robutler_llm_cost_usd_total", labels) is None  # never a cost of 0
        tool = {"agent": "assistant", "tool": "calculator", "status": "success"}
        assert _value(server.base_url, "robutler_tool_calls_total", tool) == 1

        shown = subprocess.run(
            [*robutler_command("monitor", "usage", "--url", server.base_url, "--json")],
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ.copy(),
        )
        assert shown.returncode == 0, shown.stderr
        (row,) = json.loads(shown.stdout)["rows"]
        assert row["key"] == "assistant" and row["tool_calls"] == 1 and row["cost_usd"] == 0.0
        assert row["unpriced_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        table = subprocess.run(
            [*robutler_command("monitor", "usage", "--url", server.base_url, "--by", "model")],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert "demo-assistant-1" in table.stdout
        assert "used a model with no known price" in table.stdout
