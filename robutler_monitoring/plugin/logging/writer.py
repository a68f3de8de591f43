"""A bounded, non-blocking line queue drained by one writer thread.

Logging never makes a request wait on a slow sink: :meth:`LineWriter.write` appends
to a bounded deque and returns; when the queue is full the line is dropped and
counted (``dropped``), and the writer thread reports the count in a WARNING line
once it catches up. The thread writes whole lines in chunks of at most
``PIPE_BUF`` bytes with one ``os.write`` each (a longer line alone), so lines from
several worker processes sharing a pipe or an ``O_APPEND`` file are never torn or
interleaved; a line longer than ``PIPE_BUF`` on a shared pipe is kept whole by the
output's lock (``writelock.py``).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import threading
import time
from typing import Protocol

from .entry import iso_utc, to_json

#: POSIX guarantees writes up to this size to a pipe are atomic.
CHUNK = 4096


class Output(Protocol):
    """Where bytes go: a file descriptor, a stream or a rotating file."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class LineWriter:
    """Queue lines from any thread; a daemon thread writes them out in order.

    >>> import io
    >>> from robutler_monitoring.plugin.logging.outputs import StreamOutput
    >>> buf = io.StringIO()
    >>> w = LineWriter(StreamOutput(buf), max_queue=1000)
    >>> w.write('{"message": "hi"}\\n')
    >>> w.flush()
    True
    >>> buf.getvalue()
    '{"message": "hi"}\\n'
    >>> w.close()
    """

    def __init__(self, output: Output, max_queue: int = 10000) -> None:
        self.output = output
        self.max_queue = max_queue
        self._queue: collections.deque[str | threading.Event] = collections.deque()
        self._wake = threading.Event()
        self._drop_lock = threading.Lock()
        self._dropped = 0
        self._reported = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start()
        atexit.register(self.close)
        os.register_at_fork(after_in_child=self._after_fork)

    @property
    def dropped(self) -> int:
        """Lines dropped so far because the queue was full."""
        return self._dropped

    def write(self, line: str) -> None:
        """Queue one line (ending in a newline); never blocks."""
        queue = self._queue
        if len(queue) >= self.max_queue:
            with self._drop_lock:
                self._dropped += 1
            return
        queue.append(line)
        if not self._wake.is_set():
            self._wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written; False on timeout."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._drain()  # no writer thread (closed, or interpreter shutting down)
            return True
        done = threading.Event()
        self._queue.append(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Flush, stop the thread and close the output (idempotent)."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._drain()
        self.output.close()
        atexit.unregister(self.close)

    def _after_fork(self) -> None:
        if not self._closed:  # the writer thread does not survive a fork
            self._start()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="robutler-log-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()  # before draining, so a line queued meanwhile wakes us again
            self._drain()

    def _drain(self) -> None:
        queue = self._queue
        chunk: list[bytes] = []
        size = 0
        while queue:
            try:
                item = queue.popleft()
            except IndexError:
                break
            if isinstance(item, threading.Event):
                self._emit(chunk)
                chunk, size = [], 0
                item.set()
                continue
            data = item.encode("utf-8", "backslashreplace")
            if size + len(data) > CHUNK and chunk:
                self._emit(chunk)
                chunk, size = [], 0
            chunk.append(data)
            size += len(data)
        self._emit(chunk)
        if self._dropped != self._reported:
            self._report_drops()

    def _emit(self, chunk: list[bytes]) -> None:
        if not chunk:
            return
        try:
            self.output.write(b"".join(chunk))
        except Exception:  # a full disk or a closed pipe must not kill the writer
            with self._drop_lock:
                self._dropped += len(chunk)

    def _report_drops(self) -> None:
        with self._drop_lock:
            count, self._reported = self._dropped - self._reported, self._dropped
        entry = {
            "timestamp": iso_utc(time.time()),
            "level": "WARNING",
            "logger": "robutler.logging",
            "message": f"dropped {count} log lines: the log queue was full or the output failed",
            "dropped": count,
            "dropped_total": self._reported,
        }
        with contextlib.suppress(Exception):  # nothing left to tell it to
            self.output.write((to_json(entry) + "\n").encode())
