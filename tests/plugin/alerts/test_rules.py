"""Rules derived from channels: shared when equal, distinct names when not."""

from __future__ import annotations

from typing import Any

from robutler_monitoring.plugin.alerts.rules import build_plan
from robutler_monitoring.plugin.config.schema import AlertsConfig


def _plan(**alerts: Any) -> Any:
    return build_plan(AlertsConfig.model_validate(alerts), instance="h:8000", service="robutler")


def test_one_channel_with_defaults_gives_three_rules_with_labels() -> None:
    plan = _plan(webhooks=[{"url": "http://127.0.0.1:9/hook"}])
    assert [r.name for r in plan.rules] == ["HighErrorRate", "SlowResponses", "Unhealthy"]
    assert [r.severity for r in plan.rules] == ["critical", "warning", "critical"]
    assert dict(plan.rules[0].labels) == {"service": "robutler", "instance": "h:8000"}
    assert plan.rules[0].describe(0.12) == "error rate 12% > 5%"


def test_channels_with_equal_thresholds_share_rules() -> None:
    plan = _plan(
        webhooks=[{"url": "http://127.0.0.1:9/a", "events": ["error"]}, {"url": "http://127.0.0.1:9/b"}],
        email={"smtp_host": "localhost", "recipients": ["a@example.com"], "sender": "s@example.com"},
    )
    assert [r.name for r in plan.rules] == ["HighErrorRate", "SlowResponses", "Unhealthy"]
    assert {c.name: [s.rule for s in c.subscriptions] for c in plan.channels} == {
        "webhook-127.0.0.1": ["HighErrorRate"],
        "webhook-127.0.0.1-2": ["HighErrorRate", "SlowResponses", "Unhealthy"],
        "email": ["HighErrorRate", "SlowResponses", "Unhealthy"],
    }


def test_two_thresholds_make_two_rules_with_distinct_names() -> None:
    plan = _plan(
        webhooks=[
            {"url": "http://127.0.0.1:9/a", "events": ["error"], "threshold": {"error_rate": 0.05}},
            {
                "url": "http://127.0.0.1:9/b",
                "events": ["error"],
                "threshold": {"error_rate": 0.2},
                "for": "5m",
            },
            {"url": "http://127.0.0.1:9/c", "events": ["error"], "threshold": {"error_rate": 0.2}},
        ]
    )
    names = [r.name for r in plan.rules]
    assert len(set(names)) == 3 and all(n.startswith("HighErrorRate_") for n in names)
    assert [r.for_ for r in plan.rules] == [60.0, 300.0, 60.0]


def test_performance_and_performance_degradation_are_one_event() -> None:
    plan = _plan(
        webhooks=[
            {"url": "http://127.0.0.1:9/a", "events": ["performance"]},
            {"url": "http://127.0.0.1:9/b", "events": ["performance_degradation"]},
        ]
    )
    assert [r.name for r in plan.rules] == ["SlowResponses"]


def test_channel_overrides_reach_its_subscriptions() -> None:
    plan = _plan(
        repeat_interval="1h",
        webhooks=[{"url": "http://127.0.0.1:9/a", "events": ["health"], "send_resolved": False}],
    )
    [sub] = plan.channels[0].subscriptions
    assert (sub.rule, sub.repeat_interval, sub.send_resolved) == ("Unhealthy", 3600.0, False)


def test_apprise_channel_is_shown_through_apprise_privacy() -> None:
    token = "123456789:abcdefgh_ijklmnopqrstuvwxyz"
    plan = _plan(webhooks=[{"url": f"tgram://{token}/12345"}])
    [channel] = plan.channels
    assert channel.kind == "apprise" and token not in channel.shown


def test_alertmanager_gets_firing_alerts_re_posted_every_minute_and_resolutions() -> None:
    plan = _plan(
        repeat_interval="4h",
        send_resolved=False,
        alertmanager=[{"url": "http://127.0.0.1:9093", "events": ["error"]}],
    )
    [sub] = plan.channels[0].subscriptions
    assert (sub.repeat_interval, sub.send_resolved) == (60.0, True)
