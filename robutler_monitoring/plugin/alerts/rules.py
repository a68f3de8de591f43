"""Rules and channels derived from ``monitoring.alerts``: one rule per distinct condition.

A channel (each webhook, the email channel, each Alertmanager) names its events and
thresholds; a rule is a distinct (event, threshold, window, for, min_requests) combination,
so channels with the same threshold share one rule and two thresholds make two rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

from ..config.schema import (
    AlertmanagerConfig,
    AlertsConfig,
    BudgetConfig,
    ChannelConfig,
    EmailConfig,
    MonitoringConfig,
    WebhookConfig,
    format_duration,
)
from ..secrets import mask_capability_url, mask_url

Kind = Literal["error", "latency", "health", "burn", "latency_burn", "budget", "budget_exceeded"]
ChannelKind = Literal["webhook", "apprise", "email", "alertmanager"]

#: The config's event names -> the rule kind (``performance`` and ``performance_degradation`` are one).
EVENT_KINDS: dict[str, Kind] = {
    "error": "error",
    "performance": "latency",
    "performance_degradation": "latency",
    "health": "health",
}
_BASE_NAMES: dict[Kind, str] = {
    "error": "HighErrorRate",
    "latency": "SlowResponses",
    "health": "Unhealthy",
    "burn": "ErrorBudgetBurn",
    "latency_burn": "LatencyBudgetBurn",
    "budget": "BudgetSoftLimit",
    "budget_exceeded": "BudgetExceeded",
}
_SEVERITY: dict[Kind, str] = {
    "error": "critical",
    "latency": "warning",
    "health": "critical",
    "burn": "critical",
    "latency_burn": "critical",
    "budget": "warning",
    "budget_exceeded": "critical",
}
_EVENT_NAME: dict[Kind, str] = {
    "error": "error",
    "latency": "performance_degradation",
    "health": "health",
    "burn": "slo",
    "latency_burn": "slo",
    "budget": "budget",
    "budget_exceeded": "budget",
}
#: The events whose channels get a burn rule's notifications: errors -> availability, slowness -> latency.
_BURN_EVENT_KIND: dict[Kind, Kind] = {"burn": "error", "latency_burn": "latency"}
#: The SLO burn-rate kinds (availability, latency) and the budget kinds (soft limit, exceeded).
BURN_KINDS: tuple[Kind, ...] = tuple(_BURN_EVENT_KIND)
BUDGET_KINDS: tuple[Kind, ...] = ("budget", "budget_exceeded")

#: The Google SRE workbook's multiwindow, multi-burn-rate alerts: (name suffix, burn rate,
#: long window, short window, severity), for each objective (``ErrorBudgetBurnFast``,
#: ``LatencyBudgetBurnFast``, ...). The two page pairs run in process; all three are exported.
SLO_BURN_PAIRS: tuple[tuple[str, float, float, float, str], ...] = (
    ("Fast", 14.4, 3600.0, 300.0, "critical"),
    ("Slow", 6.0, 6 * 3600.0, 1800.0, "critical"),
    ("Ticket", 1.0, 3 * 86400.0, 6 * 3600.0, "warning"),
)
IN_PROCESS_PAIRS = 2


@dataclass(frozen=True)
class Rule:
    """One alerting rule: a condition over the server's metrics, evaluated by the engine.

    >>> rule = Rule("HighErrorRate", "error", 0.05, window=300, for_=60, min_requests=20)
    >>> rule.describe(0.12)
    'error rate 12% > 5%'
    """

    name: str
    kind: Kind
    threshold: float | None  # error: a fraction; latency: milliseconds; health: None
    window: float = 300.0
    for_: float = 60.0
    min_requests: int = 20
    interval: float = 10.0
    labels: tuple[tuple[str, str], ...] = ()
    short_window: float = 0.0  # burn rules: both windows must burn
    objective: float = 0.0  # burn rules: the objective (0.999 available, 0.99 under `bound`)
    page: bool = True  # burn rules: False for the ticket pair (exported only)
    bound: float = 0.0  # latency burn rules: seconds, the time-to-first-byte bucket (`le`) counted as good
    unit: str = ""  # budget rules: usd or tokens
    limit: float = 0.0  # budget rules: the daily limit (threshold: the spend that fires)

    @property
    def severity(self) -> str:
        """``critical`` for errors, health and paging burn rates, ``warning`` for slowness and tickets."""
        if self.kind in _BURN_EVENT_KIND and not self.page:
            return "warning"
        return _SEVERITY[self.kind]

    @property
    def event(self) -> str:
        """The config's name of the event this rule watches."""
        return _EVENT_NAME[self.kind]

    def describe(self, value: float | None) -> str:
        """A one-line summary: ``error rate 12% > 5%``."""
        shown = "n/a" if value is None else None
        if self.kind == "error":
            assert self.threshold is not None
            return f"error rate {shown or _percent(value)} > {_percent(self.threshold)}"
        if self.kind == "latency":
            assert self.threshold is not None
            return f"p95 response time {shown or f'{value:.0f} ms'} > {self.threshold:g} ms"
        if self.kind == "burn":
            return f"error budget burning {shown or f'{value:.1f}x'} > {self.threshold:g}x"
        if self.kind == "latency_burn":
            objective = f"{self.objective * 100:.6g}% under {self.bound:g} s"
            return f"latency budget ({objective}) burning {shown or f'{value:.1f}x'} > {self.threshold:g}x"
        if self.kind in BUDGET_KINDS:
            budget = dict(self.labels).get("budget", "?")
            spent = shown or self.amount(value)
            if self.kind == "budget_exceeded":
                return f"budget {budget}: {spent} spent today >= its daily {self.amount(self.limit)}"
            share = f"{100 * (self.threshold or 0) / self.limit:.3g}%" if self.limit else "?"
            return f"budget {budget}: {spent} spent today >= {share} of its daily {self.amount(self.limit)}"
        return "detailed health is fail"

    def amount(self, value: float | None) -> str:
        """A budget amount as people read it: ``$4.2`` or ``80,000 tokens``."""
        if value is None:
            return "n/a"
        return f"${value:,.4g}" if self.unit == "usd" else f"{value:,.0f} tokens"

    def threshold_text(self) -> str:
        """The threshold as people read it."""
        if self.threshold is None:
            return "fail"
        if self.kind in _BURN_EVENT_KIND:
            return f"{self.threshold:g}x"
        if self.kind in BUDGET_KINDS:
            return self.amount(self.threshold)
        return _percent(self.threshold) if self.kind == "error" else f"{self.threshold:g} ms"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.3g}%"


@dataclass(frozen=True)
class Subscription:
    """A channel's interest in one rule, with the channel's own notification timing."""

    rule: str
    repeat_interval: float
    send_resolved: bool


@dataclass(frozen=True)
class Channel:
    """One place notifications go; ``shown`` is its address with every secret masked."""

    name: str
    kind: ChannelKind
    shown: str
    config: ChannelConfig
    subscriptions: tuple[Subscription, ...] = field(default=())


@dataclass(frozen=True)
class AlertPlan:
    """Every rule and channel of one configuration."""

    rules: tuple[Rule, ...]
    channels: tuple[Channel, ...]
    interval: float  # the engine's tick: the shortest evaluation interval
    export_only: tuple[Rule, ...] = ()  # the SLO ticket pair: too long a window to keep in process

    def rule(self, name: str) -> Rule | None:
        """The rule called ``name``."""
        return next((r for r in self.rules if r.name == name), None)


def channel_configs(cfg: AlertsConfig) -> list[tuple[str, ChannelKind, ChannelConfig]]:
    """(name, kind, config) of every configured channel, named uniquely."""
    out: list[tuple[str, ChannelKind, ChannelConfig]] = []
    for i, hook in enumerate(cfg.webhooks):
        kind: ChannelKind = "webhook" if _is_http(hook.url) else "apprise"
        out.append((hook.name or _default_name(hook.url, i, "webhook"), kind, hook))
    if cfg.email.smtp_host:
        out.append((cfg.email.name or "email", "email", cfg.email))
    for i, am in enumerate(cfg.alertmanager):
        out.append((am.name or _default_name(am.url, i, "alertmanager"), "alertmanager", am))
    seen: dict[str, int] = {}
    unique = []
    for name, kind, conf in out:
        seen[name] = seen.get(name, 0) + 1
        unique.append((name if seen[name] == 1 else f"{name}-{seen[name]}", kind, conf))
    return unique


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _default_name(url: str, index: int, prefix: str) -> str:
    if _is_http(url):
        host = urlsplit(url).hostname or ""
        return f"{prefix}-{host}" if host else f"{prefix}-{index}"
    return f"{url.partition('://')[0].lower()}-{index}"


def shown_address(kind: ChannelKind, conf: ChannelConfig) -> str:
    """Where a channel sends, with secrets masked (apprise URLs masked by apprise)."""
    if isinstance(conf, EmailConfig):
        to = ", ".join(conf.recipients) or "no recipients"
        return f"smtp://{conf.smtp_host}:{conf.smtp_port} -> {to}"
    if isinstance(conf, WebhookConfig) and kind == "apprise":
        from .apprise_channel import privacy_url

        return privacy_url(conf.url)
    if isinstance(conf, WebhookConfig):
        return mask_capability_url(conf.url)
    if isinstance(conf, AlertmanagerConfig):
        return mask_url(conf.url)
    return "?"


def build_plan(
    cfg: AlertsConfig, *, instance: str, service: str, budgets: Sequence[BudgetConfig] = ()
) -> AlertPlan:
    """The rules and channels of ``cfg``; ``instance`` and ``service`` become every rule's labels.

    ``budgets`` (``monitoring.usage.budgets`` when usage is on) add two rules each, for the
    channels that list the ``budget`` event or list no events at all.
    """
    keyed: dict[tuple[object, ...], Rule] = {}
    per_channel: list[tuple[str, ChannelKind, ChannelConfig, list[tuple[object, ...]]]] = []
    labels = (("service", service), ("instance", instance))
    for name, kind, conf in channel_configs(cfg):
        keys = []
        for event in dict.fromkeys(conf.events):
            if event == "budget":
                continue  # one pair of rules per budget, below
            rule = _rule_for(EVENT_KINDS[event], conf, cfg, labels)
            key: tuple[object, ...] = (rule.kind, rule.threshold, rule.window, rule.for_)
            key += (rule.min_requests, rule.interval)
            keyed.setdefault(key, rule)
            keys.append(key)
        per_channel.append((name, kind, conf, keys))
    names = _rule_names(list(keyed))
    rules = tuple(replace(rule, name=names[key]) for key, rule in keyed.items())
    burn = _burn_rules(cfg, labels)
    rules += tuple(r for r in burn if r.page)
    spend = budget_rules(budgets, labels, cfg.evaluation_interval)
    rules += spend
    channels = tuple(
        Channel(
            name,
            kind,
            shown_address(kind, conf),
            conf,
            tuple(
                Subscription(
                    names[key],
                    _repeat(kind, conf.repeat_interval or cfg.repeat_interval),
                    True if kind == "alertmanager" else _or(conf.send_resolved, cfg.send_resolved),
                )
                for key in keys
            )
            + tuple(
                Subscription(r.name, _repeat(kind, conf.repeat_interval or cfg.repeat_interval), True)
                for r in burn
                if r.page and _BURN_EVENT_KIND[r.kind] in {EVENT_KINDS.get(e) for e in conf.events}
            )
            + tuple(
                # one notice per incident (no reminders); Alertmanager still gets its re-posts
                Subscription(r.name, _repeat(kind, math.inf), _or(conf.send_resolved, cfg.send_resolved))
                for r in spend
                if wants_budget_events(conf)
            ),
        )
        for name, kind, conf, keys in per_channel
    )
    interval = min((r.interval for r in rules), default=cfg.evaluation_interval)
    return AlertPlan(rules, channels, interval, tuple(r for r in burn if not r.page))


def _burn_rules(cfg: AlertsConfig, labels: tuple[tuple[str, str], ...]) -> tuple[Rule, ...]:
    """The burn-rate rules of each configured objective: availability first, then latency."""
    objectives: list[tuple[Kind, float, float]] = []
    if cfg.slo.availability:
        objectives.append(("burn", cfg.slo.availability, 0.0))
    if cfg.slo.latency:
        objectives.append(("latency_burn", cfg.slo.latency.target, cfg.slo.latency.threshold))
    return tuple(
        Rule(
            _BASE_NAMES[kind] + suffix,
            kind,
            rate,
            window=long,
            for_=0.0,
            min_requests=cfg.min_requests,
            interval=cfg.evaluation_interval,
            labels=labels,
            short_window=short,
            objective=objective,
            page=i < IN_PROCESS_PAIRS,
            bound=bound,
        )
        for kind, objective, bound in objectives
        for i, (suffix, rate, long, short, _) in enumerate(SLO_BURN_PAIRS)
    )


def alerted_budgets(cfg: MonitoringConfig) -> tuple[BudgetConfig, ...]:
    """The budgets that get alert rules: ``monitoring.usage.budgets``, when usage is on."""
    return cfg.usage.budgets if cfg.usage.enabled else ()


def wants_budget_events(conf: ChannelConfig) -> bool:
    """A channel gets ``budget`` alerts when it lists that event, or lists no events at all."""
    return "budget" in conf.events or "events" not in conf.model_fields_set


def budget_rules(
    budgets: Sequence[BudgetConfig], labels: tuple[tuple[str, str], ...], interval: float
) -> tuple[Rule, ...]:
    """``BudgetSoftLimit`` (warning, at ``soft_share``) and ``BudgetExceeded`` (critical) per budget.

    Named plainly for one budget, ``BudgetSoftLimit_<budget>`` when there are several. Each
    fires while today's (UTC) spend is at or past its threshold, so it resolves at midnight UTC.
    """
    from ..usage.budget_names import budget_limit, budget_names, budget_unit

    rules: list[Rule] = []
    for budget, name in zip(budgets, budget_names(budgets), strict=True):
        limit = budget_limit(budget)
        extra = (("budget", name), ("agent", budget.agent), ("model", budget.model))
        pair: tuple[tuple[Kind, float], ...] = (
            ("budget", limit * budget.soft_share),
            ("budget_exceeded", limit),
        )
        for kind, threshold in pair:
            base = _BASE_NAMES[kind]
            rules.append(
                Rule(
                    base if len(budgets) == 1 else f"{base}_{name}",
                    kind,
                    threshold,
                    window=0.0,
                    for_=0.0,
                    min_requests=0,
                    interval=interval,
                    labels=labels + extra,
                    unit=budget_unit(budget),
                    limit=limit,
                )
            )
    return tuple(rules)


#: Alertmanager forgets an alert not re-posted within its resolve_timeout (5 min by default);
#: Prometheus re-posts firing alerts every minute, and so does this package.
ALERTMANAGER_RESEND = 60.0


def _repeat(kind: ChannelKind, repeat: float) -> float:
    return min(repeat, ALERTMANAGER_RESEND) if kind == "alertmanager" else repeat


def _or(value: bool | None, default: bool) -> bool:
    return default if value is None else value


def _rule_for(
    kind: Kind, conf: ChannelConfig, cfg: AlertsConfig, labels: tuple[tuple[str, str], ...]
) -> Rule:
    interval = conf.evaluation_interval or cfg.evaluation_interval
    for_ = cfg.for_ if conf.for_ is None else conf.for_
    if kind == "health":  # no window, no rate: the state of the detailed health
        return Rule("", kind, None, window=0.0, for_=for_, min_requests=0, interval=interval, labels=labels)
    threshold = conf.threshold.error_rate if kind == "error" else conf.threshold.response_time
    return Rule(
        "",
        kind,
        threshold,
        window=conf.window or cfg.window,
        for_=for_,
        min_requests=conf.min_requests or cfg.min_requests,
        interval=interval,
        labels=labels,
    )


def _rule_names(keys: list[tuple[object, ...]]) -> dict[tuple[object, ...], str]:
    """``HighErrorRate`` when one rule watches errors; with thresholds when several do."""
    names: dict[tuple[object, ...], str] = {}
    by_kind: dict[object, list[tuple[object, ...]]] = {}
    for key in keys:
        by_kind.setdefault(key[0], []).append(key)
    for kind, group in by_kind.items():
        base = _BASE_NAMES[kind]  # type: ignore[index]
        if len(group) == 1:
            names[group[0]] = base
            continue
        thresholds = {k[1] for k in group}
        for key in group:
            _, threshold, window, for_, min_requests, interval = key
            name = base
            if threshold is not None and len(thresholds) > 1:
                name += f"_{_threshold_slug(kind, threshold)}"  # type: ignore[arg-type]
            same = [k for k in group if k[1] == threshold]
            if len(same) > 1:
                name += f"_{format_duration(window)}_for{format_duration(for_) or '0s'}"  # type: ignore[arg-type]
                if len([k for k in same if k[2:4] == key[2:4]]) > 1:
                    name += f"_min{min_requests}_every{format_duration(interval)}"  # type: ignore[arg-type]
            names[key] = name
    return names


def _threshold_slug(kind: object, threshold: float) -> str:
    if kind == "error":
        return f"{threshold * 100:g}pct".replace(".", "_")
    return f"{threshold:g}ms".replace(".", "_")
