"""Run the detailed checks on a schedule: their gauges stay current without a ``/health/detailed`` call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

Run = Callable[[], Awaitable[Any]]


class HealthWatch:
    """Runs the detailed checks every ``interval`` seconds in the running loop.

    The checks run as ``/health/detailed`` runs them (user checks in threads of their own,
    each bounded by ``check_timeout``, a hung check never started twice), so a run never
    blocks the loop nor piles up; the reporter updates the gauges and publishes changes.

    >>> watch = HealthWatch(run=lambda: asyncio.sleep(0), interval=10.0)
    >>> # await watch.start() ... await watch.stop()
    """

    def __init__(self, run: Run, interval: float, on_error: Callable[[BaseException], None] | None = None):
        self.interval = interval
        self._run = run
        self._on_error = on_error
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            try:
                await self._run()
            except Exception as exc:  # one failed run must not stop the later ones
                if self._on_error is not None:
                    self._on_error(exc)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Run now, then every ``interval`` (in the running loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def cancel(self) -> None:
        """Stop running the checks (a run in progress is cancelled); ``stop`` waits for it."""
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        """Stop running the checks and wait until the loop ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
