"""Delivery to real receivers: webhook JSON, Alertmanager v4, e-mail, apprise; retries, queues, hangs."""

from __future__ import annotations

import time

import pytest

from robutler_monitoring.plugin.alerts.delivery import ChannelWorker
from robutler_monitoring.plugin.alerts.engine import Notification
from robutler_monitoring.plugin.alerts.payloads import subject
from robutler_monitoring.plugin.alerts.senders import make_sender
from tests.support.receivers import refused_url, smtp_server, webhook_receiver

from .helpers import CTX, firing, plan, resolved

pytestmark = pytest.mark.slow


def test_webhook_gets_the_machine_readable_fields_and_keeps_the_query() -> None:
    with webhook_receiver() as rx:
        [channel] = plan(webhooks=[{"url": rx.url + "/hook?token=s3cret", "name": "ops"}]).channels
        sender = make_sender(channel, CTX)
        assert sender.send(firing()) is None
        [got] = rx.received
    assert got.path == "/hook?token=s3cret"
    body = got.body
    assert {
        k: body[k] for k in ("rule", "event", "status", "value", "threshold", "window", "service", "instance")
    } == {
        "rule": "HighErrorRate",
        "event": "error",
        "status": "firing",
        "value": 0.12,
        "threshold": 0.05,
        "window": 300,
        "service": "robutler",
        "instance": "host.example:8000",
    }
    assert body["started_at"] == "2023-11-14T22:13:20.000Z"
    assert body["link"] == "http://host.example:8000/health/detailed"
    assert body["summary"] == "[FIRING] error rate 12% > 5% on robutler@host.example:8000"


def test_alertmanager_format_has_every_v4_field() -> None:
    with webhook_receiver() as rx:
        [channel] = plan(webhooks=[{"url": rx.url, "name": "am", "format": "alertmanager"}]).channels
        sender = make_sender(channel, CTX)
        assert sender.send(firing("am")) is None
        assert sender.send(resolved("am")) is None
        fired, ended = (r.body for r in rx.received)
    for body in (fired, ended):
        assert set(body) == {
            "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
            "commonLabels", "commonAnnotations", "externalURL", "alerts",
        }  # fmt: skip
        [alert] = body["alerts"]
        assert set(alert) == {
            "status",
            "labels",
            "annotations",
            "startsAt",
            "endsAt",
            "generatorURL",
            "fingerprint",
        }
        assert body["version"] == "4" and body["receiver"] == "am"
        assert alert["labels"]["alertname"] == "HighErrorRate"
    assert (fired["status"], fired["alerts"][0]["endsAt"]) == ("firing", "0001-01-01T00:00:00Z")
    assert (ended["status"], ended["alerts"][0]["endsAt"]) == ("resolved", "2023-11-14T22:23:20.000Z")
    assert fired["alerts"][0]["fingerprint"] == ended["alerts"][0]["fingerprint"]


def test_email_has_subject_sender_and_recipients() -> None:
    with smtp_server() as smtp:
        email = {
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "username": "alerts@example.com",
            "recipients": ["ops@example.com", "dev@example.com"],
            "tls": "none",
        }
        [channel] = plan(email=email).channels
        assert make_sender(channel, CTX).send(firing("email")) is None
        [mail] = smtp.wait_for(1)
    assert mail.sender == "alerts@example.com"
    assert mail.recipients == ["ops@example.com", "dev@example.com"]
    assert mail.message["Subject"] == "[FIRING] error rate 12% > 5% on robutler@host.example:8000"
    assert "http://host.example:8000/health/detailed" in mail.message.get_payload()


def test_apprise_url_is_delivered_through_apprise() -> None:
    with webhook_receiver() as rx:
        url = rx.url.replace("http://", "json://") + "/apprise"
        [channel] = plan(webhooks=[{"url": url, "name": "ap"}]).channels
        assert channel.kind == "apprise"
        assert make_sender(channel, CTX).send(firing("ap")) is None
        [got] = rx.received
    assert got.body["title"] == subject(firing(), CTX)


def _worker(url: str, **kwargs: object) -> tuple[ChannelWorker, list[Notification], list[tuple[str, str]]]:
    [channel] = plan(webhooks=[{"url": url, "name": "ops", "timeout": 1, "retries": 2}]).channels
    failed: list[Notification] = []
    outcomes: list[tuple[str, str]] = []
    worker = ChannelWorker(
        channel,
        make_sender(channel, CTX),
        queue_size=int(kwargs.get("queue_size", 10)),  # type: ignore[call-overload]
        retries=channel.config.retries,
        on_failed=failed.append,
        on_outcome=lambda c, s: outcomes.append((c, s)),
        on_delivered=kwargs.get("on_delivered"),  # type: ignore[arg-type]
        backoff=0.05,
    )
    return worker, failed, outcomes


def _wait(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_refusing_channel_retries_then_reports_the_failure() -> None:
    worker, failed, outcomes = _worker(refused_url())
    worker.put(firing())
    _wait(lambda: failed)
    assert failed == [firing()]
    assert [s for _, s in outcomes] == ["retried", "retried", "failed"]
    assert worker.status.last_error and worker.status.last_error.startswith("cannot connect")
    worker.stop(time.monotonic() + 1)


def test_full_queue_drops_the_oldest_and_counts_it() -> None:
    with webhook_receiver(mode="hang", hang_s=5) as rx:
        worker, _, outcomes = _worker(rx.url, queue_size=2)
        notes = [firing(value=v) for v in (0.1, 0.2, 0.3, 0.4)]
        worker.put(notes[0])
        _wait(lambda: worker.status.last_attempt is not None)  # the first is being sent (hangs)
        for n in notes[1:]:
            worker.put(n)
        assert worker.status.dropped == 1 and ("ops", "dropped") in outcomes
        assert [n.value for n in worker._queue] == [0.3, 0.4]
        worker.stop(time.monotonic() + 0.5)


def test_a_hanging_channel_does_not_delay_another() -> None:
    with webhook_receiver(mode="hang") as slow, webhook_receiver() as fast:
        hung, _, _ = _worker(slow.url)
        delivered: list[Notification] = []
        ok, _, _ = _worker(fast.url, on_delivered=delivered.append)
        start = time.monotonic()
        hung.put(firing())
        ok.put(firing())
        fast.wait_for(1, timeout=10)
        assert len(fast.received) == 1 and time.monotonic() - start < 5
        _wait(lambda: delivered)
        assert delivered == [firing()]  # reported back: the engine ends the channel's backoff
        started = time.monotonic()
        hung.stop(time.monotonic() + 1)  # bounded shutdown: gives up after its deadline
        assert time.monotonic() - started < 3
        ok.stop(time.monotonic() + 1)
