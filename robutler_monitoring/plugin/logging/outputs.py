"""Log outputs: stdout/stderr file descriptors, text streams, and rotating files.

Files are opened with ``O_APPEND``, so each ``os.write`` lands whole at the end even
with several worker processes writing the same file. Rotation is by size and safe
with ``--workers N``: the worker that sees the file too big takes an exclusive
``flock`` on ``<file>.lock``, checks again (another worker may have rotated it
already), renames the file to ``<stem>.<UTC time><suffix>`` and opens a new one;
the other workers notice the rename within a second (the path's inode changed) and
reopen. The same check makes renaming by an external ``logrotate`` safe.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import TextIO

from .writelock import PIPE_BUF, lock_for

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: rotation without a cross-process lock
    fcntl = None  # type: ignore[assignment]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
_RETENTION = re.compile(r"^\s*(\d+)\s*(files?|minutes?|hours?|days?|weeks?)\s*$", re.IGNORECASE)
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_REOPEN_CHECK_S = 1.0
#: bytes per write where one write lands whole anyway (one process, or an O_APPEND file)
LARGE_CHUNK = 65536
#: bytes per write to a pipe that other workers share: a write this small is atomic
PIPE_BUF_CHUNK = PIPE_BUF


def parse_size(text: str) -> int:
    """``"10 MB"`` -> 10000000 bytes (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"expected a size such as '10 MB' or '512 KiB', got {text!r}")
    number, unit = float(match.group(1)), (match.group(2) or "b").lower()
    size = int(number * _UNITS[unit])
    if size < 1024:
        raise ValueError(f"a rotation size below 1 KiB would rotate on every line: {text!r}")
    return size


def parse_retention(text: str) -> tuple[int | None, float | None]:
    """``"5 files"`` -> (5, None); ``"7 days"`` -> (None, 604800.0): what rotation keeps."""
    match = _RETENTION.match(text)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"expected a count such as '10 files' or an age such as '7 days', got {text!r}")
    number, unit = int(match.group(1)), match.group(2).lower().rstrip("s")
    if unit == "file":
        return number, None
    return None, float(number * _SECONDS[unit])


class FdOutput:
    """Write to an already open file descriptor (1 for stdout, 2 for stderr); never closes it.

    With ``lock_path`` (``--workers N``), writes to a pipe, socket or terminal hold an
    ``flock`` on that file so that no worker tears another's long line (``writelock.py``).

    >>> # out = FdOutput(1, lock_path=os.environ.get("ROBUTLER_LOG_LOCK"))
    """

    def __init__(self, fd: int, lock_path: str | None = None) -> None:
        self.fd = fd
        self.lock = lock_for(fd, lock_path)
        # shared with other workers: chunks small enough to be atomic; alone: few large writes
        self.chunk_size = PIPE_BUF_CHUNK if self.lock is not None else LARGE_CHUNK

    def write(self, data: bytes) -> None:
        """Write all of ``data``; one ``os.write`` unless the kernel takes less."""
        if self.lock is None:
            self._write_all(data)
        else:
            self.lock.write(self._write_all, data)

    def close(self) -> None:
        """Close the lock file; the descriptor itself belongs to the process."""
        if self.lock is not None:
            self.lock.close()

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]


class StreamOutput:
    """Write to a text stream (``io.StringIO`` in tests, or a wrapped ``sys.stderr``)."""

    chunk_size = 4096

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        """Write and flush."""
        self.stream.write(data.decode("utf-8", "replace"))
        self.stream.flush()

    def close(self) -> None:
        """The stream belongs to the caller."""


class FileOutput:
    """An ``O_APPEND`` log file with optional size rotation and retention.

    >>> # out = FileOutput("/var/log/robutler.log", max_bytes=parse_size("50 MB"),
    >>> #                  retention=parse_retention("10 files"))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_bytes: int | None = None,
        retention: tuple[int | None, float | None] = (None, None),
    ) -> None:
        self.path = Path(path).expanduser().absolute()
        self.max_bytes = max_bytes
        self.keep_files, self.keep_seconds = retention
        # an O_APPEND write lands whole even when several workers append; with rotation,
        # small enough that the size check after each write does not overshoot much
        self.chunk_size = min(LARGE_CHUNK, max(PIPE_BUF_CHUNK, max_bytes // 32)) if max_bytes else LARGE_CHUNK
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()
        self._checked = time.monotonic()

    def write(self, data: bytes) -> None:
        """Append ``data``; rotate or reopen when needed."""
        now = time.monotonic()
        if now - self._checked > _REOPEN_CHECK_S:
            self._checked = now
            self._reopen_if_moved()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        if self.max_bytes is not None and os.fstat(self._fd).st_size >= self.max_bytes:
            self._rotate()

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def rotated_files(self) -> list[Path]:
        """Files this output rotated away, oldest first."""
        pattern = re.compile(
            re.escape(self.path.stem) + r"\.\d{8}T\d{6}\.\d{6}Z" + re.escape(self.path.suffix) + "$"
        )
        found = [p for p in self.path.parent.iterdir() if pattern.match(p.name)]
        return sorted(found, key=lambda p: p.name)

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        return os.open(self.path, flags, 0o644)

    def _reopen_if_moved(self) -> None:
        try:
            moved = os.stat(self.path).st_ino != os.fstat(self._fd).st_ino
        except FileNotFoundError:
            moved = True
        if moved:
            old, self._fd = self._fd, self._open()
            os.close(old)

    def _rotate(self) -> None:
        lock_path = str(self.path) + ".lock"
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            mine = os.fstat(self._fd)
            # another worker may have rotated while we waited for the lock
            too_big = current is not None and current.st_size >= (self.max_bytes or 0)
            if too_big and current is not None and current.st_ino == mine.st_ino:
                now = time.time()
                stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
                os.rename(self.path, self.path.with_name(f"{self.path.stem}.{stamp}{self.path.suffix}"))
                self._apply_retention()
            old, self._fd = self._fd, self._open()
            os.close(old)
            self._checked = time.monotonic()
        finally:
            os.close(lock_fd)  # also releases the flock

    def _apply_retention(self) -> None:
        files = self.rotated_files()
        doomed: list[Path] = []
        if self.keep_files is not None and len(files) > self.keep_files:
            doomed += files[: len(files) - self.keep_files]
        if self.keep_seconds is not None:
            cutoff = time.time() - self.keep_seconds
            doomed += [p for p in files if p not in doomed and p.stat().st_mtime < cutoff]
        for path in doomed:
            with contextlib.suppress(FileNotFoundError):  # another worker removed it
                path.unlink()
