"""The metrics concern: HTTP and operation metrics from the bus, the sampler, ``/metrics``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import cast

from prometheus_client import CollectorRegistry

from ...api.caches import default_caches
from ...api.metrics import Backend, set_backend
from ...events import HttpRequest, Operation
from ..concerns import Concern, Endpoint
from ..http.endpoints import metrics_endpoint
from ..http.routes import KNOWN_METHODS, OTHER_METHOD
from ..runtime import Runtime
from . import multiproc
from .custom import PrometheusBackend
from .errors import ErrorMetrics
from .http import HttpMetrics
from .http_local import LocalHttpMetrics, http_metrics
from .operations import OperationMetrics
from .registry import instruments_for, multiprocess_dir
from .runtime import Sampler, add_process_collectors

_METHODS = {method: method for method in KNOWN_METHODS}
Handler = Callable[[Operation], None]


class HttpRecorder:
    """Subscriber: ``robutler_http_*`` from the ``HttpRequest`` operations (in the request path)."""

    __slots__ = ("metrics",)

    def __init__(self, metrics: HttpMetrics | LocalHttpMetrics) -> None:
        self.metrics = metrics

    def subscribe(self, bus: Runtime) -> None:
        """Subscribe to the HTTP operations (through the runtime, or an EventBus)."""
        target: HttpRecorder | LocalHttpMetrics = self
        if isinstance(self.metrics, LocalHttpMetrics):  # plain numbers: its own inlined subscribers
            target = self.metrics
        bus.subscribe("http", on_start=cast(Handler, target.started), on_end=cast(Handler, target.ended))

    # Both run for every request: no isinstance checks, one dict lookup for the method.
    def started(self, op: HttpRequest) -> None:
        gauge = self.metrics.in_progress(_METHODS.get(op.method, OTHER_METHOD), op.route or "")
        gauge.inc()
        op.state[self] = gauge

    def ended(self, op: HttpRequest) -> None:
        gauge = op.state.pop(self, None)
        if gauge is not None:
            gauge.dec()
        method = _METHODS.get(op.method, OTHER_METHOD)
        route, duration = op.route or "", op.duration_s or 0.0
        self.metrics.record(method, route, op.status, duration, op.ttfb_s, op.outcome or "", op.trace_id)
        error = op.error
        if error is not None and isinstance(error, Exception):
            self.metrics.error(error, "http")


class MetricsConcern(Concern):
    """HTTP, agent, skill and LLM token metrics; process, cache and loop samples; ``/metrics``."""

    name = "metrics"

    def __init__(self) -> None:
        self.sampler: Sampler | None = None
        self.mp_dir: str | None = None
        self._previous_backend: Backend | None = None

    def serve_prepare(self, rt: Runtime) -> None:
        """With several workers, give this server start a fresh multiprocess directory."""
        if rt.cfg.metrics.enabled and rt.settings.workers > 1:
            multiproc.prepare_directory(rt.cfg.metrics.multiprocess_dir)

    def startup_lines(self, rt: Runtime) -> list[str]:
        if not rt.cfg.metrics.enabled:
            return []
        lock = "  (bearer token required)" if rt.auth_token else ""
        return [f"Metrics: {rt.settings.base_url}{rt.cfg.metrics.endpoint}{lock}"]

    def worker_prepare(self, rt: Runtime) -> None:
        """``metrics.*`` of user code records into the served registry from now on."""
        self._install_backend(rt)

    def subscribe(self, rt: Runtime) -> None:
        self._install_backend(rt)
        registry = rt.registry
        errors = instruments_for(registry, ErrorMetrics)
        rt.bus.on_subscriber_error = lambda exc, where: errors.count(exc, "listener")
        HttpRecorder(instruments_for(registry, http_metrics)).subscribe(rt)
        instruments_for(registry, OperationMetrics).subscribe(rt)
        self.mp_dir = multiprocess_dir()
        if rt.cfg.metrics.enabled:
            mp_dir = self.mp_dir
            extra = (lambda: multiproc.reap_dead_workers(mp_dir),) if mp_dir else ()
            self.sampler = Sampler(registry, rt.cfg.metrics.collect_interval, default_caches(), extra)

    def endpoints(self, rt: Runtime) -> Iterable[Endpoint]:
        if not rt.cfg.metrics.enabled:
            return ()
        return [Endpoint(rt.cfg.metrics.endpoint, metrics_endpoint(self._scrape_source(rt)))]

    async def startup(self, rt: Runtime) -> None:
        if self.sampler is not None:
            await self.sampler.start()

    async def shutdown(self, rt: Runtime) -> None:
        """Stop the sampler; drop this worker's live gauges; hand ``metrics`` back."""
        if self.sampler is not None:
            await self.sampler.stop()
        if self.mp_dir:
            multiproc.mark_dead(os.getpid(), self.mp_dir)
        if self._previous_backend is not None:
            set_backend(self._previous_backend)
            self._previous_backend = None

    def _install_backend(self, rt: Runtime) -> None:
        if self._previous_backend is None:
            self._previous_backend = set_backend(instruments_for(rt.registry, PrometheusBackend))

    def _scrape_source(self, rt: Runtime) -> Callable[[], CollectorRegistry]:
        if self.mp_dir is None:
            registry = rt.registry
            return lambda: registry
        scrape = multiproc.scrape_registry(self.mp_dir)
        add_process_collectors(scrape)  # process_* of the worker that answers the scrape
        return lambda: scrape
