"""The health concern: liveness, readiness and detailed health, and readiness through the lifecycle."""

from __future__ import annotations

from collections.abc import Iterable

from ...api.health import default_health_checks
from ..concerns import Concern, Endpoint
from ..http.endpoints import health_endpoints
from ..metrics.concern import MetricsConcern
from ..metrics.errors import ErrorMetrics
from ..metrics.registry import instruments_for
from ..runtime import Runtime
from .metrics import HealthMetrics
from .report import HealthReporter
from .watch import HealthWatch


class HealthConcern(Concern):
    """``/health``, ``/ready`` and ``/health/detailed``; health changes published on the bus."""

    name = "health"

    def __init__(self) -> None:
        self.reporter: HealthReporter | None = None
        self.watch: HealthWatch | None = None

    def startup_lines(self, rt: Runtime) -> list[str]:
        hc = rt.cfg.health_checks
        if not hc.enabled:
            return []
        base = rt.settings.base_url
        lock = "  (bearer token required)" if rt.auth_token else ""
        return [
            f"Health:  {base}{hc.endpoint}",
            f"Ready:   {base}{hc.readiness_endpoint}",
            f"Detail:  {base}{hc.detailed_endpoint}{lock}",
        ]

    def endpoints(self, rt: Runtime) -> Iterable[Endpoint]:
        metrics = rt.concern(MetricsConcern)
        sampler = metrics.sampler if metrics is not None else None
        errors = instruments_for(rt.registry, ErrorMetrics)
        # the gauges only where both are on (health checks off: no series, not a gauge stuck at fail)
        gauges = rt.cfg.metrics.enabled and rt.cfg.health_checks.enabled
        self.reporter = reporter = HealthReporter(
            rt.cfg.health_checks,
            default_health_checks(),
            service_id=rt.cfg.tracing.service_name,
            lag_source=(lambda: sampler.probe.last) if sampler else None,
            on_error=lambda exc: errors.count(exc, "health_check"),
            extra=rt.health_checks,
            bus=rt.bus,
            # created at the first run: before it, no series rather than a 0 that reads as fail
            metrics=(lambda: instruments_for(rt.registry, HealthMetrics)) if gauges else None,
        )
        if gauges:  # the gauges stay current without a call to the detailed health
            self.watch = HealthWatch(
                reporter.detailed,
                rt.cfg.metrics.collect_interval,
                lambda exc: errors.count(exc, "health_check"),
            )
        if not rt.cfg.health_checks.enabled:
            return ()
        apps = health_endpoints(reporter)
        hc = rt.cfg.health_checks
        return [
            Endpoint(hc.endpoint, apps[hc.endpoint], public=True),
            Endpoint(hc.readiness_endpoint, apps[hc.readiness_endpoint], public=True),
            Endpoint(hc.detailed_endpoint, apps[hc.detailed_endpoint]),
        ]

    async def startup(self, rt: Runtime) -> None:
        if self.reporter is not None:
            self.reporter.readiness.mark_ready()
        if self.watch is not None:
            self.watch.start()

    def draining(self, rt: Runtime) -> None:
        """Readiness fails from now on."""
        if self.reporter is not None:
            self.reporter.readiness.mark_draining()
        if self.watch is not None:  # a draining worker's failing readiness is no incident
            self.watch.cancel()

    async def shutdown(self, rt: Runtime) -> None:
        self.draining(rt)
        if self.watch is not None:
            await self.watch.stop()
