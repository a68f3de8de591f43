"""Wait for something to become true, with a deadline: never a fixed sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.02, what: str = "") -> T:
    """Call ``check`` until it returns something truthy (returned); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what or check}; last: {result!r}")
        time.sleep(interval)


async def async_wait_until(
    check: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.01, what: str = ""
) -> T:
    """:func:`wait_until` inside an event loop (lets the loop run between checks)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {what or check}; last: {result!r}")
        await asyncio.sleep(interval)
