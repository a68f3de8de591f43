"""The monitoring plugin's hook implementations: the only glue between host and plugin.

Registered through the ``robutler.plugins`` entry point like any third-party plugin.
Every hook loops over the enabled concerns of this process's runtime
(``plugin/concerns.py``); the plugin's ``enabled`` switch and each concern's own are
decided once, when the runtime is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import typer

from ..host.hookspecs import hookimpl
from ..host.settings import ServeSettings
from ..host.types import ASGIApp
from .concerns import Concern, concern_types
from .config.inert import warn_inert
from .config.runtime import get_resolved
from .options import serve_options
from .runtime import Runtime

SECTION = "monitoring"
_COMMANDS_ADDED: set[type[Concern]] = set()


def _each(settings: ServeSettings) -> Iterator[tuple[Concern, Runtime]]:
    """The enabled concerns of this process's runtime, in list order, each with the runtime."""
    rt = Runtime.of(settings)
    for concern in rt.concerns:
        yield concern, rt


@hookimpl
def robutler_add_commands(cli: typer.Typer) -> None:
    """Add `robutler monitor` with every concern's commands."""
    from .commands import monitor_app

    for kind in concern_types():
        if kind not in _COMMANDS_ADDED:  # monitor_app lives as long as the process: add once
            _COMMANDS_ADDED.add(kind)
            kind().commands(monitor_app)
    cli.add_typer(monitor_app, name="monitor")


@hookimpl
def robutler_config_sections() -> list[str]:
    """The plugin owns the `monitoring:` section."""
    return [SECTION]


@hookimpl
def robutler_serve_options() -> Callable[..., None]:
    """Monitoring options of `robutler serve`; the config loader maps them to keys."""
    return serve_options


@hookimpl
def robutler_serve_prepare(settings: ServeSettings) -> None:
    """Validate the configuration before anything starts, then prepare each concern."""
    rt = Runtime.of(settings)
    for concern in rt.concerns:
        concern.serve_prepare(rt)
    if rt.concerns:  # logging is set up: say which settings are not in effect yet
        warn_inert(get_resolved(settings))  # `alerts:` / `tracing:` until their concerns land


@hookimpl
def robutler_worker_prepare(settings: ServeSettings) -> None:
    """Prepare each concern in every serving process before TARGET is imported."""
    for concern, rt in _each(settings):
        concern.worker_prepare(rt)


@hookimpl
def robutler_uvicorn_config(settings: ServeSettings, config: dict[str, Any]) -> None:
    """Apply the request head limit; let each concern adjust uvicorn's settings (logging)."""
    rt = Runtime.of(settings)
    config["h11_max_incomplete_event_size"] = rt.cfg.server.max_header_bytes  # see host/headers.py
    for concern in rt.concerns:
        concern.uvicorn_config(rt, config)


@hookimpl
def robutler_startup_lines(settings: ServeSettings) -> list[str]:
    """Where health and metrics are served."""
    rt = Runtime.of(settings)
    return [line for concern in rt.concerns for line in concern.startup_lines(rt)]


@hookimpl(trylast=True)  # called last, so its wrapper is the outermost
def robutler_asgi_wrapper(app: ASGIApp, settings: ServeSettings) -> ASGIApp | None:
    """Subscribe the concerns, collect their health components and endpoints, wrap the app."""
    rt = Runtime.of(settings)
    if not rt.concerns:
        return None
    for concern in rt.concerns:
        concern.subscribe(rt)
    for concern in rt.concerns:
        rt.health_checks.extend(concern.health_checks(rt))
    for concern in rt.concerns:
        rt.endpoints.extend(concern.endpoints(rt))
    for concern in rt.concerns:
        app = concern.wrap(app, rt)
    return app


@hookimpl
async def robutler_startup(settings: ServeSettings) -> None:
    """Start each concern's background work in this worker."""
    for concern, rt in _each(settings):
        await concern.startup(rt)


@hookimpl
def robutler_ready(settings: ServeSettings) -> None:
    """TARGET has started; requests come next."""
    for concern, rt in _each(settings):
        concern.ready(rt)


@hookimpl
def robutler_draining(settings: ServeSettings) -> None:
    """The server drains: readiness fails."""
    for concern, rt in _each(settings):
        concern.draining(rt)


@hookimpl
async def robutler_shutdown(settings: ServeSettings) -> None:
    """Stop each concern (reverse order: logging flushes last), then drop the subscriptions.

    One concern failing does not keep the others from stopping; the first failure is raised
    after all ran, so that the host reports it.
    """
    rt = Runtime.of(settings)
    failure: Exception | None = None
    for concern in reversed(rt.concerns):
        try:
            await concern.shutdown(rt)
        except Exception as exc:
            failure = failure or exc
    rt.close()
    if failure is not None:
        raise failure
