"""A spool for budgets with no export sink, under `robutler serve` of the demo: nothing piles up."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from robutler_monitoring.plugin.usage.spool import Spool
from tests.support.polling import wait_until
from tests.support.servers import robutler_command, robutler_serve

REQUESTS = 5
QUESTION = {"messages": [{"role": "user", "content": "what is 2+3?"}]}


def _sample(base_url: str, prefix: str) -> float | None:
    for line in httpx.get(f"{base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.slow
def test_budget_without_export_keeps_totals_not_records(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    doc = {
        "monitoring": {
            "usage": {
                "spool_dir": str(spool_dir),
                "warn_unsent_age": 0.5,  # a record kept for nobody would warn at once
                "budgets": [{"agent": "assistant", "daily_tokens": 1_000_000}],
            }
        }
    }
    config = tmp_path / "robutler.yaml"
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with robutler_serve(tmp_path=tmp_path, env={"ROBUTLER_CONFIG": str(config)}) as server:
        used = 0
        for _ in range(REQUESTS):
            reply = httpx.post(f"{server.base_url}/assistant/chat/completions", json=QUESTION, timeout=30)
            assert reply.status_code == 200
            used += reply.json()["usage"]["total_tokens"]
        spent = "robutler_budget_spent{"  # the one budget
        assert wait_until(lambda: _sample(server.base_url, spent) == used, what="the budget gauge") is True

        health = httpx.get(f"{server.base_url}/health/detailed", timeout=10).json()
        assert health["status"] == "pass" and "usage:spool" not in health["checks"]  # nothing to send
        assert _sample(server.base_url, "robutler_usage_spool_records ") in (None, 0.0)

        totals = httpx.get(f"{server.base_url}/usage", params={"records": "0"}, timeout=10).json()["totals"]
        llm = [t for t in totals if t["type"] == "llm"]
        assert sum(t["calls"] for t in llm) == 2 * REQUESTS  # the demo asks its LLM twice a request
        assert sum(t["input_tokens"] + t["output_tokens"] for t in llm) == used
        shown = subprocess.run(
            [*robutler_command("monitor", "usage", "--spool", str(spool_dir), "--json")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        (row,) = json.loads(shown.stdout)["rows"]
        assert (row["key"], row["llm_calls"], row["tool_calls"]) == ("assistant", 2 * REQUESTS, REQUESTS)
        assert Spool(str(spool_dir)).all_records() == []  # summed, not kept
