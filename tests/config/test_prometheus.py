"""A real Prometheus scraping a real `robutler serve`: counts match, every dashboard query has data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.plugin.commands.support import invoke
from tests.support.prometheus import PROMETHEUS, Prometheus, finite, run_prometheus
from tests.support.receivers import webhook_receiver
from tests.support.servers import robutler_serve

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "config" / "grafana" / "robutler.json"
CHAT = "/{agent}/chat/completions"
FAST_SAMPLES = {"ROBUTLER_MONITORING__METRICS__COLLECT_INTERVAL": "1"}  # cache and lag figures
#: the assistant's model gets a price (USD per million tokens); the echo agent's model stays unpriced
PRICE = {"input": 2.0, "output": 8.0, "cache_read": 0.5}
PRICED, UNPRICED = "demo-assistant-1", "demo-echo-1"
TOKENS = "robutler_llm_tokens_total"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None, reason="needs the Debian package 'prometheus' (.ci/run installs it)"
    ),
]


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of the Grafana dashboard."""
    doc = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"]) for panel in doc["panels"] for target in panel.get("targets", [])
    ]


def variable_queries() -> dict[str, str]:
    """Template variable name -> its ``label_values(...)`` query."""
    doc = json.loads(DASHBOARD.read_text())
    return {v["name"]: v["query"]["query"] for v in doc["templating"]["list"] if v["type"] == "query"}


def fill(expr: str, job: str) -> str:
    """The expression as Grafana sends it with job=`job` and every other variable at All."""
    expr = expr.replace("$__rate_interval", "1m").replace("$job", re.escape(job))
    return expr.replace("$instance", ".*").replace("$agent", ".*")


def _chat(client: httpx.Client, text: str, agent: str = "assistant", *, earlier: int = 0) -> int:
    """Ask ``agent``; ``earlier`` turns before it (the demo reports them as cached input)."""
    turns = [{"role": r, "content": f"turn {i}"} for i in range(earlier) for r in ("user", "assistant")]
    body = {"model": agent, "messages": [*turns, {"role": "user", "content": text}]}
    return client.post(f"/{agent}/chat/completions", json=body).status_code


def _drive(base_url: str) -> dict[str, int]:
    """A known mix of requests; the counts by (route, status) the test expects to read back."""
    sent = {"chat_200": 0, "chat_500": 0, "agents_200": 0, "unmatched_404": 0}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for i in range(6):
            assert _chat(client, f"What is {i} * 7?") == 200
            sent["chat_200"] += 1
        for city in ("Paris", "Paris", "Oslo"):  # a cache miss, a hit, a miss
            assert _chat(client, f"What is the weather in {city}?") == 200
            sent["chat_200"] += 1
        # a conversation's earlier turns are cached input; !think spends reasoning tokens
        assert _chat(client, "And what is 6 * 7? !think", earlier=2) == 200
        sent["chat_200"] += 1
        for _ in range(3):
            assert _chat(client, "please fail !error") == 500
            sent["chat_500"] += 1
        assert _chat(client, "hello", agent="echo") == 200
        sent["chat_200"] += 1
        for _ in range(2):
            assert client.get("/agents").status_code == 200
            sent["agents_200"] += 1
        assert client.get("/no/such/path/here").status_code == 404
        sent["unmatched_404"] += 1
    return sent


def _config(tmp_path: Path, hook: str) -> dict[str, str]:
    """An alert channel (so the alerting series exist), evaluated every second, and a price for
    the assistant's model; the env naming the file."""
    alerts = {
        "evaluation_interval": 1,
        "state_dir": str(tmp_path / "alerts-state"),
        "webhooks": [{"url": hook}],
    }
    usage = {"prices": {PRICED: PRICE}}
    path = tmp_path / "robutler.yaml"
    path.write_text(yaml.safe_dump({"monitoring": {"alerts": alerts, "usage": usage}}), encoding="utf-8")
    return {"ROBUTLER_CONFIG": str(path)}


def _count(prom: Prometheus, route: str, status: str) -> float:
    return (
        prom.value(f'sum(robutler_http_requests_total{{job="robutler",route="{route}",status="{status}"}})')
        or 0.0
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_prometheus_reads_back_what_was_sent_and_every_dashboard_query_has_data(
    tmp_path: Path, workers: int
) -> None:
    with (
        webhook_receiver() as hook,
        robutler_serve(
            "--workers",
            str(workers),
            tmp_path=tmp_path,
            env={**FAST_SAMPLES, **_config(tmp_path, hook.url)},
            timeout=90,
        ) as server,
        run_prometheus(tmp_path, [f"127.0.0.1:{server.port}"]) as prom,
    ):
        prom.wait_for("a first scrape", lambda: prom.value('up{job="robutler"}') == 1.0)
        prom.wait_for(
            f"{workers} workers", lambda: prom.value('sum(robutler_workers{job="robutler"})') == workers
        )
        # known series start at 0: the first burst is an increase that rate() can see
        for route, status in ((CHAT, "200"), (CHAT, "500"), ("/agents", "200")):
            assert _count(prom, route, status) == 0.0
            assert prom.query(
                f'robutler_http_requests_total{{job="robutler",route="{route}",status="{status}"}}'
            )
        agents = prom.query('robutler_agent_executions_total{job="robutler",status="success"}')
        assert sorted(r["metric"]["agent"] for r in agents) == ["assistant", "echo"]
        # and so do the usage series of the agents' tools and models: cost or unpriced by the price
        assert _series(prom, "robutler_tool_calls_total", "tool") == ["calculator", "weather"]
        assert _series(prom, "robutler_llm_cost_usd_total", "model") == [PRICED]
        assert _series(prom, "robutler_llm_unpriced_tokens_total", "model") == [UNPRICED]
        sent = _drive(server.base_url)

        expected = {
            (CHAT, "200"): sent["chat_200"],
            (CHAT, "500"): sent["chat_500"],
            ("/agents", "200"): sent["agents_200"],
            ("<unmatched>", "404"): sent["unmatched_404"],
        }
        prom.wait_for(
            "the counts the test sent",
            lambda: all(_count(prom, route, status) == n for (route, status), n in expected.items()),
        )
        for (route, status), n in expected.items():  # and no more arrive later
            assert _count(prom, route, status) == n
        runs = 'sum by (status) (robutler_agent_executions_total{job="robutler"})'
        by_status = {
            r["metric"]["status"]: float(r["value"][1]) for r in prom.query(runs) if r["value"][1] != "0"
        }
        assert by_status == {"success": sent["chat_200"], "error": sent["chat_500"]}

        _check_usage(prom)

        code, out, _ = invoke("monitor", "status", "--url", server.base_url, "--json", "--window", "0")
        assert code == 0 and json.loads(out)["server"]["workers"] == workers

        prom.wait_for(  # the evaluator started: its rule states and channel outcomes are exported
            "the alerting series",
            lambda: (
                bool(prom.query('robutler_alerts{job="robutler"}'))
                and bool(prom.query('robutler_alert_notifications_total{job="robutler",status="delivered"}'))
            ),
        )
        assert hook.received == []  # too few requests for an alert: nothing was sent

        empty: list[str] = []
        for title, expr in dashboard_queries():
            result: list[dict[str, Any]] = prom.query(fill(expr, "robutler"))
            if not finite(result):
                empty.append(f"{title}: {expr}")
        assert not empty, "dashboard queries without data:\n" + "\n".join(empty)

        variables = variable_queries()
        assert set(variables) == {"job", "instance", "agent"}
        assert "robutler" in _label_values(prom, variables["job"])
        assert f"127.0.0.1:{server.port}" in _label_values(prom, variables["instance"])
        assert {"assistant", "echo"} <= set(_label_values(prom, variables["agent"]))


def _series(prom: Prometheus, metric: str, label: str) -> list[str]:
    """The ``label`` values of ``metric``'s series, each 0 (known series before any request)."""
    found = prom.query(f'{metric}{{job="robutler"}}')
    assert {r["value"][1] for r in found} == {"0"}, found
    return sorted({r["metric"][label] for r in found})


def _sum(prom: Prometheus, query: str) -> float:
    return sum(float(r["value"][1]) for r in prom.query(query))


def _check_usage(prom: Prometheus) -> None:
    """Cost is the configured price of the priced model's tokens; the unpriced model's tokens are apart."""

    def read(metric: str, model: str, **labels: str) -> float:
        where = "".join(f',{k}="{v}"' for k, v in labels.items())
        return _sum(prom, f'{metric}{{job="robutler",model="{model}"{where}}}')

    def consistent() -> bool:  # usage metrics are counted by a writer thread: wait for its figures
        inp, out = (read(TOKENS, PRICED, type=kind) for kind in ("input", "output"))
        cached = read("robutler_llm_cached_tokens_total", PRICED, kind="read")
        uncached = inp - cached
        expected = (uncached * PRICE["input"] + cached * PRICE["cache_read"] + out * PRICE["output"]) / 1e6
        unpriced = sum(read(TOKENS, UNPRICED, type=kind) for kind in ("input", "output"))
        return (
            read("robutler_llm_cost_usd_total", PRICED) == pytest.approx(expected, rel=1e-9)
            and read("robutler_llm_unpriced_tokens_total", UNPRICED) == unpriced > 0
            and cached == 8  # the 4 earlier messages of the one conversation, 2 tokens each
            and read("robutler_llm_reasoning_tokens_total", PRICED) == 9  # "And what is 6 * 7? !think"
        )

    prom.wait_for("cost, unpriced, cached and reasoning tokens matching the tokens", consistent)
    assert prom.query(f'robutler_llm_cost_usd_total{{job="robutler",model="{UNPRICED}"}}') == []
    # the headline figures see the whole burst: the series were there at 0 before it
    day = 'sum(increase({}{{job="robutler"}}[1d]))'
    assert (prom.value(day.format("robutler_llm_cost_usd_total")) or 0) > 0
    assert (prom.value(day.format("robutler_llm_unpriced_tokens_total")) or 0) > 0


def _label_values(prom: Prometheus, query: str) -> list[str]:
    found = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
    assert found, f"not a label_values() query: {query}"
    return prom.label_values(found.group(2), fill(found.group(1), "robutler"))
