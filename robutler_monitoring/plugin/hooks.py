"""The monitoring plugin's hook implementations: the only glue between host and plugin.

Registered through the ``robutler.plugins`` entry point like any third-party plugin.
Each concern (logging, metrics and health) keeps its own ``hooks`` module; this one
loads the configuration once per process and calls them in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from ..host.hookspecs import hookimpl
from ..host.settings import ServeSettings
from ..host.types import ASGIApp
from .config.inert import warn_inert
from .config.runtime import get_config, get_resolved
from .logging import hooks as logging_hooks
from .metrics import hooks as metrics_hooks

SECTION = "monitoring"


@hookimpl
def robutler_add_commands(cli: typer.Typer) -> None:
    """Add `robutler monitor`."""
    from .commands import monitor_app

    cli.add_typer(monitor_app, name="monitor")


@hookimpl
def robutler_config_sections() -> list[str]:
    """The plugin owns the `monitoring:` section."""
    return [SECTION]


@hookimpl
def robutler_serve_options() -> Callable[..., None]:
    """Monitoring options of `robutler serve`; the config loader maps them to keys."""
    return logging_hooks.serve_options


@hookimpl
def robutler_serve_prepare(settings: ServeSettings) -> None:
    """Validate the configuration before anything starts, then prepare logging and metrics."""
    cfg = get_config(settings)
    if not cfg.enabled:
        return
    logging_hooks.serve_prepare(cfg, settings)
    warn_inert(get_resolved(settings))  # `alerts:` / `tracing:` set but not in effect yet
    metrics_hooks.serve_prepare(cfg, settings)


@hookimpl
def robutler_worker_prepare(settings: ServeSettings) -> None:
    """Set up logging in each serving process before TARGET is imported."""
    cfg = get_config(settings)
    if cfg.enabled:
        logging_hooks.configure_worker(cfg, settings)


@hookimpl
def robutler_uvicorn_config(settings: ServeSettings, config: dict[str, Any]) -> None:
    """Route uvicorn's logging into the plugin's sink; apply the request head limit."""
    cfg = get_config(settings)
    config["h11_max_incomplete_event_size"] = cfg.server.max_header_bytes  # see host/headers.py
    if cfg.enabled:
        logging_hooks.uvicorn_config(cfg, settings, config)


@hookimpl
def robutler_startup_lines(settings: ServeSettings) -> list[str]:
    """Where health and metrics are served."""
    cfg = get_config(settings)
    return metrics_hooks.startup_lines(cfg, settings) if cfg.enabled else []


@hookimpl(trylast=True)  # called last, so its wrapper is the outermost
def robutler_asgi_wrapper(app: ASGIApp, settings: ServeSettings) -> ASGIApp | None:
    """Wrap the served app with the monitoring middleware (outermost)."""
    cfg = get_config(settings)
    if not cfg.enabled:
        return None
    logging_hooks.resweep(cfg, settings)  # TARGET was just imported: undo its logging set-up
    listeners = logging_hooks.request_listeners(cfg, settings)
    return metrics_hooks.wrap(app, cfg, settings, listeners)


@hookimpl
async def robutler_startup(settings: ServeSettings) -> None:
    """Start collectors in this worker."""
    cfg = get_config(settings)
    if cfg.enabled:
        logging_hooks.resweep(cfg, settings)
        await metrics_hooks.startup(cfg, settings)


@hookimpl
def robutler_draining(settings: ServeSettings) -> None:
    """Readiness fails while the server drains."""
    cfg = get_config(settings)
    if cfg.enabled:
        metrics_hooks.draining(cfg, settings)


@hookimpl
async def robutler_shutdown(settings: ServeSettings) -> None:
    """Drain, stop collectors, flush logs."""
    cfg = get_config(settings)
    if cfg.enabled:
        await metrics_hooks.shutdown(cfg, settings)
        await logging_hooks.shutdown(cfg, settings)
