"""Reading metric values back from a registry or a scrape, as a user's Prometheus would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the series ``name{labels}`` in a text scrape, None when absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def series(text: str, name: str) -> list[dict[str, str]]:
    """The label sets of every series named ``name`` in a text scrape."""
    return [
        s.labels for family in text_string_to_metric_families(text) for s in family.samples if s.name == name
    ]


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """The value of ``name{labels}`` in a registry, None when absent."""
    return registry.get_sample_value(name, labels)
