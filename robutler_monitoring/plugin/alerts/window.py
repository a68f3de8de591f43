"""What the rules measure: request counts read from the /metrics numbers, over a sliding window.

The counts come from the same registry ``/metrics`` serves (in multiprocess mode, the
registry that sums every worker's files), so errors on any worker count the same as in
one process. Each evaluation appends a sample; the increase over a window is the last
sample minus the first, a drop counting as a counter reset (a restart) after which all of
the new count is growth, as Prometheus's ``increase()`` does, so samples kept in the
state file carry the window across restarts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from ..metrics.quantile import histogram_quantile

REQUESTS = "robutler_http_requests"
#: Time to first byte: for a streamed answer, when it started flowing, not when it ended.
LATENCY = "robutler_http_time_to_first_byte_seconds"


@dataclass(frozen=True)
class Counts:
    """Cumulative counters at one moment: requests, failed requests, latency buckets."""

    requests: float = 0.0
    failed: float = 0.0
    buckets: tuple[tuple[float, float], ...] = ()  # (upper bound in seconds, cumulative count)

    def to_json(self) -> list[Any]:
        """A compact JSON form for the state file."""
        return [self.requests, self.failed, [[_bound_text(le), n] for le, n in self.buckets]]

    @classmethod
    def from_json(cls, data: Any) -> Counts:
        """The inverse of :meth:`to_json`."""
        requests, failed, buckets = data
        return cls(float(requests), float(failed), tuple((float(le), float(n)) for le, n in buckets))


def _bound_text(le: float) -> str:
    return "+Inf" if math.isinf(le) else repr(le)


def _failed(labels: dict[str, str]) -> bool:
    # failed = a 5xx (unhandled exceptions are counted as 500), or an operation that ended
    # in error after its status was sent (a broken stream), where an `outcome` label says so
    return labels.get("status", "").startswith("5") or labels.get("outcome") == "error"


def read_counts(registry: CollectorRegistry, skip_routes: Iterable[str] = ()) -> Counts:
    """Sum the request counter and the latency histogram over every label but the skipped routes."""
    skip = frozenset(skip_routes)
    requests = failed = 0.0
    buckets: dict[float, float] = {}
    for metric in _families(registry):
        if metric.name == REQUESTS:
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels.get("route") not in skip:
                    requests += sample.value
                    if _failed(sample.labels):
                        failed += sample.value
        elif metric.name == LATENCY:
            for sample in metric.samples:
                if sample.name.endswith("_bucket") and sample.labels.get("route") not in skip:
                    le = float(sample.labels["le"])
                    buckets[le] = buckets.get(le, 0.0) + sample.value
    return Counts(requests, failed, tuple(sorted(buckets.items())))


def _families(registry: CollectorRegistry) -> Iterable[Any]:
    # only the collectors of these two families (not the process, GC and custom metrics'),
    # else everything: a multiprocess collector names no families up front
    wanted = list(registry.restricted_registry([f"{REQUESTS}_total", f"{LATENCY}_bucket"]).collect())
    return wanted if any(m.name == REQUESTS for m in wanted) else registry.collect()


def _delta(before: Counts, after: Counts) -> Counts:
    if after.requests < before.requests or after.failed < before.failed:
        return after  # the counters were reset (a restart): all of `after` is new
    old = dict(before.buckets)
    return Counts(
        after.requests - before.requests,
        after.failed - before.failed,
        tuple((le, max(0.0, n - old.get(le, 0.0))) for le, n in after.buckets),
    )


def _between(before: Counts, after: Counts, share: float) -> Counts:
    """The counters ``share`` of the way from ``before`` to ``after`` (``before`` across a reset)."""
    if after.requests < before.requests or after.failed < before.failed:
        return before
    grown = _delta(before, after)
    part = Counts(
        grown.requests * share, grown.failed * share, tuple((le, n * share) for le, n in grown.buckets)
    )
    return _add(before, part)


def _add(a: Counts, b: Counts) -> Counts:
    merged = dict(a.buckets)
    for le, n in b.buckets:
        merged[le] = merged.get(le, 0.0) + n
    return Counts(a.requests + b.requests, a.failed + b.failed, tuple(sorted(merged.items())))


class History:
    """Samples of :class:`Counts` in time order; the increase over any window up to ``keep``.

    >>> h = History(keep=300)
    >>> h.add(0, Counts(100, 1))
    >>> h.add(60, Counts(150, 11))
    >>> h.increase(60, window=300).failed
    10.0
    """

    def __init__(self, keep: float, samples: Sequence[tuple[float, Counts]] = ()) -> None:
        self.keep = keep
        self.samples: list[tuple[float, Counts]] = sorted(samples, key=lambda s: s[0])

    #: Samples older than this are thinned to one a minute (long SLO windows need no finer steps).
    FINE = 600.0

    def add(self, now: float, counts: Counts) -> None:
        """Record the counters at ``now`` and forget samples no window needs."""
        self.samples.append((now, counts))
        cutoff = now - self.keep
        # keep the newest sample at or before the cutoff: it is the baseline of the longest window
        while len(self.samples) > 1 and self.samples[1][0] <= cutoff:
            self.samples.pop(0)
        if self.keep > self.FINE and len(self.samples) > 2 * self.FINE / 60 + 2:
            self._thin(now - self.FINE)

    def _thin(self, before: float) -> None:
        # keep the last sample of each minute among the old ones (and the oldest: the baseline
        # of a window longer than the history); counters only grow, so dropping a sample in
        # between loses nothing but resolution (a reset is still seen: a later count is lower)
        kept: list[tuple[float, Counts]] = []
        for t, counts in self.samples:
            if (
                t < before
                and len(kept) > 1
                and kept[-1][0] < before
                and int(kept[-1][0] // 60) == int(t // 60)
            ):
                kept[-1] = (t, counts)
            else:
                kept.append((t, counts))
        self.samples = kept

    def increase(self, now: float, window: float) -> Counts:
        """How much each counter grew over ``[now - window, now]`` (resets handled)."""
        start = now - window
        first = 0
        for i, (t, _) in enumerate(self.samples):
            if t <= start:
                first = i
        total = Counts()
        chosen = self.samples[first:]
        if len(chosen) > 1 and chosen[0][0] < start < chosen[1][0]:
            # the window starts between two samples (old ones are thinned to one a minute):
            # count the part of that step inside the window, in proportion, as Prometheus
            # extrapolates, so a long window is as long as asked and not up to a minute longer
            (t0, c0), (t1, c1) = chosen[0], chosen[1]
            chosen = [(start, _between(c0, c1, (start - t0) / (t1 - t0))), *chosen[1:]]
        if not chosen:
            return total
        # counters only grow between restarts: the growth of each run of samples is its last
        # minus its first; a drop (a reset) starts a new run, all of whose first sample is new
        base = prev = chosen[0][1]
        for _, counts in chosen[1:]:
            if counts.requests < prev.requests or counts.failed < prev.failed:
                total = _add(_add(total, _delta(base, prev)), counts)
                base = counts
            prev = counts
        return _add(total, _delta(base, prev))


def error_ratio(grown: Counts, min_requests: int) -> float | None:
    """Failed / all requests, or None below ``min_requests``."""
    if grown.requests < min_requests or grown.requests <= 0:
        return None
    return grown.failed / grown.requests


def slow_ratio(grown: Counts, bound: float, min_requests: int) -> float | None:
    """Requests whose first byte came later than ``bound`` seconds / all, or None below ``min_requests``.

    ``bound`` is a bucket boundary (the config allows no other), so the count within it is exact.

    >>> slow_ratio(Counts(100, 0, ((1.0, 90), (2.5, 97), (math.inf, 100))), 2.5, 20)
    0.03
    """
    if not grown.buckets or grown.buckets[-1][1] < max(min_requests, 1):
        return None
    total = grown.buckets[-1][1]
    within = next((n for le, n in grown.buckets if math.isclose(le, bound)), None)
    return None if within is None else (total - within) / total


quantile = histogram_quantile  # the one copy, shared with the commands


def p95_ms(grown: Counts, min_requests: int) -> float | None:
    """The p95 time to first byte in milliseconds over the grown buckets, or None below ``min_requests``."""
    if not grown.buckets or grown.buckets[-1][1] < max(min_requests, 1):
        return None
    seconds = quantile(0.95, grown.buckets)
    return None if seconds is None else seconds * 1000.0
