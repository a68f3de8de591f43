"""A bounded, non-blocking line queue drained by one writer thread that wakes rarely.

Logging never makes a request wait on a slow sink: :meth:`LineWriter.write` appends
to a bounded deque and returns; when the queue is full the line is dropped and
counted. The writer thread is woken once when lines arrive after a quiet spell, then
lingers a few milliseconds so that it takes lines in batches: under load it wakes a
few dozen times a second rather than once a line, and so rarely competes with the
event loop for the GIL. It writes whole lines with one ``os.write`` per chunk:
at most ``PIPE_BUF`` bytes when several worker processes share a pipe (so their
lines never tear or interleave; a longer line is kept whole by the output's lock,
``writelock.py``), larger chunks where a write lands whole anyway (one process, or
an ``O_APPEND`` file).

A line may be queued as its values with the function that formats it (:data:`Deferred`): the
writer thread formats it when it takes it, so formatting happens in batches, off the
event loop. Lines that cannot be written are counted by reason (:data:`DROP_REASONS`): the
queue was full, the reader of a pipe went away, the disk is full, another
output error, or a deferred line whose formatting failed (a bug, not the output's fault).
A full queue is reported in a WARNING line once the writer catches
up; an output failure is reported on stderr (at most once a minute), since the
output itself cannot carry the news.

At shutdown (:meth:`LineWriter.drain_on_write`) every later line is written before
``write`` returns, so the last lines of a process are out before a signal ends it.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import errno
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from .entry import iso_utc, to_json

#: POSIX guarantees writes up to this size to a pipe are atomic.
CHUNK = 4096
#: how long the writer thread waits for more lines once woken (seconds)
LINGER_S = 0.02
#: how often an output failure is repeated on stderr at most (seconds)
NOTICE_INTERVAL_S = 60.0
#: why lines are lost, the ``reason`` label of ``robutler_log_lines_dropped_total``
DROP_REASONS = ("queue_full", "broken_pipe", "no_space", "output_error", "format_error")
_PIPE_ERRNOS = frozenset({errno.EPIPE, errno.ECONNRESET, errno.EBADF})
_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})

OnDrop = Callable[[str, int], None]
#: a line formatted by the writer thread: ``(tag, *values)``, written as ``renderer(item)``
#: (the tag from :meth:`LineWriter.renderer`; plain values only, so the garbage collector
#: stops tracking the tuple while it waits in the queue)
Deferred = tuple[Any, ...]


class Output(Protocol):
    """Where bytes go: a file descriptor, a stream or a rotating file."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def drop_reason(exc: BaseException) -> str:
    """The drop reason for an exception an output raised."""
    code = getattr(exc, "errno", None)
    if isinstance(exc, BrokenPipeError) or code in _PIPE_ERRNOS:
        return "broken_pipe"
    if code in _SPACE_ERRNOS:
        return "no_space"
    return "output_error"


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

    def __init__(self, output: Output, max_queue: int = 10000, linger: float = LINGER_S) -> None:
        self.output = output
        self.max_queue = max_queue
        self.linger = linger
        self.chunk_size: int = getattr(output, "chunk_size", CHUNK)
        self._queue: collections.deque[str | Deferred | threading.Event] = collections.deque()
        self._wake = threading.Event()  # the writer thread sleeps on this when there is nothing to do
        self._hurry = threading.Event()  # cuts the linger short: flush, close, a filling queue
        self._idle = False  # True while the writer thread waits on _wake
        self._high = max(1, max_queue // 2)
        self._sync_timeout: float | None = None
        self._drop_lock = threading.Lock()
        self._drops: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self._dropped = 0
        self._reported = 0
        self._last_drop: tuple[float, str] | None = None  # (time.monotonic(), reason)
        self._noticed = float("-inf")
        self._on_drop: list[OnDrop] = []
        self._renderers: list[Callable[[Deferred], str]] = []
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start()
        atexit.register(self.close)
        os.register_at_fork(after_in_child=self._after_fork)

    @property
    def dropped(self) -> int:
        """Lines dropped so far, for any reason."""
        return self._dropped

    def drops(self) -> dict[str, int]:
        """Lines dropped so far by reason (every reason of :data:`DROP_REASONS`, zeros included)."""
        with self._drop_lock:
            return dict(self._drops)

    def last_drop(self) -> tuple[float, str] | None:
        """``(time.monotonic(), reason)`` of the latest drop, or None."""
        return self._last_drop

    def on_drop(self, callback: OnDrop) -> None:
        """Call ``callback(reason, count)`` for every future drop (the counts so far first)."""
        for reason, count in self.drops().items():
            if count:
                callback(reason, count)
        self._on_drop.append(callback)

    def renderer(self, render: Callable[[Deferred], str]) -> int:
        """Register ``render`` for deferred lines; returns the tag their tuples start with."""
        with self._drop_lock:
            self._renderers.append(render)
            return len(self._renderers) - 1

    def write(self, line: str | Deferred) -> None:
        """Queue one line (ending in a newline); never blocks (except at shutdown, bounded).

        ``line`` may be a :data:`Deferred` line: a tuple whose first item is the tag
        :meth:`renderer` gave; the writer thread calls that renderer with the tuple when
        it takes the line.
        """
        queue = self._queue
        if len(queue) >= self.max_queue:
            self._drop("queue_full", 1)
            return
        queue.append(line)
        if self._idle:
            self._idle = False
            self._wake.set()
        elif len(queue) > self._high:
            self._hurry.set()
        if self._sync_timeout is not None:
            self.flush(self._sync_timeout)

    def drain_on_write(self, timeout: float = 2.0) -> None:
        """From now on, ``write`` returns once its line is written (or ``timeout`` passed).

        For the end of a process: nothing serves requests any more, and a signal
        may end the process before the writer thread would have woken.
        """
        self._sync_timeout = timeout
        self.flush(timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written; False on timeout."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._drain()  # no writer thread (closed, or interpreter shutting down)
            return True
        if thread is threading.current_thread():
            return False  # the writer reporting on itself: it drains right after
        done = threading.Event()
        self._queue.append(done)
        self._hurry.set()
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Flush, stop the thread and close the output (idempotent)."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self._hurry.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        # never two threads draining (and rendering) at once: a writer stuck past the timeout keeps its lines
        if thread is None or thread is threading.current_thread() or not thread.is_alive():
            self._drain()
        self.output.close()
        atexit.unregister(self.close)

    def _after_fork(self) -> None:
        if not self._closed:  # the writer thread does not survive a fork
            self._drop_lock = threading.Lock()
            self._start()

    def _start(self) -> None:
        self._idle = False
        self._thread = threading.Thread(target=self._run, name="robutler-log-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        queue = self._queue
        while not self._closed:
            self._wake.clear()
            self._idle = True
            if not queue:  # checked after _idle is set: a line queued now sets _wake
                self._wake.wait()
            self._idle = False
            if self.linger > 0 and not self._closed:
                self._hurry.wait(self.linger)  # let a batch gather: one wake-up, one write
            self._hurry.clear()
            self._drain()

    def _drain(self) -> None:
        queue = self._queue
        limit = self.chunk_size
        chunk: list[str] = []
        size = 0
        while queue:
            try:
                item = queue.popleft()
            except IndexError:
                break
            if type(item) is not str:
                if type(item) is tuple:  # a deferred line: formatted here, in queue order
                    try:
                        item = self._renderers[item[0]](item)
                    except Exception:  # a formatting bug must not kill the writer
                        self._drop("format_error", 1)
                        continue
                else:  # a flush marker
                    self._emit(chunk)
                    chunk, size = [], 0
                    item.set()  # type: ignore[union-attr]
                    continue
            if size + len(item) > limit and chunk:
                self._emit(chunk)
                chunk, size = [], 0
            chunk.append(item)
            size += len(item)
        self._emit(chunk)
        if self._dropped != self._reported:
            self._report_drops()

    def _emit(self, chunk: list[str]) -> None:
        if not chunk:
            return
        data = "".join(chunk).encode("utf-8", "backslashreplace")
        if len(data) > self.chunk_size and len(chunk) > 1:
            # non-ASCII text grew in encoding: write line by line to keep chunks atomic
            for line in chunk:
                self._emit([line])
            return
        try:
            self.output.write(data)
        except Exception as exc:  # a full disk or a closed pipe must not kill the writer
            self._drop(drop_reason(exc), len(chunk))

    def _drop(self, reason: str, count: int) -> None:
        with self._drop_lock:
            self._drops[reason] += count
            self._dropped += count
        self._last_drop = (time.monotonic(), reason)
        for callback in self._on_drop:
            with contextlib.suppress(Exception):
                callback(reason, count)
        if reason != "queue_full":
            self._notice(reason)

    def _notice(self, reason: str) -> None:
        now = time.monotonic()
        if now - self._noticed < NOTICE_INTERVAL_S or getattr(self.output, "fd", None) == 2:
            return  # said recently, or stderr is the broken output itself
        self._noticed = now
        counts = ", ".join(f"{r}: {n}" for r, n in self.drops().items() if n)
        what = (
            "a log line could not be formatted (a bug: please report it)"
            if reason == "format_error"
            else f"log output failed ({reason.replace('_', ' ')})"
        )
        text = (
            f"robutler: {what}; lines are being dropped "
            f"({counts} so far; see robutler_log_lines_dropped_total)\n"
        )
        with contextlib.suppress(OSError):
            os.write(2, text.encode())

    def _report_drops(self) -> None:
        with self._drop_lock:
            count, self._reported = self._dropped - self._reported, self._dropped
            by_reason = {r: n for r, n in self._drops.items() if n}
        entry = {
            "timestamp": iso_utc(time.time()),
            "level": "WARNING",
            "logger": "robutler.logging",
            "message": f"dropped {count} log lines: the log queue was full or the output failed",
            "dropped": count,
            "dropped_total": self._reported,
            "dropped_by_reason": by_reason,
        }
        with contextlib.suppress(Exception):  # nothing left to tell it to
            self.output.write((to_json(entry) + "\n").encode())
