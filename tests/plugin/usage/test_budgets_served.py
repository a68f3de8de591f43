"""A hard token budget under `robutler serve --workers 2`: the server's total, not each worker's.

The demo's agents report their usage; two keep-alive clients, each held by another worker,
spend the budget half each. Every worker then refuses with 429 and Retry-After, the
`budget` alerts go out once each through a real webhook receiver, `monitor alerts list`
shows them, the WARNING lines are written once, and the records carry the caller header.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import httpx
import pytest
import yaml

from robutler_monitoring.plugin.usage.spool import Spool
from tests.support.polling import wait_until
from tests.support.receivers import webhook_receiver
from tests.support.servers import robutler_serve, run_robutler

pytestmark = pytest.mark.slow

CHAT = "/assistant/chat/completions"
QUESTION = {"messages": [{"role": "user", "content": "what is 2+3?"}]}
REQUESTS = 20  # that spend the budget exactly, ten on each worker


def _worker(client: httpx.Client) -> str:
    """``host:pid`` of the worker that holds this client's connection."""
    doc = client.get("/health/detailed", timeout=10).json()
    return str(doc["checks"]["uptime"][0]["componentId"])


def _two_workers(base_url: str) -> tuple[httpx.Client, httpx.Client]:
    """Two keep-alive clients whose connections two different workers accepted."""
    first = httpx.Client(base_url=base_url)
    held = _worker(first)
    for _ in range(50):
        other = httpx.Client(base_url=base_url)
        if _worker(other) != held:
            return first, other
        other.close()
    raise AssertionError("every connection went to one worker")


def _config(tmp_path: Path, hook: str, tokens: int) -> Path:
    doc = {
        "monitoring": {
            "usage": {
                "spool_dir": str(tmp_path / "spool"),
                "caller_header": "x-user-id",
                "retention": 3600,  # no export sink: records stay an hour (the test reads them)
                "budgets": [{"agent": "assistant", "daily_tokens": tokens, "soft_share": 0.5, "hard": True}],
            },
            "alerts": {
                "evaluation_interval": 0.25,
                "state_dir": str(tmp_path / "state"),
                "webhooks": [{"url": hook, "name": "finance", "events": ["budget"]}],
            },
        }
    }
    path = tmp_path / "robutler.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def _spent(base_url: str) -> float | None:
    for line in httpx.get(f"{base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith("robutler_budget_spent{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_two_workers_share_one_hard_budget(tmp_path: Path) -> None:
    per_request = 16  # the demo's usage for QUESTION (checked below)
    budget = REQUESTS * per_request
    with webhook_receiver() as rx:
        env = {"ROBUTLER_CONFIG": str(_config(tmp_path, rx.url, budget))}
        with robutler_serve("--workers", "2", tmp_path=tmp_path, env=env, timeout=90) as server:
            a, b = _two_workers(server.base_url)
            spent = 0
            for i in range(REQUESTS):
                reply = (a, b)[i % 2].post(CHAT, json=QUESTION, headers={"x-user-id": f"user-{i % 2}"})
                assert reply.status_code == 200, reply.text
                assert reply.json()["usage"]["total_tokens"] == per_request
                spent += per_request
            assert spent == budget  # each worker served half of it: under its own count, not the server's

            late: list[int] = []

            def refused(client: httpx.Client) -> httpx.Response | None:
                reply = client.post(CHAT, json=QUESTION)
                if reply.status_code == 200:
                    late.append(per_request)  # served within the documented lag (about a second)
                return reply if reply.status_code == 429 else None

            for client in (a, b):
                refusal = wait_until(partial(refused, client), timeout=15, interval=0.5, what="429")
                assert refusal is not None and 0 < int(refusal.headers["retry-after"]) <= 86400
                assert refusal.json()["error"]["type"] == "budget_exceeded"
            # per-worker counting would have served ten more on each worker before refusing
            assert sum(late) <= 5 * per_request, late
            assert wait_until(lambda: _spent(server.base_url) == spent + sum(late), what="the gauge") is True

            notes = rx.wait_for(2, timeout=30)
            assert sorted((n.body["rule"], n.body["status"]) for n in notes) == [
                ("BudgetExceeded", "firing"),
                ("BudgetSoftLimit", "firing"),
            ]
            assert {n.body["labels"]["event"] for n in notes} == {"budget"}
            shown = run_robutler("monitor", "alerts", "list", "--url", server.base_url, "--json")
            states = {r["name"]: r["state"] for r in json.loads(shown.stdout)["rules"]}
            assert states == {"BudgetSoftLimit": "firing", "BudgetExceeded": "firing"}
            alerts = httpx.get(f"{server.base_url}/metrics", timeout=10).text
            assert 'robutler_alerts{alertname="BudgetExceeded",alertstate="firing"} 1.0' in alerts

            records = Spool(str(tmp_path / "spool")).all_records()
            named = [r["caller"] for r in records if r["caller"] is not None]
            assert sorted(set(named)) == ["user-0", "user-1"]
            assert len(named) == 3 * REQUESTS  # two LLM calls and a tool call per request
            a.close()
            b.close()
        assert len(rx.received) == 2  # nothing more, with two workers evaluating in turn
    log = server.stdout() + server.stderr()
    warnings = [line for line in log.splitlines() if "budget: assistant" in line]
    assert len(warnings) == 2, warnings  # the soft share and the limit, once for the server
