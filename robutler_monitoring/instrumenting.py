"""``instrument(app)``: the monitoring of ``robutler serve`` for an app run by uvicorn or gunicorn directly.

    # app.py, run with `uvicorn app:app` or `gunicorn -k uvicorn.workers.UvicornWorker app:app`
    from robutler_monitoring import instrument

    app = instrument(my_app, config="robutler.yaml")      # or config={"usage": {...}}

The app is wrapped exactly as ``robutler serve`` wraps it in each worker: every enabled
plugin's wrapper (the monitoring endpoints, request ids, metrics, logs, usage) inside the
plugins' start-up and shutdown hooks (run from the ASGI lifespan, so keep uvicorn's
``--lifespan on`` / ``auto``). ``app`` may also be Robutler SDK agents (a ``BaseAgent``, a
list, a ``RobutlerServer``): they are served and instrumented as ``robutler serve`` does.

With several workers (gunicorn ``-w N``, ``uvicorn --workers N``) each worker process calls
this and keeps its own metrics: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
before the workers start to get one ``/metrics`` for all of them, as ``robutler serve
--workers N`` does. Usage records of every worker go to the one spool directory.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .host.types import ASGIApp

__all__ = ["instrument"]


def instrument(
    app: Any,
    *,
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    disabled_plugins: tuple[str, ...] = (),
) -> ASGIApp:
    """``app`` with the monitoring ``robutler serve`` would give it.

    ``config``: a YAML file, or the ``monitoring:`` section as a mapping. A bad
    configuration raises ``robutler_monitoring.host.UsageError`` naming the key and value.
    """
    from .host.app import build_app
    from .host.plugins import call_each, get_plugin_manager
    from .host.settings import ServeSettings

    config_path = _config_file(config)
    settings = ServeSettings(config_path=config_path, disabled_plugins=disabled_plugins, embedded=True)
    served = _served_app(app)
    pm = get_plugin_manager(settings.disabled_plugins)
    call_each(pm, "robutler_worker_prepare", settings=settings)
    return build_app(settings, pm, target=served)


def _config_file(config: str | os.PathLike[str] | Mapping[str, Any] | None) -> str | None:
    if config is None:
        return None
    if isinstance(config, Mapping):
        import yaml

        # the one loader reads it, with its validation and error messages (source: this file)
        handle, path = tempfile.mkstemp(prefix="robutler-monitoring-", suffix=".yaml")
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            yaml.safe_dump({"monitoring": dict(config)}, f)
        return path
    return str(Path(config))


def _served_app(app: Any) -> ASGIApp:
    from .integrations.robutler_sdk.serving import is_sdk_object, sdk_app

    if is_sdk_object(app):
        served = sdk_app(app)
        if served is not None:
            return served
    if not callable(app):
        raise TypeError(f"instrument() needs an ASGI app or Robutler SDK agents, got {type(app).__name__}")
    result: ASGIApp = app
    return result
