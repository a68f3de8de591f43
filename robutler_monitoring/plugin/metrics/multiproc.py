"""prometheus_client multiprocess mode for ``robutler serve --workers N``.

prometheus_client chooses file-backed values when ``PROMETHEUS_MULTIPROC_DIR`` is set at
the time ``prometheus_client.values`` is imported, so the serve process sets it before
uvicorn spawns the workers; each worker inherits it and writes its values to files that a
scrape in any worker sums up.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile

from prometheus_client import CollectorRegistry, multiprocess

from .registry import MULTIPROC_ENV

_LIVE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")


def prepare_directory(parent: str | None = None) -> str:
    """Create a fresh directory for this server start, export it, and remove it at exit."""
    if parent:
        os.makedirs(parent, exist_ok=True)
    path = tempfile.mkdtemp(prefix="robutler-metrics-", dir=parent or None)
    os.environ[MULTIPROC_ENV] = path
    serve_pid = os.getpid()

    def _cleanup() -> None:
        if os.getpid() == serve_pid:  # never from a forked child
            shutil.rmtree(path, ignore_errors=True)
            if os.environ.get(MULTIPROC_ENV) == path:
                del os.environ[MULTIPROC_ENV]

    atexit.register(_cleanup)
    return path


def scrape_registry(path: str) -> CollectorRegistry:
    """A registry that sums the values of every worker's files under ``path``."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return registry


def mark_dead(pid: int, path: str) -> None:
    """Remove the live gauges of worker ``pid`` (at its shutdown)."""
    with contextlib.suppress(OSError):
        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def reap_dead_workers(path: str) -> list[int]:
    """Remove live gauges of workers that died without shutting down; return their pids."""
    pids: set[int] = set()
    with contextlib.suppress(OSError):
        for name in os.listdir(path):
            found = _LIVE_FILE.match(name)
            if found:
                pids.add(int(found.group(1)))
    dead = [pid for pid in pids if not _alive(pid)]
    for pid in dead:
        mark_dead(pid, path)
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
