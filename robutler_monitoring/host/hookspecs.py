"""The hook specification of the `robutler` plugin host.

A plugin is any importable object (usually a module) with functions marked
``@hookimpl`` and named after the specs below, registered through the
``robutler.plugins`` entry-point group::

    [project.entry-points."robutler.plugins"]
    myplugin = "my_package.robutler_plugin"

Every hook is optional. Hooks that return a value are collected into a list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import typer

    from .settings import ServeSettings
    from .types import ASGIApp

PROJECT = "robutler"
ENTRY_POINT_GROUP = "robutler.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def robutler_add_commands(cli: typer.Typer) -> None:
    """Add commands or command groups (``cli.add_typer``) to the ``robutler`` CLI."""


@hookspec
def robutler_serve_options() -> Callable[..., Any]:
    """Return a function whose parameters, declared Typer-style, become options of ``robutler serve``.

    Each parameter needs a default; the values given reach ``settings.plugin_options``::

        def options(log_format: Annotated[str | None, typer.Option(help="...")] = None) -> None: ...
    """


@hookspec
def robutler_config_sections() -> list[str]:
    """Name the top-level sections of the YAML config file that this plugin owns."""


@hookspec
def robutler_serve_prepare(settings: ServeSettings) -> None:
    """Run once in the ``robutler serve`` process before the server starts; raise ``HostError`` to refuse."""


@hookspec
def robutler_worker_prepare(settings: ServeSettings) -> None:
    """Run once in every process that serves requests, before TARGET is imported there."""


@hookspec
def robutler_uvicorn_config(settings: ServeSettings, config: dict[str, Any]) -> None:
    """Adjust the keyword arguments given to ``uvicorn.Config`` (in the ``robutler serve`` process)."""


@hookspec
def robutler_startup_lines(settings: ServeSettings) -> list[str]:
    """Return lines to print at start-up, e.g. where this plugin's endpoints are."""


@hookspec
def robutler_asgi_wrapper(app: ASGIApp, settings: ServeSettings) -> ASGIApp | None:
    """Return an ASGI app wrapping ``app`` (or None to leave it); called once in every worker."""


@hookspec
def robutler_startup(settings: ServeSettings) -> Awaitable[None] | None:
    """Run at ASGI lifespan start-up in every worker (may be a coroutine function)."""


@hookspec
def robutler_ready(settings: ServeSettings) -> None:
    """Called in every worker when TARGET's own start-up has finished, before it takes requests.

    For work that should see everything start-up made and must not pause a serving
    process (the monitoring plugin freezes the start-up objects out of the garbage
    collector's walks here). A failure is logged; the worker still serves.
    """


@hookspec
def robutler_draining(settings: ServeSettings) -> None:
    """Called in every worker when it was asked to stop, before it stops taking requests."""


@hookspec
def robutler_shutdown(settings: ServeSettings) -> Awaitable[None] | None:
    """Run at ASGI lifespan shutdown in every worker (may be a coroutine function)."""
