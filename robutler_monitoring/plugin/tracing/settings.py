"""The tracing settings of one process, resolved with one precedence.

``enable_tracing()`` arguments, then ``robutler serve`` flags, then the environment
(``ROBUTLER_MONITORING__TRACING__*`` and the standard ``OTEL_*`` variables), then the
config file, then the defaults. The config loader does the last four; this module puts
the ``enable_tracing()`` arguments on top and picks the one export URL.

Jaeger has accepted OTLP natively since 1.35 and the Python Jaeger exporter is gone, so
a ``jaeger_endpoint`` of the legacy Thrift form (``http://host:14268/api/traces``) is
sent as OTLP/HTTP to the same host (``http://host:4318/v1/traces``), and the start-up
line says so. No OpenTelemetry import here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..config.schema import TracingConfig

DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
OTLP_PATH = "/v1/traces"
JAEGER_THRIFT_PORT = 14268
OTLP_HTTP_PORT = 4318
API_SOURCE = "enable_tracing()"

#: ``enable_tracing()`` keyword -> ``monitoring.tracing`` key
API_KEYS = (
    "service_name",
    "jaeger_endpoint",
    "otlp_endpoint",
    "sampler",
    "sampling_ratio",
    "capture_content",
    "resource_attributes",
)


@dataclass(frozen=True)
class TracingSettings:
    """What the tracing pipeline of this process does.

    >>> s = resolve(TracingConfig(enabled=True, jaeger_endpoint="http://jaeger:14268/api/traces"))
    >>> s.endpoint
    'http://jaeger:4318/v1/traces'
    >>> "http://jaeger:14268/api/traces is Jaeger's legacy Thrift endpoint" in s.endpoint_note
    True
    """

    enabled: bool
    service_name: str
    endpoint: str
    endpoint_source: str
    sampler: str
    sampling_ratio: float
    capture_content: bool
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    max_queue_size: int = 2048
    export_timeout: float = 10.0
    shutdown_timeout: float = 5.0
    endpoint_note: str | None = None  #: one start-up line when a Jaeger URL was mapped

    def startup_line(self) -> str:
        """Where spans go, for the start-up banner."""
        ratio = "" if "ratio" not in self.sampler else f", ratio {self.sampling_ratio:g}"
        return f"Tracing: {self.endpoint}  (service {self.service_name}, sampler {self.sampler}{ratio})"


def map_jaeger_endpoint(url: str) -> tuple[str, bool]:
    """The OTLP/HTTP URL for a ``jaeger_endpoint``, and whether it was the legacy Thrift form.

    ``http://host:14268/api/traces`` -> ``http://host:4318/v1/traces``; a legacy path on
    another port keeps its port (a proxy in front of Jaeger); any other URL is taken as
    an OTLP/HTTP URL (``/v1/traces`` is added to a bare host).

    >>> map_jaeger_endpoint("http://jaeger:14268/api/traces")
    ('http://jaeger:4318/v1/traces', True)
    >>> map_jaeger_endpoint("http://127.0.0.1:9999/api/traces")
    ('http://127.0.0.1:9999/v1/traces', True)
    >>> map_jaeger_endpoint("https://jaeger:4318")
    ('https://jaeger:4318/v1/traces', False)
    """
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/api/traces") or parts.port == JAEGER_THRIFT_PORT:
        netloc = parts.netloc
        if parts.port == JAEGER_THRIFT_PORT:
            netloc = netloc.rsplit(":", 1)[0] + f":{OTLP_HTTP_PORT}"
        return urlunsplit((parts.scheme, netloc, OTLP_PATH, "", "")), True
    return (url if path else urlunsplit((parts.scheme, parts.netloc, OTLP_PATH, parts.query, ""))), False


_RANK = {"default": 0, "env": 2, "flag": 3, API_SOURCE: 4}


def _rank(source: str) -> int:
    head = source.split(" ", 1)[0]
    return _RANK.get(source, _RANK.get(head, 1))  # anything else is the config file


def resolve(
    cfg: TracingConfig,
    sources: Mapping[str, str] | None = None,
    api: Mapping[str, Any] | None = None,
) -> TracingSettings:
    """Tracing settings from the resolved config (and its sources) with ``enable_tracing()`` on top.

    ``sources`` maps ``tracing.<key>`` to where the value came from (``ResolvedConfig.sources``).
    """
    sources = dict(sources or {})
    given = {k: v for k, v in (api or {}).items() if v is not None}
    if given:
        merged = {**cfg.model_dump(), **given, "enabled": True}
        cfg = TracingConfig.model_validate(merged)  # names the key and value when wrong
        for key in given:
            sources[f"tracing.{key}"] = API_SOURCE
    endpoint, source, note = _pick_endpoint(cfg, sources)
    return TracingSettings(
        enabled=cfg.enabled,
        service_name=cfg.service_name,
        endpoint=endpoint,
        endpoint_source=source,
        sampler=cfg.sampler,
        sampling_ratio=cfg.sampling_ratio,
        capture_content=cfg.capture_content,
        resource_attributes=dict(cfg.resource_attributes),
        max_queue_size=cfg.max_queue_size,
        export_timeout=cfg.export_timeout,
        shutdown_timeout=cfg.shutdown_timeout,
        endpoint_note=note,
    )


def _pick_endpoint(cfg: TracingConfig, sources: Mapping[str, str]) -> tuple[str, str, str | None]:
    """The export URL from the higher-precedence of ``otlp_endpoint`` and ``jaeger_endpoint``."""
    otlp_source = sources.get("tracing.otlp_endpoint", "default")
    jaeger_source = sources.get("tracing.jaeger_endpoint", "default")
    use_jaeger = cfg.jaeger_endpoint is not None and (
        cfg.otlp_endpoint is None or _rank(jaeger_source) > _rank(otlp_source)
    )
    if use_jaeger and cfg.jaeger_endpoint is not None:
        url, legacy = map_jaeger_endpoint(cfg.jaeger_endpoint)
        note = None
        if legacy:
            note = (
                f"Tracing: jaeger_endpoint {cfg.jaeger_endpoint} is Jaeger's legacy Thrift endpoint; "
                f"sending OTLP/HTTP to {url} (Jaeger >= 1.35 accepts OTLP)"
            )
        return url, jaeger_source, note
    if cfg.otlp_endpoint is not None:
        return cfg.otlp_endpoint, otlp_source, None
    return DEFAULT_ENDPOINT, "default", None
