"""The HTTP concern: the monitoring wrapper (outermost), serving every concern's endpoints."""

from __future__ import annotations

from ...host.errors import UsageError
from ...host.types import ASGIApp
from ...integrations.robutler_sdk import serving_if_used
from ..concerns import Concern
from ..runtime import Runtime
from .endpoints import protect
from .gcfreeze import freeze_now, set_young_threshold
from .middleware import MonitoringMiddleware


class HttpConcern(Concern):
    """Wraps the app: request ids, one ``HttpRequest`` operation per request, the endpoints."""

    name = "http"

    def __init__(self) -> None:
        self.middleware: MonitoringMiddleware | None = None

    def wrap(self, app: ASGIApp, rt: Runtime) -> ASGIApp:
        token = rt.auth_token
        endpoints: dict[str, ASGIApp] = {}
        for endpoint in rt.endpoints:
            if endpoint.path in endpoints:
                raise UsageError(f"two monitoring endpoints want the path {endpoint.path!r}")
            endpoints[endpoint.path] = endpoint.app if endpoint.public else protect(endpoint.app, token)
        serving = serving_if_used()  # TARGET served SDK agents: requests name them in their paths
        agent_of = serving.agent_for_path if serving is not None else None
        self.middleware = MonitoringMiddleware(app, bus=rt.bus, endpoints=endpoints, agent_of=agent_of)
        return self.middleware

    def ready(self, rt: Runtime) -> None:
        """Tune this worker's garbage collector (``server.gc_freeze``, ``server.gc_threshold``).

        Once the app has started and before the first request: the collection before the
        freeze (~50 ms with an SDK loaded) never pauses a worker that is serving. Only in
        ``robutler serve``'s workers: an app that ``instrument()`` wraps runs in someone
        else's process (a test suite starting it a hundred times, say).
        """
        if rt.settings.embedded:
            return
        if rt.cfg.server.gc_threshold is not None:
            set_young_threshold(rt.cfg.server.gc_threshold)
        if rt.cfg.server.gc_freeze:
            freeze_now()

    def draining(self, rt: Runtime) -> None:
        """Requests cancelled from now on were cut by the server's shutdown."""
        if self.middleware is not None:
            self.middleware.stopping = True
