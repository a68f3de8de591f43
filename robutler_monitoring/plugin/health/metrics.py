"""``robutler_health_status`` and ``robutler_health_check_status{check}``: the detailed health as gauges.

One number per series, ``1`` pass, ``0.5`` warn, ``0`` fail, so the worst is the lowest:
``min`` over workers, instances or checks is the worst status, and ``== 0`` is "failing"
(the exported ``Unhealthy`` rule). In multiprocess mode (``--workers N``) the gauges are
``livemin``: the exposed value is the worst live worker's, and a stopped worker's last
reading leaves with it. One series per status (kube-state-metrics style, 0/1) would need
``max`` for the fail series and ``min`` for the pass series, which one gauge cannot have.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Gauge

#: The value of each detailed-health status.
STATUS_VALUES = {"pass": 1.0, "warn": 0.5, "fail": 0.0}
#: The overall status's gauge (the ``Unhealthy`` rule's series).
HEALTH_STATUS = "robutler_health_status"
#: Each check's gauge (label ``check``).
CHECK_STATUS = "robutler_health_check_status"


class HealthMetrics:
    """The detailed-health gauges of one registry.

    >>> registry = CollectorRegistry()
    >>> HealthMetrics(registry).update("fail", {"readiness": "pass", "database:ping": "fail"})
    >>> registry.get_sample_value("robutler_health_status")
    0.0
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.overall = Gauge(
            HEALTH_STATUS,
            "The detailed health's status: 1 pass, 0.5 warn, 0 fail (the worst live worker's).",
            multiprocess_mode="livemin",
            registry=registry,
        )
        self.checks = Gauge(
            CHECK_STATUS,
            "Each detailed-health check's status: 1 pass, 0.5 warn, 0 fail (the worst live worker's).",
            ("check",),
            multiprocess_mode="livemin",
            registry=registry,
        )

    def update(self, overall: str, checks: Mapping[str, str]) -> None:
        """Set the gauges to one run of the detailed checks."""
        for name, status in checks.items():
            self.checks.labels(name).set(STATUS_VALUES.get(status, 0.0))
        self.overall.set(STATUS_VALUES.get(overall, 0.0))
