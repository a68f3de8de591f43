"""``enable_tracing()``: turn tracing on from code, as the product documentation shows.

    from robutler_monitoring import enable_tracing
    enable_tracing(service_name="robutler-agent", jaeger_endpoint="http://jaeger:14268/api/traces")

Its arguments take precedence over everything else (flags, environment, config file).
Under ``robutler serve`` (TARGET calls it at import), the serving process's tracing uses
them; anywhere else it starts tracing on the process-wide event bus right away, reading
the environment and ``robutler.yaml`` (or ``$ROBUTLER_CONFIG``) for what the call leaves out.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

EXTRA = "tracing"
INSTALL_HINT = f"pip install 'robutler-monitoring[{EXTRA}]'"
_MODULES = ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http.trace_exporter")


class TracingNotInstalledError(ImportError):
    """Tracing was asked for but the ``tracing`` extra (OpenTelemetry) is not installed."""


def missing_extra() -> str | None:
    """Why tracing cannot run here (a sentence naming the extra), or None when it can."""
    for module in _MODULES:
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        if found is None:
            return (
                f"tracing is enabled but the '{EXTRA}' extra is not installed "
                f"({module} is missing); install it with: {INSTALL_HINT}"
            )
    return None


_lock = threading.Lock()
_api_args: dict[str, Any] = {}
_standalone: Any = None  # the Tracing started outside `robutler serve`
_serving = False  # set by the tracing concern of `robutler serve` in this process


def api_arguments() -> dict[str, Any]:
    """The arguments of the last ``enable_tracing()`` call in this process (empty: none)."""
    return dict(_api_args)


def mark_serving(serving: bool = True) -> None:
    """Say that ``robutler serve``'s tracing concern runs this process's tracing."""
    global _serving
    _serving = serving


def enable_tracing(
    service_name: str | None = None,
    jaeger_endpoint: str | None = None,
    *,
    otlp_endpoint: str | None = None,
    sampling_ratio: float | None = None,
    sampler: str | None = None,
    capture_content: bool | None = None,
    resource_attributes: dict[str, str] | None = None,
) -> Any:
    """Turn on tracing of requests, agent runs, tool calls and LLM calls (OTLP/HTTP export).

    Raises :class:`TracingNotInstalledError` without the ``tracing`` extra, and
    ``ValueError`` naming the key and value for a bad argument. Returns the process's
    ``Tracing`` (``.shutdown()`` flushes), or None under ``robutler serve``, whose
    tracing starts with the app and picks these arguments up.
    """
    reason = missing_extra()
    if reason is not None:
        raise TracingNotInstalledError(f"enable_tracing(): {reason}")
    args = {
        "service_name": service_name,
        "jaeger_endpoint": jaeger_endpoint,
        "otlp_endpoint": otlp_endpoint,
        "sampling_ratio": sampling_ratio,
        "sampler": sampler,
        "capture_content": capture_content,
        "resource_attributes": resource_attributes,
    }
    given = {k: v for k, v in args.items() if v is not None}
    settings = _settings(given)  # validates before anything changes
    global _standalone
    with _lock:
        _api_args.clear()
        _api_args.update(given)
        if _serving:
            return None
        from .pipeline import Tracing

        if _standalone is not None:
            _standalone.shutdown()
        _standalone = Tracing(settings).start()
        if settings.endpoint_note:
            print(settings.endpoint_note, flush=True)
        atexit.register(_standalone.shutdown)
        return _standalone


def _settings(given: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from ..config.errors import ConfigError
    from ..config.loader import load_config, resolve_config_path
    from .settings import API_SOURCE, resolve

    try:
        path = resolve_config_path(None, os.environ, Path.cwd())
        loaded = load_config(path, env=os.environ)
        sources = {k: v for k, v in loaded.sources.items() if k.startswith("tracing.")}
        return resolve(loaded.config.tracing, sources, given)
    except ConfigError as err:
        raise ValueError(f"enable_tracing(): the configuration is invalid:\n{err}") from None
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}" for e in err.errors()
        )
        raise ValueError(f"enable_tracing() ({API_SOURCE} arguments): {problems}") from None
