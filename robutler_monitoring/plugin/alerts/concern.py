"""The alerts concern: rules over the /metrics numbers, ``GET /alerts``, channel health, delivery."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from ...api.health import HealthCheck
from ..concerns import Concern, Endpoint
from ..config.schema import MonitoringConfig
from ..health.concern import HealthConcern
from ..metrics import multiproc
from ..metrics.registry import multiprocess_dir
from ..runtime import Runtime
from .evaluator import HealthSource
from .service import AlertsService

if TYPE_CHECKING:
    import typer


class AlertsConcern(Concern):
    """Alerting in each serving process; only the holder of the state directory's lock evaluates."""

    name = "alerts"

    def __init__(self) -> None:
        self.service: AlertsService | None = None
        self._scrape: CollectorRegistry | None = None

    def enabled(self, cfg: MonitoringConfig) -> bool:
        return cfg.alerts.enabled

    def startup_lines(self, rt: Runtime) -> list[str]:
        from .rules import alerted_budgets, build_plan

        plan = build_plan(
            rt.cfg.alerts, instance="-", service=rt.cfg.tracing.service_name, budgets=alerted_budgets(rt.cfg)
        )
        if not plan.channels:
            return []
        lock = "  (bearer token required)" if rt.auth_token else ""
        return [
            f"Alerts:  {rt.settings.base_url}{rt.cfg.alerts.endpoint}{lock}  "
            f"({len(plan.rules)} rule(s), {len(plan.channels)} channel(s))"
        ]

    def _service(self, rt: Runtime) -> AlertsService:
        if self.service is None:
            mp_dir = multiprocess_dir()
            # the numbers /metrics serves: every worker's files in multiprocess mode
            scrape = multiproc.scrape_registry(mp_dir) if mp_dir else rt.registry
            self.service = AlertsService(
                rt.cfg,
                rt.settings,
                registry=rt.registry,
                registry_source=lambda: scrape,
                health=self._health_source(rt),
            )
        return self.service

    def _health_source(self, rt: Runtime) -> HealthSource:
        async def status() -> str:
            health = rt.concern(HealthConcern)
            reporter = health.reporter if health is not None else None
            if reporter is None:
                return "pass"
            _, doc = await reporter.detailed()
            return str(doc.get("status", "pass"))

        return status

    def health_checks(self, rt: Runtime) -> Iterable[HealthCheck]:
        return self._service(rt).health_checks()

    def endpoints(self, rt: Runtime) -> Iterable[Endpoint]:
        return [Endpoint(path, app) for path, app in self._service(rt).endpoints().items()]

    async def startup(self, rt: Runtime) -> None:
        await self._service(rt).start()

    async def shutdown(self, rt: Runtime) -> None:
        if self.service is not None:
            await self.service.stop()

    def commands(self, monitor: typer.Typer) -> None:
        from .cli import alerts_app

        monitor.add_typer(alerts_app, name="alerts")
