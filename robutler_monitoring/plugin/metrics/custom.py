"""The custom metrics API's backend while the plugin serves: prometheus_client metrics in a registry."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_KINDS = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


class PrometheusBackend:
    """Creates ``metrics.*`` families in ``registry`` (what ``/metrics`` serves).

    >>> from prometheus_client import CollectorRegistry
    >>> backend = PrometheusBackend(CollectorRegistry())
    >>> backend.create("counter", "jobs", ("queue",)).labels("mail").inc()
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        # A family outlives the facade that made it (a server started twice in one process).
        self._made: dict[tuple[str, str, tuple[str, ...]], Any] = {}

    def create(self, kind: str, name: str, labels: tuple[str, ...]) -> Any:
        """The metric family (raises ValueError for a clash in the registry)."""
        made = self._made.get((kind, name, labels))
        if made is not None:
            return made
        kwargs: dict[str, Any] = {"registry": self.registry}
        if kind == "gauge":
            kwargs["multiprocess_mode"] = "livesum"
        made = self._made[(kind, name, labels)] = _KINDS[kind](
            name, f"Custom {kind} {name}.", labels, **kwargs
        )
        return made
