"""Build the health documents: liveness, readiness and ``application/health+json`` detail."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

from ...api.health import HealthCheck, HealthRegistry, worst
from ...events import EventBus, HealthChange
from ...integrations.robutler_sdk.serving import health_fields as sdk_health_fields
from ..config.schema import HealthChecksConfig
from .builtin import Readiness, builtin_checks
from .metrics import HealthMetrics
from .runner import CheckRunner


def _version() -> str:
    try:
        return metadata.version("robutler-monitoring")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class HealthReporter:
    """Answers the three health endpoints of one worker.

    >>> reporter = HealthReporter(HealthChecksConfig(), HealthRegistry(), service_id="robutler")
    >>> reporter.readiness.mark_ready()
    >>> # status_code, document = await reporter.detailed()
    """

    def __init__(
        self,
        cfg: HealthChecksConfig,
        user_checks: HealthRegistry,
        *,
        service_id: str,
        readiness: Readiness | None = None,
        lag_source: Callable[[], float] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        extra: Sequence[HealthCheck] = (),
        bus: EventBus | None = None,
        metrics: Callable[[], HealthMetrics] | None = None,
    ) -> None:
        self.cfg = cfg
        self._extra = extra  # the concerns' components (read at each report: the list may grow)
        self._bus = bus
        self._metrics = metrics
        self._last: dict[str, str] = {}
        self.readiness = readiness or Readiness()
        self._user = user_checks
        self._builtin = [
            HealthCheck(name, fn, ctype, unit, inline=True)
            for name, fn, ctype, unit in builtin_checks(cfg, self.readiness, lag_source)
        ]
        self._runner = CheckRunner(cfg.check_timeout, on_error)
        self._head = {
            "version": _version().split(".")[0],
            "releaseId": _version(),
            "serviceId": service_id,
            "description": "robutler agent server",
        }
        self._instance = f"{socket.gethostname()}:{os.getpid()}"

    def liveness(self) -> tuple[int, dict[str, Any]]:
        """200 while the process serves; checks nothing."""
        return 200, {"status": "pass", **sdk_health_fields()}

    def ready(self) -> tuple[int, dict[str, Any]]:
        """200 when this worker takes traffic, 503 while starting or draining."""
        entry = self.readiness.check()
        return (200 if entry["status"] == "pass" else 503), {
            "status": entry["status"],
            "output": self.readiness.state,
        }

    async def detailed(self) -> tuple[int, dict[str, Any]]:
        """Every check; 200 for pass and warn, 503 for fail."""
        builtin_names = {c.name for c in self._builtin}
        user = [c for c in [*self._extra, *self._user.checks()] if c.name not in builtin_names]
        checks = await self._runner.run_all(self._builtin + user)
        for entries in checks.values():
            for entry in entries:
                entry.setdefault("componentId", self._instance)
        status = worst([e["status"] for entries in checks.values() for e in entries])
        if self._metrics is not None:
            self._metrics().update(status, {n: worst([e["status"] for e in es]) for n, es in checks.items()})
        if self._bus is not None:
            self._publish(checks, status)
        doc = {"status": status, **self._head, **sdk_health_fields(), "checks": checks}
        return (503 if status == "fail" else 200), doc

    def _publish(self, checks: dict[str, list[dict[str, Any]]], overall: str) -> None:
        """Tell the bus's health subscribers which components changed status since last time."""
        assert self._bus is not None
        now = {name: worst([e["status"] for e in entries]) for name, entries in checks.items()}
        now["overall"] = overall
        for component, status in now.items():
            previous = self._last.get(component)
            if previous != status:
                self._last[component] = status
                outputs = [e["output"] for e in checks.get(component, ()) if e.get("output")]
                detail = "; ".join(str(o) for o in outputs) or None
                self._bus.publish_health(HealthChange(component, status, previous, detail))
