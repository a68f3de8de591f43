"""The custom metrics API: ``metrics.increment``, ``metrics.timer``, ``metrics.gauge``, ``metrics.observe``.

Metrics are created on first use with the tag keys of that call as label names; tag keys
and the metric type are then fixed for that name, and any change is a clear error.

Where the values go is a :class:`Backend`: while the monitoring plugin serves, it installs
one that records into its Prometheus registry (``/metrics``); without it (a script, the
plugin disabled) values are kept in memory, so user code never depends on the plugin and
this module never imports prometheus_client.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .wrapping import wrap_calls

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

F = TypeVar("F", bound=Callable[..., Any])

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED_LABELS = frozenset(("le", "quantile"))
KINDS = ("counter", "gauge", "histogram")

Tags = Mapping[str, Any] | None


class MetricsError(ValueError):
    """A custom metric was used in a way Prometheus cannot represent."""


class Backend(Protocol):
    """Makes metric families; a family has ``labels(*values)`` and its children (or the
    family itself, without labels) ``inc``, ``set`` or ``observe`` (prometheus_client's API)."""

    def create(self, kind: str, name: str, labels: tuple[str, ...]) -> Any: ...


class _Value:
    """One in-memory series: a counter's or gauge's value, a histogram's count and sum."""

    __slots__ = ("count", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.count = 0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self.value += amount

    def set(self, value: float) -> None:
        self.value = float(value)

    def observe(self, value: float) -> None:
        self.value += value
        self.count += 1


class _MemoryFamily(_Value):
    __slots__ = ("children",)

    def __init__(self) -> None:
        super().__init__()
        self.children: dict[tuple[str, ...], _Value] = {}

    def labels(self, *values: str) -> _Value:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = _Value()
        return child


class MemoryBackend:
    """Keeps values in memory (no plugin serving): ``families[name].children[label values]``."""

    def __init__(self) -> None:
        self.families: dict[str, _MemoryFamily] = {}

    def create(self, kind: str, name: str, labels: tuple[str, ...]) -> Any:
        family = self.families[name] = _MemoryFamily()
        return family


_backend: Backend = MemoryBackend()


def set_backend(backend: Backend) -> Backend:
    """Send the default ``metrics`` to ``backend`` (the plugin's metrics concern); returns the previous."""
    global _backend
    previous, _backend = _backend, backend
    return previous


def current_backend() -> Backend:
    """Where the default ``metrics`` record now."""
    return _backend


@dataclass(frozen=True)
class _Family:
    kind: str
    labels: tuple[str, ...]
    metric: Any


class Metrics:
    """Create and update custom metrics by name, with tags as labels.

    >>> m = Metrics()
    >>> m.increment("custom_operation_count", tags={"operation": "data_processing"})
    >>> with m.timer("custom_operation_duration"):
    ...     pass
    >>> m.gauge("queue_depth", 3)

    ``Metrics(registry)`` records into a prometheus_client ``CollectorRegistry``;
    ``Metrics()`` into the current backend (the served ``/metrics``, else memory).
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, backend: Backend | None = None) -> None:
        if registry is not None and backend is None:
            from ..plugin.metrics.custom import PrometheusBackend  # the caller has prometheus_client
            from ..plugin.metrics.registry import instruments_for

            backend = instruments_for(registry, PrometheusBackend)
        self._fixed = backend
        self._bound: Backend | None = None
        self._families: dict[str, _Family] = {}
        self._lock = threading.Lock()

    @property
    def backend(self) -> Backend:
        """Where these metrics record."""
        return self._fixed if self._fixed is not None else _backend

    def increment(self, name: str, value: float = 1.0, tags: Tags = None) -> None:
        """Add ``value`` (default 1) to the counter ``name``."""
        child = self._child(name, "counter", tags)
        try:
            child.inc(value)
        except ValueError as exc:
            raise MetricsError(f"metric {name!r}: {exc}") from None

    def gauge(self, name: str, value: float, tags: Tags = None) -> None:
        """Set the gauge ``name`` to ``value``."""
        self._child(name, "gauge", tags).set(value)

    def observe(self, name: str, value: float, tags: Tags = None) -> None:
        """Record ``value`` in the histogram ``name``."""
        self._child(name, "histogram", tags).observe(value)

    def timer(self, name: str, tags: Tags = None) -> Timer:
        """Time a block (``with``) or a function (decorator) into the histogram ``name``, in seconds."""
        self._child(name, "histogram", tags)  # fail at the call site, not at the end of the block
        return Timer(self, name, tags)

    def _child(self, name: str, kind: str, tags: Tags) -> Any:
        if not isinstance(name, str) or not _METRIC_NAME.match(name):
            raise MetricsError(
                f"metric name {name!r} is invalid: expected letters, digits, '_' or ':' "
                "not starting with a digit"
            )
        backend = self.backend
        if backend is not self._bound:  # the plugin started (or stopped) serving: new families
            with self._lock:
                self._families, self._bound = {}, backend
        tags = tags or {}
        keys = tuple(sorted(tags))
        family = self._families.get(name)
        if family is None:
            family = self._create(backend, name, kind, keys)
        if family.kind != kind:
            raise MetricsError(f"metric {name!r} is a {family.kind}; it cannot be used as a {kind}")
        if family.labels != keys:
            raise MetricsError(
                f"metric {name!r} was first used with tags {list(family.labels)}, "
                f"now with {list(keys)}; a metric keeps the same tag keys"
            )
        if not keys:
            return family.metric
        return family.metric.labels(*[str(tags[k]) for k in keys])

    def _create(self, backend: Backend, name: str, kind: str, keys: tuple[str, ...]) -> _Family:
        for key in keys:
            if not isinstance(key, str) or not _LABEL_NAME.match(key) or key.startswith("__"):
                raise MetricsError(f"metric {name!r}: tag key {key!r} is not a valid label name")
            if kind == "histogram" and key in _RESERVED_LABELS:
                raise MetricsError(f"metric {name!r}: tag key {key!r} is reserved for histograms")
        with self._lock:
            family = self._families.get(name)
            if family is not None:
                return family
            try:
                metric = backend.create(kind, name, keys)
            except ValueError as exc:
                raise MetricsError(f"metric {name!r} cannot be created: {exc}") from None
            family = self._families[name] = _Family(kind, keys, metric)
            return family


class _Started:
    """One timed call of a decorated function."""

    __slots__ = ("start", "timer")

    def __init__(self, timer: Timer) -> None:
        self.timer = timer
        self.start = time.perf_counter()

    def end(self, error: BaseException | None = None) -> None:
        self.timer._record(time.perf_counter() - self.start)


class Timer:
    """Times a ``with`` block or every call of a decorated function (sync, async, or a generator).

    One timer may be used by many tasks or threads at once: each keeps its own start
    time (in its context), so overlapping blocks never swap their durations.

    >>> timer = Metrics().timer("report_seconds")
    >>> @timer
    ... def report() -> None: ...
    >>> with timer:
    ...     report()
    """

    def __init__(self, metrics: Metrics, name: str, tags: Tags) -> None:
        self._metrics, self._name, self._tags = metrics, name, tags
        # The starts of this timer's open blocks in the current context (task, thread):
        # a stack, so that the same timer may also be nested within one task.
        self._starts: ContextVar[tuple[float, ...]] = ContextVar(f"timer:{name}", default=())

    def __enter__(self) -> Timer:
        self._starts.set((*self._starts.get(), time.perf_counter()))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        end = time.perf_counter()
        starts = self._starts.get()
        self._starts.set(starts[:-1])
        self._record(end - starts[-1])

    def _record(self, seconds: float) -> None:
        self._metrics.observe(self._name, seconds, self._tags)

    def __call__(self, func: F) -> F:
        return wrap_calls(func, lambda args: _Started(self))
