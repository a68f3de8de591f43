"""A scraped ``/metrics`` page as plain samples, with the sums and quantiles the commands show.

Parsing is prometheus_client's; quantiles follow Prometheus's ``histogram_quantile``
(linear interpolation inside the bucket that holds the rank).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from ..metrics.quantile import histogram_quantile

Labels = Mapping[str, str]
Where = Callable[[Labels], bool]


@dataclass(frozen=True)
class Sample:
    """One sample line: ``name{labels} value`` and the type of its family."""

    name: str
    labels: Labels
    value: float
    type: str
    family: str


class Samples:
    """The samples of one scrape.

    >>> page = 'x_total{a="1"} 2\\nx_total{a="2"} 3\\n'
    >>> Samples.parse(page).total("x_total")
    5.0
    """

    def __init__(self, samples: Iterable[Sample]) -> None:
        self.samples = list(samples)
        self._names = {s.name for s in self.samples}
        self.families = {s.family for s in self.samples}

    @classmethod
    def parse(cls, text: str) -> Samples:
        """Parse the Prometheus text format (raises ``ValueError`` on a malformed page)."""
        return cls(_flatten(text_string_to_metric_families(text)))

    @classmethod
    def collect(cls, registry: Collector) -> Samples:
        """The samples of a registry in this process (``_created`` series left out)."""
        return cls(s for s in _flatten(registry.collect()) if not s.name.endswith("_created"))

    def has(self, name: str) -> bool:
        """Whether any sample is called ``name``."""
        return name in self._names

    def select(self, name: str, where: Where | None = None) -> list[Sample]:
        """The samples called ``name`` whose labels pass ``where``."""
        return [s for s in self.samples if s.name == name and (where is None or where(s.labels))]

    def total(self, name: str, where: Where | None = None) -> float:
        """The sum of the samples called ``name``."""
        return math.fsum(s.value for s in self.select(name, where))

    def by(
        self, name: str, keys: tuple[str, ...], where: Where | None = None
    ) -> dict[tuple[str, ...], float]:
        """Sums of ``name`` grouped by the label values of ``keys``."""
        out: dict[tuple[str, ...], float] = {}
        for s in self.select(name, where):
            group = tuple(s.labels.get(k, "") for k in keys)
            out[group] = out.get(group, 0.0) + s.value
        return out

    def buckets(
        self, histogram: str, keys: tuple[str, ...] = (), where: Where | None = None
    ) -> dict[tuple[str, ...], dict[float, float]]:
        """Cumulative bucket counts of ``histogram`` (upper bound -> count), grouped by ``keys``."""
        out: dict[tuple[str, ...], dict[float, float]] = {}
        for s in self.select(histogram + "_bucket", where):
            group = tuple(s.labels.get(k, "") for k in keys)
            le = float(s.labels["le"])
            per = out.setdefault(group, {})
            per[le] = per.get(le, 0.0) + s.value
        return out

    def matching(self, pattern: str | None) -> Samples:
        """The samples whose name or family name matches the glob ``pattern``."""
        if not pattern:
            return self
        return Samples(
            s
            for s in self.samples
            if fnmatch.fnmatchcase(s.name, pattern) or fnmatch.fnmatchcase(s.family, pattern)
        )


def minus(now: Mapping[float, float], before: Mapping[float, float] | None) -> dict[float, float]:
    """Bucket counts observed between two scrapes (a counter reset gives ``now``)."""
    if not before:
        return dict(now)
    delta = {le: count - before.get(le, 0.0) for le, count in now.items()}
    return dict(now) if any(v < 0 for v in delta.values()) else delta


quantile = histogram_quantile  # the one copy, shared with alerting


def _flatten(families: Iterable[Metric]) -> Iterable[Sample]:
    for family in families:
        for s in family.samples:
            yield Sample(s.name, dict(s.labels), float(s.value), family.type, family.name)
