"""Export at least once, effect exactly once: receiver down then up, the producer killed with -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from tests.support.cloudevents import CloudEventsReceiver
from tests.support.polling import wait_until

ROUNDS = 20
ROOT = Path(__file__).resolve().parents[3]


def _committed(out: Path) -> list[str]:
    text = out.read_text() if out.exists() else ""
    return [
        line.split()[1]
        for line in text.splitlines(keepends=True)
        if line.startswith("committed") and line.endswith("\n")
    ]


def _at_least(out: Path, n: int) -> bool:
    return len(_committed(out)) >= n


def _more_than(receiver: CloudEventsReceiver, deliveries: int) -> bool:
    return receiver.deliveries > deliveries


@pytest.mark.slow
def test_every_record_reaches_the_receiver_once_by_id_across_kill_9(tmp_path: Path) -> None:
    receiver = CloudEventsReceiver()
    spool = tmp_path / "spool"
    committed: set[str] = set()
    try:
        for round_ in range(ROUNDS + 1):
            last = round_ == ROUNDS
            if round_ == 5:
                receiver.start()  # down for the first five rounds: records wait on disk
            out = tmp_path / f"out-{round_}.txt"
            with out.open("wb") as stdout:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.support.usage_producer",
                        str(spool),
                        receiver.url,
                        "0" if last else "15",
                    ],
                    stdout=stdout,
                    cwd=ROOT,
                )
            try:
                if last:  # no new records: the rest of the spool goes out
                    wait_until(
                        lambda: committed <= receiver.ids(),
                        timeout=60,
                        what="every committed record received",
                    )
                else:
                    before = receiver.deliveries
                    wait_until(partial(_at_least, out, 5), timeout=60, what="records committed")
                    if round_ >= 5:  # kill it while it exports
                        wait_until(partial(_more_than, receiver, before), timeout=60, what="an export")
            finally:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            committed.update(_committed(out))
        assert len(committed) >= 5 * ROUNDS
        assert committed <= receiver.ids()  # none missing
        assert len(receiver.ids()) == len(receiver.events)  # each once by id
        assert all(
            event["specversion"] == "1.0" and event["source"] == "test" for event in receiver.events.values()
        )
        assert receiver.content_types == {"application/cloudevents-batch+json"}
        # every delivered record is one the producers made (no invented ids); re-sent copies share the id
        assert receiver.deliveries >= len(receiver.events)
    finally:
        receiver.stop()
