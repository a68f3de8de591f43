"""The HTTP metrics of a single-process server, kept in plain Python numbers.

prometheus_client guards every value with a lock and checks each observation, which
costs more than the rest of the wrapper's work on a small request. The monitoring
wrapper updates its metrics only from the event loop's thread, so a single-process
server keeps them in plain ints and floats and hands them to Prometheus as a custom
collector at scrape time. The exposition is the same as prometheus_client's
(``tests/plugin/metrics/test_http_local.py`` compares the two). In multiprocess mode
the values must live in prometheus_client's shared files, so :class:`HttpMetrics` is
used there instead. Traced requests leave an exemplar (their trace id) on the
request-duration bucket they fell in, shown in the OpenMetrics format; prometheus_client's
multiprocess mode stores no exemplars, so with ``--workers N`` there are none.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from ...events import HttpRequest
from ..http.routes import KNOWN_METHODS, OTHER_METHOD
from .errors import ErrorMetrics
from .http import DURATION_BUCKETS, HttpMetrics
from .registry import instruments_for, multiprocess_dir

_METHODS = {method: method for method in KNOWN_METHODS}

_BOUNDS = (*DURATION_BUCKETS, float("inf"))
_LE = tuple(floatToGoString(b) for b in _BOUNDS)  # type: ignore[no-untyped-call]


class _Histogram:
    __slots__ = ("buckets", "exemplars", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * len(_BOUNDS)  # per bucket, not cumulative
        self.sum = 0.0
        self.exemplars: list[Exemplar | None] | None = None  # the last traced request per bucket

    def observe(self, value: float, trace_id: str | None = None) -> None:
        index = bisect_left(_BOUNDS, value)
        self.buckets[index] += 1
        self.sum += value
        if trace_id is not None:
            exemplars = self.exemplars
            if exemplars is None:
                exemplars = self.exemplars = [None] * len(_BOUNDS)
            exemplars[index] = Exemplar({"trace_id": trace_id}, value, time.time())

    def cumulative(self) -> list[Any]:
        total = 0
        out: list[Any] = []
        exemplars = self.exemplars
        for i, (le, count) in enumerate(zip(_LE, self.buckets, strict=True)):
            total += count
            exemplar = exemplars[i] if exemplars is not None else None
            out.append((le, float(total)) if exemplar is None else (le, float(total), exemplar))
        return out


class _InProgress:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1


class LocalHttpMetrics:
    """``robutler_http_*`` for one process, registered as a collector on ``registry``.

    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> registry = CollectorRegistry()
    >>> m = LocalHttpMetrics(registry)
    >>> m.record("GET", "/agents", 200, 0.012, 0.010, "success")
    >>> text = generate_latest(registry).decode()
    >>> 'outcome="success",route="/agents",status="200"} 1.0' in text
    True
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests: dict[tuple[str, str, int, str], int] = {}
        self._timings: dict[tuple[str, str], tuple[_Histogram, _Histogram]] = {}
        self._in_progress: dict[tuple[str, str], _InProgress] = {}
        registry.register(self)
        self.errors = instruments_for(registry, ErrorMetrics)

    def in_progress(self, method: str, route: str) -> _InProgress:
        """The in-progress gauge of (method, route)."""
        gauge = self._in_progress.get((method, route))
        if gauge is None:
            gauge = self._in_progress[(method, route)] = _InProgress()
        return gauge

    def record(
        self,
        method: str,
        route: str,
        status: int,
        duration: float,
        ttfb: float | None,
        outcome: str = "success",
        trace_id: str | None = None,
    ) -> None:
        """Count one finished request and observe its timings (a traced one is an exemplar)."""
        key = (method, route, status, outcome)
        self._requests[key] = self._requests.get(key, 0) + 1
        timings = self._timings.get((method, route))
        if timings is None:
            timings = self._timings[(method, route)] = (_Histogram(), _Histogram())
        timings[0].observe(duration, trace_id)
        if ttfb is not None:
            timings[1].observe(ttfb)

    def error(self, exc: BaseException, source: str) -> None:
        """Count an unhandled exception by class name and source."""
        self.errors.count(exc, source)

    # The bus subscribers. Both run for every request, so they do the work of
    # ``in_progress`` and ``record`` inline: no method calls, no isinstance checks.
    def started(self, op: HttpRequest) -> None:
        """Subscriber to the start of an ``HttpRequest``: its in-progress gauge goes up."""
        key = (_METHODS.get(op.method, OTHER_METHOD), op.route or "")
        gauge = self._in_progress.get(key)
        if gauge is None:
            gauge = self._in_progress[key] = _InProgress()
        gauge.value += 1
        op.state[self] = gauge

    def ended(self, op: HttpRequest) -> None:
        """Subscriber to the end of an ``HttpRequest``: gauge down, count, observe, count its error."""
        gauge = op.state.pop(self, None)
        if gauge is not None:
            gauge.value -= 1
        method = _METHODS.get(op.method, OTHER_METHOD)
        route = op.route or ""
        key = (method, route, op.status, op.outcome or "")
        requests = self._requests
        requests[key] = requests.get(key, 0) + 1
        timings = self._timings.get((method, route))
        if timings is None:
            timings = self._timings[(method, route)] = (_Histogram(), _Histogram())
        duration = op.duration_s or 0.0
        hist = timings[0]
        trace_id = op.trace_id
        if trace_id is None:
            hist.buckets[bisect_left(_BOUNDS, duration)] += 1
            hist.sum += duration
        else:
            hist.observe(duration, trace_id)  # a traced request leaves an exemplar
        ttfb = op.ttfb_s
        if ttfb is not None:
            hist = timings[1]
            hist.buckets[bisect_left(_BOUNDS, ttfb)] += 1
            hist.sum += ttfb
        error = op.error
        if error is not None and isinstance(error, Exception):
            self.errors.count(error, "http")

    def describe(self) -> Iterator[Metric]:
        """The metric families without samples, so the registry refuses clashing names."""
        return self._families(empty=True)

    def collect(self) -> Iterator[Metric]:
        """The metric families, in the shape and order prometheus_client would give them."""
        return self._families(empty=False)

    def _families(self, *, empty: bool) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "robutler_http_requests",
            HttpMetrics.REQUESTS_DOC,
            labels=("method", "route", "status", "outcome"),
        )
        for (method, route, status, outcome), count in [] if empty else list(self._requests.items()):
            requests.add_metric((method, route, str(status), outcome), float(count))
        yield requests
        duration = HistogramMetricFamily(
            "robutler_http_request_duration_seconds", HttpMetrics.DURATION_DOC, labels=("method", "route")
        )
        ttfb = HistogramMetricFamily(
            "robutler_http_time_to_first_byte_seconds", HttpMetrics.TTFB_DOC, labels=("method", "route")
        )
        for labels, (whole, first) in [] if empty else list(self._timings.items()):
            duration.add_metric(labels, whole.cumulative(), whole.sum)
            ttfb.add_metric(labels, first.cumulative(), first.sum)
        yield duration
        yield ttfb
        in_progress = GaugeMetricFamily(
            "robutler_http_requests_in_progress", HttpMetrics.IN_PROGRESS_DOC, labels=("method", "route")
        )
        for labels, gauge in [] if empty else list(self._in_progress.items()):
            in_progress.add_metric(labels, float(gauge.value))
        yield in_progress


def http_metrics(registry: CollectorRegistry) -> HttpMetrics | LocalHttpMetrics:
    """The HTTP metrics for this process: plain numbers, or shared files in multiprocess mode."""
    return HttpMetrics(registry) if multiprocess_dir() else LocalHttpMetrics(registry)
