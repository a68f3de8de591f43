"""Build the app one worker serves: TARGET, wrapped by every plugin, inside the lifespan hooks."""

from __future__ import annotations

import sys

import pluggy

from .lifespan import LifespanHooks, ServedLifespanHooks
from .plugins import call_each, get_plugin_manager, wrap_each
from .settings import ServeSettings
from .target import load_target
from .types import ASGIApp


def build_app(
    settings: ServeSettings,
    pm: pluggy.PluginManager,
    target: ASGIApp | None = None,
    *,
    served: bool = False,
) -> ASGIApp:
    """TARGET (or the demo, or the already loaded ``target``), wrapped by each plugin's wrapper.

    ``served``: for ``robutler serve``, which tells uvicorn the interface is ASGI 3 (the
    outermost layer is then a plain call); any other server guesses it from the app.
    """
    app = target or load_target(settings.target, factory=settings.factory, app_dir=settings.app_dir)
    # Each plugin wraps what the previous returned, so a ``trylast`` wrapper is outermost.
    app = wrap_each(pm, "robutler_asgi_wrapper", app, settings=settings)
    return (ServedLifespanHooks if served else LifespanHooks)(app, pm, settings)


def create_worker_app() -> ASGIApp:
    """Uvicorn factory for ``--workers N`` and ``--reload``: rebuild the app from the serve settings."""
    settings = ServeSettings.from_env()
    pm = get_plugin_manager(settings.disabled_plugins, warn=_warn)
    call_each(pm, "robutler_worker_prepare", settings=settings)
    return build_app(settings, pm, served=True)


def _warn(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr)
