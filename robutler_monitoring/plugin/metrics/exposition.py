"""Render a registry in the Prometheus text format (0.0.4), without the ``_created`` series.

prometheus_client's ``generate_latest`` emits a ``_created`` gauge for every counter and
histogram child, which doubles a scrape for little use; Prometheus ignores them in the
text format anyway. This renderer writes the same text without them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from prometheus_client import generate_latest
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LEGACY_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_TYPE_MAP = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "summary": "summary",
    "info": "gauge",
    "stateset": "gauge",
    "gaugehistogram": "histogram",
    "unknown": "untyped",
}


def _escape_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _format_value(value: float) -> str:
    # Integral values are by far the most common (bucket counts); skip the generic path.
    if value.__class__ is int or (value.__class__ is float and value.is_integer() and abs(value) < 1e15):
        return f"{int(value)}.0"
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


def render(registry: Collector) -> bytes:
    """The text exposition of ``registry`` with ``_created`` series left out."""
    families = list(registry.collect())
    if not all(_LEGACY_NAME.match(f.name) and f.type != "gaugehistogram" for f in families):
        return generate_latest(registry)  # rare shapes: let prometheus_client write them
    out: list[str] = []
    append = out.append
    for family in families:
        name = family.name
        mtype = family.type
        exposed = name + "_total" if mtype == "counter" else name + "_info" if mtype == "info" else name
        doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        append(f"# HELP {exposed} {doc}\n# TYPE {exposed} {_TYPE_MAP.get(mtype, 'untyped')}\n")
        skip = name + "_created"
        for sample in family.samples:
            if sample.name != skip:
                append(_line(sample.name, sample.labels, sample.value, sample.timestamp))  # type: ignore[arg-type]
    return "".join(out).encode("utf-8")


def _line(name: str, labels: dict[str, str], value: float, timestamp: float | None) -> str:
    head = f"{name}{{{_labels(labels.items())}}}" if labels else name
    if timestamp is not None:
        return f"{head} {_format_value(value)} {int(float(timestamp) * 1000):d}\n"
    return f"{head} {_format_value(value)}\n"


def _labels(items: Iterable[tuple[str, str]]) -> str:
    return ",".join([f'{k}="{_escape_value(v)}"' for k, v in items])
