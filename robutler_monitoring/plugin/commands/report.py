"""What ``robutler monitor status`` reports: sections computed from a scrape (or two).

Each section builder looks for the metric families it needs and returns ``None`` when
they are absent, so a feature adds its rows by appending one builder to :data:`SECTIONS`
(alerts firing, tokens and cost per agent, ...), and a server without it shows nothing.

Values carry their unit in the key (``_seconds``, ``_bytes``, ``_ratio``,
``_per_second``): JSON gets plain numbers, the table formats them by that suffix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .remote import Scrape
from .samples import Labels, Samples, Where, minus, quantile

REQUESTS = "robutler_http_requests_total"
DURATION = "robutler_http_request_duration_seconds"
TTFB = "robutler_http_time_to_first_byte_seconds"
IN_PROGRESS = "robutler_http_requests_in_progress"
WORKERS = "robutler_workers"
LOOP_LAG = "robutler_event_loop_lag_seconds"
AGENT_RUNS = "robutler_agent_executions_total"
AGENT_DURATION = "robutler_agent_execution_duration_seconds"
SKILL_CALLS = "robutler_skill_calls_total"
SKILL_DURATION = "robutler_skill_duration_seconds"
LLM_TOKENS = "robutler_llm_tokens_total"
LLM_COST = "robutler_llm_cost_usd_total"
LLM_UNPRICED = "robutler_llm_unpriced_tokens_total"
ALERTS = "robutler_alerts"

Row = dict[str, Any]


@dataclass(frozen=True)
class Section:
    """A titled part of the report: fields (a mapping) or a table (a list of rows)."""

    key: str
    title: str
    data: Row | list[Row]


@dataclass(frozen=True)
class Window:
    """The latest scrape, the one before it (if any), and the paths that are not app traffic."""

    now: Scrape
    before: Scrape | None
    monitoring_paths: frozenset[str]

    @property
    def seconds(self) -> float | None:
        """Seconds between the two scrapes, None with one scrape."""
        return self.now.at - self.before.at if self.before else None

    @property
    def uptime(self) -> float | None:
        """The server's uptime from its health document."""
        return _observed(self.now, "uptime")

    def app_traffic(self, labels: Labels) -> bool:
        """True for requests to the served app (not to health or metrics endpoints)."""
        return labels.get("route") not in self.monitoring_paths

    def increase(self, name: str, where: Where | None = None) -> float:
        """How much the counter ``name`` grew between the scrapes (since start with one scrape)."""
        now = self.now.samples.total(name, where)
        if self.before is None:
            return now
        then = self.before.samples.total(name, where)
        return now if now < then else now - then  # a restart resets counters

    def rate(self, name: str, where: Where | None = None) -> float | None:
        """Per-second rate of the counter ``name`` over the window (or since start)."""
        span = self.seconds if self.before else self.uptime
        if not span or span <= 0:
            return None
        return self.increase(name, where) / span

    def quantiles(
        self, histogram: str, qs: tuple[float, ...], where: Where | None = None
    ) -> list[float | None]:
        """Quantiles of ``histogram`` over the window; since start when the window saw nothing."""
        now = self.now.samples.buckets(histogram, (), where).get((), {})
        then = self.before.samples.buckets(histogram, (), where).get((), {}) if self.before else None
        window = minus(now, then)
        chosen = window if window.get(float("inf"), 0.0) > 0 else now
        return [quantile(q, chosen) for q in qs]


SectionBuilder = Callable[[Window], Section | None]


def is_error(labels: Labels) -> bool:
    """A request, run or call that failed: the ``error`` outcome (else a 5xx status)."""
    if "outcome" in labels:
        return labels["outcome"] == "error"
    status = labels.get("status", "")
    return int(status) >= 500 if status.isdigit() else status == "error"


def server_section(window: Window) -> Section:
    """Overall status, version, uptime, workers, traffic, latency, in-flight, runtime."""
    now = window.now
    health = now.health.doc if now.health else {}
    samples = now.samples
    app = window.app_traffic
    rate = window.rate(REQUESTS, app)
    total = window.increase(REQUESTS, app)
    errors = window.increase(REQUESTS, lambda labels: app(labels) and is_error(labels))
    p50, p95, p99 = window.quantiles(DURATION, (0.5, 0.95, 0.99), app)
    t50, t95 = window.quantiles(TTFB, (0.5, 0.95), app)
    rss = _observed(now, "memory:rss")
    fields: Row = {
        "status": now.health.status if now.health else None,
        "version": health.get("releaseId") or health.get("version"),
        "uptime_seconds": window.uptime,
        "workers": int(samples.total(WORKERS)) if samples.has(WORKERS) else None,
        "window_seconds": round(window.seconds, 3) if window.seconds else None,
        "request_rate_per_second": rate,
        "error_rate_ratio": (errors / total) if total else (0.0 if samples.has(REQUESTS) else None),
        "latency_p50_seconds": p50,
        "latency_p95_seconds": p95,
        "latency_p99_seconds": p99,
        "ttfb_p50_seconds": t50,
        "ttfb_p95_seconds": t95,
        "requests_in_flight": int(samples.total(IN_PROGRESS, app)) if samples.has(IN_PROGRESS) else None,
        "event_loop_lag_seconds": (
            samples.total(LOOP_LAG) if samples.has(LOOP_LAG) else _ms(_observed(now, "eventloop:lag"))
        ),
        "memory_rss_bytes": rss * 1024 * 1024 if rss is not None else None,
    }
    return Section("server", "Server", fields)


def checks_section(window: Window) -> Section | None:
    """Every check of the detailed health document."""
    if window.now.health is None:
        return None
    rows: list[Row] = []
    for name, entries in (window.now.health.doc.get("checks") or {}).items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, dict):
                rows.append(
                    {
                        "check": name,
                        "status": entry.get("status"),
                        "value": entry.get("observedValue"),
                        "unit": entry.get("observedUnit"),
                        "output": entry.get("output"),
                    }
                )
    return Section("checks", "Health checks", rows) if rows else None


def _per(
    samples: Samples,
    counter: str,
    histogram: str,
    keys: tuple[str, ...],
    count_key: str,
) -> list[Row]:
    totals = samples.by(counter, keys)
    errors = samples.by(counter, keys, is_error)
    buckets = samples.buckets(histogram, keys)
    rows = []
    for group in sorted(totals):
        row: Row = dict(zip(keys, group, strict=True))
        row[count_key] = int(totals[group])
        row["errors"] = int(errors.get(group, 0))
        row["p95_seconds"] = quantile(0.95, buckets.get(group, {}))
        rows.append(row)
    return rows


def agents_section(window: Window) -> Section | None:
    """Executions, errors and p95 per agent (since start); tokens and cost when LLM usage is counted."""
    samples = window.now.samples
    if not samples.has(AGENT_RUNS):
        return None
    rows = _per(samples, AGENT_RUNS, AGENT_DURATION, ("agent",), "executions")
    if samples.has(LLM_TOKENS):  # LLM calls reported through the seam: tokens per agent
        tokens = samples.by(LLM_TOKENS, ("agent", "type"))
        for row in rows:
            row["input_tokens"] = int(tokens.get((row["agent"], "input"), 0))
            row["output_tokens"] = int(tokens.get((row["agent"], "output"), 0))
    if samples.has(LLM_COST) or samples.has(LLM_UNPRICED):
        _add_cost(samples, rows)
    return Section("agents", "Agents", rows)


def _add_cost(samples: Samples, rows: list[Row]) -> None:
    """``cost_usd`` of each agent's priced models (None when it used none) and, apart, the tokens
    of its models that have no price (``robutler_llm_unpriced_tokens_total`` names them)."""
    cost = samples.by(LLM_COST, ("agent",))
    unpriced_models = {model for (model,) in samples.by(LLM_UNPRICED, ("model",))}
    tokens = samples.by(LLM_TOKENS, ("agent", "model"))
    unpriced: dict[str, float] = {}
    for (agent, model), n in tokens.items():
        if model in unpriced_models:
            unpriced[agent] = unpriced.get(agent, 0.0) + n
    for row in rows:
        row["cost_usd"] = cost.get((row["agent"],))
        row["unpriced_tokens"] = int(unpriced.get(row["agent"], 0))


def skills_section(window: Window) -> Section | None:
    """Calls, errors and p95 per skill operation (since start)."""
    samples = window.now.samples
    if not samples.has(SKILL_CALLS):
        return None
    return Section(
        "skills",
        "Skills (tool calls)",
        _per(samples, SKILL_CALLS, SKILL_DURATION, ("skill", "operation"), "calls"),
    )


def alerts_section(window: Window) -> Section | None:
    """Alerting rules that are firing or pending now (from ``robutler_alerts``)."""
    samples = window.now.samples
    if not samples.has(ALERTS):
        return None
    states = samples.by(ALERTS, ("alertname", "alertstate"))
    active = sorted(
        (state, name)
        for (name, state), value in states.items()
        if state in ("firing", "pending") and value > 0
    )
    rows: list[Row] = [{"alert": name, "state": state} for state, name in active]
    return Section("alerts", "Alerts firing or pending", rows)


#: The report, in order. Append a builder to add a section (alerts firing, usage per agent).
SECTIONS: list[SectionBuilder] = [
    server_section,
    checks_section,
    agents_section,
    skills_section,
    alerts_section,
]


def build(window: Window, builders: list[SectionBuilder] | None = None) -> list[Section]:
    """The sections that have something to show."""
    return [s for b in (SECTIONS if builders is None else builders) if (s := b(window)) is not None]


def as_document(url: str, sections: list[Section]) -> dict[str, Any]:
    """The report as one JSON document: ``url`` and one key per section."""
    return {"url": url, **{s.key: s.data for s in sections}}


def _observed(scrape: Scrape, check: str) -> float | None:
    if scrape.health is None:
        return None
    entries = (scrape.health.doc.get("checks") or {}).get(check)
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        value = entries[0].get("observedValue")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _ms(value: float | None) -> float | None:
    return value / 1000 if value is not None else None
