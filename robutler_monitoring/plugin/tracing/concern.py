"""The tracing concern of ``robutler serve``: check the extra, start the pipeline, wrap, flush.

Tracing runs when ``monitoring.tracing.enabled`` is true or TARGET called
``enable_tracing()`` at import (its arguments win over everything else). Each serving
process (every worker of ``--workers N``) has its own pipeline and export thread.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ...host.errors import UsageError
from ..concerns import Concern
from ..config.runtime import get_resolved
from .api import api_arguments, mark_serving, missing_extra
from .settings import TracingSettings, resolve

if TYPE_CHECKING:
    from ...host.types import ASGIApp
    from ..config.schema import MonitoringConfig
    from ..runtime import Runtime
    from .pipeline import Tracing

logger = logging.getLogger("robutler_monitoring.tracing")


def _settings(rt: Runtime, api: dict[str, Any] | None = None) -> TracingSettings:
    return resolve(rt.cfg.tracing, get_resolved(rt.settings).sources, api)


class TracingConcern(Concern):
    """OpenTelemetry spans for requests, agent runs, tool calls and LLM calls."""

    name = "tracing"

    def __init__(self) -> None:
        self.tracing: Tracing | None = None

    def enabled(self, cfg: MonitoringConfig) -> bool:
        # always listed: TARGET may call enable_tracing() at import, after this is asked
        return True

    def serve_prepare(self, rt: Runtime) -> None:
        if rt.cfg.tracing.enabled:
            reason = missing_extra()
            if reason is not None:
                raise UsageError(f"{reason}; or set monitoring.tracing.enabled: false")

    def startup_lines(self, rt: Runtime) -> list[str]:
        if not rt.cfg.tracing.enabled:
            return []
        settings = _settings(rt)
        return [settings.startup_line(), *([settings.endpoint_note] if settings.endpoint_note else [])]

    def worker_prepare(self, rt: Runtime) -> None:
        mark_serving()  # enable_tracing() in TARGET now hands its arguments to this concern

    def subscribe(self, rt: Runtime) -> None:
        api = api_arguments()
        if not (rt.cfg.tracing.enabled or api):
            return
        settings = _settings(rt, api)
        if api and settings.endpoint_note:
            logger.info(settings.endpoint_note)  # the banner only knows the config file's endpoint
        from ..metrics.registry import instruments_for
        from .pipeline import Tracing, TracingMetrics

        tracing = Tracing(settings, bus=rt.bus, metrics=instruments_for(rt.registry, TracingMetrics))
        self.tracing = tracing.start(subscribe=rt.subscribe)

    def wrap(self, app: ASGIApp, rt: Runtime) -> ASGIApp:
        return self.tracing.wrap(app) if self.tracing is not None else app

    async def shutdown(self, rt: Runtime) -> None:
        tracing, self.tracing = self.tracing, None
        if tracing is not None:
            await asyncio.to_thread(tracing.shutdown)
