"""Prometheus's ``histogram_quantile`` over cumulative buckets: one copy for the commands and alerting."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping


def histogram_quantile(
    q: float, buckets: Mapping[float, float] | Iterable[tuple[float, float]]
) -> float | None:
    """The ``q``-quantile of cumulative ``(upper bound, count)`` buckets, as Prometheus computes it.

    Linear interpolation inside the bucket that holds the rank; a rank in the ``+Inf``
    bucket answers the highest finite bound; no ``+Inf`` bucket or no observations: None.

    >>> histogram_quantile(0.5, {0.1: 2.0, 0.2: 4.0, float("inf"): 4.0})
    0.1
    >>> histogram_quantile(0.75, [(0.1, 2.0), (0.2, 4.0), (float("inf"), 4.0)])
    0.15000000000000002
    >>> histogram_quantile(0.99, {0.1: 1.0, float("inf"): 2.0})
    0.1
    """
    pairs = buckets.items() if isinstance(buckets, Mapping) else buckets
    ordered: list[tuple[float, float]] = sorted((float(b), float(c)) for b, c in pairs)
    if not ordered or math.isnan(q) or not math.isinf(ordered[-1][0]):
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for i, (bound, count) in enumerate(ordered):
        if count >= rank:
            if math.isinf(bound):
                return ordered[i - 1][0] if i > 0 else None
            if i == 0 and bound <= 0:
                return bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return None
