"""What a notification says: this package's JSON, Alertmanager's webhook (v4) and API bodies, e-mail.

All are built from one :class:`~.engine.Notification` and the :class:`AlertContext` of the
server, so every channel tells the same story.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from typing import Any

from ..config.schema import format_duration
from .engine import Notification
from .rules import BUDGET_KINDS, BURN_KINDS, Rule

# Long subjects stay on one line (RFC 5322 allows 998); the default 78 folds them oddly.
_MAIL_POLICY = SMTP.clone(max_line_length=998)
#: Alertmanager's "zero" time: what endsAt is while an alert fires.
_ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class AlertContext:
    """Where the alerts come from: service, instance and the links shown in notifications."""

    service: str
    instance: str
    external_url: str  # base URL of the server, without a trailing slash
    health_path: str = "/health/detailed"
    alerts_path: str = "/alerts"

    @property
    def health_url(self) -> str:
        """The detailed health of the server, linked from every notification."""
        return self.external_url + self.health_path

    @property
    def where(self) -> str:
        """``robutler@host:8000``, as subjects say it."""
        return f"{self.service}@{self.instance}"


def iso(ts: float | None) -> str | None:
    """RFC 3339 UTC time of a Unix timestamp."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def value_text(rule: Rule, value: float | None) -> str:
    """The observed value as people read it."""
    if value is None:
        return "n/a"
    if rule.kind == "error":
        return f"{value * 100:.3g}%"
    if rule.kind == "latency":
        return f"{value:.0f} ms"
    if rule.kind in BURN_KINDS:
        return f"{value:.1f}x"  # the long window's burn rate
    if rule.kind in BUDGET_KINDS:
        return rule.amount(value)
    return "fail" if value else "pass"


def summary(n: Notification, *, test: bool = False) -> str:
    """The one-line subject: ``[FIRING] error rate 12% > 5% on robutler@host``."""
    tag = "[TEST] " if test else ""
    if n.status == "firing":
        return f"{tag}[FIRING] {n.rule.describe(n.value)}"
    return (
        f"{tag}[RESOLVED] {n.rule.name}: {value_text(n.rule, n.value)}, threshold {n.rule.threshold_text()}"
    )


def subject(n: Notification, ctx: AlertContext, *, test: bool = False) -> str:
    """The e-mail subject and apprise title."""
    return f"{summary(n, test=test)} on {ctx.where}"


def labels(n: Notification, ctx: AlertContext) -> dict[str, str]:
    """The alert's labels: alertname, severity, service, instance."""
    return {
        "alertname": n.rule.name,
        "severity": n.rule.severity,
        "event": n.rule.event,
        "service": ctx.service,
        "instance": ctx.instance,
    }


def alert_annotations(n: Notification, ctx: AlertContext, *, test: bool = False) -> dict[str, str]:
    """The alert's annotations: summary, description, value and threshold."""
    rule = n.rule
    window = f" over {format_duration(rule.window)}" if rule.window else ""
    return {
        "summary": f"{summary(n, test=test)} on {ctx.where}",
        "description": (
            f"{rule.name} on {ctx.where}: {rule.describe(n.value)}{window}"
            + (" (a test notification sent by `robutler monitor alerts test`)" if test else "")
        ),
        "value": value_text(rule, n.value),
        "threshold": rule.threshold_text(),
    }


def fingerprint(alert_labels: dict[str, str]) -> str:
    """A stable id of the label set (hex, 16 digits, as Alertmanager shows them)."""
    text = "\xff".join(f"{k}\xfe{v}" for k, v in sorted(alert_labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def webhook_json(n: Notification, ctx: AlertContext, *, test: bool = False) -> dict[str, Any]:
    """This package's webhook body: flat, machine-readable fields."""
    rule = n.rule
    return {
        "version": "1",
        "test": test,
        "rule": rule.name,
        "event": rule.event,
        "status": n.status,
        "severity": rule.severity,
        "summary": subject(n, ctx, test=test),
        "value": n.value,
        "value_text": value_text(rule, n.value),
        "threshold": rule.threshold,
        "threshold_text": rule.threshold_text(),
        "window": rule.window or None,
        "window_text": format_duration(rule.window) if rule.window else None,
        "for_seconds": rule.for_,
        "service": ctx.service,
        "instance": ctx.instance,
        "started_at": iso(n.started_at),
        "ended_at": iso(n.ended_at),
        "reminder": n.reminder,
        "link": ctx.health_url,
        "labels": labels(n, ctx),
    }


def am_alert(n: Notification, ctx: AlertContext, *, test: bool = False) -> dict[str, Any]:
    """One alert as Alertmanager's API (``/api/v2/alerts``) takes it."""
    alert: dict[str, Any] = {
        "labels": labels(n, ctx),
        "annotations": alert_annotations(n, ctx, test=test),
        "startsAt": iso(n.started_at),
        "generatorURL": ctx.external_url + ctx.alerts_path,
    }
    if n.status == "resolved":
        alert["endsAt"] = iso(n.ended_at or n.at)
    return alert


def alertmanager_webhook(
    n: Notification, ctx: AlertContext, receiver: str, *, test: bool = False
) -> dict[str, Any]:
    """Alertmanager's webhook payload, version 4, with this one alert in it."""
    alert_labels = labels(n, ctx)
    alert = {
        "status": n.status,
        "labels": alert_labels,
        "annotations": alert_annotations(n, ctx, test=test),
        "startsAt": iso(n.started_at),
        "endsAt": iso(n.ended_at or n.at) if n.status == "resolved" else _ZERO_TIME,
        "generatorURL": ctx.external_url + ctx.alerts_path,
        "fingerprint": fingerprint(alert_labels),
    }
    group = {"alertname": n.rule.name}
    return {
        "version": "4",
        "groupKey": '{}:{alertname="%s"}' % n.rule.name,  # noqa: UP031 - braces are literal
        "truncatedAlerts": 0,
        "status": n.status,
        "receiver": receiver,
        "groupLabels": group,
        "commonLabels": alert_labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": ctx.external_url,
        "alerts": [alert],
    }


def text_body(n: Notification, ctx: AlertContext, *, test: bool = False) -> str:
    """The plain-text body of e-mails and apprise notifications."""
    rule = n.rule
    lines = [
        subject(n, ctx, test=test),
        "",
        f"Rule:      {rule.name} ({rule.severity})",
        f"Status:    {n.status}" + (" (reminder)" if n.reminder else ""),
        f"Value:     {value_text(rule, n.value)} (threshold {rule.threshold_text()}"
        + (f", window {format_duration(rule.window)})" if rule.window else ")"),
        f"Service:   {ctx.service}",
        f"Instance:  {ctx.instance}",
        f"Started:   {iso(n.started_at)}",
    ]
    if n.status == "resolved":
        lines.append(f"Resolved:  {iso(n.ended_at or n.at)}")
    lines += ["", f"Health:    {ctx.health_url}"]
    if test:
        lines += ["", "This is a test notification sent by `robutler monitor alerts test`."]
    return "\n".join(lines) + "\n"


def email_message(
    n: Notification, ctx: AlertContext, *, sender: str, recipients: tuple[str, ...], test: bool = False
) -> EmailMessage:
    """The e-mail for one notification."""
    msg = EmailMessage(policy=_MAIL_POLICY)
    msg["Subject"] = subject(n, ctx, test=test)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg["X-Robutler-Alert"] = f"{n.rule.name}; status={n.status}"
    msg.set_content(text_body(n, ctx, test=test))
    return msg
