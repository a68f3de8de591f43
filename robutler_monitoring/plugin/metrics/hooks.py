"""The metrics and health part of the monitoring plugin's hooks (called from plugin/hooks.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from ...host.settings import ServeSettings, Slot
from ...host.types import ASGIApp
from ..config.schema import MonitoringConfig
from ..context import RequestRecord
from ..endpoints import health_endpoints, metrics_endpoint, protect
from ..health.checks import default_health_checks
from ..health.report import HealthReporter
from ..middleware import MonitoringMiddleware
from . import multiproc
from .caches import default_caches
from .errors import ErrorMetrics
from .registry import default_registry, instruments_for, multiprocess_dir
from .runtime import Sampler, add_process_collectors


@dataclass
class _Worker:
    """What one worker process keeps between wrap, startup and shutdown."""

    reporter: HealthReporter
    sampler: Sampler | None
    mp_dir: str | None


_WORKER: Slot[_Worker] = Slot("monitoring.metrics")


def serve_prepare(cfg: MonitoringConfig, settings: ServeSettings) -> None:
    """With several workers, give this server start a fresh multiprocess directory."""
    if cfg.metrics.enabled and settings.workers > 1:
        multiproc.prepare_directory(cfg.metrics.multiprocess_dir)


def startup_lines(cfg: MonitoringConfig, settings: ServeSettings) -> list[str]:
    """Where the endpoints are."""
    base = settings.base_url
    lock = "  (bearer token required)" if cfg.auth_token else ""
    lines = []
    if cfg.health_checks.enabled:
        hc = cfg.health_checks
        lines.append(f"Health:  {base}{hc.endpoint}")
        lines.append(f"Ready:   {base}{hc.readiness_endpoint}")
        lines.append(f"Detail:  {base}{hc.detailed_endpoint}{lock}")
    if cfg.metrics.enabled:
        lines.append(f"Metrics: {base}{cfg.metrics.endpoint}{lock}")
    return lines


def _scrape_source(mp_dir: str | None) -> Callable[[], CollectorRegistry]:
    if mp_dir is None:
        return default_registry
    registry = multiproc.scrape_registry(mp_dir)
    add_process_collectors(registry)  # process_* of the worker that answers the scrape
    return lambda: registry


def wrap(
    app: ASGIApp,
    cfg: MonitoringConfig,
    settings: ServeSettings,
    listeners: list[Callable[[RequestRecord], None]],
) -> ASGIApp:
    """Wrap the served app with the monitoring middleware (once per worker)."""
    registry = default_registry()
    mp_dir = multiprocess_dir()
    token = cfg.auth_token.get_secret_value() if cfg.auth_token else None
    errors = instruments_for(registry, ErrorMetrics)
    sampler = None
    if cfg.metrics.enabled:
        extra = (lambda: multiproc.reap_dead_workers(mp_dir),) if mp_dir else ()
        sampler = Sampler(registry, cfg.metrics.collect_interval, default_caches(), extra)
    reporter = HealthReporter(
        cfg.health_checks,
        default_health_checks(),
        service_id=cfg.tracing.service_name,
        lag_source=(lambda: sampler.probe.last) if sampler else None,
        on_error=lambda exc: errors.count(exc, "health_check"),
    )
    endpoints: dict[str, ASGIApp] = {}
    if cfg.health_checks.enabled:
        endpoints.update(health_endpoints(reporter))
        detailed = cfg.health_checks.detailed_endpoint
        endpoints[detailed] = protect(endpoints[detailed], token)
    if cfg.metrics.enabled:
        endpoints[cfg.metrics.endpoint] = protect(metrics_endpoint(_scrape_source(mp_dir)), token)
    _WORKER.set(settings, _Worker(reporter, sampler, mp_dir))
    return MonitoringMiddleware(app, registry=registry, endpoints=endpoints, listeners=listeners)


async def startup(cfg: MonitoringConfig, settings: ServeSettings) -> None:
    """Start background collectors; mark ready."""
    worker = _WORKER.get(settings)
    if worker is None:
        return
    if worker.sampler is not None:
        await worker.sampler.start()
    worker.reporter.readiness.mark_ready()


def draining(cfg: MonitoringConfig, settings: ServeSettings) -> None:
    """The server was asked to stop: readiness fails from now on."""
    worker = _WORKER.get(settings)
    if worker is not None:
        worker.reporter.readiness.mark_draining()


async def shutdown(cfg: MonitoringConfig, settings: ServeSettings) -> None:
    """Mark draining; stop collectors; drop this worker's live gauges."""
    worker = _WORKER.get(settings)
    if worker is None:
        return
    worker.reporter.readiness.mark_draining()
    if worker.sampler is not None:
        await worker.sampler.stop()
    if worker.mp_dir:
        multiproc.mark_dead(os.getpid(), worker.mp_dir)
