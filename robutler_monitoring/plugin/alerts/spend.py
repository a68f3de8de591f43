"""What the budget rules measure: today's spend per budget, read from the /metrics numbers.

Every serving worker sets ``robutler_budget_spent{budget,...}`` each second from the
spool's totals of today (server-wide, since midnight UTC; see ``usage/budget_sync.py``). The
rules read that gauge from the registry ``/metrics`` serves, as the exported Prometheus
rules do, so both fire on the same number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry

from .engine import Observation
from .rules import Rule

SPENT = "robutler_budget_spent"


def read_spend(registry: CollectorRegistry) -> dict[str, float]:
    """Today's spend by budget name (absent until a worker has read today's totals)."""
    out: dict[str, float] = {}
    for metric in _families(registry):
        if metric.name != SPENT:
            continue
        for sample in metric.samples:
            name = sample.labels.get("budget")
            if sample.name == SPENT and name is not None:
                out[name] = max(out.get(name, 0.0), float(sample.value))
    return out


def _families(registry: CollectorRegistry) -> Iterable[Any]:
    # the gauge's collector alone, else everything: a multiprocess collector names no families up front
    wanted = list(registry.restricted_registry([SPENT]).collect())
    return wanted if any(m.name == SPENT for m in wanted) else registry.collect()


def observe_budget(rule: Rule, spend: dict[str, float]) -> Observation | None:
    """Active while today's spend is at or past the rule's threshold; None when not known yet.

    >>> rule = Rule("BudgetSoftLimit", "budget", 4.0, labels=(("budget", "all"),), unit="usd", limit=5.0)
    >>> observe_budget(rule, {"all": 4.2})
    Observation(active=True, value=4.2)
    """
    spent = spend.get(dict(rule.labels).get("budget", ""))
    if spent is None:
        return None
    assert rule.threshold is not None
    return Observation(spent >= rule.threshold, spent)
