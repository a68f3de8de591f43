"""``robutler_alert_notifications_total`` and ``robutler_alerts`` (like Prometheus's ``ALERTS``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

#: Every state a rule can be in, one series each (1 for the current one).
ALERT_STATES = ("inactive", "pending", "firing")


class AlertMetrics:
    """The alerting metrics in one registry.

    >>> from prometheus_client import CollectorRegistry
    >>> m = AlertMetrics(CollectorRegistry())
    >>> m.notified("ops", "delivered")
    >>> m.set_state("HighErrorRate", "firing")
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.notifications = Counter(
            "robutler_alert_notifications",
            "Alert notifications by channel and outcome (delivered, failed, dropped, retried).",
            ("channel", "status"),
            registry=registry,
        )
        # Only the evaluating process sets it; after a takeover the newest value counts.
        self.alerts = Gauge(
            "robutler_alerts",
            "Alerting rules by state: 1 for the state each rule is in now.",
            ("alertname", "alertstate"),
            multiprocess_mode="mostrecent",
            registry=registry,
        )

    def notified(self, channel: str, status: str) -> None:
        """Count one delivery outcome."""
        self.notifications.labels(channel, status).inc()

    def set_state(self, rule: str, state: str) -> None:
        """Mark ``rule`` as being in ``state``."""
        for each in ALERT_STATES:
            self.alerts.labels(rule, each).set(1.0 if each == state else 0.0)
