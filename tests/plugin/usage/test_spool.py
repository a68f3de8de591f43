"""The spool: durable records, a cursor per sink, a bound with counted drops, one sender by lease."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from robutler_monitoring.plugin.usage.exporter import Exporter
from robutler_monitoring.plugin.usage.sinks import JsonlSink
from robutler_monitoring.plugin.usage.spool import Spool, SpoolStats
from robutler_monitoring.plugin.usage.totals import read_totals


def _records(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": f"r-{i}", "type": "llm", "agent": "a", "timestamp": 1.0} for i in range(start, start + n)]


def test_records_survive_reopening_and_duplicates_are_skipped(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), sinks=("http",))
    assert spool.add(_records(3)) == 3
    spool.close()
    again = Spool(str(tmp_path), sinks=("http",))
    assert again.add(_records(2)) == 0  # same ids: already there
    assert [r["id"] for _, r in again.pending("http", 10)] == ["r-0", "r-1", "r-2"]
    assert again.stats().records == 3


def test_a_record_is_deleted_once_every_sink_has_it(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), sinks=("http", "jsonl"))
    spool.add(_records(4))
    seq = spool.pending("http", 2)[-1][0]
    spool.delivered("http", seq)
    assert [r["id"] for _, r in spool.pending("http", 10)] == ["r-2", "r-3"]
    assert len(spool.all_records()) == 4  # jsonl still lacks them all
    spool.delivered("jsonl", spool.pending("jsonl", 10)[-1][0])
    assert [r["id"] for r in spool.all_records()] == ["r-2", "r-3"]


def test_full_spool_drops_the_oldest_and_counts(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), sinks=("http",), max_records=100)
    spool.add(_records(150))
    stats = spool.stats()
    assert (stats.records, stats.dropped) == (100, 50)
    assert spool.pending("http", 1)[0][1]["id"] == "r-50"


def test_one_sender_at_a_time(tmp_path: Path) -> None:
    a, b = Spool(str(tmp_path)), Spool(str(tmp_path))
    assert a.acquire_lease("a", 30)
    assert not b.acquire_lease("b", 30)
    assert a.acquire_lease("a", 30)  # renewal
    a.release_lease("a")
    assert b.acquire_lease("b", 30)


def test_expired_lease_is_taken_over(tmp_path: Path) -> None:
    a, b = Spool(str(tmp_path)), Spool(str(tmp_path))
    assert a.acquire_lease("a", -1)  # expired at once: a died
    assert b.acquire_lease("b", 30)


class _Flaky:
    name = "http"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.got: list[str] = []

    def send(self, records: Sequence[dict[str, Any]]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("down")
        self.got.extend(r["id"] for r in records)

    def close(self) -> None:
        pass


def test_failed_batch_waits_with_backoff_then_goes_out(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), sinks=("http",))
    spool.add(_records(5))
    sink = _Flaky(failures=2)
    failed: list[str] = []
    exporter = Exporter(lambda: spool, [sink], batch_size=3, on_failed=lambda s, e: failed.append(s))
    waits = [exporter.send_once(spool)]
    assert 0.25 <= waits[0] <= 0.5 and sink.got == []
    exporter._next_try.clear()  # skip the wait
    waits.append(exporter.send_once(spool))
    assert 0.5 <= waits[1] <= 1.0  # doubled
    exporter._next_try.clear()
    assert exporter.send_once(spool) == 0.0  # a full batch went; more waits
    exporter.send_once(spool)
    assert sink.got == ["r-0", "r-1", "r-2", "r-3", "r-4"] and failed == ["http", "http"]
    assert spool.stats().records == 0


def test_jsonl_sink_appends_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "out" / "usage.jsonl"
    sink = JsonlSink(str(path), max_bytes=100, keep=2)  # one ~60-byte record a file
    for i in range(6):
        sink.send(_records(1, i))
    files = (path, Path(f"{path}.1"), Path(f"{path}.2"))
    assert [[json.loads(line)["id"] for line in p.read_text().splitlines()] for p in files] == [
        ["r-5"],
        ["r-4"],
        ["r-3"],
    ]
    assert not Path(f"{path}.3").exists()


@pytest.mark.parametrize("n", [1, 250])
def test_exporter_thread_sends_everything_to_a_file(tmp_path: Path, n: int) -> None:
    from tests.support.polling import wait_until

    spool_dir, out = str(tmp_path / "spool"), tmp_path / "usage.jsonl"
    Spool(spool_dir, sinks=("jsonl",)).add(_records(n))
    exporter = Exporter(
        lambda: Spool(spool_dir, sinks=("jsonl",)),
        [JsonlSink(str(out), max_bytes=10**9, keep=1)],
        idle_s=0.02,
    )
    exporter.start()
    try:
        wait_until(
            lambda: out.exists() and len(out.read_text().splitlines()) == n, what="all records in the file"
        )
    finally:
        exporter.stop()
    assert Spool(spool_dir, sinks=("jsonl",)).stats().records == 0


NO_SUCH_PID = 2**22 + 1  # above Linux's largest pid_max: never a live process


def test_a_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    from robutler_monitoring.plugin.usage.spool import lease_owner

    host = lease_owner().partition(":")[0]
    for holder, taken in (
        (f"{host}:{NO_SUCH_PID}:x", True),  # as a worker killed with -9 left it
        (f"{host}:{os.getppid()}:x", False),  # alive: wait for the expiry
        (f"elsewhere:{NO_SUCH_PID}:x", False),  # another host's pid says nothing here
    ):
        directory = tmp_path / holder.replace(":", "_")
        assert Spool(str(directory)).acquire_lease(holder, 30)
        assert Spool(str(directory)).acquire_lease(lease_owner(), 30) is taken, holder


def test_with_no_sink_records_are_summed_and_not_kept(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_records=100)  # budgets or GET /usage alone: a spool, no export
    for start in range(0, 1000, 50):
        assert spool.add(_records(50, start)) == 50
    assert spool.all_records() == []
    assert spool.stats() == SpoolStats(records=0, oldest_unsent_age_s=None, dropped=0)
    (total,) = read_totals(str(tmp_path))
    assert total["calls"] == 1000  # every record counted once, none kept


def test_with_no_sink_records_stay_for_the_retention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr("robutler_monitoring.plugin.usage.spool.time.time", lambda: clock[0])
    spool = Spool(str(tmp_path), max_records=100, retention_s=3600)
    spool.add(_records(3))
    clock[0] += 1800
    spool.add(_records(2, start=3))
    assert [r["id"] for r in spool.all_records()] == ["r-0", "r-1", "r-2", "r-3", "r-4"]
    clock[0] += 1801  # the first three are past the hour
    spool.add(_records(1, start=5))
    assert [r["id"] for r in spool.all_records()] == ["r-3", "r-4", "r-5"]
    assert spool.stats().records == 0  # nothing waits for a sink
    spool.add(_records(200, start=6))  # past max_records: deleted, but nothing a sink lacked
    assert (len(spool.all_records()), spool.stats().dropped) == (100, 0)


def test_delivered_records_stay_for_the_retention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr("robutler_monitoring.plugin.usage.spool.time.time", lambda: clock[0])
    spool = Spool(str(tmp_path), sinks=("http",), retention_s=60)
    spool.add(_records(4))
    spool.delivered("http", spool.pending("http", 2)[-1][0])
    assert len(spool.all_records()) == 4 and spool.stats().records == 2
    clock[0] += 61
    spool.delivered("http", spool.pending("http", 2)[-1][0] - 1)  # r-2 sent; r-3 still waits
    assert [r["id"] for r in spool.all_records()] == ["r-3"]


def test_only_records_a_sink_lacked_count_as_dropped(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), sinks=("http",), max_records=100, retention_s=3600)
    spool.add(_records(80))
    spool.delivered("http", spool.pending("http", 100)[-1][0])  # kept for the retention, but sent
    spool.add(_records(50, start=80))  # 30 over: all of them already sent
    assert (len(spool.all_records()), spool.stats().dropped) == (100, 0)
    spool.add(_records(70, start=130))  # 70 more over: 50 sent ones, then 20 unsent
    stats = spool.stats()
    assert (stats.records, stats.dropped) == (100, 20)
    assert spool.pending("http", 1)[0][1]["id"] == "r-100"
