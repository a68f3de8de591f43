"""``robutler_errors_total{type,source}``: unhandled exceptions by class and where they happened."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class ErrorMetrics:
    """The shared error counter of one registry.

    ``source`` is one of: ``http`` (the served app raised), ``listener`` (a request
    listener such as the access log raised), ``agent`` and ``skill`` (a decorated method
    raised), ``health_check`` (a health check raised), ``sampler`` (a periodic sample step failed),
    ``budget_sync`` (reading today's budget spend from the usage spool failed; tried again each second).

    >>> from prometheus_client import CollectorRegistry
    >>> ErrorMetrics(CollectorRegistry()).count(ValueError("x"), "skill")
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.counter = Counter(
            "robutler_errors",
            "Unhandled exceptions by class and where they happened.",
            ("type", "source"),
            registry=registry,
        )

    def count(self, exc: BaseException, source: str) -> None:
        """Count one exception; the class name is the label, never the message."""
        self.counter.labels(type(exc).__name__, source).inc()
