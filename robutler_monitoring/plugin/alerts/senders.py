"""One blocking sender per channel kind: http(s) webhook, Alertmanager, e-mail, apprise.

Each ``send`` runs in the channel's own delivery thread, bounded by the channel's timeout,
and returns None when delivered or the reason it was not, with every secret masked.
Plain http(s) webhooks are posted by this package's httpx client rather than apprise's
``json://``, which drops the URL's query string (where tokens often live).
"""

from __future__ import annotations

import smtplib
import ssl
from typing import Protocol

import httpx

from ..config.schema import AlertmanagerConfig, EmailConfig, WebhookConfig
from ..secrets import mask_capability_url, scrub_text
from .engine import Notification
from .payloads import (
    AlertContext,
    alertmanager_webhook,
    am_alert,
    email_message,
    subject,
    text_body,
    webhook_json,
)
from .rules import Channel

_USER_AGENT = "robutler-monitoring-alerts"


class Sender(Protocol):
    """Delivers one notification, blocking; None on success, else why it failed."""

    def send(self, n: Notification, *, test: bool = False) -> str | None: ...

    def close(self) -> None: ...


def _reason(exc: BaseException, url: str | None = None) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timed out"
    text = str(exc)
    if url:
        text = text.replace(url, mask_capability_url(url))
    text = scrub_text(text)
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return f"cannot connect ({text or type(exc).__name__})"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _HttpSender:
    def __init__(self, url: str, headers: dict[str, str], timeout: float) -> None:
        self._url = url
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers={"user-agent": _USER_AGENT, **headers},
            follow_redirects=False,
            trust_env=False,
        )

    def _post(self, url: str, body: object) -> str | None:
        try:
            response = self._client.post(url, json=body)
        except Exception as exc:
            return _reason(exc, url)
        if response.is_success:
            return None
        return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()

    def close(self) -> None:
        self._client.close()


class WebhookSender(_HttpSender):
    """POST this package's JSON (or Alertmanager's webhook v4) to an http(s) URL."""

    def __init__(self, channel: Channel, conf: WebhookConfig, ctx: AlertContext) -> None:
        super().__init__(conf.url, conf.headers, conf.timeout)
        self._format = conf.format
        self._name = channel.name
        self._ctx = ctx

    def send(self, n: Notification, *, test: bool = False) -> str | None:
        if self._format == "alertmanager":
            body = alertmanager_webhook(n, self._ctx, self._name, test=test)
        else:
            body = webhook_json(n, self._ctx, test=test)
        return self._post(self._url, body)


class AlertmanagerSender(_HttpSender):
    """POST alerts to an Alertmanager's ``/api/v2/alerts``."""

    def __init__(self, conf: AlertmanagerConfig, ctx: AlertContext) -> None:
        super().__init__(conf.url, conf.headers, conf.timeout)
        self._api = conf.url.rstrip("/") + "/api/v2/alerts"
        self._ctx = ctx

    def send(self, n: Notification, *, test: bool = False) -> str | None:
        return self._post(self._api, [am_alert(n, self._ctx, test=test)])


class EmailSender:
    """Send an e-mail through SMTP: STARTTLS (587), implicit TLS (465) or none (a local relay)."""

    def __init__(self, conf: EmailConfig, ctx: AlertContext) -> None:
        self._conf = conf
        self._ctx = ctx

    def send(self, n: Notification, *, test: bool = False) -> str | None:
        conf = self._conf
        if not conf.recipients:
            return "no recipients (set alerts.email.recipients)"
        if not conf.from_address:
            return "no From address (set alerts.email.sender, or a username that is an address)"
        assert conf.smtp_host is not None and conf.from_address is not None
        msg = email_message(n, self._ctx, sender=conf.from_address, recipients=conf.recipients, test=test)
        try:
            # certificate and host name are always checked; ca_file swaps the system's CAs for a private one
            context = ssl.create_default_context(cafile=conf.ca_file)
            smtp: smtplib.SMTP
            if conf.tls_mode == "ssl":
                smtp = smtplib.SMTP_SSL(conf.smtp_host, conf.smtp_port, timeout=conf.timeout, context=context)
            else:
                smtp = smtplib.SMTP(conf.smtp_host, conf.smtp_port, timeout=conf.timeout)
            with smtp:
                if conf.tls_mode == "starttls":
                    smtp.starttls(context=context)
                if conf.username and conf.password is not None:
                    smtp.login(conf.username, conf.password.get_secret_value())
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            return f"SMTP login refused ({exc.smtp_code})"
        except Exception as exc:
            return _reason(exc)
        return None

    def close(self) -> None:
        pass


class AppriseChannelSender:
    """Any other apprise URL (slack://, discord://, mailto://, ...), through its own apprise object."""

    def __init__(self, conf: WebhookConfig, ctx: AlertContext) -> None:
        from .apprise_channel import AppriseSender

        self._sender = AppriseSender(conf.url, timeout=conf.timeout)
        self._ctx = ctx

    def send(self, n: Notification, *, test: bool = False) -> str | None:
        reason = self._sender.send(subject(n, self._ctx, test=test), text_body(n, self._ctx, test=test))
        return None if reason is None else scrub_text(reason)

    def close(self) -> None:
        pass


def make_sender(channel: Channel, ctx: AlertContext) -> Sender:
    """The sender of a channel."""
    conf = channel.config
    if isinstance(conf, EmailConfig):
        return EmailSender(conf, ctx)
    if isinstance(conf, AlertmanagerConfig):
        return AlertmanagerSender(conf, ctx)
    assert isinstance(conf, WebhookConfig)
    if channel.kind == "apprise":
        return AppriseChannelSender(conf, ctx)
    return WebhookSender(channel, conf, ctx)
