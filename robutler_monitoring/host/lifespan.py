"""Run the plugins' start-up and shutdown hooks inside the ASGI lifespan of every worker."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable
from typing import Any

import pluggy

from .drain import DrainOnSignal
from .plugins import failure_message, failures_of, traceback_text
from .settings import ServeSettings
from .types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("robutler_monitoring.host")


class LifespanHooks:
    """ASGI middleware: ``robutler_startup`` before the app starts, ``robutler_ready`` once it has
    started (before the server takes requests), ``robutler_shutdown`` after it stops.

    Works whether or not the wrapped app speaks the lifespan protocol itself.

    >>> # app = LifespanHooks(app, pm, settings)
    """

    def __init__(self, app: ASGIApp, pm: pluggy.PluginManager, settings: ServeSettings) -> None:
        self.app = app
        self.pm = pm
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        await self._lifespan(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: dict[str, Any] = {"started": False, "failed": False}

        async def wrapped_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                error = await self._startup()
                state["started"] = True
                if error is not None:
                    state["failed"] = True
                    await send({"type": "lifespan.startup.failed", "message": error})
                    # Hand the app a shutdown so that it returns; its replies are not forwarded.
                    return {"type": "lifespan.shutdown"}
            return message

        async def wrapped_send(message: Message) -> None:
            if state["failed"]:
                return
            if message["type"] == "lifespan.startup.complete":
                await self._ready()
            elif message["type"] == "lifespan.shutdown.complete":
                await self._shutdown()
            await send(message)

        try:
            await self.app(scope, wrapped_receive, wrapped_send)
        except Exception:
            if state["started"]:
                raise
            await self._own_lifespan(receive, send)  # the app does not speak lifespan
            return
        if not state["started"]:
            await self._own_lifespan(receive, send)

    async def _own_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                error = await self._startup()
                if error is not None:
                    await send({"type": "lifespan.startup.failed", "message": error})
                    return
                await self._ready()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _startup(self) -> str | None:
        """Every plugin's start-up hook in pluggy's order; the first failure stops start-up."""
        results, failures = failures_of(self.pm, "robutler_startup", settings=self.settings)
        pending = [result for _, result in results if inspect.isawaitable(result)]
        for i, result in enumerate(pending):
            if failures:
                for rest in pending[i:]:
                    getattr(rest, "close", lambda: None)()
                break
            await result
        if failures:
            plugin, exc = failures[0]
            return failure_message(plugin, "robutler_startup", exc) + traceback_text(exc)
        DrainOnSignal(self.pm, self.settings).install()
        return None

    async def _ready(self) -> None:
        """The app has started: ``robutler_ready`` before the server takes requests (failures logged)."""
        await self._each("robutler_ready", logging.WARNING)

    async def _shutdown(self) -> None:
        """Every plugin's shutdown hook, each on its own: one failing does not skip the others."""
        await self._each("robutler_shutdown", logging.ERROR)

    async def _each(self, hook: str, level: int) -> None:
        """Every plugin's ``hook`` (awaited when async); a failure is logged and skips nothing."""
        results, failures = failures_of(self.pm, hook, settings=self.settings)
        for _, result in results:
            if inspect.isawaitable(result):
                await result
        for plugin, exc in failures:
            log.log(level, "%s", failure_message(plugin, hook, exc), exc_info=exc)


class ServedLifespanHooks(LifespanHooks):
    """:class:`LifespanHooks` for ``robutler serve``, which tells uvicorn the app is ASGI 3.

    A plain function returning the app's own coroutine: requests pass through without a
    coroutine of this layer. Only where the server is told the interface (``serve.py``):
    servers that guess it (plain uvicorn, gunicorn's worker, hypercorn, asgiref) would take
    a plain ``__call__`` for ASGI 2, so :func:`~robutler_monitoring.instrument` keeps the
    ``async def`` one.
    """

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:  # type: ignore[override]
        if scope["type"] != "lifespan":
            return self.app(scope, receive, send)
        return self._lifespan(scope, receive, send)
