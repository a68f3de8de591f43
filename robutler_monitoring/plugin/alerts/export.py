"""Prometheus alerting rules equivalent to the configured in-process rules, over this package's metrics.

The same numbers the in-process rules read (``robutler_http_requests_total`` and the
time-to-first-byte histogram, monitoring endpoints left out), the same window, ``for``,
``min_requests``, names, severity and annotations; grouped by ``job`` and ``instance`` so
one rule file serves a fleet. A latency SLO counts the requests of its time-to-first-byte
``le`` bucket as good (the bound is a bucket boundary, so the count is exact). The
``health`` rule reads ``robutler_health_status`` (0 when the detailed health is ``fail``),
which every server keeps current by running the detailed checks every ``collect_interval``.

Budget rules compare ``robutler_budget_spent`` (today's spend since midnight UTC, which the
server sums from its hourly totals) with the rule's threshold, as the in-process rules
do. ``increase(robutler_llm_cost_usd_total[1d])`` would be a rolling 24 hours instead, and
would restart at 0 with the server, so it is not used.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..config.schema import format_duration
from ..health.metrics import CHECK_STATUS, HEALTH_STATUS, STATUS_VALUES
from .rules import BUDGET_KINDS, BURN_KINDS, AlertPlan, Rule
from .spend import SPENT

REQUESTS = "robutler_http_requests_total"
TTFB_BUCKET = "robutler_http_time_to_first_byte_seconds_bucket"
TTFB_COUNT = "robutler_http_time_to_first_byte_seconds_count"
GROUP = "robutler-monitoring"
_BY = "job, instance"
_FAILED = 'status=~"5.."'


def _route_filter(skip: tuple[str, ...]) -> str:
    if not skip:
        return ""
    alternatives = "|".join(re.escape(p).replace("\\", "\\\\") for p in dict.fromkeys(skip))
    return f'route!~"{alternatives}"'


def _selector(*matchers: str) -> str:
    found = [m for m in matchers if m]
    return "{" + ",".join(found) + "}" if found else ""


def rule_expr(rule: Rule, skip: tuple[str, ...]) -> str | None:
    """The PromQL of one rule (None for a kind the export does not know)."""
    if rule.kind == "health":
        return f"min by ({_BY}) ({HEALTH_STATUS}) == {STATUS_VALUES['fail']:g}"
    if rule.kind in BUDGET_KINDS:
        budget = dict(rule.labels).get("budget", "")
        return f'{SPENT}{{budget="{budget}"}} >= {rule.threshold:.10g}'
    routes = _route_filter(skip)
    window = format_duration(rule.window)
    if rule.kind == "error":
        total = f"sum by ({_BY}) (increase({REQUESTS}{_selector(routes)}[{window}]))"
        failed_selector = _selector(routes, _FAILED)
        failed = f"sum by ({_BY}) (increase({REQUESTS}{failed_selector}[{window}]))"
        return f"({failed} / {total}) > {rule.threshold:g}\nand\n{total} >= {rule.min_requests}"
    if rule.kind in BURN_KINDS:
        return _burn_expr(rule, routes)
    if rule.kind == "latency":
        assert rule.threshold is not None
        buckets = f"sum by ({_BY}, le) (rate({TTFB_BUCKET}{_selector(routes)}[{window}]))"
        count = f"sum by ({_BY}) (increase({TTFB_COUNT}{_selector(routes)}[{window}]))"
        p95 = f"histogram_quantile(0.95, {buckets}) * 1000"
        return f"{p95} > {rule.threshold:g}\nand\n{count} >= {rule.min_requests}"
    return None


def _burn_expr(rule: Rule, routes: str) -> str:
    """Both windows' bad ratio above the burn rate times the budget, with enough requests."""
    assert rule.threshold is not None
    limit = f"{rule.threshold * (1 - rule.objective):.6g}"

    def increase(series: str, *matchers: str, window: str) -> str:
        return f"sum by ({_BY}) (increase({series}{_selector(routes, *matchers)}[{window}]))"

    def ratio(window: str) -> str:
        if rule.kind == "latency_burn":
            good = increase(TTFB_BUCKET, f'le="{_le(rule.bound)}"', window=window)
            return f"(1 - {good} / {increase(TTFB_COUNT, window=window)})"
        return f"({increase(REQUESTS, _FAILED, window=window)} / {increase(REQUESTS, window=window)})"

    long, short = format_duration(rule.window), format_duration(rule.short_window)
    counted = TTFB_COUNT if rule.kind == "latency_burn" else REQUESTS
    enough = f"{increase(counted, window=short)} >= {rule.min_requests}"
    return f"{ratio(long)} > {limit}\nand\n{ratio(short)} > {limit}\nand\n{enough}"


def _le(bound: float) -> str:
    """The ``le`` label as prometheus_client writes it (and Prometheus 3 normalizes it): ``2.5``, ``1.0``."""
    return repr(float(bound))


def _rule_doc(rule: Rule, skip: tuple[str, ...]) -> dict[str, Any] | None:
    expr = rule_expr(rule, skip)
    if expr is None:
        return None
    where = "on {{ $labels.instance }}"
    if rule.kind in BUDGET_KINDS:
        return _budget_doc(rule, expr, where)
    if rule.kind == "health":
        return _health_doc(rule, expr, where)
    if rule.kind == "burn":
        budget = 1 - rule.objective
        value = "{{ $value | humanizePercentage }}"
        summary = f"error ratio {value} burns the {budget:.3g} budget > {rule.threshold:g}x {where}"
    elif rule.kind == "latency_burn":
        budget = 1 - rule.objective
        value = "{{ $value | humanizePercentage }}"
        summary = (
            f"{value} of requests slower than {rule.bound:g}s burn the {budget:.3g} budget"
            f" > {rule.threshold:g}x {where}"
        )
    elif rule.kind == "error":
        summary = f"error rate {{{{ $value | humanizePercentage }}}} > {rule.threshold_text()} {where}"
    else:
        summary = f'p95 response time {{{{ $value | printf "%.0f" }}}} ms > {rule.threshold_text()} {where}'
    condition = rule.describe(None).replace("n/a", "value")
    doc: dict[str, Any] = {"alert": rule.name, "expr": expr}
    if rule.for_:
        doc["for"] = format_duration(rule.for_)
    doc["labels"] = {"severity": rule.severity, "event": rule.event}
    if rule.kind in BURN_KINDS:
        windows = f"{format_duration(rule.window)} and {format_duration(rule.short_window)}"
        objective = (
            f"{rule.objective:.6g} availability objective"
            if rule.kind == "burn"
            else f"{rule.objective:.6g} latency objective (time to first byte under {rule.bound:g}s)"
        )
        condition = f"error budget of the {objective} burning > {rule.threshold:g}x"
        doc["annotations"] = {"summary": summary, "description": f"{rule.name}: {condition} over {windows}"}
        return doc
    doc["annotations"] = {
        "summary": summary,
        "description": f"{rule.name}: {condition} over {format_duration(rule.window)}",
    }
    return doc


def _budget_doc(rule: Rule, expr: str, where: str) -> dict[str, Any]:
    spent = "${{ $value }}" if rule.unit == "usd" else "{{ $value }} tokens"
    condition = rule.describe(None).replace("n/a spent today", "the spend since midnight UTC")
    return {
        "alert": rule.name,
        "expr": expr,
        "labels": {"severity": rule.severity, "event": rule.event},
        "annotations": {
            "summary": f"budget {{{{ $labels.budget }}}}: {spent} spent today "
            f"(threshold {rule.threshold_text()}) {where}",
            "description": f"{rule.name}: {condition}",
        },
    }


def _health_doc(rule: Rule, expr: str, where: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"alert": rule.name, "expr": expr}
    if rule.for_:
        doc["for"] = format_duration(rule.for_)
    doc["labels"] = {"severity": rule.severity, "event": rule.event}
    doc["annotations"] = {
        "summary": f"{rule.describe(None)} {where}",
        "description": f"{rule.name}: {rule.describe(None)} ({CHECK_STATUS} == 0: the failing checks)",
    }
    return doc


_OBJECTIVE_ORDER = {"burn": 1, "latency_burn": 2, "budget": 3, "budget_exceeded": 3}


def rule_groups(plan: AlertPlan, skip: tuple[str, ...]) -> dict[str, Any]:
    """A Prometheus rules file (``groups:``) for the plan's rules."""
    # each objective's three pairs together: availability, then latency
    ordered = sorted((*plan.rules, *plan.export_only), key=lambda r: _OBJECTIVE_ORDER.get(r.kind, 0))
    rules = [doc for rule in ordered if (doc := _rule_doc(rule, skip)) is not None]
    return {"groups": [{"name": GROUP, "interval": format_duration(plan.interval), "rules": rules}]}


def prometheus_rule(
    plan: AlertPlan, skip: tuple[str, ...], name: str = "robutler-monitoring"
) -> dict[str, Any]:
    """The same rules as a Kubernetes ``PrometheusRule`` (prometheus-operator)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "robutler"}},
        "spec": rule_groups(plan, skip),
    }


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(doc: dict[str, Any]) -> str:
    """YAML with multi-line expressions as literal blocks."""
    return str(yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000))
