"""Export at least once, effect exactly once, through `robutler serve` killed with -9 twenty times.

The demo's agents produce usage records; a client sends chat requests (plain and streamed)
the whole time; the receiver is down for the first rounds, then up; every round ends with
`kill -9` of the whole server (parent and workers: the process group), every other round
with `--workers 2`. Afterwards the receiver holds, exactly once by id, every record of
every response the client received in full: a response ends only once its records are
committed to the spool, and the spool is sent at least once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.support.cloudevents import CloudEventsReceiver
from tests.support.polling import wait_until
from tests.support.servers import free_port, robutler_command, wait_for_port

ROUNDS = 20
DOWN_ROUNDS = 3  # the receiver is down for these: records wait on disk
RECORDS_PER_REQUEST = 3  # "what is 2+3?": an LLM call, the calculator, an LLM call
BODY = {"messages": [{"role": "user", "content": "what is 2+3?"}]}


@dataclass
class Client:
    """Sends chat requests until stopped; remembers the request ids of responses received in full.

    Once ``armed``, the first response received in full kills the server at once (``kill``):
    its records must be on disk already, though the server has only just sent its last byte.
    """

    url: str
    kill: Callable[[], None]
    complete: list[str] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    armed: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            rid = uuid.uuid4().hex
            self.tried.append(rid)
            headers = {"x-request-id": rid}
            try:  # a fresh connection each time: requests spread over the workers
                if n % 2:
                    reply = httpx.post(self.url, json=BODY, headers=headers, timeout=10)
                    full = reply.status_code == 200 and reply.json()["usage"]["total_tokens"] > 0
                else:
                    with httpx.stream(
                        "POST", self.url, json={**BODY, "stream": True}, headers=headers, timeout=10
                    ) as reply:
                        lines = list(reply.iter_lines())  # to the end of the chunked body, or raises
                    full = reply.status_code == 200 and "data: [DONE]" in lines
            except httpx.HTTPError:  # killed mid-response, or not listening
                continue
            assert reply.headers["x-request-id"] == rid
            if full:
                if self.armed.is_set() and not self.stop.is_set():
                    self.kill()
                    self.stop.set()
                self.complete.append(rid)


def _serve(port: int, workers: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = robutler_command("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers))
    with log.open("ab") as out:
        # its own process group: kill -9 of the group is the parent and every worker at once
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    _kill_group(proc)
    proc.wait(timeout=30)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _received_by_request(receiver: CloudEventsReceiver) -> dict[str, set[int]]:
    indexes: dict[str, set[int]] = defaultdict(set)
    for event in receiver.unique_events():
        indexes[event["data"]["request_id"]].add(event["data"]["index"])
    return indexes


def _all_received(receiver: CloudEventsReceiver, complete: set[str]) -> bool:
    got = _received_by_request(receiver)
    return all(len(got.get(rid, ())) == RECORDS_PER_REQUEST for rid in complete)


def _answered(clients: list[Client], n: int) -> bool:
    return sum(len(c.complete) for c in clients) >= n


def _more_than(receiver: CloudEventsReceiver, deliveries: int) -> bool:
    return receiver.deliveries > deliveries


def _round(proc: subprocess.Popen[bytes], url: str, receiver: CloudEventsReceiver | None) -> list[Client]:
    """Clients send until some are answered (and, with a receiver, an export went out); then the kill."""
    # two clients, so that another request is under way when one of them kills
    clients = [Client(url, partial(_kill_group, proc)) for _ in range(2)]
    threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
    before = receiver.deliveries if receiver is not None else 0
    for thread in threads:
        thread.start()
    try:
        wait_until(partial(_answered, clients, 3), timeout=30, what="answers")
        if receiver is not None:  # kill it while it exports
            wait_until(partial(_more_than, receiver, before), timeout=30, what="an export")
        for client in clients:
            client.armed.set()
        wait_until(proc.poll, timeout=30, what="the kill")
    finally:
        _kill(proc)
        for client, thread in zip(clients, threads, strict=True):
            client.stop.set()
            thread.join(timeout=30)
    return clients


@pytest.mark.slow
def test_every_record_of_every_answered_request_arrives_once_across_20_kill_9(tmp_path: Path) -> None:
    receiver = CloudEventsReceiver()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ROBUTLER_")},
        "ROBUTLER_MONITORING__USAGE__SPOOL_DIR": str(tmp_path / "spool"),
        "ROBUTLER_MONITORING__USAGE__EXPORT__HTTP__URL": receiver.url,
        "ROBUTLER_MONITORING__USAGE__EXPORT__HTTP__MAX_BACKOFF": "0.3",
        "ROBUTLER_MONITORING__USAGE__EXPORT__HTTP__BATCH_SIZE": "4",
        "ROBUTLER_LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "serve.log"
    complete: set[str] = set()
    tried: set[str] = set()
    started = time.monotonic()
    try:
        for round_ in range(ROUNDS + 1):
            if round_ == DOWN_ROUNDS:
                receiver.start()
            port = free_port()
            proc = _serve(port, 2 if round_ % 2 else 1, env, log)
            try:
                assert wait_for_port("127.0.0.1", port, timeout=60), log.read_text()[-3000:]
                if round_ == ROUNDS:  # no more requests: whatever waits goes out
                    wait_until(partial(_all_received, receiver, complete), timeout=60, what="every record")
                    break
                url = f"http://127.0.0.1:{port}/assistant/chat/completions"
                for client in _round(proc, url, receiver if round_ >= DOWN_ROUNDS else None):
                    complete.update(client.complete)
                    tried.update(client.tried)
            finally:
                _kill(proc)
        got = _received_by_request(receiver)
        missing = {rid: sorted(got.get(rid, ())) for rid in complete if len(got.get(rid, ())) != 3}
        assert missing == {}, f"records missing for {len(missing)} answered request(s)"
        assert set(got) <= tried  # nothing invented (a request cut by the kill may have its records, or not)
        assert all(indexes <= {0, 1, 2} for indexes in got.values())  # one id per record
        assert all(e["specversion"] == "1.0" and e["data"]["id"] == e["id"] for e in receiver.events.values())
        assert receiver.content_types == {"application/cloudevents-batch+json"}
        assert len(complete) >= 3 * ROUNDS
        print(
            f"{ROUNDS} kills: {len(complete)} answered requests, {len(receiver.events)} records received "
            f"once by id ({receiver.deliveries} deliveries) in {time.monotonic() - started:.0f} s"
        )
    finally:
        receiver.stop()
