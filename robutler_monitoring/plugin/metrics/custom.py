"""The custom metrics API: ``metrics.increment``, ``metrics.timer``, ``metrics.gauge``, ``metrics.observe``.

Metrics are created on first use with the tag keys of that call as label names; tag keys
and the metric type are then fixed for that name, and any change is a clear error.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .registry import default_registry

F = TypeVar("F", bound=Callable[..., Any])

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED_LABELS = frozenset(("le", "quantile"))
_KINDS = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}

Tags = Mapping[str, Any] | None


class MetricsError(ValueError):
    """A custom metric was used in a way Prometheus cannot represent."""


@dataclass(frozen=True)
class _Family:
    kind: str
    labels: tuple[str, ...]
    metric: Any


class Metrics:
    """Create and update custom metrics by name, with tags as labels.

    >>> from prometheus_client import CollectorRegistry
    >>> m = Metrics(CollectorRegistry())
    >>> m.increment("custom_operation_count", tags={"operation": "data_processing"})
    >>> with m.timer("custom_operation_duration"):
    ...     pass
    >>> m.gauge("queue_depth", 3)
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._registry = registry
        self._families: dict[str, _Family] = {}
        self._lock = threading.Lock()

    @property
    def registry(self) -> CollectorRegistry:
        """The registry these metrics live in (the default one unless given)."""
        return self._registry if self._registry is not None else default_registry()

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
        tags = tags or {}
        keys = tuple(sorted(tags))
        family = self._families.get(name)
        if family is None:
            family = self._create(name, kind, keys)
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

    def _create(self, name: str, kind: str, keys: tuple[str, ...]) -> _Family:
        for key in keys:
            if not isinstance(key, str) or not _LABEL_NAME.match(key) or key.startswith("__"):
                raise MetricsError(f"metric {name!r}: tag key {key!r} is not a valid label name")
            if kind == "histogram" and key in _RESERVED_LABELS:
                raise MetricsError(f"metric {name!r}: tag key {key!r} is reserved for histograms")
        with self._lock:
            family = self._families.get(name)
            if family is not None:
                return family
            kwargs: dict[str, Any] = {"registry": self.registry}
            if kind == "gauge":
                kwargs["multiprocess_mode"] = "livesum"
            try:
                metric = _KINDS[kind](name, f"Custom {kind} {name}.", keys, **kwargs)
            except ValueError as exc:
                raise MetricsError(f"metric {name!r} cannot be created: {exc}") from None
            family = self._families[name] = _Family(kind, keys, metric)
            return family


class Timer:
    """Times a ``with`` block or every call of a decorated function (sync, async, or a generator).

    >>> from prometheus_client import CollectorRegistry
    >>> timer = Metrics(CollectorRegistry()).timer("report_seconds")
    >>> @timer
    ... def report() -> None: ...
    """

    def __init__(self, metrics: Metrics, name: str, tags: Tags) -> None:
        self._metrics, self._name, self._tags = metrics, name, tags
        self._starts: list[float] = []

    def __enter__(self) -> Timer:
        self._starts.append(time.perf_counter())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        elapsed = time.perf_counter() - self._starts.pop()
        self._metrics.observe(self._name, elapsed, self._tags)

    def __call__(self, func: F) -> F:
        metrics, name, tags = self._metrics, self._name, self._tags
        # A generator's work happens while it is iterated, not when it is called: time
        # from the call to exhaustion, close or error, as the agent decorators do.
        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            async def _agen(*args: Any, **kwargs: Any) -> Any:
                with Timer(metrics, name, tags):
                    inner = func(*args, **kwargs)
                    try:
                        async for item in inner:
                            yield item
                    finally:
                        await inner.aclose()  # a consumer that stopped early stops the inner one now

            return _agen  # type: ignore[return-value]

        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def _gen(*args: Any, **kwargs: Any) -> Any:
                with Timer(metrics, name, tags):
                    return (yield from func(*args, **kwargs))

            return _gen  # type: ignore[return-value]

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def _async(*args: Any, **kwargs: Any) -> Any:
                with Timer(metrics, name, tags):
                    return await func(*args, **kwargs)

            return _async  # type: ignore[return-value]

        @functools.wraps(func)
        def _sync(*args: Any, **kwargs: Any) -> Any:
            with Timer(metrics, name, tags):
                return func(*args, **kwargs)

        return _sync  # type: ignore[return-value]
