"""The built-in checks of ``/health/detailed``: readiness, uptime, memory, event-loop lag."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from ..config.schema import HealthChecksConfig

_MIB = 1024 * 1024
#: Seconds a memory reading is reused: both memory checks share one, and a flood of
#: requests to the detailed health costs one read of /proc a second.
_MEMORY_TTL = 1.0


class Readiness:
    """Whether this worker takes traffic: ``starting`` -> ``ready`` -> ``draining``.

    >>> r = Readiness()
    >>> r.state, r.mark_ready(), r.state
    ('starting', None, 'ready')
    """

    def __init__(self) -> None:
        self.state = "starting"

    def mark_ready(self) -> None:
        """Start-up finished."""
        self.state = "ready"

    def mark_draining(self) -> None:
        """Shutdown began."""
        self.state = "draining"

    def check(self) -> dict[str, Any]:
        """The ``readiness`` entry: fail unless ready."""
        return {"observedValue": self.state, "status": "pass" if self.state == "ready" else "fail"}


def _memory() -> tuple[int, int] | None:
    """(resident bytes of this process, physical memory bytes), when the OS tells."""
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PHYS_PAGES") * page
        with open("/proc/self/statm", "rb") as f:
            rss = int(f.read().split()[1]) * page
    except (OSError, ValueError, IndexError):
        return None
    return rss, total


def builtin_checks(
    cfg: HealthChecksConfig,
    readiness: Readiness,
    lag_source: Callable[[], float] | None = None,
    started: float | None = None,
) -> list[tuple[str, Callable[[], Any], str | None, str | None]]:
    """(name, check, componentType, observedUnit) of each built-in check."""
    t0 = time.monotonic() if started is None else started
    reading: tuple[float, tuple[int, int] | None] = (float("-inf"), None)

    def memory_now() -> tuple[int, int] | None:
        nonlocal reading
        now = time.monotonic()
        if now - reading[0] >= _MEMORY_TTL:
            reading = (now, _memory())
        return reading[1]

    def uptime() -> dict[str, Any]:
        return {"observedValue": round(time.monotonic() - t0, 3), "status": "pass"}

    def memory() -> dict[str, Any]:
        found = memory_now()
        if found is None:
            return {"status": "warn", "output": "memory usage is not available on this system"}
        rss, total = found
        percent = round(100.0 * rss / total, 2) if total else 0.0
        status = "warn" if percent >= cfg.memory_warn_percent else "pass"
        return {"observedValue": percent, "status": status}

    def rss() -> dict[str, Any]:
        found = memory_now()
        if found is None:
            return {"status": "warn", "output": "memory usage is not available on this system"}
        return {"observedValue": round(found[0] / _MIB, 1), "status": "pass"}

    async def loop_lag() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        t = loop.time()
        await asyncio.sleep(0)
        lag_ms = max(loop.time() - t, lag_source() if lag_source else 0.0) * 1000.0
        status = (
            "fail"
            if lag_ms >= cfg.event_loop_lag_fail_ms
            else "warn"
            if lag_ms >= cfg.event_loop_lag_warn_ms
            else "pass"
        )
        return {"observedValue": round(lag_ms, 3), "status": status}

    return [
        ("readiness", readiness.check, "system", None),
        ("uptime", uptime, "system", "s"),
        ("memory:utilization", memory, "system", "percent"),
        ("memory:rss", rss, "system", "MiB"),
        ("eventloop:lag", loop_lag, "system", "ms"),
    ]
