"""The concern registry: every part of the monitoring plugin is one :class:`Concern` in one list.

``plugin/hooks.py`` implements the host's hooks by looping over the enabled concerns of
the process's :class:`~robutler_monitoring.plugin.runtime.Runtime`; no hook knows a
concern by name. A concern overrides only the lifecycle methods it needs; the defaults
do nothing. Adding a concern touches its own package and one line of :data:`CONCERNS`::

    # robutler_monitoring/plugin/alerts/concern.py
    from ..concerns import Concern, Endpoint

    class AlertsConcern(Concern):
        name = "alerts"

        def enabled(self, cfg):
            return cfg.alerts.enabled

        def __init__(self):  # one instance per process and `robutler serve` run
            self._ended = collections.deque(maxlen=10_000)

        def subscribe(self, rt):
            # runs in the request path: bump a number or append to a bounded deque
            rt.subscribe("http", on_end=self._ended.append)

        def endpoints(self, rt):
            return [Endpoint("/alerts", self._alerts_app)]  # bearer token like /metrics

        async def startup(self, rt):
            self._task = asyncio.create_task(self._evaluate_forever())

    # robutler_monitoring/plugin/concerns.py: one line, before the HTTP concern
    CONCERNS = [..., "robutler_monitoring.plugin.alerts.concern:AlertsConcern", HTTP]

The order of the calls, per process:

``robutler serve`` process (once)
    ``serve_prepare`` -> ``uvicorn_config`` -> ``startup_lines``
every serving process (the serve process itself with one worker)
    ``worker_prepare`` (before TARGET is imported), then, when the app is built:
    ``subscribe`` -> ``health_checks`` -> ``endpoints`` -> ``wrap`` (list order: the last
    concern's wrapper is outermost), then in the ASGI lifespan ``startup`` and, once the
    app's own start-up is done, ``ready``; on SIGTERM
    ``draining``; at the end ``shutdown`` (reverse list order), then the runtime
    unsubscribes everything subscribed through ``rt.subscribe``.
``robutler monitor ...`` (no server, no config)
    ``commands`` on a fresh instance of every concern in the list, enabled or not, once
    per process (``monitor`` is the ``robutler monitor`` Typer group).

Each concern instance lives in one runtime (one process, one ``robutler serve`` run),
so it keeps its per-process state as plain typed attributes; another concern finds it
with ``rt.concern(MetricsConcern)``. A concern that raises stops that hook for the
concerns after it and the host reports the failure (naming the plugin and the hook);
``shutdown`` runs every concern and raises the first failure afterwards.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import typer

    from ..api.health import HealthCheck
    from ..host.types import ASGIApp
    from .config.schema import MonitoringConfig
    from .runtime import Runtime

__all__ = ["CONCERNS", "Concern", "Endpoint", "concern_types"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A monitoring endpoint, served by the HTTP concern in front of the app's router.

    ``public=False`` (the default) puts it behind the bearer token (``auth_token``),
    like ``/metrics`` and ``/health/detailed``. ``app`` is a plain ASGI app; it sees
    every method (answer 405 yourself where only GET makes sense).
    """

    path: str
    app: ASGIApp
    public: bool = False


class Concern:
    """One part of the monitoring plugin, with the lifecycle it needs (all optional).

    Subclass it, set :attr:`name`, override what you need, and list it in
    :data:`CONCERNS`. Methods receive the process's runtime ``rt`` (``rt.cfg``, the
    frozen ``MonitoringConfig``; ``rt.settings``; ``rt.bus``; ``rt.registry``).
    """

    #: Short, unique; used in error messages and logs.
    name: ClassVar[str] = "concern"

    def enabled(self, cfg: MonitoringConfig) -> bool:
        """Whether this concern runs in this ``robutler serve`` run (the plugin is enabled)."""
        return True

    # -- the `robutler serve` process ------------------------------------------------------

    def serve_prepare(self, rt: Runtime) -> None:
        """Once in the ``robutler serve`` process before the server starts; raise ``UsageError`` to refuse."""

    def uvicorn_config(self, rt: Runtime, config: dict[str, object]) -> None:
        """Adjust the keyword arguments given to ``uvicorn.Config``."""

    def startup_lines(self, rt: Runtime) -> list[str]:
        """Lines for the start-up banner (where this concern's endpoints are)."""
        return []

    # -- every serving process -------------------------------------------------------------

    def worker_prepare(self, rt: Runtime) -> None:
        """In every serving process before TARGET is imported (logging set-up)."""

    def subscribe(self, rt: Runtime) -> None:
        """Subscribe to operations with ``rt.subscribe(kind, on_start=..., on_end=...)``.

        Subscribers run in the request path: only bump a number or append to a bounded
        deque; drain anything slow in a task started by :meth:`startup`.
        """

    def health_checks(self, rt: Runtime) -> Iterable[HealthCheck]:
        """Components this concern adds to ``/health/detailed`` (alert channels, log output)."""
        return ()

    def endpoints(self, rt: Runtime) -> Iterable[Endpoint]:
        """Extra monitoring endpoints (``GET /alerts``), served before the app's routes."""
        return ()

    def wrap(self, app: ASGIApp, rt: Runtime) -> ASGIApp:
        """Wrap the served app (list order: the last concern's wrapper is outermost)."""
        return app

    async def startup(self, rt: Runtime) -> None:
        """At ASGI lifespan start-up: start background tasks."""

    def ready(self, rt: Runtime) -> None:
        """TARGET's own start-up has finished; the worker takes requests right after."""

    def draining(self, rt: Runtime) -> None:
        """The server was asked to stop and still serves for ``--drain-delay`` seconds."""

    async def shutdown(self, rt: Runtime) -> None:
        """At ASGI lifespan shutdown (reverse list order): stop tasks, flush."""

    # -- the command line -------------------------------------------------------------------

    def commands(self, monitor: typer.Typer) -> None:
        """Add commands or groups under ``robutler monitor`` (``monitor.add_typer(...)``)."""


#: The concerns, in order: "module:Class" (imported only when the plugin runs) or a class.
#: Logging first (it must see everything else start), HTTP last (its wrapper is outermost).
CONCERNS: list[str | type[Concern]] = [
    "robutler_monitoring.plugin.logging.concern:LoggingConcern",
    "robutler_monitoring.plugin.health.concern:HealthConcern",
    "robutler_monitoring.plugin.metrics.concern:MetricsConcern",
    "robutler_monitoring.plugin.usage.concern:UsageConcern",
    "robutler_monitoring.plugin.alerts.concern:AlertsConcern",
    "robutler_monitoring.plugin.tracing.concern:TracingConcern",  # inside HTTP: its request is current
    "robutler_monitoring.plugin.http.concern:HttpConcern",
]


def concern_types(entries: Sequence[str | type[Concern]] | None = None) -> list[type[Concern]]:
    """The concern classes of ``entries`` (default :data:`CONCERNS`), imported in order."""
    types: list[type[Concern]] = []
    for spec in CONCERNS if entries is None else entries:
        if isinstance(spec, str):
            module, _, attr = spec.partition(":")
            found = getattr(importlib.import_module(module), attr)
        else:
            found = spec
        if not (isinstance(found, type) and issubclass(found, Concern)):
            raise TypeError(f"concern {spec!r} is not a Concern subclass")
        types.append(found)
    return types
