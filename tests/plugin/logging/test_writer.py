"""The bounded queue: a slow output never makes the caller wait; what is queued is flushed."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest

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


class FailingOutput:
    """An output whose every write fails with ``exc`` (a closed pipe, a full disk)."""

    def __init__(self, exc: OSError, fd: int = 1) -> None:
        self.exc = exc
        self.fd = fd
        self.calls = 0

    def write(self, data: bytes) -> None:
        self.calls += 1
        raise self.exc

    def close(self) -> None:
        pass


def test_output_failures_are_counted_by_reason_and_said_once(capfd: pytest.CaptureFixture[str]) -> None:
    import errno

    seen: list[tuple[str, int]] = []
    writer = LineWriter(FailingOutput(OSError(errno.ENOSPC, "No space left on device")), max_queue=1000)
    writer.on_drop(lambda reason, count: seen.append((reason, count)))
    try:
        for round_ in range(3):
            for i in range(10):
                writer.write(f'{{"n":{round_ * 10 + i}}}\n')
            assert writer.flush(5)
    finally:
        writer.close()
    assert writer.drops()["no_space"] == 30 and writer.dropped == 30
    assert sum(count for reason, count in seen if reason == "no_space") == 30
    last = writer.last_drop()
    assert last is not None and last[1] == "no_space"
    err = capfd.readouterr().err
    assert err.count("robutler: log output failed (no space)") == 1  # rate-limited: once
    assert "robutler_log_lines_dropped_total" in err


def test_drop_reasons() -> None:
    import errno

    from robutler_monitoring.plugin.logging.writer import drop_reason

    assert drop_reason(BrokenPipeError(errno.EPIPE, "Broken pipe")) == "broken_pipe"
    assert drop_reason(OSError(errno.ENOSPC, "full")) == "no_space"
    assert drop_reason(OSError(errno.EIO, "I/O error")) == "output_error"
    assert drop_reason(UnicodeError("x")) == "output_error"


def test_the_health_check_warns_while_lines_are_dropped() -> None:
    from robutler_monitoring.plugin.logging.observe import output_check

    writer = LineWriter(FailingOutput(BrokenPipeError(32, "Broken pipe"), fd=2), max_queue=1000)
    check = output_check(writer, window=60.0)
    try:
        assert check() == {"status": "pass", "observedValue": 0}
        writer.write("x\n")
        assert writer.flush(5)
        result = check()
        assert result["status"] == "warn" and result["observedValue"] == 1
        assert "broken_pipe: 1" in result["output"]
        assert output_check(writer, window=0.0)()["status"] == "pass"  # old news
    finally:
        writer.close()


def test_the_drop_metric_counts_by_reason() -> None:
    from prometheus_client import CollectorRegistry

    from robutler_monitoring.plugin.logging.observe import count_drops

    registry = CollectorRegistry()
    writer = LineWriter(SlowOutput(), max_queue=5)
    try:
        for _ in range(50):
            writer.write("x\n")
        count_drops(writer, registry)  # drops so far count too
        writer.write("x\n")
        value = registry.get_sample_value("robutler_log_lines_dropped_total", {"reason": "queue_full"})
        assert value == writer.drops()["queue_full"] >= 45
        assert registry.get_sample_value("robutler_log_lines_dropped_total", {"reason": "broken_pipe"}) == 0
    finally:
        writer.output.release.set()  # type: ignore[attr-defined]
        writer.close()


def test_lines_written_after_drain_on_write_are_out_when_write_returns() -> None:
    out = RecordingOutput()
    writer = LineWriter(out, max_queue=1000, linger=10.0)  # the thread would sit on a batch for 10 s
    try:
        writer.write("before\n")
        writer.drain_on_write(5.0)
        writer.write("Finished server process [1]\n")
        assert b"".join(out.writes) == b"before\nFinished server process [1]\n"
    finally:
        writer.close()


def test_the_writer_wakes_rarely_under_a_stream_of_lines() -> None:
    out = RecordingOutput()
    writer = LineWriter(out, max_queue=100_000)
    try:
        deadline = time.monotonic() + 0.5
        lines = 0
        while time.monotonic() < deadline:
            writer.write('{"message":"x"}\n')
            lines += 1
            if lines % 100 == 0:
                time.sleep(0.001)  # a request every so often, as a server would
        assert writer.flush(5)
    finally:
        writer.close()
    assert len(out.writes) < lines / 20  # batches, not a write (and a wake-up) per line


def _render(item: tuple[object, ...]) -> str:
    return f'{{"deferred":{item[1]}}}\n'


def _broken(item: tuple[object, ...]) -> str:
    raise KeyError("a formatting bug")


def test_deferred_lines_are_formatted_in_queue_order_with_the_other_lines() -> None:
    buffer = io.StringIO()
    writer = LineWriter(StreamOutput(buffer), max_queue=100_000)
    tag = writer.renderer(_render)
    try:
        for i in range(3000):  # several chunks' worth
            writer.write((tag, i) if i % 3 else f'{{"line":{i}}}\n')
        assert writer.flush(5)
    finally:
        writer.close()
    got = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert got == [{"deferred": i} if i % 3 else {"line": i} for i in range(3000)]


def test_a_deferred_line_that_fails_to_format_is_dropped_and_counted_and_the_writer_goes_on(
    capfd: pytest.CaptureFixture[str],
) -> None:
    buffer = io.StringIO()
    writer = LineWriter(StreamOutput(buffer), max_queue=1000)
    broken, render = writer.renderer(_broken), writer.renderer(_render)
    try:
        writer.write('{"n":1}\n')
        writer.write((broken, 2))
        writer.write((render, 3))
        assert writer.flush(5)
        writer.write('{"n":4}\n')  # the writer thread survived the bug
        assert writer.flush(5)
        assert writer._thread is not None and writer._thread.is_alive()
    finally:
        writer.close()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    written = [line for line in lines if line.get("level") != "WARNING"]
    assert written == [{"n": 1}, {"deferred": 3}, {"n": 4}]
    assert writer.dropped == 1 and writer.drops()["format_error"] == 1
    (report,) = [line for line in lines if line.get("level") == "WARNING"]
    assert report["dropped"] == 1 and report["dropped_by_reason"] == {"format_error": 1}
    err = capfd.readouterr().err  # the output is fine: stderr must not say it failed
    assert "a log line could not be formatted" in err and "log output failed" not in err


def test_a_full_queue_drops_deferred_lines_too_and_counts_them() -> None:
    out = SlowOutput()
    writer = LineWriter(out, max_queue=100)
    tag = writer.renderer(_render)
    try:
        for i in range(1000):
            writer.write((tag, i) if i % 2 else f'{{"deferred":{i}}}\n')
        assert 800 <= writer.dropped <= 900
        assert writer.drops()["queue_full"] == writer.dropped
        out.release.set()
        assert writer.flush(5)
    finally:
        writer.close()
    kept = [json.loads(line) for line in b"".join(out.chunks).decode().splitlines()]
    assert kept[-1]["dropped"] == writer.dropped
    numbers = [entry["deferred"] for entry in kept[:-1]]
    assert numbers == sorted(numbers) and len(numbers) + writer.dropped == 1000
    assert any(n % 2 for n in numbers) and any(n % 2 == 0 for n in numbers)
