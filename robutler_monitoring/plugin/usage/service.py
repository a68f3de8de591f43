"""Usage in one serving process: recorder, pricer, spool, exporter, their metrics and health.

The usage concern is a thin adapter around :class:`UsageService`; so is
:func:`robutler_monitoring.instrument`. Every worker of a server runs one.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry, Counter, Gauge

from ...host.types import ASGIApp
from ..config.schema import UsageConfig
from ..metrics.errors import ErrorMetrics
from ..metrics.registry import instruments_for
from .budget_sync import BudgetMetrics, BudgetSync
from .budgets import BudgetGuard, BudgetTracker
from .cost import ModelPrice, Pricer, TokenCounts
from .exporter import Exporter
from .metrics import UsageMetrics
from .recorder import UsageRecorder
from .sinks import HttpSink, JsonlSink, Sink
from .spool import Spool, SpoolStats
from .spool_loop import ErrorReport
from .summary import parse_duration
from .totals import read_totals

if TYPE_CHECKING:
    from ..metrics.known import KnownLabels

__all__ = ["ExportMetrics", "UsageService"]


class ExportMetrics:
    """``robutler_usage_*``: the spool and the export."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.spool_records = Gauge(
            "robutler_usage_spool_records",
            "Usage records in the spool that some sink still lacks.",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.oldest_age = Gauge(
            "robutler_usage_spool_oldest_unsent_age_seconds",
            "Age of the oldest unsent usage record (0: none waiting).",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.dropped = Gauge(
            "robutler_usage_spool_dropped_records",
            "Usage records dropped because the spool was full (since the spool was made).",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.sent = Counter(
            "robutler_usage_exported_records",
            "Usage records delivered, by sink.",
            ("sink",),
            registry=registry,
        )
        self.failed = Counter(
            "robutler_usage_export_failures", "Failed export attempts, by sink.", ("sink",), registry=registry
        )
        self.commit_timeouts = Counter(
            "robutler_usage_commit_wait_timeouts",
            "Responses that ended before their usage records were on disk (commit_wait passed).",
            registry=registry,
        )

    def stats(self, stats: SpoolStats) -> None:
        self.spool_records.set(stats.records)
        self.oldest_age.set(stats.oldest_unsent_age_s or 0.0)
        self.dropped.set(stats.dropped)


def _metrics_factory(limit: int) -> Callable[[CollectorRegistry], UsageMetrics]:
    # one UsageMetrics per registry whatever the limit: the registry refuses a second set
    return lambda registry: UsageMetrics(registry, limit)


class UsageService:
    """Usage records of one process, from subscribe to stop.

    >>> from prometheus_client import CollectorRegistry
    >>> from robutler_monitoring.events import EventBus, record_llm_call
    >>> from robutler_monitoring.plugin.config.schema import UsageConfig
    >>> service, bus = UsageService(UsageConfig(), CollectorRegistry()), EventBus()
    >>> service.subscribe(bus)
    >>> _ = record_llm_call("gpt-4o-mini", input_tokens=10, bus=bus)
    >>> service.recorder.flush()
    True
    >>> service.recorder.recent[-1]["cost_usd"]
    1.5e-06
    """

    def __init__(self, cfg: UsageConfig, registry: CollectorRegistry) -> None:
        self.cfg = cfg
        overrides = {
            name: ModelPrice(
                Decimal(str(p.input)),
                Decimal(str(p.output)),
                None if p.cache_read is None else Decimal(str(p.cache_read)),
                None if p.cache_write is None else Decimal(str(p.cache_write)),
            )
            for name, p in cfg.prices.items()
        }
        self.metrics = _usage_metrics(registry, cfg.max_label_values)
        self.export_metrics = instruments_for(registry, ExportMetrics)
        self._last_stats: SpoolStats | None = None
        spool_dir = cfg.spool_dir
        sinks = self._sinks()
        names = tuple(s.name for s in sinks)
        spool_factory: Callable[[], Spool] | None = None
        if spool_dir is not None:
            max_records, retention_s = cfg.max_spool_records, cfg.retention

            def spool_factory() -> Spool:
                return Spool(spool_dir, sinks=names, max_records=max_records, retention_s=retention_s)

        self.budgets = BudgetTracker(cfg.budgets)
        self.budget_sync: BudgetSync | None = None
        if cfg.budgets and spool_factory is not None:  # the config wants a spool with budgets
            metrics = instruments_for(registry, BudgetMetrics)
            errors = instruments_for(registry, ErrorMetrics)
            report = ErrorReport(
                "budgets: reading today's spend from the spool",
                count=lambda exc: errors.count(exc, "budget_sync"),
            )
            self.budget_sync = BudgetSync(self.budgets, spool_factory, metrics=metrics, on_error=report)
        self.recorder = UsageRecorder(
            Pricer(overrides, library=cfg.price_library),
            self.metrics,
            spool_factory=spool_factory,
            on_record=self.budgets.add,
            commit_wait_s=cfg.commit_wait,
            on_commit_timeout=self.export_metrics.commit_timeouts.inc,
            caller_header=cfg.caller_header,
        )
        self.exporter: Exporter | None = None
        if spool_factory is not None and sinks:
            http = cfg.export.http
            self.exporter = Exporter(
                spool_factory,
                sinks,
                batch_size=http.batch_size if http else 100,
                max_backoff_s=http.max_backoff if http else 60.0,
                on_sent=lambda sink, n: self.export_metrics.sent.labels(sink).inc(n),
                on_failed=lambda sink, exc: self.export_metrics.failed.labels(sink).inc(),
                on_stats=self._stats,
            )

    def declare(self, known: KnownLabels) -> None:
        """The usage series of the served app's known tools and models start at 0."""
        self.metrics.declare_tools(known.tools)
        self.metrics.declare_models(known.models, self._priced)

    def _priced(self, model: str) -> bool:
        try:
            return self.recorder.pricer.price(model, TokenCounts()).cost_usd is not None
        except Exception:  # a pricing failure shows at the first call; start-up goes on
            return False

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The app behind the budget guard when a budget is hard (429 before the agent runs)."""
        if any(budget.hard for budget in self.cfg.budgets):
            return BudgetGuard(app, self.budgets)
        return app

    def _sinks(self) -> list[Sink]:
        from ..logging.outputs import parse_size

        export = self.cfg.export
        sinks: list[Sink] = []
        if export.jsonl is not None:
            sinks.append(
                JsonlSink(
                    export.jsonl.path, max_bytes=parse_size(export.jsonl.rotation), keep=export.jsonl.keep
                )
            )
        if export.http is not None:
            sinks.append(
                HttpSink(
                    export.http.url,
                    source=export.source,
                    headers=export.http.headers,
                    timeout=export.http.timeout,
                )
            )
        return sinks

    def _stats(self, stats: SpoolStats) -> None:
        self._last_stats = stats
        self.export_metrics.stats(stats)

    def subscribe(self, bus: Any) -> None:
        """Subscribe the recorder to the LLM and tool operations of ``bus`` (an EventBus or a Runtime)."""
        self.recorder.subscribe(bus)

    def start(self) -> None:
        """Start the writer thread and, with a sink, the exporter."""
        self.recorder.start()
        if self.budget_sync is not None:
            self.budget_sync.start()
        if self.exporter is not None:
            self.exporter.start()

    def stop(self) -> None:
        """Write what is pending, stop the exporter (the spool keeps what is unsent)."""
        self.recorder.stop()
        if self.budget_sync is not None:
            self.budget_sync.stop()
        if self.exporter is not None:
            self.exporter.stop()

    def health(self) -> dict[str, Any]:
        """``usage:spool``: warn when the oldest unsent record is older than ``warn_unsent_age``."""
        stats = self._last_stats
        if stats is None:
            return {"status": "pass", "output": "no spool statistics yet"}
        age = stats.oldest_unsent_age_s or 0.0
        entry: dict[str, Any] = {"observedValue": round(age, 3), "status": "pass"}
        if age > self.cfg.warn_unsent_age:
            entry["status"] = "warn"
            entry["output"] = (
                f"{stats.records} usage record(s) unsent; the oldest has waited {age:.0f} s "
                f"(monitoring.usage.warn_unsent_age: {self.cfg.warn_unsent_age:g} s)"
            )
        return entry

    async def usage_endpoint(self, scope: Any, receive: Any, send: Any) -> None:
        """``GET /usage``: the server's hourly totals and this worker's latest records, as JSON.

        ``totals`` (with a spool): every worker's usage, from the spool they share;
        ``?since=24h`` keeps the hours that end within it. ``records``: the latest records
        of the worker that answers (``?records=N``: the last N; 0: none).
        """
        if scope.get("method") not in ("GET", "HEAD"):
            await _respond(send, 405, {"error": "method not allowed; use GET"}, [(b"allow", b"GET, HEAD")])
            return
        try:
            since_s, limit = _usage_query(scope.get("query_string", b""))
        except ValueError as exc:
            await _respond(send, 400, {"error": str(exc)})
            return
        records = list(self.recorder.recent)
        if limit is not None:
            records = records[len(records) - limit :] if limit else []
        # in a thread: SQLite reads the disk, and a year of hourly totals is megabytes of JSON
        data = await asyncio.to_thread(self._usage_json, records, since_s)
        await _send_json(send, 200, data)

    def _usage_json(self, records: list[dict[str, Any]], since_s: float | None) -> bytes:
        body: dict[str, Any] = {"records": records, "count": len(records)}
        if self.cfg.spool_dir is not None:
            body["totals"] = read_totals(self.cfg.spool_dir, since_s)
        return _json(body)


def _usage_query(query: bytes) -> tuple[float | None, int | None]:
    """``since`` (a duration) and ``records`` (a count) of ``GET /usage``; ValueError names the bad one."""
    params = parse_qs(query.decode("latin-1"))
    since_s = limit = None
    if "since" in params:
        text = params["since"][-1]
        try:
            since_s = parse_duration(text)
        except ValueError as exc:
            raise ValueError(f"query parameter since: {exc}") from None
    if "records" in params:
        text = params["records"][-1]
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"query parameter records: {text!r} is not a count; expected 0, 1, 2, ...")
        limit = int(text)
    return since_s, limit


_metrics_lock = threading.Lock()


def _usage_metrics(registry: CollectorRegistry, limit: int) -> UsageMetrics:
    return instruments_for(registry, _usage_metrics_factory(limit))


_FACTORIES: dict[int, Callable[[CollectorRegistry], UsageMetrics]] = {}


def _usage_metrics_factory(limit: int) -> Callable[[CollectorRegistry], UsageMetrics]:
    with _metrics_lock:
        found = _FACTORIES.get(limit)
        if found is None:
            found = _FACTORIES[limit] = _metrics_factory(limit)
        return found


async def _respond(
    send: Any, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send_json(send, status, _json(body), headers)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, default=str).encode()


async def _send_json(
    send: Any, status: int, data: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
