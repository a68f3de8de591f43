"""Files that outlive a worker: rule state, silences, and the lock that picks the evaluating process.

They live in ``monitoring.alerts.state_dir`` (default ``~/.local/state/robutler``), never in
the per-start multiprocess directory, which is wiped at each start. One set of files per
served instance, so two servers on one machine keep their incidents apart.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .engine import Silence


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/robutler``, else ``~/.local/state/robutler``."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "robutler"


class StatePaths:
    """The state, silences and lock files of one instance.

    >>> paths = StatePaths("/tmp/robutler-state", "127.0.0.1:8000")
    >>> paths.state.name
    'alerts-127.0.0.1_8000.json'
    """

    def __init__(self, state_dir: str | Path | None, instance: str) -> None:
        self.dir = Path(state_dir) if state_dir else default_state_dir()
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", instance).strip("_") or "default"
        self.state = self.dir / f"alerts-{slug}.json"
        self.silences = self.dir / f"alerts-{slug}.silences.json"
        self.lock = self.dir / f"alerts-{slug}.lock"


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; empty when missing or unreadable (never raises)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically (a reader sees the old or the new file, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def read_silences(paths: StatePaths) -> dict[str, Silence]:
    """The silences in force or expired-but-listed, by rule name."""
    out = {}
    for name, raw in read_json(paths.silences).items():
        with contextlib.suppress(TypeError, ValueError):
            out[name] = Silence(
                float(raw["until"]), str(raw.get("comment", "")), float(raw.get("created_at", 0))
            )
    return out


def set_silence(paths: StatePaths, rule: str, silence: Silence | None) -> None:
    """Add, replace or (``None``) remove the silence of ``rule``, safe against concurrent writers."""
    with _locked(paths.silences.with_suffix(".silences.lock")):
        data = read_json(paths.silences)
        if silence is None:
            data.pop(rule, None)
        else:
            data[rule] = silence.__dict__
        write_json(paths.silences, data)


class EvaluatorLock:
    """An exclusive, non-blocking ``flock``: the one process holding it evaluates and sends.

    The kernel releases it when its holder dies, however it dies, so another worker takes
    it at its next try (within one evaluation interval).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this process holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Let another process take over."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
