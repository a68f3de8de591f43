"""The usage service from config: prices overridden, spool and file export, metrics, health, /usage."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from robutler_monitoring.events import EventBus, HttpRequest, record_llm_call, record_tool_call
from robutler_monitoring.plugin.commands.samples import Samples
from robutler_monitoring.plugin.config.schema import UsageConfig
from robutler_monitoring.plugin.metrics.known import KnownLabels
from robutler_monitoring.plugin.usage.service import UsageService
from robutler_monitoring.plugin.usage.spool import SpoolStats
from tests.support.polling import wait_until


def _config(tmp_path: Path, **extra: Any) -> UsageConfig:
    return UsageConfig.model_validate(
        {
            "prices": {"house-model": {"input": 2, "output": 4}},
            "spool_dir": str(tmp_path / "spool"),
            "export": {"jsonl": {"path": str(tmp_path / "usage.jsonl")}},
            **extra,
        }
    )


def test_records_reach_the_file_priced_by_the_override(tmp_path: Path) -> None:
    registry, bus = CollectorRegistry(), EventBus()
    service = UsageService(_config(tmp_path), registry)
    service.subscribe(bus)
    service.start()
    try:
        with HttpRequest("POST", "/chat", request_id="c1", bus=bus):
            record_llm_call("house-model", input_tokens=1_000_000, output_tokens=250_000, agent="a", bus=bus)
            record_tool_call("search", agent="a", bus=bus)
        out = tmp_path / "usage.jsonl"
        lines = wait_until(
            lambda: out.exists() and out.read_text().splitlines(), what="two records in the file"
        )
        wait_until(lambda: len(out.read_text().splitlines()) == 2, what="two records")
        llm, tool = (json.loads(line) for line in out.read_text().splitlines())
        assert (llm["cost_usd"], llm["price_source"], llm["price_version"]) == (3.0, "config", None)
        assert tool["tool"] == "search" and tool["id"].endswith("-1") and lines
        assert wait_until(
            lambda: registry.get_sample_value("robutler_usage_exported_records_total", {"sink": "jsonl"}) == 2
        )
        # the writer thread bumps the metrics too; the file may be written first
        cost = {"agent": "a", "model": "house-model"}
        assert wait_until(lambda: registry.get_sample_value("robutler_llm_cost_usd_total", cost) == 3.0)
    finally:
        service.stop()


def test_health_warns_when_records_wait_too_long(tmp_path: Path) -> None:
    service = UsageService(_config(tmp_path, warn_unsent_age=60), CollectorRegistry())
    assert service.health()["status"] == "pass"
    service._stats(SpoolStats(records=3, oldest_unsent_age_s=5.0, dropped=0))
    assert service.health()["status"] == "pass"
    service._stats(SpoolStats(records=3, oldest_unsent_age_s=120.0, dropped=0))
    health = service.health()
    assert health["status"] == "warn" and "3 usage record(s) unsent" in health["output"]


def test_usage_endpoint_serves_the_latest_records(tmp_path: Path) -> None:
    bus = EventBus()
    service = UsageService(UsageConfig(), CollectorRegistry())
    service.subscribe(bus)
    record_llm_call("unknown-model-x", input_tokens=5, bus=bus)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    asyncio.run(service.usage_endpoint({"type": "http", "method": "GET"}, receive, send))
    body = json.loads(sent[1]["body"])
    assert sent[0]["status"] == 200 and body["count"] == 1
    assert (body["records"][0]["model"], body["records"][0]["cost_usd"]) == ("unknown-model-x", None)
    sent.clear()
    asyncio.run(service.usage_endpoint({"type": "http", "method": "POST"}, receive, send))
    assert sent[0]["status"] == 405


def _get(service: UsageService, query: bytes) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    scope = {"type": "http", "method": "GET", "query_string": query}
    asyncio.run(service.usage_endpoint(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_usage_endpoint_adds_the_spool_totals_of_every_worker(tmp_path: Path) -> None:
    from robutler_monitoring.plugin.usage.spool import Spool

    spool = str(tmp_path / "spool")
    other_worker = {
        "id": "w2-0",
        "type": "llm",
        "agent": "a",
        "model": "m",
        "prompt_tokens": 7,
        "timestamp": time.time() - 2 * 86400,
    }
    Spool(spool).add([other_worker])
    bus = EventBus()
    service = UsageService(UsageConfig(spool_dir=spool), CollectorRegistry())
    service.subscribe(bus)
    service.start()
    try:
        with HttpRequest("POST", "/chat", request_id="c1", bus=bus):
            record_llm_call("m", input_tokens=5, agent="a", bus=bus)
        assert service.recorder.flush()
        status, body = _get(service, b"records=0")
        assert status == 200 and body["records"] == [] and body["count"] == 0
        assert sorted((t["calls"], t["input_tokens"]) for t in body["totals"]) == [(1, 5), (1, 7)]
        assert len(_get(service, b"since=1h")[1]["totals"]) == 1  # the other worker's is two days old
        assert len(_get(service, b"")[1]["records"]) == 1  # this worker's own
        for query, error in (
            (b"since=yesterday", "query parameter since: 'yesterday' is not a duration"),
            (b"records=-1", "query parameter records: '-1' is not a count"),
        ):
            status, body = _get(service, query)
            assert status == 400 and body["error"].startswith(error)
    finally:
        service.stop()


def test_known_tools_and_models_start_at_zero_as_cost_or_unpriced_by_their_price(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    service = UsageService(_config(tmp_path), registry)
    service.declare(
        KnownLabels(
            tools=(("a", "search"),),
            models=(("a", "house-model"), ("a", "gpt-4o-mini"), ("b", "no-such-model-xyz")),
        )
    )
    samples = Samples.collect(registry)
    calls = samples.select("robutler_tool_calls_total")
    assert {(s.labels["tool"], s.labels["status"]) for s in calls} == {
        ("search", "success"), ("search", "error"), ("search", "client_closed"), ("search", "cancelled"),
    }  # fmt: skip
    assert all(s.value == 0 for s in calls)
    cost = samples.select("robutler_llm_cost_usd_total")
    assert sorted(s.labels["model"] for s in cost) == ["gpt-4o-mini", "house-model"]  # override, library
    unpriced = samples.select("robutler_llm_unpriced_tokens_total")
    assert [(s.labels["model"], s.value) for s in unpriced] == [("no-such-model-xyz", 0.0)]
    tokens = samples.select("robutler_llm_tokens_total")
    assert {(s.labels["agent"], s.labels["type"]) for s in tokens} == {
        ("a", "input"), ("a", "output"), ("b", "input"), ("b", "output"),
    }  # fmt: skip
    assert samples.select("robutler_llm_requests_total") and samples.select(
        "robutler_llm_request_duration_seconds_count"
    )


def test_usage_endpoint_refuses_out_of_range_values_with_400(tmp_path: Path) -> None:
    from robutler_monitoring.plugin.usage.spool import Spool

    spool = str(tmp_path / "spool")
    Spool(spool).add([{"id": "r", "type": "llm", "agent": "a", "model": "m", "timestamp": time.time()}])
    service = UsageService(UsageConfig(spool_dir=spool), CollectorRegistry())
    for query, error in (
        (b"since=99999999999999999999w", "query parameter since: '99999999999999999999w' is too long"),
        (b"since=" + b"9" * 400 + b"s", "query parameter since: '9999"),  # inf seconds
        (b"records=%C2%B2", "query parameter records: "),  # a superscript 2: isdigit() but no count
    ):
        status, body = _get(service, query)
        assert status == 400 and body["error"].startswith(error), (query, body)
    status, body = _get(service, b"since=5200w")  # a century: every hour kept
    assert status == 200 and len(body["totals"]) == 1


def test_usage_endpoint_writes_its_json_off_the_event_loop() -> None:
    # a year of hourly totals is megabytes of JSON: serialising it on the loop stalls every request
    threads: list[str] = []

    class Noted:
        def __str__(self) -> str:  # json.dumps(default=str) calls this where it runs
            threads.append(threading.current_thread().name)
            return "noted"

    service = UsageService(UsageConfig(), CollectorRegistry())
    service.recorder.recent.append({"id": "r", "extra": Noted()})
    loop_thread: list[str] = []

    async def main() -> tuple[int, dict[str, Any]]:
        loop_thread.append(threading.current_thread().name)
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request"}

        await service.usage_endpoint({"type": "http", "method": "GET"}, receive, send)
        return sent[0]["status"], json.loads(sent[1]["body"])

    status, body = asyncio.run(main())
    assert status == 200 and body["records"][0]["extra"] == "noted"
    assert threads and threads[0] != loop_thread[0]
