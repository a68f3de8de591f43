"""``robutler monitor metrics dump``: a server's metrics (or this package's) in four formats."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus
from rich.console import Console
from rich.table import Table

from ..alerts.metrics import AlertMetrics
from ..health.metrics import HealthMetrics
from ..metrics.caches import CacheMetrics
from ..metrics.errors import ErrorMetrics
from ..metrics.exposition import render
from ..metrics.http import HttpMetrics
from ..metrics.operations import OperationMetrics
from ..metrics.registry import instruments_for
from ..metrics.runtime import RuntimeMetrics, add_process_collectors
from ..usage.metrics import UsageMetrics
from ..usage.service import ExportMetrics
from .options import ConfigOption, TokenOption, UrlOption
from .remote import OPENMETRICS_ACCEPT, PROMETHEUS_ACCEPT, USAGE_EXIT, Client, RemoteError, resolve_target
from .samples import quantile
from .status import format_value

metrics_app = typer.Typer(
    help="Read metrics: a running server's, or what this package exposes.", no_args_is_help=True
)

#: The instrument sets this package registers in a server's registry (for ``--local``).
INSTRUMENTS = (
    HttpMetrics,
    OperationMetrics,
    ErrorMetrics,
    RuntimeMetrics,
    CacheMetrics,
    AlertMetrics,
    HealthMetrics,
    UsageMetrics,
    ExportMetrics,
)


class DumpFormat(StrEnum):
    """How ``metrics dump`` prints."""

    prometheus = "prometheus"
    openmetrics = "openmetrics"
    json = "json"
    table = "table"


@metrics_app.command("dump")
def dump(
    url: UrlOption = None,
    local: Annotated[
        bool, typer.Option("--local", help="This package's metrics in a fresh registry, without a server.")
    ] = False,
    token: TokenOption = None,
    config: ConfigOption = None,
    output: Annotated[
        DumpFormat,
        typer.Option(
            "--format", "-f", help="prometheus or openmetrics text, json (one object per sample), table."
        ),
    ] = DumpFormat.prometheus,
    pattern: Annotated[
        str | None,
        typer.Option(
            "--filter",
            metavar="PATTERN",
            help="Only metrics whose name matches this glob, e.g. 'robutler_http_*'.",
        ),
    ] = None,
) -> None:
    """Print the metrics of a running server (or with --local, of this package) in one format."""
    try:
        if local and url:
            raise RemoteError("--url and --local exclude each other: a server's metrics, or this package's")
        text = _dump(url, local, token, config, output, pattern)
    except RemoteError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(USAGE_EXIT) from None
    if isinstance(text, Table):
        Console(highlight=False).print(text)
    else:
        typer.echo(text, nl=not text.endswith("\n"))


def _dump(
    url: str | None,
    local: bool,
    token: str | None,
    config: str | None,
    output: DumpFormat,
    pattern: str | None,
) -> str | Table:
    if local:
        families = list(local_registry().collect())
    else:
        target = resolve_target(url, token, config)
        want_om = output is DumpFormat.openmetrics
        with Client(target) as client:
            text, content_type = client.metrics_text(OPENMETRICS_ACCEPT if want_om else PROMETHEUS_ACCEPT)
        is_om = content_type.startswith("application/openmetrics-text")
        if not pattern and (want_om == is_om) and output in (DumpFormat.prometheus, DumpFormat.openmetrics):
            return text  # as the server wrote it
        try:
            families = list(parse_openmetrics(text) if is_om else parse_prometheus(text))  # type: ignore[no-untyped-call]
        except ValueError as exc:
            raise RemoteError(
                f"{target.url}{target.metrics_path} answered a page that is not {content_type}: {exc}"
            ) from None
    families = [_without_created(f) for f in _matching(families, pattern)]
    if output is DumpFormat.prometheus:
        return render(_Families(families)).decode()
    if output is DumpFormat.openmetrics:
        page: bytes = openmetrics.generate_latest(_Families(families))  # type: ignore[no-untyped-call]
        return page.decode()
    if output is DumpFormat.json:
        return json.dumps(list(as_json(families)), indent=1)
    return as_table(families)


def local_registry() -> CollectorRegistry:
    """A fresh registry with every instrument set of this package and the process collectors."""
    registry = CollectorRegistry()
    for factory in INSTRUMENTS:
        instruments_for(registry, factory)
    add_process_collectors(registry)
    return registry


class _Families:
    """A collector that yields already collected families."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def _matching(families: Iterable[Metric], pattern: str | None) -> Iterator[Metric]:
    for family in families:
        names = {family.name, *(s.name for s in family.samples)}
        if not pattern or any(fnmatch.fnmatchcase(n, pattern) for n in names):
            yield family


def _without_created(family: Metric) -> Metric:
    kept = [s for s in family.samples if not s.name.endswith("_created")]
    if len(kept) == len(family.samples):
        return family
    copy = Metric(family.name, family.documentation, family.type, family.unit)
    copy.samples = kept
    return copy


def as_json(families: Iterable[Metric]) -> Iterator[dict[str, object]]:
    """One object per sample: name, labels, value, type."""
    for family in families:
        for s in family.samples:
            yield {"name": s.name, "labels": dict(s.labels), "value": s.value, "type": family.type}


def as_table(families: Iterable[Metric]) -> Table:
    """A table of samples; each histogram child as sum, count and p50/p95/p99."""
    table = Table()
    for column in ("metric", "labels", "value", "count", "p50", "p95", "p99"):
        table.add_column(column, justify="left" if column in ("metric", "labels") else "right")
    for family in families:
        if family.type in ("histogram", "gaugehistogram"):
            unit = "_seconds" if family.name.endswith("_seconds") else "value"
            for labels, hist in _histograms(family).items():
                qs = [quantile(q, hist.buckets) for q in (0.5, 0.95, 0.99)]
                table.add_row(
                    family.name,
                    _labels(labels),
                    format_value(f"sum{unit}", hist.sum),
                    format_value("count", hist.count),
                    *(format_value(unit, q) for q in qs),
                )
            continue
        for s in family.samples:
            table.add_row(s.name, _labels(tuple(sorted(s.labels.items()))), format_value("value", s.value))
    return table


@dataclass
class _Histogram:
    buckets: dict[float, float] = field(default_factory=dict)
    sum: float | None = None
    count: float | None = None


def _histograms(family: Metric) -> dict[tuple[tuple[str, str], ...], _Histogram]:
    out: dict[tuple[tuple[str, str], ...], _Histogram] = {}
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        hist = out.setdefault(key, _Histogram())
        if s.name.endswith("_bucket"):
            hist.buckets[float(s.labels["le"])] = s.value
        elif s.name.endswith("_sum"):
            hist.sum = s.value
        elif s.name.endswith("_count"):
            hist.count = s.value
    return out


def _labels(items: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in items)
