"""A response's last byte waits until its usage records are on disk; nothing else waits."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from robutler_monitoring.events import EventBus, HttpRequest, Operation, record_llm_call
from robutler_monitoring.plugin.config.schema import UsageConfig
from robutler_monitoring.plugin.http.middleware import MonitoringMiddleware
from robutler_monitoring.plugin.usage.service import UsageService
from robutler_monitoring.plugin.usage.spool import DB_NAME


class _Served:
    """An app behind the monitoring wrapper with a usage service (writer thread, spool) on its bus."""

    def __init__(self, tmp_path: Path, commit_wait: float) -> None:
        self.spool = tmp_path / "spool"
        self.registry = CollectorRegistry()
        self.bus = EventBus()
        # no export sink: records stay for the retention, so the test can see them committed
        cfg = UsageConfig(spool_dir=str(self.spool), commit_wait=commit_wait, retention=3600)
        self.service = UsageService(cfg, self.registry)
        self.service.subscribe(self.bus)
        self.requests: list[HttpRequest] = []
        self.bus.subscribe("http", on_end=self._ended)
        self.app = MonitoringMiddleware(self._app, bus=self.bus)

    def _ended(self, op: Operation) -> None:
        assert isinstance(op, HttpRequest)
        self.requests.append(op)

    async def _app(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if path == "/stream":
            await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        if path in ("/llm", "/stream"):
            record_llm_call("gpt-4o-mini", input_tokens=10, output_tokens=2, agent="a", bus=self.bus)
        if path == "/stream":
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"" if path == "/stream" else b"ok"})

    def spooled(self) -> set[str]:
        with sqlite3.connect(f"file:{self.spool / DB_NAME}?mode=ro", uri=True, timeout=10) as db:
            return {row[0] for row in db.execute("SELECT id FROM records")}

    async def call(self, path: str, on_last: Any = None) -> list[tuple[float, dict[str, Any]]]:
        """The messages the server got, each with the seconds since the call."""
        start = time.perf_counter()
        sent: list[tuple[float, dict[str, Any]]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append((time.perf_counter() - start, dict(message)))
            last = message["type"] == "http.response.body" and not message.get("more_body")
            if on_last is not None and last:
                on_last()

        scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""}
        await self.app(scope, receive, send)
        return sent


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[_Served]:
    it = _Served(tmp_path, getattr(request, "param", 1.0))
    it.service.start()
    try:
        yield it
    finally:
        it.service.stop()


def test_the_last_byte_leaves_once_the_records_are_committed(served: _Served) -> None:
    at_last_byte: list[set[str]] = []

    async def run() -> None:
        for path in ("/llm", "/stream") * 10:
            await served.call(path, on_last=lambda: at_last_byte.append(served.spooled()))

    asyncio.run(run())
    ids = [r["id"] for r in served.service.recorder.recent]
    assert len(ids) == len(at_last_byte) == 20
    assert all(rid in spooled for rid, spooled in zip(ids, at_last_byte, strict=True))
    assert served.service.recorder.gate is not None and served.service.recorder.gate.timeouts == 0


@pytest.mark.parametrize("served", [0.3], indirect=True)
def test_a_stuck_disk_holds_only_the_last_message_of_responses_with_records(served: _Served) -> None:
    asyncio.run(served.call("/llm"))  # the writer has opened its spool
    assert served.service.recorder.flush()
    lock = sqlite3.connect(served.spool / DB_NAME, timeout=10, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # the writer's next commit waits for this lock
    try:
        plain = asyncio.run(served.call("/plain"))
        llm = asyncio.run(served.call("/llm"))
        stream = asyncio.run(served.call("/stream"))
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert plain[-1][0] < 0.2 and served.requests[-3].hold is None  # no records: no wait, no ticket
    assert 0.3 <= llm[-1][0] < 2.0  # waited commit_wait, then answered anyway
    first_chunk, done_chunk, last = stream[1][0], stream[2][0], stream[-1][0]
    assert first_chunk < 0.2 and done_chunk < 0.2 and 0.3 <= last < 2.0  # only the final empty chunk waits
    assert served.registry.get_sample_value("robutler_usage_commit_wait_timeouts_total") == 2
    assert served.service.recorder.flush()  # the lock is gone: the records are committed after all
    assert {r["id"] for r in served.service.recorder.recent} <= served.spooled()


@pytest.mark.parametrize("served", [0.0], indirect=True)
def test_commit_wait_0_never_holds(served: _Served) -> None:
    asyncio.run(served.call("/llm"))
    assert served.requests[-1].hold is None and served.service.recorder.gate is None
