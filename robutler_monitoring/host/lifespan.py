"""Run the plugins' start-up and shutdown hooks inside the ASGI lifespan of every worker."""

from __future__ import annotations

import inspect
from typing import Any

import pluggy

from .plugins import call_each
from .settings import ServeSettings
from .types import ASGIApp, Message, Receive, Scope, Send


class LifespanHooks:
    """ASGI middleware: ``robutler_startup`` before the app starts, ``robutler_shutdown`` after it stops.

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
        state: dict[str, Any] = {"started": False, "failed": False}

        async def wrapped_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                error = await self._run("robutler_startup")
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
            if message["type"] == "lifespan.shutdown.complete":
                await self._run("robutler_shutdown")
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
                error = await self._run("robutler_startup")
                if error is not None:
                    await send({"type": "lifespan.startup.failed", "message": error})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._run("robutler_shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _run(self, hook: str) -> str | None:
        try:
            for _, result in call_each(self.pm, hook, settings=self.settings):
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            return str(exc)
        return None
