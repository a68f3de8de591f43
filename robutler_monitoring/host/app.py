"""Build the app one worker serves: TARGET, wrapped by every plugin, inside the lifespan hooks."""

from __future__ import annotations

import sys

import pluggy

from .lifespan import LifespanHooks
from .plugins import call_each, get_plugin_manager, wrap_each
from .settings import ServeSettings
from .target import load_target
from .types import ASGIApp


def build_app(settings: ServeSettings, pm: pluggy.PluginManager, target: ASGIApp | None = None) -> ASGIApp:
    """TARGET (or the demo, or the already loaded ``target``), wrapped by each plugin's wrapper."""
    app = target or load_target(settings.target, factory=settings.factory, app_dir=settings.app_dir)
    # Each plugin wraps what the previous returned, so a ``trylast`` wrapper is outermost.
    app = wrap_each(pm, "robutler_asgi_wrapper", app, settings=settings)
    return LifespanHooks(app, pm, settings)


def create_worker_app() -> ASGIApp:
    """Uvicorn factory for ``--workers N`` and ``--reload``: rebuild the app from the serve settings."""
    settings = ServeSettings.from_env()
    pm = get_plugin_manager(settings.disabled_plugins, warn=_warn)
    call_each(pm, "robutler_worker_prepare", settings=settings)
    return build_app(settings, pm)


def _warn(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr)
