"""The alerting part of the monitoring plugin's hooks (called from plugin/hooks.py)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry

from ...host.settings import ServeSettings, Slot
from ...host.types import ASGIApp, Receive, Scope, Send
from ..config.schema import MonitoringConfig
from ..endpoints import protect
from ..health.checks import default_health_checks
from ..metrics import multiproc
from ..metrics.registry import default_registry, multiprocess_dir
from ..metrics.routes import route_path
from .service import AlertsService

_SERVICE: Slot[AlertsService] = Slot("monitoring.alerts")


def counts_source(mp_dir: str | None) -> CollectorRegistry:
    """The registry /metrics serves: every worker's files in multiprocess mode, else this process's."""
    return multiproc.scrape_registry(mp_dir) if mp_dir else default_registry()


def _health(settings: ServeSettings) -> object:
    async def status() -> str:
        from ..metrics.hooks import _WORKER  # the metrics worker keeps the health reporter

        worker = _WORKER.get(settings)
        reporter = worker.reporter if worker is not None else None
        if reporter is None:
            return "pass"
        _, doc = await reporter.detailed()
        return str(doc.get("status", "pass"))

    return status


def build(cfg: MonitoringConfig, settings: ServeSettings) -> AlertsService | None:
    """This worker's alerting service, or None when alerts are off or nothing is configured."""
    if not cfg.alerts.enabled:
        return None
    mp_dir = multiprocess_dir()
    scrape = counts_source(mp_dir)
    service = AlertsService(
        cfg,
        settings,
        registry=default_registry(),
        registry_source=lambda: scrape,
        health=_health(settings),  # type: ignore[arg-type]
    )
    _SERVICE.set(settings, service)
    registry = default_health_checks()
    for check in service.health_checks():
        registry.register(check.name, check.fn, component_type=check.component_type)
    return service


class _Endpoints:
    """Serve the alert endpoints in front of ``app``."""

    def __init__(self, app: ASGIApp, endpoints: Mapping[str, ASGIApp]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.endpoints.get(route_path(scope))
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


def wrap(app: ASGIApp, cfg: MonitoringConfig, settings: ServeSettings) -> ASGIApp:
    """Build the service and serve ``GET /alerts`` (protected like /metrics)."""
    service = build(cfg, settings)
    if service is None:
        return app
    token = cfg.auth_token.get_secret_value() if cfg.auth_token else None
    return _Endpoints(app, {path: protect(ep, token) for path, ep in service.endpoints().items()})


async def startup(cfg: MonitoringConfig, settings: ServeSettings) -> None:
    """Start this worker's evaluation loop."""
    service = _SERVICE.get(settings)
    if service is not None:
        await service.start()


async def shutdown(cfg: MonitoringConfig, settings: ServeSettings) -> None:
    """Flush queued notifications (bounded) and let another worker take over."""
    service = _SERVICE.get(settings)
    if service is not None:
        await service.stop()
