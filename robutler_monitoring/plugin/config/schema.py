"""The typed, frozen shape of the ``monitoring:`` section of the config file.

Every model forbids unknown keys and is immutable once built; the loader
(:mod:`.loader`) is the only place that reads files and the environment.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from ...levels import LEVELS, normalize_level
from ..metrics.buckets import DURATION_BUCKETS
from ..secrets import is_secret_param

LOG_LEVELS = tuple(LEVELS)

#: Alert event names and what triggers them.
ALERT_EVENTS = {
    "error": "the error rate goes above threshold.error_rate",
    "performance": "the response time goes above threshold.response_time",
    "performance_degradation": "same as performance (the name the product docs use)",
    "health": "the detailed health check turns to fail",
    "budget": "today's usage reaches a budget's soft_share, or its daily limit (monitoring.usage.budgets)",
}

_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _normalize_level(value: Any) -> Any:
    if isinstance(value, str):
        level = normalize_level(value)
        if level is None:
            raise ValueError(f"unknown log level; expected one of {', '.join(LOG_LEVELS)}")
        return level
    return value


def _blank_to_none(value: Any) -> Any:
    # `password: "${SMTP_PASSWORD:-}"` with the variable unset means "not set", not "empty secret"
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"bad port in URL: {exc}") from None
    return value


def _check_path(value: str) -> str:
    if not value.startswith("/") or any(c in value for c in " ?#") or "//" in value:
        raise ValueError("expected an absolute URL path such as '/metrics'")
    return value.rstrip("/") or "/"


def _check_email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError("expected an email address such as 'ops@example.com'")
    return value


LogLevel = Annotated[str, BeforeValidator(_normalize_level)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
UrlPath = Annotated[str, AfterValidator(_check_path)]
EmailAddress = Annotated[str, AfterValidator(_check_email)]
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_blank_to_none)]
AlertEvent = Literal["error", "performance", "performance_degradation", "health", "budget"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class MetricsConfig(_Model):
    """``monitoring.metrics``: the Prometheus endpoint."""

    enabled: bool = True
    endpoint: UrlPath = "/metrics"
    collect_interval: float = Field(default=10.0, gt=0, le=3600)
    multiprocess_dir: str | None = Field(
        default=None,
        min_length=1,
        description="parent folder of the per-start multiprocess directory (--workers > 1); "
        "default: the temp dir",
    )


def _check_rotation(value: str) -> str:
    from ..logging.outputs import parse_size

    parse_size(value)
    return value


def _check_retention(value: str) -> str:
    from ..logging.outputs import parse_retention

    parse_retention(value)
    return value


class LoggingConfig(_Model):
    """``monitoring.logging``: the one log sink of the server."""

    level: LogLevel = "INFO"
    format: Literal["json", "console"] = "json"
    output: str = Field(default="stdout", min_length=1)
    rotation: Annotated[str, AfterValidator(_check_rotation)] | None = Field(
        default=None, description="rotate a file output at this size, e.g. '50 MB' or '512 KiB'"
    )
    retention: Annotated[str, AfterValidator(_check_retention)] | None = Field(
        default=None, description="rotated files to keep: a count ('10 files') or an age ('7 days')"
    )
    access_log: bool = True
    #: unless set, the monitoring endpoints wherever they are configured (see MonitoringConfig)
    access_log_skip_paths: tuple[UrlPath, ...] = (
        "/health",
        "/health/ready",
        "/health/detailed",
        "/metrics",
        "/alerts",
        "/alerts/silences",
    )
    queue_size: int = Field(default=10000, ge=100, le=10_000_000)


class HealthChecksConfig(_Model):
    """``monitoring.health_checks``: liveness and detailed health."""

    enabled: bool = True
    endpoint: UrlPath = "/health"
    detailed_endpoint: UrlPath = "/health/detailed"
    readiness_endpoint: UrlPath = "/health/ready"
    check_timeout: float = Field(default=2.0, gt=0, le=60)
    memory_warn_percent: float = Field(default=90.0, gt=0, le=100)
    event_loop_lag_warn_ms: float = Field(default=200.0, gt=0)
    event_loop_lag_fail_ms: float = Field(default=2000.0, gt=0)

    @model_validator(mode="after")
    def _check_lag_thresholds(self) -> HealthChecksConfig:
        if self.event_loop_lag_warn_ms >= self.event_loop_lag_fail_ms:
            raise ValueError(
                f"event_loop_lag_warn_ms ({self.event_loop_lag_warn_ms}) must be below "
                f"event_loop_lag_fail_ms ({self.event_loop_lag_fail_ms})"
            )
        return self


#: ``OTEL_TRACES_SAMPLER`` values; ``parentbased_*`` follow an incoming sampled flag.
SamplerName = Literal[
    "parentbased_traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "traceidratio",
    "always_on",
    "always_off",
]


class TracingConfig(_Model):
    """``monitoring.tracing``: OpenTelemetry tracing, exported over OTLP/HTTP.

    Besides ``ROBUTLER_MONITORING__TRACING__*``, the standard ``OTEL_*`` variables set
    these keys (``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``,
    ``OTEL_TRACES_SAMPLER[_ARG]``, ``OTEL_RESOURCE_ATTRIBUTES``).
    """

    enabled: bool = False
    service_name: str = Field(default="robutler", min_length=1)
    otlp_endpoint: HttpUrl | None = Field(
        default=None,
        description="OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces "
        "(default: http://localhost:4318/v1/traces)",
    )
    jaeger_endpoint: HttpUrl | None = Field(
        default=None,
        description="Jaeger collector URL; the legacy http://host:14268/api/traces is sent to "
        "the same host's OTLP/HTTP endpoint http://host:4318/v1/traces",
    )
    sampler: SamplerName = "parentbased_traceidratio"
    sampling_ratio: float = Field(default=1.0, ge=0, le=1, description="share of new traces kept")
    capture_content: bool = Field(
        default=False,
        description="record prompts, completions and tool arguments on spans, and keep the conversation "
        "text in the Robutler SDK's DEBUG log lines (read even when tracing is off)",
    )
    resource_attributes: dict[str, str] = Field(default_factory=dict)
    max_queue_size: int = Field(default=2048, ge=16, le=1_000_000)
    export_timeout: float = Field(default=10.0, gt=0, le=300, description="seconds per export")
    shutdown_timeout: float = Field(default=5.0, ge=0, le=300, description="seconds to flush at exit")


_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d|w))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_HINT = "expected seconds as a number or a duration such as '30s', '5m', '4h' or '1h30m'"


def parse_duration(value: Any) -> Any:
    """Seconds from a number or a Prometheus-style duration (``"90s"``, ``"5m"``, ``"1h30m"``)."""
    if isinstance(value, bool):
        raise ValueError(_DURATION_HINT)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            return float(text)
        except ValueError:
            pass
        if _DURATION_RE.match(text):
            return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
        raise ValueError(_DURATION_HINT)
    return value


def format_duration(seconds: float) -> str:
    """``300.0`` -> ``"5m"``; the shortest Prometheus duration for whole seconds."""
    if seconds < 1 or seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            out += f"{whole // size}{unit}"
            whole %= size
    return out


def _check_alert_url(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if scheme.lower() in ("http", "https"):
        return _check_http_url(value)
    if not sep or not re.match(r"^[a-z][a-z0-9+.-]*$", scheme, re.I) or not rest:
        raise ValueError("expected an http(s):// URL or an apprise URL such as 'slack://...'")
    from ..alerts.apprise_channel import apprise_problem

    problem = apprise_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
AlertUrl = Annotated[str, AfterValidator(_check_alert_url)]
#: What a channel gets when it names no events (the documentation's examples alert on all three).
DEFAULT_ALERT_EVENTS: tuple[AlertEvent, ...] = ("error", "performance_degradation", "health")


class _AlertModel(_Model):
    # `for` is a Python keyword: the field is `for_`, the key users write is `for`.
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, populate_by_name=True, serialize_by_alias=True
    )


class ThresholdConfig(_AlertModel):
    """When a channel's events fire: the documentation's example values by default."""

    error_rate: float = Field(default=0.05, gt=0, le=1, description="a fraction: 0.05 is 5 %")
    response_time: float = Field(default=5000.0, gt=0, description="p95 in milliseconds")


class AlertTimingOverrides(_AlertModel):
    """The timing keys a channel may set for itself (unset: ``monitoring.alerts``' value)."""

    evaluation_interval: Duration | None = None
    window: Duration | None = None
    for_: Annotated[float, BeforeValidator(parse_duration), Field(ge=0)] | None = Field(
        default=None, alias="for"
    )
    min_requests: int | None = Field(default=None, ge=1)
    repeat_interval: Duration | None = None
    send_resolved: bool | None = None


class ChannelConfig(AlertTimingOverrides):
    """What every channel (webhook, email, Alertmanager) takes: which events, at which thresholds."""

    name: str | None = Field(default=None, min_length=1, max_length=64)
    events: tuple[AlertEvent, ...] = Field(default=DEFAULT_ALERT_EVENTS, min_length=1)
    threshold: ThresholdConfig = ThresholdConfig()
    timeout: Duration = Field(default=10.0, le=300, description="seconds per delivery attempt")
    retries: int = Field(default=3, ge=0, le=20)


def _check_ca_file(value: str | None) -> str | None:
    if value is None:
        return None
    import ssl

    try:
        ssl.create_default_context(cafile=value)
    except OSError as exc:  # ssl.SSLError is an OSError too
        reason = exc.strerror or getattr(exc, "reason", None) or exc
        raise ValueError(f"cannot load CA certificates from {value!r} ({reason})") from None
    return value


def _tls_mode(port: int, host: str | None) -> Literal["starttls", "ssl", "none"]:
    if port == 465:
        return "ssl"
    if host in ("localhost", "127.0.0.1", "::1") and port != 587:
        return "none"
    return "starttls"


class EmailConfig(ChannelConfig):
    """``monitoring.alerts.email`` (also accepted at ``monitoring.email``): SMTP delivery."""

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: OptionalSecret = None
    sender: EmailAddress | None = None
    recipients: tuple[EmailAddress, ...] = ()
    tls: Literal["starttls", "ssl", "none"] | None = Field(
        default=None, description="default: ssl on port 465, none for a localhost relay, else starttls"
    )
    ca_file: Annotated[str | None, AfterValidator(_check_ca_file)] = Field(
        default=None,
        description="PEM file of the CA(s) that signed the SMTP server's certificate, trusted instead of "
        "the system's (a private CA); the host name is still checked",
    )

    @property
    def tls_mode(self) -> Literal["starttls", "ssl", "none"]:
        """The TLS mode to use: the configured one, else chosen from the port and host."""
        return self.tls or _tls_mode(self.smtp_port, self.smtp_host)

    @property
    def from_address(self) -> str | None:
        """``sender``, else ``username`` when it is an address."""
        if self.sender:
            return self.sender
        if self.username and _EMAIL_RE.match(self.username):
            return self.username
        return None

    @property
    def configured(self) -> bool:
        """True when this channel can send: a host, recipients and a sender."""
        return bool(self.smtp_host and self.recipients and self.from_address)


class WebhookConfig(ChannelConfig):
    """One entry of ``monitoring.alerts.webhooks``: an http(s) URL or any apprise URL."""

    url: AlertUrl
    headers: dict[str, str] = Field(default_factory=dict)
    format: Literal["json", "alertmanager"] = Field(
        default="json", description="json: this package's fields; alertmanager: Alertmanager's v4 webhook"
    )


class AlertmanagerConfig(ChannelConfig):
    """One entry of ``monitoring.alerts.alertmanager``: an Alertmanager to post alerts to."""

    url: HttpUrl
    headers: dict[str, str] = Field(default_factory=dict)


def _check_bucket(value: float) -> float:
    """A latency bound must be a bucket boundary: the burn rate is read from that ``le`` bucket."""
    for bound in DURATION_BUCKETS:
        if abs(value - bound) <= 1e-9 * bound:
            return bound
    nearest = min(DURATION_BUCKETS, key=lambda b: abs(b - value))
    allowed = ", ".join(f"{b:g}" for b in DURATION_BUCKETS)
    raise ValueError(
        f"{value:g} s is not a bucket boundary of the time-to-first-byte histogram (the burn rate is "
        f"read from one bucket); the nearest is {nearest:g}; allowed (seconds): {allowed}"
    )


class LatencySloConfig(_AlertModel):
    """``monitoring.alerts.slo.latency``: ``target`` of requests start answering within ``threshold``."""

    threshold: Annotated[float, BeforeValidator(parse_duration), AfterValidator(_check_bucket)] = Field(
        description="seconds (or '2500ms'), a bucket boundary of the time-to-first-byte histogram: "
        + ", ".join(f"{b:g}" for b in DURATION_BUCKETS)
    )
    target: float = Field(gt=0, lt=1, description="e.g. 0.99: 99 % of requests under threshold")


class SloConfig(_AlertModel):
    """``monitoring.alerts.slo``: availability and latency objectives, alerted on by budget burn rate."""

    availability: float | None = Field(
        default=None, gt=0, lt=1, description="e.g. 0.999: 99.9 % of requests succeed (none: no SLO alerts)"
    )
    latency: LatencySloConfig | None = Field(
        default=None, description="e.g. {threshold: 2.5, target: 0.99} (none: no latency SLO alerts)"
    )


class AlertsConfig(_AlertModel):
    """``monitoring.alerts``: which rules run and who is told when they fire."""

    enabled: bool = True
    evaluation_interval: Duration = 10.0
    window: Duration = 300.0
    for_: Annotated[float, BeforeValidator(parse_duration), Field(ge=0)] = Field(default=60.0, alias="for")
    min_requests: int = Field(default=20, ge=1)
    repeat_interval: Duration = 4 * 3600.0
    send_resolved: bool = True
    external_url: HttpUrl | None = Field(
        default=None, description="address used in links and as `instance` (default: the served URL)"
    )
    endpoint: UrlPath = "/alerts"
    state_dir: str | None = Field(
        default=None,
        min_length=1,
        description="folder of the rule state and silences (default: ~/.local/state/robutler)",
    )
    queue_size: int = Field(default=1000, ge=1, le=1_000_000)
    shutdown_timeout: Duration = Field(default=5.0, le=120)
    email: EmailConfig = EmailConfig()
    webhooks: tuple[WebhookConfig, ...] = ()
    alertmanager: tuple[AlertmanagerConfig, ...] = ()
    slo: SloConfig = SloConfig()

    @model_validator(mode="after")
    def _check_channel_names(self) -> AlertsConfig:
        names = [c.name for c in (*self.webhooks, *self.alertmanager, self.email) if c.name]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"channel names must be unique; {', '.join(map(repr, dupes))} is used twice")
        return self


class ServerConfig(_Model):
    """``monitoring.server``: limits and tuning of the HTTP server (``robutler serve`` flags win)."""

    max_header_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    gc_freeze: bool = Field(
        default=True,
        description="after start-up, move the objects alive then out of the garbage collector's reach "
        "(gc.freeze): full collections under load walk only new objects",
    )
    gc_threshold: int | None = Field(
        default=7000,
        ge=100,
        le=10_000_000,
        description="the garbage collector's first threshold in each worker (gc.set_threshold): "
        "young objects are collected every this many net allocations (Python's default is 700); "
        "null leaves Python's",
    )


class PriceConfig(_Model):
    """One entry of ``monitoring.usage.prices``: USD per million tokens (cache prices default to input)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class JsonlExportConfig(_Model):
    """``monitoring.usage.export.jsonl``: usage records appended to a JSON-lines file."""

    path: str = Field(min_length=1)
    rotation: Annotated[str, AfterValidator(_check_rotation)] = Field(
        default="50 MB", description="start a new file at this size"
    )
    keep: int = Field(default=10, ge=1, le=10_000, description="rotated files to keep")


class HttpExportConfig(_Model):
    """``monitoring.usage.export.http``: CloudEvents 1.0 JSON batches POSTed to a URL."""

    url: HttpUrl
    headers: dict[str, str] = Field(default_factory=dict)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    timeout: float = Field(default=10.0, gt=0, le=300)
    max_backoff: float = Field(default=60.0, gt=0, le=3600, description="seconds between retries at most")


class UsageExportConfig(_Model):
    """``monitoring.usage.export``: where spooled usage records go (at least once)."""

    jsonl: JsonlExportConfig | None = None
    http: HttpExportConfig | None = None
    source: str = Field(default="robutler", min_length=1, description="CloudEvents `source`")


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BUDGET_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _check_header_name(value: str | None) -> str | None:
    if value is not None and not _HEADER_NAME.match(value):
        raise ValueError("expected an HTTP header name such as 'x-user-id'")
    return value


def _check_caller_header(value: str | None) -> str | None:
    value = _check_header_name(value)
    if value is not None and is_secret_param(value):
        # its value would be stored verbatim in every usage record, GET /usage and the exports
        raise ValueError(
            f"{value!r} carries credentials, which would be stored in every usage record; "
            "name a header that identifies the caller, such as 'x-user-id'"
        )
    return value


def _check_budget_name(value: str | None) -> str | None:
    if value is not None and not _BUDGET_NAME.match(value):
        raise ValueError("expected letters, digits, '_', '.' and '-' only, such as 'support-daily'")
    return value


class BudgetConfig(_Model):
    """One entry of ``monitoring.usage.budgets``: a daily (UTC) spend or token budget."""

    name: Annotated[str | None, AfterValidator(_check_budget_name)] = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the `budget` label of its alerts and metrics (default: from agent and model)",
    )
    agent: str = Field(default="*", min_length=1, description="agent name, or * for every agent together")
    model: str = Field(default="*", min_length=1, description="model name, or * for every model together")
    daily_usd: float | None = Field(default=None, gt=0)
    daily_tokens: int | None = Field(default=None, gt=0)
    soft_share: float = Field(
        default=0.8, gt=0, le=1, description="share of the budget that raises a warning"
    )
    hard: bool = Field(default=False, description="over budget: answer the agent's new requests with 429")

    @model_validator(mode="after")
    def _check_limit(self) -> BudgetConfig:
        if (self.daily_usd is None) == (self.daily_tokens is None):
            raise ValueError("a budget needs exactly one of daily_usd or daily_tokens")
        return self


class UsageConfig(_Model):
    """``monitoring.usage``: LLM and tool usage records, their cost, metrics and export."""

    enabled: bool = True
    endpoint: UrlPath = Field(
        default="/usage",
        description="the latest records as JSON (`monitor usage --url`); token like /metrics",
    )
    prices: dict[str, PriceConfig] = Field(
        default_factory=dict, description="per-model price overrides, USD per million tokens"
    )
    price_library: bool = Field(default=True, description="price models with genai-prices")
    max_label_values: int = Field(
        default=200, ge=1, le=100_000, description="distinct agent/model/tool values per metric"
    )
    spool_dir: str | None = Field(
        default=None, min_length=1, description="directory of the on-disk spool (needed for export)"
    )
    max_spool_records: int = Field(default=1_000_000, ge=100, le=1_000_000_000)
    retention: Annotated[float, BeforeValidator(parse_duration)] = Field(
        default=0.0,
        ge=0,
        le=400 * 86400,
        description=(
            "seconds a record stays in the spool once no sink needs it (with no sink: once stored); "
            "0: deleted at once (the hourly totals keep the sums)"
        ),
    )
    commit_wait: Annotated[float, BeforeValidator(parse_duration)] = Field(
        default=1.0,
        ge=0,
        le=60,
        description="seconds a response's last byte waits for its usage records to be on disk; 0: no wait",
    )
    warn_unsent_age: float = Field(
        default=600.0, gt=0, description="seconds; /health/detailed warns beyond this"
    )
    export: UsageExportConfig = UsageExportConfig()
    budgets: tuple[BudgetConfig, ...] = ()
    caller_header: Annotated[str | None, AfterValidator(_check_caller_header)] = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="request header naming the caller (e.g. x-user-id), recorded as `caller`",
    )

    @model_validator(mode="after")
    def _check_spool(self) -> UsageConfig:
        if (self.export.jsonl or self.export.http) and not self.spool_dir:
            raise ValueError("usage.export needs usage.spool_dir (records wait there until sent)")
        if self.budgets and not self.spool_dir:
            raise ValueError(
                "usage.budgets needs usage.spool_dir (every worker adds today's spend there; "
                "it survives restarts)"
            )
        from ..usage.budget_names import budget_names

        budget_names(self.budgets)  # two budgets with one name are refused
        return self


class MonitoringConfig(_Model):
    """The whole ``monitoring:`` section, resolved from defaults, file, environment and flags.

    >>> cfg = MonitoringConfig.model_validate({"metrics": {"endpoint": "/prom"}})
    >>> cfg.metrics.endpoint
    '/prom'
    """

    enabled: bool = True
    auth_token: OptionalSecret = Field(
        default=None, description="bearer token required on the metrics and detailed health endpoints"
    )
    server_url: HttpUrl = Field(
        default="http://127.0.0.1:8000",
        description="where `robutler monitor status` and `metrics dump` find the running server",
    )
    metrics: MetricsConfig = MetricsConfig()
    logging: LoggingConfig = LoggingConfig()
    health_checks: HealthChecksConfig = HealthChecksConfig()
    tracing: TracingConfig = TracingConfig()
    alerts: AlertsConfig = AlertsConfig()
    server: ServerConfig = ServerConfig()
    usage: UsageConfig = UsageConfig()

    @model_validator(mode="after")
    def _check_endpoints_distinct(self) -> MonitoringConfig:
        seen: dict[str, str] = {}
        hc = self.health_checks
        for key, path in (
            ("metrics.endpoint", self.metrics.endpoint),
            ("health_checks.endpoint", hc.endpoint),
            ("health_checks.detailed_endpoint", hc.detailed_endpoint),
            ("health_checks.readiness_endpoint", hc.readiness_endpoint),
            ("usage.endpoint", self.usage.endpoint),
            ("alerts.endpoint", self.alerts.endpoint),
        ):
            if path in seen:
                raise ValueError(f"{key} {path!r} is already used by {seen[path]}")
            seen[path] = key
        return self

    @model_validator(mode="after")
    def _skip_the_endpoints_where_they_are(self) -> MonitoringConfig:
        # probes and scrapes stay out of the access log when an endpoint is moved
        # (`metrics.endpoint: /prom`), unless the skip list was set explicitly
        if "access_log_skip_paths" in self.logging.model_fields_set:
            return self
        hc = self.health_checks
        alerts = self.alerts.endpoint
        paths: tuple[str, ...] = (
            hc.endpoint,
            hc.readiness_endpoint,
            hc.detailed_endpoint,
            self.metrics.endpoint,
        )
        paths += (alerts, f"{alerts}/silences")
        if paths != self.logging.access_log_skip_paths:
            logging = self.logging.model_copy(update={"access_log_skip_paths": paths})
            logging.__pydantic_fields_set__.discard("access_log_skip_paths")  # still a default
            object.__setattr__(self, "logging", logging)  # frozen: set once, while validating
        return self
