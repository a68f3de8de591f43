"""The usage concern: usage records, cost, usage metrics, export, budgets, ``monitor usage``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...api.health import HealthCheck
from ...host.errors import UsageError
from ...host.types import ASGIApp
from ...integrations.robutler_sdk import serving_if_used
from ..concerns import Concern, Endpoint
from ..runtime import Runtime

if TYPE_CHECKING:
    import typer

    from ..config.schema import MonitoringConfig
    from .service import UsageService


class UsageConcern(Concern):
    """One :class:`~.service.UsageService` per serving process; SDK agents instrumented when served."""

    name = "usage"

    def __init__(self) -> None:
        self.service: UsageService | None = None

    def enabled(self, cfg: MonitoringConfig) -> bool:
        return cfg.usage.enabled

    def serve_prepare(self, rt: Runtime) -> None:
        """A spool directory that cannot be made or written is refused before the server starts."""
        spool_dir = rt.cfg.usage.spool_dir
        if spool_dir is None:
            return
        try:
            os.makedirs(spool_dir, exist_ok=True)
            probe = os.path.join(spool_dir, f".write-test-{os.getpid()}")
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError as exc:
            raise UsageError(
                f"monitoring.usage.spool_dir {spool_dir!r}: cannot write there ({exc.strerror or exc})"
            ) from None

    def subscribe(self, rt: Runtime) -> None:
        from .service import UsageService

        self.service = UsageService(rt.cfg.usage, rt.registry)
        self.service.subscribe(rt)
        serving = serving_if_used()
        if serving is not None:  # SDK agents are served: the SDK is imported already
            from ...integrations.robutler_sdk.instrument import instrument_server

            for server in serving.served_servers():
                instrument_server(server, bus=rt.bus)

    def health_checks(self, rt: Runtime) -> Iterable[HealthCheck]:
        if self.service is None or self.service.exporter is None:
            return ()
        return [HealthCheck("usage:spool", self.service.health, observed_unit="s", inline=True)]

    def endpoints(self, rt: Runtime) -> Iterable[Endpoint]:
        if self.service is None:
            return ()
        return [Endpoint(rt.cfg.usage.endpoint, self.service.usage_endpoint)]

    def wrap(self, app: ASGIApp, rt: Runtime) -> ASGIApp:
        """Known tools' and models' series start at 0; a hard budget puts the app behind its guard."""
        if self.service is None:
            return app
        from ..metrics.known import discover

        self.service.declare(discover(app))
        return self.service.wrap(app)

    async def startup(self, rt: Runtime) -> None:
        if self.service is not None:
            self.service.start()

    async def shutdown(self, rt: Runtime) -> None:
        """Commit what is pending; the spool keeps what is unsent for the next start."""
        if self.service is not None:
            await asyncio.to_thread(self.service.stop)

    def commands(self, monitor: typer.Typer) -> None:
        from .command import usage_command

        monitor.command("usage")(usage_command)
