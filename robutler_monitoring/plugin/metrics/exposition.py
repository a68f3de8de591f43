"""Render a registry in the Prometheus text format (0.0.4) or OpenMetrics 1.0, without ``_created``.

prometheus_client's ``generate_latest`` emits a ``_created`` gauge for every counter and
histogram child, which doubles a scrape for little use; Prometheus ignores them in the
text format anyway. This renderer writes the same text without them, and the same
families in OpenMetrics (``render_openmetrics``) when the scraper asks for it
(:func:`negotiate`, with the rules of prometheus_client's ``choose_encoder``), because
prometheus_client's own OpenMetrics encoder is about 1.4x slower. Only OpenMetrics
carries exemplars (a latency bucket linked to a trace id); a sample's ``exemplar`` is
written when present.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable

from prometheus_client import generate_latest
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_OPENMETRICS = "application/openmetrics-text"
_OPENMETRICS_TYPES = frozenset(
    {"counter", "gauge", "histogram", "summary", "info", "stateset", "gaugehistogram", "unknown"}
)

# a scrape is compressed on every request: speed over the last few percent of size
_GZIP_LEVEL = 6
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


def render_openmetrics(registry: Collector) -> bytes:
    """The OpenMetrics 1.0 exposition of ``registry`` with ``_created`` series left out."""
    families = list(registry.collect())
    if not all(_LEGACY_NAME.match(f.name) and f.type in _OPENMETRICS_TYPES for f in families):
        return openmetrics.generate_latest(registry)  # type: ignore[no-untyped-call,no-any-return]
    out: list[str] = []
    append = out.append
    for family in families:
        name = family.name
        doc = family.documentation
        if "\\" in doc or "\n" in doc or '"' in doc:
            doc = doc.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        append(f"# HELP {name} {doc}\n# TYPE {name} {family.type}\n")
        if family.unit:
            append(f"# UNIT {name} {family.unit}\n")
        skip = name + "_created"
        for sample in family.samples:
            if sample.name == skip:
                continue
            labels = sample.labels
            head = f"{sample.name}{{{_labels(labels.items())}}}" if labels else sample.name
            line = f"{head} {_format_value(sample.value)}"
            if sample.timestamp is not None:
                line += f" {sample.timestamp}"
            if sample.exemplar is not None:
                line += _exemplar(sample.exemplar)
            append(line + "\n")
    append("# EOF\n")
    return "".join(out).encode("utf-8")


def _exemplar(exemplar: Exemplar) -> str:
    """`` # {trace_id="..."} 0.25 1700000000.5``: the exemplar after a bucket or counter sample."""
    text = f" # {{{_labels(sorted(exemplar.labels.items()))}}} {floatToGoString(exemplar.value)}"  # type: ignore[no-untyped-call]
    return text if exemplar.timestamp is None else f"{text} {exemplar.timestamp}"


def negotiate(
    registry: Collector, accept: str, accept_encoding: str = ""
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The scrape body and its headers for a request's ``Accept`` and ``Accept-Encoding``.

    The format is the one prometheus_client's ``choose_encoder`` picks (the first
    acceptable type in the header: OpenMetrics 1.0 for Prometheus's default ``Accept``,
    else the text format), gzip when ``gzip_accepted``. The headers are the same for a
    ``HEAD`` (``content-length`` included), so send them and leave the body out.
    """
    encoder, content_type = choose_encoder(accept)
    if content_type.startswith(_OPENMETRICS):
        plain_1_0 = content_type == OPENMETRICS_CONTENT_TYPE or "version=1.0.0;" in content_type
        body = render_openmetrics(registry) if plain_1_0 else encoder(registry)
    else:
        body = render(registry)  # 0.0.4, or 1.0.0 which is the same for these names
    headers = [(b"content-type", content_type.encode()), (b"vary", b"Accept, Accept-Encoding")]
    if gzip_accepted(accept_encoding):
        body = gzip.compress(body, compresslevel=_GZIP_LEVEL)
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-length", str(len(body)).encode()))
    return body, headers
