"""`robutler serve` (the demo) exporting usage over HTTP: receiver down then up, the server killed with -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.support.cloudevents import CloudEventsReceiver
from tests.support.polling import wait_until
from tests.support.servers import free_port, robutler_command, wait_for_port

ROUNDS = 6  # each round starts a server; the producer-process test runs 20 rounds
BODY = {"messages": [{"role": "user", "content": "what is 2+3?"}]}


def _spooled(spool: Path) -> set[str]:
    db = spool / "usage.sqlite3"
    if not db.exists():
        return set()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM records")}


def _received(receiver: CloudEventsReceiver, ids: set[str]) -> bool:
    return ids <= receiver.ids()


def _committed(spool: Path, receiver: CloudEventsReceiver, ids: set[str]) -> bool:
    return ids <= _spooled(spool) | receiver.ids()


def _more_than(receiver: CloudEventsReceiver, deliveries: int) -> bool:
    return receiver.deliveries > deliveries


@pytest.mark.slow
def test_served_usage_reaches_the_receiver_once_across_kill_9(tmp_path: Path) -> None:
    receiver = CloudEventsReceiver()
    spool = tmp_path / "spool"
    env = {
        **os.environ,
        "ROBUTLER_MONITORING__USAGE__SPOOL_DIR": str(spool),
        "ROBUTLER_MONITORING__USAGE__EXPORT__HTTP__URL": receiver.url,
        "ROBUTLER_MONITORING__USAGE__EXPORT__HTTP__MAX_BACKOFF": "0.5",
        "ROBUTLER_MONITORING__USAGE__EXPORT__HTTP__BATCH_SIZE": "3",
    }
    durable: set[str] = set()  # records seen committed in the spool (or already received)
    try:
        for round_ in range(ROUNDS + 1):
            if round_ == 2:
                receiver.start()  # down for the first two rounds
            port = free_port()
            out = (tmp_path / f"serve-{round_}.log").open("wb")
            proc = subprocess.Popen(
                robutler_command("serve", "--host", "127.0.0.1", "--port", str(port)),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
            try:
                assert wait_for_port("127.0.0.1", port, timeout=60), "server did not start"
                base = f"http://127.0.0.1:{port}"
                if round_ == ROUNDS:  # no new usage: what waits goes out
                    wait_until(partial(_received, receiver, set(durable)), timeout=60, what="every record")
                    break
                for _ in range(3):
                    httpx.post(f"{base}/assistant/chat/completions", json=BODY, timeout=30).raise_for_status()
                ids = {r["id"] for r in httpx.get(f"{base}/usage", timeout=10).json()["records"]}
                assert len(ids) == 3 * 3  # per request: two LLM calls and a tool call
                wait_until(partial(_committed, spool, receiver, ids), what="records committed")
                durable |= ids
                if round_ >= 2:  # kill it while it exports
                    before = receiver.deliveries
                    wait_until(partial(_more_than, receiver, before), timeout=30, what="an export")
            finally:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                out.close()
        assert len(durable) == 9 * ROUNDS
        assert durable <= receiver.ids()
        assert all(e["specversion"] == "1.0" and e["data"]["id"] == e["id"] for e in receiver.events.values())
        assert json.dumps(sorted(receiver.ids() - durable)) == "[]"  # nothing invented
    finally:
        receiver.stop()
