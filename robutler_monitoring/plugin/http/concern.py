"""The HTTP concern: the monitoring wrapper (outermost), serving every concern's endpoints."""

from __future__ import annotations

import asyncio

from ...host.errors import UsageError
from ...host.types import ASGIApp
from ...integrations.robutler_sdk import serving_if_used
from ..concerns import Concern
from ..runtime import Runtime
from .endpoints import protect
from .gcfreeze import freeze_soon, set_young_threshold
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

    async def startup(self, rt: Runtime) -> None:
        """Tune this worker's garbage collector (``server.gc_freeze``, ``server.gc_threshold``)."""
        if rt.cfg.server.gc_threshold is not None:
            set_young_threshold(rt.cfg.server.gc_threshold)
        if rt.cfg.server.gc_freeze:
            freeze_soon(asyncio.get_running_loop())

    def draining(self, rt: Runtime) -> None:
        """Requests cancelled from now on were cut by the server's shutdown."""
        if self.middleware is not None:
            self.middleware.stopping = True
