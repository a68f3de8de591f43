"""The bounded queue: a slow output never makes the caller wait; what is queued is flushed."""

from __future__ import annotations

import io
import json
import threading
import time

from robutler_monitoring.plugin.logging.outputs import StreamOutput
from robutler_monitoring.plugin.logging.writer import CHUNK, LineWriter


class SlowOutput:
    """An output stuck until released, like a full pipe nobody reads."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.release.wait(10)
        self.chunks.append(data)

    def close(self) -> None:
        pass


def test_a_stuck_output_never_blocks_the_caller_and_drops_are_counted() -> None:
    out = SlowOutput()
    writer = LineWriter(out, max_queue=100)
    try:
        started = time.perf_counter()
        for i in range(1000):
            writer.write(f'{{"n":{i}}}\n')
        elapsed = time.perf_counter() - started
        assert elapsed < 5  # 1000 lines while the output is stuck for 10 s a write: no waiting
        assert 800 <= writer.dropped <= 900  # 100 queued (+1 batch in the writer's hands)
        out.release.set()
        assert writer.flush(5)
    finally:
        writer.close()
    lines = b"".join(out.chunks).decode().splitlines()
    kept = [json.loads(line) for line in lines]
    report = kept[-1]
    assert report["level"] == "WARNING" and report["dropped"] == writer.dropped
    assert len(kept) - 1 + writer.dropped == 1000


def test_close_flushes_everything_in_order() -> None:
    buffer = io.StringIO()
    writer = LineWriter(StreamOutput(buffer), max_queue=100_000)
    for i in range(20_000):
        writer.write(f"{i}\n")
    writer.close()
    assert buffer.getvalue().splitlines() == [str(i) for i in range(20_000)]
    assert writer.dropped == 0


class RecordingOutput:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        pass


def test_each_write_holds_whole_lines_within_pipe_buf() -> None:
    out = RecordingOutput()
    writer = LineWriter(out, max_queue=100_000)
    for i in range(3000):
        writer.write("x" * (i % 300) + "\n")
    writer.write("y" * 10_000 + "\n")  # longer than PIPE_BUF: written alone
    writer.close()
    for data in out.writes:
        assert data.endswith(b"\n")
        assert len(data) <= CHUNK or data.count(b"\n") == 1
