"""The plugins' start-up and shutdown hooks run inside the ASGI lifespan, whatever the app does."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from robutler_monitoring.host.hookspecs import hookimpl
from robutler_monitoring.host.lifespan import LifespanHooks
from robutler_monitoring.host.plugins import get_plugin_manager
from robutler_monitoring.host.settings import ServeSettings


class Recorder:
    def __init__(self, name: str, fail_on: str = "") -> None:
        self.name = name
        self.fail_on = fail_on
        self.calls: list[str] = []

    @hookimpl
    async def robutler_startup(self, settings: ServeSettings) -> None:
        self.calls.append("startup")
        if self.fail_on == "startup":
            raise RuntimeError(f"{self.name} cannot start")

    @hookimpl
    def robutler_ready(self, settings: ServeSettings) -> None:
        self.calls.append("ready")
        if self.fail_on == "ready":
            raise RuntimeError(f"{self.name} is not ready")

    @hookimpl
    def robutler_shutdown(self, settings: ServeSettings) -> None:
        self.calls.append("shutdown")
        if self.fail_on == "shutdown":
            raise RuntimeError(f"{self.name} cannot stop")


async def _no_lifespan_app(scope: Any, receive: Any, send: Any) -> None:
    raise RuntimeError("this app knows nothing of lifespan")


async def _lifespan_app(scope: Any, receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _run(app: Any) -> list[str]:
    sent: list[str] = []

    async def go() -> None:
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        await queue.put({"type": "lifespan.startup"})
        await queue.put({"type": "lifespan.shutdown"})

        async def send(message: dict[str, Any]) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan"}, queue.get, send)

    asyncio.run(go())
    return sent


@pytest.mark.parametrize("inner", [_no_lifespan_app, _lifespan_app])
def test_a_failing_shutdown_hook_is_logged_and_the_others_still_run(
    inner: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pm = get_plugin_manager(load_entry_points=False)
    first, failing = Recorder("first"), Recorder("failing", fail_on="shutdown")
    pm.register(first, name="first")
    pm.register(failing, name="failing")  # registered last: pluggy calls it first
    with caplog.at_level(logging.ERROR, logger="robutler_monitoring.host"):
        sent = _run(LifespanHooks(inner, pm, ServeSettings()))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert first.calls == ["startup", "ready", "shutdown"]
    assert failing.calls == ["startup", "ready", "shutdown"]
    assert "plugin 'failing' failed in robutler_shutdown: RuntimeError: failing cannot stop" in caplog.text


def test_a_failing_startup_hook_stops_start_up_with_its_reason() -> None:
    pm = get_plugin_manager(load_entry_points=False)
    pm.register(Recorder("broken", fail_on="startup"), name="broken")
    sent = _run(LifespanHooks(_lifespan_app, pm, ServeSettings()))
    assert sent == ["lifespan.startup.failed"]


@pytest.mark.parametrize("speaks_lifespan", [True, False])
def test_ready_runs_after_the_apps_own_start_up_and_before_the_server_is_told(
    speaks_lifespan: bool, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []

    class Ready:
        @hookimpl
        def robutler_ready(self, settings: ServeSettings) -> None:
            events.append("ready")

    class AsyncReady:
        @hookimpl
        async def robutler_ready(self, settings: ServeSettings) -> None:
            await asyncio.sleep(0)
            events.append("async ready")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if not speaks_lifespan:
            raise RuntimeError("no lifespan here")
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                events.append("app started")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    pm = get_plugin_manager(load_entry_points=False)
    pm.register(Ready(), name="ready")
    pm.register(AsyncReady(), name="async-ready")  # registered later: pluggy calls it first
    pm.register(Recorder("broken", fail_on="ready"), name="broken")
    sent: list[str] = []

    async def go() -> None:
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        await queue.put({"type": "lifespan.startup"})
        await queue.put({"type": "lifespan.shutdown"})

        async def send(message: Any) -> None:
            sent.append(message["type"])
            events.append(message["type"])

        await LifespanHooks(app, pm, ServeSettings())({"type": "lifespan"}, queue.get, send)

    with caplog.at_level(logging.WARNING):
        asyncio.run(go())
    started = ["app started"] if speaks_lifespan else []
    # an async hook runs when awaited, after the plain ones were called; both before the server is told
    assert events == [
        *started,
        "ready",
        "async ready",
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert "broken" in caplog.text and "robutler_ready" in caplog.text  # logged; start-up went on


def test_ready_is_not_called_when_start_up_fails() -> None:
    pm = get_plugin_manager(load_entry_points=False)
    broken = Recorder("broken", fail_on="startup")
    pm.register(broken, name="broken")
    assert _run(LifespanHooks(_lifespan_app, pm, ServeSettings())) == ["lifespan.startup.failed"]
    assert "ready" not in broken.calls

    async def failing_app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    pm = get_plugin_manager(load_entry_points=False)
    fine = Recorder("fine")
    pm.register(fine, name="fine")
    assert _run(LifespanHooks(failing_app, pm, ServeSettings())) == ["lifespan.startup.failed"]
    assert fine.calls == ["startup"]
