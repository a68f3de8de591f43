"""Whole lines on a stdout or stderr that several processes share (``--workers N``).

One ``write`` of at most ``PIPE_BUF`` bytes to a pipe is atomic; a longer one (a
traceback line) is copied in pieces when the pipe is full, and another worker's
line can land between them. So when the output is a pipe, a socket or a terminal,
writers take an ``flock`` on a lock file: exclusive for a write longer than what is
atomic, shared otherwise. A shared lock costs no waiting between the short writes
(they stay atomic among themselves), but keeps them out of a long one, which they
would otherwise tear just the same.

The lock file is created by the ``robutler serve`` process before it starts workers
and named to them in ``ROBUTLER_LOG_LOCK``. Each process opens it itself: workers
share one open file description of stdout, so an ``flock`` on it would not exclude
anyone, while the lock file opened separately does. Regular files need no lock:
Linux serializes writes to one file (``O_APPEND`` or a shared offset) whole.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import stat
import tempfile
from collections.abc import Callable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process lock, writes as before
    fcntl = None  # type: ignore[assignment]

#: names the lock file to the worker processes of one `robutler serve`
LOCK_ENV = "ROBUTLER_LOG_LOCK"
PIPE_BUF: int = getattr(select, "PIPE_BUF", 512)


def create_lock_file() -> str:
    """Create this `robutler serve` run's lock file, name it in ``ROBUTLER_LOG_LOCK``, remove it at exit."""
    fd, path = tempfile.mkstemp(prefix="robutler-log-", suffix=".lock")
    os.close(fd)
    os.environ[LOCK_ENV] = path
    atexit.register(_remove, path, os.getpid())
    return path


def lock_for(fd: int, path: str | None) -> WriteLock | None:
    """The lock writes to ``fd`` need, or None (no lock file, or a regular file, or /dev/null)."""
    if not path or fcntl is None:
        return None
    try:
        mode = os.fstat(fd).st_mode
        tty = os.isatty(fd)
    except OSError:
        return None
    if tty:
        return WriteLock(path, atomic_max=0)  # a terminal splits even short writes (2 KB pieces)
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return WriteLock(path, atomic_max=PIPE_BUF)
    return None


class WriteLock:
    """An ``flock`` on a lock file around each write to a shared pipe or terminal.

    >>> # lock = WriteLock("/tmp/robutler-log-x.lock", atomic_max=PIPE_BUF)
    >>> # lock.write(write_all, b'{"message": "..."}\\n')  # exclusive only when longer than PIPE_BUF
    """

    def __init__(self, path: str, atomic_max: int) -> None:
        self.path = path
        self.atomic_max = atomic_max
        self._fd = -1
        self._pid = -1
        self._broken = False

    def write(self, write_all: Callable[[bytes], None], data: bytes) -> None:
        """Call ``write_all(data)`` holding the lock; without it when the lock file cannot be opened."""
        fd = self._lock_fd()
        if fd < 0:
            write_all(data)  # better a line that might tear than a lost one
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if len(data) > self.atomic_max else fcntl.LOCK_SH)
        except OSError:  # no locks on this file system (ENOLCK): write unlocked
            write_all(data)
            return
        try:
            write_all(data)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (the file itself belongs to `robutler serve`)."""
        if self._fd >= 0 and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = -1

    def _lock_fd(self) -> int:
        pid = os.getpid()
        if self._pid != pid and not self._broken:
            # opened per process: a forked child would share the parent's open file
            # description, and an flock on that would not exclude the parent
            self._pid = pid
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                self._broken, self._fd = True, -1
        return self._fd


def _remove(path: str, owner: int) -> None:
    if os.getpid() != owner:  # a forked child inherits atexit handlers; the file is not its own
        return
    with contextlib.suppress(OSError):
        os.unlink(path)
