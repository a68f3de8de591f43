"""Notifications and plans for alerting tests."""

from __future__ import annotations

from typing import Any

from robutler_monitoring.plugin.alerts.engine import Notification
from robutler_monitoring.plugin.alerts.payloads import AlertContext
from robutler_monitoring.plugin.alerts.rules import AlertPlan, Rule, build_plan
from robutler_monitoring.plugin.config.schema import AlertsConfig

CTX = AlertContext("robutler", "host.example:8000", "http://host.example:8000")
RULE = Rule("HighErrorRate", "error", 0.05, window=300, for_=60, min_requests=20, labels=())


def plan(**alerts: Any) -> AlertPlan:
    return build_plan(AlertsConfig.model_validate(alerts), instance=CTX.instance, service=CTX.service)


def firing(channel: str = "ops", value: float = 0.12, rule: Rule = RULE) -> Notification:
    return Notification(rule, channel, "firing", value, 1_700_000_000.0, None, 1_700_000_000.0)


def resolved(channel: str = "ops", rule: Rule = RULE) -> Notification:
    return Notification(rule, channel, "resolved", 0.01, 1_700_000_000.0, 1_700_000_600.0, 1_700_000_600.0)
