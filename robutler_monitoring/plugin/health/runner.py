"""Running health checks: built-ins inline, user checks under a timeout, never piling up.

A user's sync check may block for good (a socket without a timeout, a deadlock). It runs in
a thread of its own, never on the event loop's default executor, which ``to_thread`` and
``getaddrinfo`` share; and a run that outlives its timeout is not started again until it
returns, so a hung check holds one thread however often ``/health/detailed`` is called,
and never delays another check.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ...api.health import CheckFn, HealthCheck, entry_for, timestamp

#: The output of a check whose previous run is still going, past its timeout.
STILL_RUNNING = "still running (previous run exceeded the timeout)"

OnError = Callable[[BaseException], None]


def _in_thread(fn: Callable[[], Any]) -> Future[Any]:
    """Run ``fn`` in a daemon thread of its own.

    One thread per run rather than a pool: a pool's hung threads would queue every other
    check behind them. Since a check is not started again while a run is still going,
    hung threads are bounded by the number of checks; daemon threads (unlike a
    ``ThreadPoolExecutor``'s) never keep a stopped server from exiting.
    """
    future: Future[Any] = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=work, name="robutler-health-check", daemon=True).start()
    return future


@dataclass
class _Run:
    """One run of a user check: the task awaiting it and, for a sync check, its thread's future."""

    task: asyncio.Task[Any]
    thread: Future[Any] | None
    deadline: float  #: loop time after which the run counts as timed out

    def busy(self) -> bool:
        return not self.task.done() or (self.thread is not None and not self.thread.done())


class CheckRunner:
    """Runs the checks of one health reporter; a raise or a timeout becomes a ``fail`` entry.

    >>> runner = CheckRunner(timeout=2.0)
    >>> # checks = await runner.run_all(builtin_checks + user_checks)
    """

    def __init__(self, timeout: float, on_error: OnError | None = None) -> None:
        self.timeout = timeout
        self._on_error = on_error
        self._runs: dict[str, _Run] = {}

    async def run_all(self, checks: list[HealthCheck]) -> dict[str, list[dict[str, Any]]]:
        """Run every check concurrently; the ``checks`` object of a health+json document."""
        results = await asyncio.gather(*(self.run(c) for c in checks))
        return {check.name: [entry] for check, entry in zip(checks, results, strict=True)}

    async def run(self, check: HealthCheck) -> dict[str, Any]:
        """One check's entry: inline for built-ins, else under the timeout."""
        if check.inline:
            return await self._inline(check)
        loop = asyncio.get_running_loop()
        now = loop.time()
        run = self._runs.get(check.name)
        if run is None or not run.busy() or run.task.get_loop() is not loop:
            run = self._runs[check.name] = self._start(check.fn, now + self.timeout)
        elif now >= run.deadline:
            return _fail(STILL_RUNNING)
        # A run started by a concurrent request is shared, with the time it has left.
        await asyncio.wait((run.task,), timeout=run.deadline - now)
        if not run.task.done():
            run.task.cancel()  # a thread cannot be stopped; its run stays busy until it returns
            return _fail(f"check timed out after {self.timeout:g} s")
        if run.task.cancelled():
            return _fail(f"check timed out after {self.timeout:g} s")
        exc = run.task.exception()
        if exc is not None:
            return _raised(exc)
        return entry_for(check, run.task.result())

    async def _inline(self, check: HealthCheck) -> dict[str, Any]:
        # Built-ins are cheap and never block: no thread, no timeout, nothing to pile up.
        try:
            value = check.fn()
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            self._report(exc)
            return _raised(exc)
        return entry_for(check, value)

    def _start(self, fn: CheckFn, deadline: float) -> _Run:
        thread: Future[Any] | None = None
        if inspect.iscoroutinefunction(fn):
            task: asyncio.Task[Any] = asyncio.create_task(fn())
        else:
            thread = _in_thread(fn)
            task = asyncio.create_task(_await_thread(thread))
        task.add_done_callback(self._settled)
        return _Run(task, thread, deadline)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        # Once per run, even when several requests shared it or none waited to the end;
        # reading the exception also keeps asyncio from warning that nobody did.
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._report(exc)

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error(exc)


async def _await_thread(thread: Future[Any]) -> Any:
    value = await asyncio.wrap_future(thread)
    if inspect.isawaitable(value):  # a sync callable that returns a coroutine
        value = await value
    return value


def _fail(output: str) -> dict[str, Any]:
    return {"status": "fail", "output": output, "time": timestamp()}


def _raised(exc: BaseException) -> dict[str, Any]:
    # The class name only: a message may carry a DSN or a password.
    return _fail(f"check raised {type(exc).__name__}")
