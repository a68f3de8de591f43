"""The rule lifecycle of Alertmanager: inactive -> pending -> firing -> resolved, one incident, one notice.

Pure and clock-free: :meth:`Engine.evaluate` takes the time and each rule's observation
and returns the notifications to send. A channel gets one ``firing`` when a rule starts
firing, at most one reminder per its ``repeat_interval`` while it keeps firing, and one
``resolved`` when it recovers (if it asked for them); a rule that recovers while still
pending sends nothing. Silenced rules change state as usual and notify nobody.
Delivery failures come back through :meth:`Engine.delivery_failed`: a firing that could
not be delivered is sent again, so is a resolved notice. A channel that stays down is not
tried at every evaluation: after each failed attempt it waits twice as long (one evaluation
interval, then 2, 4, ... capped at :data:`MAX_CHANNEL_BACKOFF` and at the channel's
``repeat_interval``), holding its notices meanwhile; a delivery ends the wait. A firing
notice held (or refused) is owed to the channel: if the incident ends before the wait does,
the channel gets that firing notice and then the resolved one when the wait ends, so an
incident is never lost to a channel that was down while it lasted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from loguru import logger

from .rules import AlertPlan, Channel, Rule

State = Literal["inactive", "pending", "firing"]
Status = Literal["firing", "resolved"]

#: Seconds a channel that keeps failing waits between attempts at most.
MAX_CHANNEL_BACKOFF = 300.0
#: The wait stops doubling after this many failures in a row (the caps apply long before).
_MAX_DOUBLINGS = 32


@dataclass(frozen=True)
class Observation:
    """What a rule's condition measured at one evaluation: active or not, and the value."""

    active: bool
    value: float | None = None


@dataclass(frozen=True)
class Notification:
    """One message for one channel about one rule."""

    rule: Rule
    channel: str
    status: Status
    value: float | None
    started_at: float  # when the rule started firing
    ended_at: float | None  # when it resolved (resolved notices only)
    at: float  # when this notification was made
    reminder: bool = False

    @property
    def key(self) -> tuple[str, str, Status, float]:
        """Identifies the incident and its state change (a reminder repeats the firing key)."""
        return (self.rule.name, self.channel, self.status, self.started_at)


@dataclass
class RuleState:
    """A rule's lifecycle state, kept in the state file across restarts and takeovers."""

    state: State = "inactive"
    active_since: float | None = None  # the condition became true (pending since)
    firing_since: float | None = None
    value: float | None = None
    last_eval: float | None = None
    notified: dict[str, float] = field(default_factory=dict)  # channel -> last firing notice sent
    resolve_due: dict[str, float] = field(default_factory=dict)  # channel -> incident start
    last_started: float | None = None  # start of the last incident (shown after it resolves)
    last_resolved: float | None = None
    # channel -> (incident start, value) of a firing notice it is owed: held by its backoff or refused
    held: dict[str, tuple[float, float | None]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The state file's form."""
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuleState:
        """The inverse of :meth:`to_json`; unknown keys are ignored."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Backoff:
    """A failing channel: how many evaluations in a row learned of failures, and the next try."""

    failures: int
    until: float


@dataclass(frozen=True)
class Silence:
    """Notifications of a rule are held back until ``until``."""

    until: float
    comment: str = ""
    created_at: float = 0.0


class Engine:
    """Evaluate rules and decide notifications.

    >>> from robutler_monitoring.plugin.alerts.rules import AlertPlan, Channel, Subscription
    >>> rule = Rule("HighErrorRate", "error", 0.05, for_=60)
    >>> subs = (Subscription(rule.name, 3600, True),)
    >>> channel = Channel("ops", "webhook", "http://ops.example/***", None, subs)
    >>> engine = Engine(AlertPlan((rule,), (channel,), 10))
    >>> engine.evaluate(0, {rule.name: Observation(True, 0.2)})
    []
    >>> [n.status for n in engine.evaluate(60, {rule.name: Observation(True, 0.2)})]
    ['firing']
    """

    def __init__(self, plan: AlertPlan) -> None:
        self.plan = plan
        self.states: dict[str, RuleState] = {r.name: RuleState() for r in plan.rules}
        self.silences: dict[str, Silence] = {}
        self.backoff: dict[str, Backoff] = {}  # channel -> its wait, while it keeps failing
        self._outcomes: deque[tuple[Notification, bool]] = deque()  # filled from delivery threads

    def silenced(self, rule: str, now: float) -> Silence | None:
        """The silence holding back ``rule``'s notifications now, if any."""
        found = self.silences.get(rule)
        return found if found is not None and found.until > now else None

    def delivery_failed(self, notification: Notification) -> None:
        """A notification could not be delivered (thread-safe): send it again, after a backoff."""
        self._outcomes.append((notification, False))

    def delivery_succeeded(self, notification: Notification) -> None:
        """A notification was delivered (thread-safe): its channel's backoff ends."""
        self._outcomes.append((notification, True))

    def evaluate(self, now: float, observations: dict[str, Observation]) -> list[Notification]:
        """Advance every observed rule to ``now``; return the notifications to send."""
        self._take_outcomes(now)
        out: list[Notification] = []
        for rule in self.plan.rules:
            seen = observations.get(rule.name)
            if seen is None:
                continue  # not evaluated this tick (its own interval), or its input failed
            st = self.states.setdefault(rule.name, RuleState())
            st.last_eval = now
            st.value = seen.value
            if seen.active:
                if st.state == "inactive":
                    st.state, st.active_since = "pending", now
                since = now if st.active_since is None else st.active_since
                if st.state == "pending" and now - since >= rule.for_:
                    st.state, st.firing_since = "firing", now
                    st.last_started, st.last_resolved = now, None
            elif st.state == "firing":
                assert st.firing_since is not None
                owed = [c for c, (started, _) in st.held.items() if started == st.firing_since]
                st.held = {c: st.held[c] for c in owed}  # older incidents' firing notices are moot
                for channel in [*st.notified, *owed]:
                    st.resolve_due[channel] = st.firing_since
                st.state, st.active_since, st.firing_since = "inactive", None, None
                st.notified = {}
                st.last_resolved = now
            elif st.state == "pending":
                st.state, st.active_since = "inactive", None  # recovered within `for`: nothing sent
            out.extend(self._notifications(rule, st, now))
        return out

    def _notifications(self, rule: Rule, st: RuleState, now: float) -> list[Notification]:
        if self.silenced(rule.name, now):
            if st.state != "firing":
                st.resolve_due.clear()  # a recovery inside a silence is not announced
                st.held.clear()
            return []
        out = []
        for channel in self.plan.channels:
            sub = next((s for s in channel.subscriptions if s.rule == rule.name), None)
            if sub is None:
                continue
            waiting = self.backoff.get(channel.name)
            if waiting is not None and now < waiting.until:
                # the channel keeps failing: its notices stay due until the wait ends
                if st.state == "firing" and channel.name not in st.notified:
                    self._owe_firing(st, channel.name)
                continue
            if st.state == "firing":
                assert st.firing_since is not None
                st.resolve_due.pop(channel.name, None)  # fired again: the old incident's notice is moot
                last = st.notified.get(channel.name)
                if last is None or now - last >= sub.repeat_interval:
                    st.notified[channel.name] = now
                    st.held.pop(channel.name, None)
                    out.append(
                        Notification(
                            rule,
                            channel.name,
                            "firing",
                            st.value,
                            st.firing_since,
                            None,
                            now,
                            last is not None,
                        )
                    )
                continue
            owed = st.held.pop(channel.name, None)
            if owed is not None and owed[0] == st.last_started and channel.name in st.resolve_due:
                # the incident started and ended while the channel waited: its firing notice first
                out.append(Notification(rule, channel.name, "firing", owed[1], owed[0], None, now))
            if channel.name in st.resolve_due:
                started = st.resolve_due.pop(channel.name)
                if sub.send_resolved:
                    ended = st.last_resolved if st.last_resolved is not None else now
                    out.append(Notification(rule, channel.name, "resolved", st.value, started, ended, now))
        return out

    def _take_outcomes(self, now: float) -> None:
        failing: dict[str, float] = {}  # channel -> when its latest undelivered notice was made
        while self._outcomes:
            n, delivered = self._outcomes.popleft()
            if delivered:
                failing.pop(n.channel, None)
                self.backoff.pop(n.channel, None)
            else:
                failing[n.channel] = max(n.at, failing.get(n.channel, n.at))
                self._rearm(n)
        for channel in self.plan.channels:
            if channel.name in failing:
                self._back_off(channel, failing[channel.name])

    def _back_off(self, channel: Channel, attempted: float) -> None:
        """Wait one interval after the first failed attempt, twice as long after each next one."""
        failures = self.backoff[channel.name].failures + 1 if channel.name in self.backoff else 1
        cap = min([MAX_CHANNEL_BACKOFF, *(s.repeat_interval for s in channel.subscriptions)])
        wait = min(cap, self.plan.interval * 2.0 ** min(failures - 1, _MAX_DOUBLINGS))
        self.backoff[channel.name] = Backoff(failures, attempted + wait)
        if failures > 1:
            logger.warning(
                "alerts: channel {} failed {} times in a row; next attempt in {:g} s after the last",
                channel.name,
                failures,
                wait,
            )

    def _rearm(self, failed: Notification) -> None:
        """Make an undelivered notice due again (unless its incident is over or superseded)."""
        st = self.states.get(failed.rule.name)
        if st is None:
            return
        if failed.status == "firing":
            same_incident = st.state == "firing" and st.firing_since == failed.started_at
            if same_incident and st.notified.get(failed.channel) == failed.at:
                del st.notified[failed.channel]
                self._owe_firing(st, failed.channel, failed.value)
        elif st.state != "firing" and failed.started_at == st.last_started:
            st.resolve_due[failed.channel] = failed.started_at

    @staticmethod
    def _owe_firing(st: RuleState, channel: str, value: float | None = None) -> None:
        """Remember that ``channel`` has not had the firing notice of the current incident."""
        assert st.firing_since is not None
        owed = st.held.get(channel)
        if owed is None or owed[0] != st.firing_since:
            st.held[channel] = (st.firing_since, st.value if value is None else value)

    def snapshot(self) -> dict[str, Any]:
        """Rule states and silences, for the state file."""
        return {
            "rules": {name: st.to_json() for name, st in self.states.items()},
            "silences": {name: s.__dict__ for name, s in self.silences.items()},
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Take rule states and silences from a state file (rules no longer configured are dropped)."""
        for name, raw in (data.get("rules") or {}).items():
            if name in self.states and isinstance(raw, dict):
                self.states[name] = RuleState.from_json(raw)
        self.silences = {
            name: Silence(**raw)
            for name, raw in (data.get("silences") or {}).items()
            if isinstance(raw, dict)
        }
