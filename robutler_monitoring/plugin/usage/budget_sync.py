"""Every second, each worker reads today's totals from the spool: budgets, their gauges, one warning.

The spend comes from the hourly totals every worker commits with its records (summed
over the UTC day by :mod:`.daytotals`), so it is the server's, and survives restarts. After each read the
worker sets ``robutler_budget_spent`` (the numbers the ``budget`` alert rules and their
exported Prometheus rules read) and logs the ``budget: ...`` WARNING when a budget
crosses its soft share or its limit, once a day per server: the first worker to
claim the notice in the spool logs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

from .budgets import BudgetState, BudgetTracker
from .daytotals import utc_day
from .spool import Spool
from .spool_loop import SpoolLoop

__all__ = ["BudgetMetrics", "BudgetSync"]

_log = logging.getLogger("robutler.monitoring.usage")


class BudgetMetrics:
    """``robutler_budget_spent`` and ``robutler_budget_limit``, by budget, agent, model and unit."""

    LABELS = ("budget", "agent", "model", "unit")

    def __init__(self, registry: CollectorRegistry) -> None:
        # every worker sets the same server-wide number each second: the newest write counts
        self.spent = Gauge(
            "robutler_budget_spent",
            "Today's (UTC) spend of each usage budget, server-wide: USD or tokens, as `unit` says.",
            self.LABELS,
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.limit = Gauge(
            "robutler_budget_limit",
            "The daily limit of each usage budget (USD or tokens, as `unit` says).",
            self.LABELS,
            multiprocess_mode="mostrecent",
            registry=registry,
        )

    def show(self, states: list[BudgetState]) -> None:
        """Set each budget's series."""
        for st in states:
            labels = (st.name, st.budget.agent, st.budget.model, st.unit)
            self.spent.labels(*labels).set(st.spent)
            self.limit.labels(*labels).set(st.limit)


def log_crossing(state: BudgetState, kind: str) -> None:
    """The ``budget: ...`` WARNING line (an alert event goes through alerting as well)."""
    if kind == "soft":
        share = round(100 * state.spent / state.limit) if state.limit else 100
        _log.warning("budget: %s is %d%% spent today", state.describe(), share)
        return
    hard = state.budget.hard
    what = "new requests get 429 until midnight UTC" if hard else "soft budget: requests still served"
    _log.warning("budget: %s exceeded today (%s)", state.describe(), what)


class BudgetSync:
    """Refresh the tracker from the spool every ``interval`` seconds, in a thread of its own."""

    def __init__(
        self,
        tracker: BudgetTracker,
        spool_factory: Callable[[], Spool],
        *,
        metrics: BudgetMetrics | None = None,
        interval: float = 1.0,
        on_crossed: Callable[[BudgetState, str], None] = log_crossing,
        on_error: Callable[[BaseException], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tracker = tracker
        self.metrics = metrics
        self.interval = interval
        self._on_crossed = on_crossed
        self._clock = clock
        self._loop = SpoolLoop(
            "robutler-usage-budgets", spool_factory, self._step, on_error=on_error, retry_s=interval
        )
        self._claimed: set[tuple[str, str, str]] = set()  # (day, budget, kind) this worker tried
        self._pruned: str | None = None
        self.syncs = 0

    def start(self) -> None:
        """Start the thread; its first read happens at once."""
        if self.tracker.budgets:
            self._loop.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread."""
        self._loop.stop(timeout)

    def _step(self, spool: Spool) -> float:
        self.sync(spool)  # a failure is reported by the loop, which tries again after `interval`
        return self.interval

    def sync(self, spool: Spool) -> list[BudgetState]:
        """Read today's totals once: refresh the tracker and the gauges, announce crossings."""
        now = self._clock()
        day = utc_day(now)
        if day != self._pruned:
            spool.prune_notices(now)
            self._pruned = day
            self._claimed = {c for c in self._claimed if c[0] == day}
        self.tracker.refresh(spool.day_totals(now), now)
        states = self.tracker.states()
        for st in states:
            for kind, level in (("soft", st.soft_at), ("exceeded", st.limit)):
                key = (day, st.name, kind)
                if st.spent >= level and key not in self._claimed:
                    first = spool.claim_notice(day, st.name, kind)  # a locked database: next time
                    self._claimed.add(key)
                    if first:
                        self._on_crossed(st, kind)
        if self.metrics is not None:
            self.metrics.show(states)
        self.syncs += 1
        return states
