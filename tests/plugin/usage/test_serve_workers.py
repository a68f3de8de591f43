"""`GET /usage` and `monitor usage --url` with `--workers 2`: the usage of the whole server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.plugin.config.schema import UsageConfig
from robutler_monitoring.plugin.usage.service import UsageService
from tests.support.servers import robutler_serve, run_asgi, run_robutler

CHAT = "/assistant/chat/completions"
BODY = {"messages": [{"role": "user", "content": "what is 2+3?"}]}  # two LLM calls and a tool call


def _own_records(base_url: str) -> int:
    """How many records the worker that answers holds in memory (a fresh connection: any worker)."""
    return len(httpx.get(f"{base_url}/usage", timeout=10).json()["records"])


@pytest.mark.slow
def test_monitor_usage_url_sums_the_requests_of_both_workers(tmp_path: Path) -> None:
    env = {"ROBUTLER_MONITORING__USAGE__SPOOL_DIR": str(tmp_path / "spool")}
    with robutler_serve("--workers", "2", tmp_path=tmp_path, env=env, timeout=60) as server:
        usages: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while True:  # a fresh connection per request, so the kernel spreads them over both workers
            for _ in range(6):
                reply = httpx.post(server.base_url + CHAT, json=BODY, timeout=30)
                usages.append(reply.raise_for_status().json()["usage"])
            per_worker = {_own_records(server.base_url) for _ in range(6)}
            if min(per_worker) < 3 * len(usages):  # a worker holds only part of them: both served
                break
            assert time.monotonic() < deadline, f"one worker served everything: {per_worker}"
        result = run_robutler("monitor", "usage", "--url", server.base_url, "--json")
        table = run_robutler(
            "monitor", "usage", "--url", server.base_url, "--by", "model", env={"COLUMNS": "200"}
        )
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["rows"]
    assert (row["key"], row["llm_calls"], row["tool_calls"]) == ("assistant", 2 * len(usages), len(usages))
    assert row["input_tokens"] == sum(u["prompt_tokens"] for u in usages)
    assert row["output_tokens"] == sum(u["completion_tokens"] for u in usages)
    assert row["unpriced_tokens"] == sum(u["total_tokens"] for u in usages)  # the demo model has no price
    assert table.returncode == 0 and "demo-assistant-1" in table.stdout and "tool:calculator" in table.stdout


@pytest.mark.slow
def test_without_a_spool_monitor_usage_says_it_shows_one_worker(tmp_path: Path) -> None:
    service = UsageService(UsageConfig(), CollectorRegistry())
    with run_asgi(service.usage_endpoint, lifespan="off", interface="asgi3") as base_url:
        result = run_robutler("monitor", "usage", "--url", base_url + "/usage")
    assert result.returncode == 0, result.stderr
    assert "No usage recorded. (the records of the one worker that answered" in " ".join(
        result.stdout.split()
    )
