"""The HTTP metrics of the monitoring wrapper, with label children cached for a lean hot path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .buckets import DURATION_BUCKETS
from .errors import ErrorMetrics
from .registry import instruments_for

__all__ = ["DURATION_BUCKETS", "HttpMetrics"]


class HttpMetrics:
    """``robutler_http_*`` and ``robutler_errors_total`` in one registry.

    >>> from prometheus_client import CollectorRegistry
    >>> m = HttpMetrics(CollectorRegistry())
    >>> m.record("GET", "/agents", 200, 0.012, 0.010, "success")
    """

    REQUESTS_DOC = "HTTP requests by method, route template, status code sent and outcome."
    DURATION_DOC = "Time from request start to the end of the response, including a full stream."
    TTFB_DOC = "Time from request start to the first response body byte."
    IN_PROGRESS_DOC = "HTTP requests being served now."

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "robutler_http_requests",
            self.REQUESTS_DOC,
            ("method", "route", "status", "outcome"),
            registry=registry,
        )
        self.duration = Histogram(
            "robutler_http_request_duration_seconds",
            self.DURATION_DOC,
            ("method", "route"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.ttfb = Histogram(
            "robutler_http_time_to_first_byte_seconds",
            self.TTFB_DOC,
            ("method", "route"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.in_progress_gauge = Gauge(
            "robutler_http_requests_in_progress",
            self.IN_PROGRESS_DOC,
            ("method", "route"),
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.errors = instruments_for(registry, ErrorMetrics)
        # Label lookups cost more than the updates; labels are bounded, so cache children.
        self._children: dict[tuple[str, str, int, str], tuple[Any, Any, Any]] = {}
        self._gauges: dict[tuple[str, str], Any] = {}

    def in_progress(self, method: str, route: str) -> Any:
        """The in-progress gauge child for (method, route)."""
        key = (method, route)
        child = self._gauges.get(key)
        if child is None:
            child = self._gauges[key] = self.in_progress_gauge.labels(method, route)
        return child

    def record(
        self,
        method: str,
        route: str,
        status: int,
        duration: float,
        ttfb: float | None,
        outcome: str = "success",
        trace_id: str | None = None,  # multiprocess mode stores no exemplars: unused
    ) -> None:
        """Count one finished request and observe its timings."""
        key = (method, route, status, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, str(status), outcome),
                self.duration.labels(method, route),
                self.ttfb.labels(method, route),
            )
        children[0].inc()
        children[1].observe(duration)
        if ttfb is not None:
            children[2].observe(ttfb)

    def declare(self, method: str, route: str, series: Iterable[tuple[int, str]]) -> None:
        """Create the zero-valued series (status, outcome) of a route known before its first request."""
        for status, outcome in series:
            self.requests.labels(method, route, str(status), outcome)
        self.duration.labels(method, route)
        self.ttfb.labels(method, route)
        self.in_progress(method, route)

    def error(self, exc: BaseException, source: str) -> None:
        """Count an unhandled exception by class name and source."""
        self.errors.count(exc, source)
