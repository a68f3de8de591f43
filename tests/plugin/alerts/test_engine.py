"""The rule lifecycle on scripted scenarios with an injected clock: one incident, one notification."""

from __future__ import annotations

import itertools
import json
from typing import Any

from robutler_monitoring.plugin.alerts.engine import Engine, Notification, Observation, Silence
from robutler_monitoring.plugin.alerts.rules import AlertPlan, build_plan
from robutler_monitoring.plugin.config.schema import AlertsConfig

ERR = "HighErrorRate"
SLOW = "SlowResponses"


def _plan(**hook: Any) -> AlertPlan:
    cfg = AlertsConfig.model_validate(
        {
            "for": 60,
            "repeat_interval": 3600,
            "webhooks": [{"url": "http://127.0.0.1:9/ops", "name": "ops", **hook}],
        }
    )
    return build_plan(cfg, instance="h:1", service="robutler")


class Script:
    """Drive an engine tick by tick (10 s apart) and collect what it would send."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.now = 0.0
        self.sent: list[Notification] = []

    def run(self, seconds: float, **active: bool) -> list[tuple[str, str, str]]:
        got: list[tuple[str, str, str]] = []
        end = self.now + seconds
        while self.now < end:
            obs = {name: Observation(on, 0.2 if on else 0.0) for name, on in active.items()}
            batch = self.engine.evaluate(self.now, obs)
            self.sent.extend(batch)
            got.extend((n.rule.name, n.channel, n.status) for n in batch)
            self.now += 10
        return got


def test_first_fire_after_for_then_nothing_more_while_firing() -> None:
    s = Script(Engine(_plan(events=["error"])))
    assert s.run(60, HighErrorRate=True) == []  # pending for 0..50 s
    assert s.run(10, HighErrorRate=True) == [(ERR, "ops", "firing")]
    assert s.run(600, HighErrorRate=True) == []
    assert s.engine.states[ERR].state == "firing"


def test_flap_inside_for_sends_nothing() -> None:
    s = Script(Engine(_plan(events=["error"])))
    for _ in range(5):
        assert s.run(30, HighErrorRate=True) == []
        assert s.run(10, HighErrorRate=False) == []
    assert s.engine.states[ERR].state == "inactive"


def test_repeat_at_most_once_per_repeat_interval() -> None:
    s = Script(Engine(_plan(events=["error"], repeat_interval="1h")))
    s.run(4 * 3600 + 60, HighErrorRate=True)
    firing = [n for n in s.sent if n.status == "firing"]
    assert [n.reminder for n in firing] == [False, True, True, True]
    assert [n.at - firing[0].at for n in firing] == [0, 3600, 7200, 10800]
    assert len({n.started_at for n in firing}) == 1  # one incident


def test_resolve_sends_one_resolved_notice() -> None:
    s = Script(Engine(_plan(events=["error"])))
    s.run(70, HighErrorRate=True)
    assert s.run(30, HighErrorRate=False) == [(ERR, "ops", "resolved")]
    [resolved] = [n for n in s.sent if n.status == "resolved"]
    assert resolved.started_at == 60 and resolved.ended_at == 70


def test_resolve_without_send_resolved_is_silent() -> None:
    s = Script(Engine(_plan(events=["error"], send_resolved=False)))
    assert s.run(70, HighErrorRate=True) == [(ERR, "ops", "firing")]
    assert s.run(30, HighErrorRate=False) == []
    assert s.engine.states[ERR].state == "inactive"


def test_two_rules_one_channel_are_separate_incidents() -> None:
    s = Script(Engine(_plan(events=["error", "performance"])))
    assert s.run(70, HighErrorRate=True, SlowResponses=False) == [(ERR, "ops", "firing")]
    assert s.run(70, HighErrorRate=True, SlowResponses=True) == [(SLOW, "ops", "firing")]
    assert s.run(10, HighErrorRate=False, SlowResponses=True) == [(ERR, "ops", "resolved")]
    assert s.run(10, HighErrorRate=False, SlowResponses=False) == [(SLOW, "ops", "resolved")]


def test_recovery_then_refire_is_a_new_incident() -> None:
    s = Script(Engine(_plan(events=["error"])))
    s.run(70, HighErrorRate=True)
    s.run(10, HighErrorRate=False)
    assert s.run(50, HighErrorRate=True) == []  # pending again, the full `for`
    assert s.run(20, HighErrorRate=True) == [(ERR, "ops", "firing")]
    first, second = (n for n in s.sent if n.status == "firing")
    assert second.started_at > first.started_at and not second.reminder


def test_channel_down_during_firing_retries_then_resolves_once() -> None:
    s = Script(Engine(_plan(events=["error"])))
    assert s.engine.evaluate(0, {ERR: Observation(True, 0.3)}) == []
    [firing] = s.engine.evaluate(60, {ERR: Observation(True, 0.3)})
    s.engine.delivery_failed(firing)  # the channel refused: sent again at the next tick
    [again] = s.engine.evaluate(70, {ERR: Observation(True, 0.3)})
    assert (again.status, again.started_at, again.reminder) == ("firing", 60, False)
    s.engine.delivery_succeeded(again)
    assert s.engine.evaluate(80, {ERR: Observation(True, 0.3)}) == []  # delivered: no more
    [resolved] = s.engine.evaluate(90, {ERR: Observation(False, 0.0)})
    s.engine.delivery_failed(resolved)
    [resolved_again] = s.engine.evaluate(100, {ERR: Observation(False, 0.0)})
    assert resolved_again.status == "resolved" and resolved_again.started_at == 60
    assert s.engine.evaluate(110, {ERR: Observation(False, 0.0)}) == []


def _attempts(
    s: Script, seconds: float, active: bool = True, deliver_from: float | None = None
) -> list[float]:
    """When the engine hands the channel a notice; each fails, or is delivered from ``deliver_from``."""
    times = []
    end = s.now + seconds
    while s.now < end:
        for n in s.engine.evaluate(s.now, {ERR: Observation(active, 0.3 if active else 0.0)}):
            times.append(s.now)
            if deliver_from is not None and s.now >= deliver_from:
                s.engine.delivery_succeeded(n)
            else:
                s.engine.delivery_failed(n)
        s.now += 10
    return times


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_a_channel_that_stays_down_is_retried_with_a_growing_wait_reset_by_a_delivery() -> None:
    s = Script(Engine(_plan(events=["error"])))
    assert s.run(60, HighErrorRate=True) == []  # pending
    # each failed attempt doubles the wait: one evaluation (10 s), 20, 40, ... capped at 5 min
    times = _attempts(s, 1800)
    assert _gaps(times) == [10, 20, 40, 80, 160, 300, 300, 300, 300]
    assert s.engine.backoff["ops"].failures == 10
    # the channel is back: the next attempt delivers and ends the wait
    assert _attempts(s, 600, deliver_from=0) == [times[-1] + 300]
    assert "ops" not in s.engine.backoff and s.engine.states[ERR].notified["ops"] == times[-1] + 300
    # it goes down again (a reminder due): the wait starts over at one evaluation interval
    s.engine.states[ERR].notified.clear()
    assert _gaps(_attempts(s, 100)) == [10, 20, 40]


def test_a_failing_channel_holds_the_resolved_notice_capped_at_its_repeat_interval() -> None:
    s = Script(Engine(_plan(events=["error"], repeat_interval=60)))
    assert s.run(60, HighErrorRate=True) == []
    assert _attempts(s, 10, deliver_from=0) == [60]  # the firing is delivered
    # it recovers; the resolved notice fails: held and sent again at 10, 20, 40, then every 60 s
    # (the channel's repeat_interval, as for Alertmanager channels)
    times = _attempts(s, 250, active=False)
    assert times[0] == 70 and _gaps(times) == [10, 20, 40, 60, 60]
    assert _attempts(s, 100, active=False, deliver_from=0) == [320]  # delivered once, then nothing


def test_a_channel_down_for_hours_keeps_its_capped_wait_and_alerting_goes_on() -> None:
    s = Script(Engine(_plan(events=["error"], repeat_interval=60)))
    s.run(60, HighErrorRate=True)
    times = _attempts(s, 60 * 1100)  # ~18 h down: more than 1024 failed attempts in a row
    assert s.engine.backoff["ops"].failures > 1024
    assert set(_gaps(times)[-100:]) == {60}  # still tried once per repeat_interval
    assert _attempts(s, 60, deliver_from=0) == [times[-1] + 60]  # back up: delivered
    assert "ops" not in s.engine.backoff


def _outcome(s: Script, active: bool, deliver: bool) -> list[tuple[str, float, float | None, float | None]]:
    """One evaluation at ``s.now``: what it hands the channel (each delivered or refused)."""
    batch = s.engine.evaluate(s.now, {ERR: Observation(active, 0.3 if active else 0.0)})
    for n in batch:
        (s.engine.delivery_succeeded if deliver else s.engine.delivery_failed)(n)
    s.now += 10
    return [(n.status, n.started_at, n.ended_at, n.value) for n in batch]


def test_an_incident_that_ends_while_its_channel_waits_is_sent_when_the_wait_ends() -> None:
    s = Script(Engine(_plan(events=["error"])))
    s.run(60, HighErrorRate=True)
    assert _attempts(s, 160) == [60, 70, 90, 130, 210]  # every firing refused; next try at 370
    assert _attempts(s, 150, active=False) == []  # recovered at 220, inside the wait
    # the wait ends: the channel hears of the whole incident, in order, once
    assert _outcome(s, active=False, deliver=True) == [
        ("firing", 60, None, 0.3),
        ("resolved", 60, 220, 0.0),
    ]
    assert _attempts(s, 600, active=False, deliver_from=0) == []


def test_an_incident_inside_a_wait_for_an_earlier_resolved_notice_is_not_lost() -> None:
    s = Script(Engine(_plan(events=["error"])))
    s.run(60, HighErrorRate=True)
    assert _outcome(s, active=True, deliver=True) == [("firing", 60, None, 0.3)]
    # it recovers; its resolved notice is refused at 70, 80, 100, 140, 220: next try at 380
    assert _attempts(s, 160, active=False) == [70, 80, 100, 140, 220]
    # a second incident starts (230), fires (290) and ends (330), all inside that wait
    assert _attempts(s, 100, active=True) == []
    assert _attempts(s, 50, active=False) == []
    assert s.now == 380
    # the channel gets the latest incident, firing then resolved (it supersedes the first's notice)
    assert _outcome(s, active=False, deliver=True) == [
        ("firing", 290, None, 0.3),
        ("resolved", 290, 330, 0.0),
    ]
    assert _attempts(s, 600, active=False, deliver_from=0) == []


def test_a_refused_reminder_does_not_lose_the_resolved_notice() -> None:
    s = Script(Engine(_plan(events=["error"], repeat_interval=100)))
    s.run(60, HighErrorRate=True)
    assert _outcome(s, active=True, deliver=True) == [("firing", 60, None, 0.3)]
    assert _attempts(s, 110) == [160, 170]  # the reminder is refused; next try at 190
    assert _attempts(s, 10, active=False) == []  # recovered at 180, inside the wait
    assert _outcome(s, active=False, deliver=True)[-1] == ("resolved", 60, 180, 0.0)


def test_an_owed_firing_notice_survives_a_restart() -> None:
    plan = _plan(events=["error"])
    s = Script(Engine(plan))
    s.run(60, HighErrorRate=True)
    assert _attempts(s, 50) == [60, 70, 90]  # refused each time; at 100 waiting (until 130)
    saved = json.loads(json.dumps(s.engine.snapshot()))
    restarted = Engine(plan)
    restarted.restore(saved)  # a new process: no backoff, the incident is over by its first tick
    s.engine = restarted
    assert _outcome(s, active=False, deliver=True) == [
        ("firing", 60, None, 0.3),
        ("resolved", 60, 110, 0.0),
    ]


def test_restart_while_firing_sends_no_second_firing_but_the_resolved() -> None:
    plan = _plan(events=["error"])
    s = Script(Engine(plan))
    assert s.run(70, HighErrorRate=True) == [(ERR, "ops", "firing")]
    saved = json.loads(json.dumps(s.engine.snapshot()))  # through the state file's JSON
    restarted = Engine(plan)
    restarted.restore(saved)
    s.engine = restarted
    assert s.run(300, HighErrorRate=True) == []
    assert s.run(10, HighErrorRate=False) == [(ERR, "ops", "resolved")]


def test_silenced_rule_changes_state_and_notifies_nobody() -> None:
    s = Script(Engine(_plan(events=["error"])))
    s.engine.silences[ERR] = Silence(until=200, comment="deploy")
    assert s.run(100, HighErrorRate=True) == []
    assert s.engine.states[ERR].state == "firing"
    assert s.run(100, HighErrorRate=True) == []
    # the silence ended while it still fires: the channel hears of it now
    assert s.run(10, HighErrorRate=True) == [(ERR, "ops", "firing")]


def test_two_channels_each_get_one_notice_per_change() -> None:
    cfg = AlertsConfig.model_validate(
        {
            "webhooks": [
                {"url": "http://127.0.0.1:9/a", "name": "a", "events": ["error"]},
                {"url": "http://127.0.0.1:9/b", "name": "b", "events": ["error"], "send_resolved": False},
            ]
        }
    )
    s = Script(Engine(build_plan(cfg, instance="h:1", service="robutler")))
    assert s.run(70, HighErrorRate=True) == [(ERR, "a", "firing"), (ERR, "b", "firing")]
    assert s.run(10, HighErrorRate=False) == [(ERR, "a", "resolved")]
