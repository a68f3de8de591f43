"""Talk to a running server: where it is, its token, its detailed health and its metrics.

Every failure becomes a :class:`RemoteError` with one line for the operator and exit
code 2 (unreachable, unauthorized, not found, bad argument); a health document that says
``fail`` is an answer, not an error.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ...host import current_host_info
from ..config.errors import ConfigError
from ..config.loader import load_config, resolve_config_path
from ..config.schema import MonitoringConfig
from .samples import Samples

#: Exit code for unreachable, unauthorized and bad arguments (Docker reserves 2 as well).
USAGE_EXIT = 2

PROMETHEUS_ACCEPT = "text/plain; version=0.0.4"
OPENMETRICS_ACCEPT = "application/openmetrics-text; version=1.0.0"


class RemoteError(Exception):
    """A one-line reason why the server could not be asked; exit code 2."""


class NotFound(RemoteError):
    """The server answered 404: the endpoint is off or at another path."""


@dataclass(frozen=True)
class Target:
    """A server to ask, and the monitoring paths of its configuration."""

    url: str
    token: str | None
    detailed_path: str
    metrics_path: str
    monitoring_paths: frozenset[str]
    timeout: float = 10.0


def resolve_target(url: str | None, token: str | None, config_path: str | None) -> Target:
    """The server from the flags, else the configuration (file and ``ROBUTLER_*`` environment)."""
    cfg = _load(config_path)
    base = (url or cfg.server_url).rstrip("/")
    _check_url(base, "--url" if url else "monitoring.server_url")
    secret = token if token is not None else (cfg.auth_token.get_secret_value() if cfg.auth_token else None)
    hc, metrics = cfg.health_checks, cfg.metrics
    paths = frozenset((hc.endpoint, hc.readiness_endpoint, hc.detailed_endpoint, metrics.endpoint))
    return Target(base, secret or None, hc.detailed_endpoint, metrics.endpoint, paths)


def _load(config_path: str | None) -> MonitoringConfig:
    try:
        path = resolve_config_path(config_path, os.environ, Path.cwd())
        sections = current_host_info().config_sections  # worked out once by the host
        return load_config(path, env=os.environ, known_sections=sections).config
    except ConfigError as err:
        raise RemoteError(err.report()) from None


def _check_url(url: str, origin: str) -> None:
    parts = urlsplit(url)
    try:
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:
        ok = False
    if not ok:
        raise RemoteError(
            f"{origin} = {url!r}: expected an http:// or https:// URL such as http://127.0.0.1:8000"
        )


@dataclass(frozen=True)
class Health:
    """The detailed health document and the HTTP status it came with."""

    code: int
    doc: dict[str, Any]

    @property
    def status(self) -> str:
        """``pass``, ``warn`` or ``fail``."""
        value = self.doc.get("status")
        return value if value in ("pass", "warn", "fail") else "fail"


@dataclass(frozen=True)
class Scrape:
    """One look at the server: its health, its metrics, and when (monotonic seconds)."""

    health: Health | None
    samples: Samples
    at: float


class Client:
    """An HTTP client for one target.

    >>> target = Target("http://127.0.0.1:8000", None, "/health/detailed", "/metrics", frozenset())
    >>> client = Client(target)   # then client.health(), client.metrics_text(), client.close()
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        self._http = httpx.Client(base_url=target.url, headers=headers, timeout=target.timeout)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, accept: str) -> httpx.Response:
        where = f"{self.target.url}{path}"
        try:
            response = self._http.get(path, headers={"Accept": accept})
        except httpx.TimeoutException:
            raise RemoteError(f"{where} did not answer within {self.target.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {where}: {_reason(exc)}") from None
        if response.status_code == 401:
            why = "the token was rejected" if self.target.token else "it needs a bearer token"
            raise RemoteError(
                f"unauthorized: {where} answered 401 ({why}; set ROBUTLER_MONITORING_TOKEN or pass --token)"
            )
        if response.status_code == 404:
            raise NotFound(f"{where} answered 404: is the endpoint enabled, and configured at this path?")
        return response

    def health(self) -> Health:
        """The detailed health (200 for pass/warn, 503 for fail)."""
        response = self._get(self.target.detailed_path, "application/health+json, application/json")
        where = f"{self.target.url}{self.target.detailed_path}"
        if response.status_code not in (200, 503):
            raise RemoteError(f"{where} answered HTTP {response.status_code}, expected 200 or 503")
        try:
            doc = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RemoteError(f"{where} did not answer with a health JSON document") from None
        if not isinstance(doc, dict) or "status" not in doc:
            raise RemoteError(f"{where} did not answer with a health JSON document")
        return Health(response.status_code, doc)

    def metrics_text(self, accept: str = PROMETHEUS_ACCEPT) -> tuple[str, str]:
        """The metrics page and its content type."""
        response = self._get(self.target.metrics_path, accept)
        if response.status_code != 200:
            where = f"{self.target.url}{self.target.metrics_path}"
            raise RemoteError(f"{where} answered HTTP {response.status_code}, expected 200")
        return response.text, response.headers.get("content-type", "")

    def samples(self) -> Samples:
        """The metrics, parsed."""
        text, _ = self.metrics_text()
        try:
            return Samples.parse(text)
        except ValueError as exc:
            where = f"{self.target.url}{self.target.metrics_path}"
            raise RemoteError(f"{where} answered a page that is not Prometheus text: {exc}") from None

    def scrape(self) -> Scrape:
        """Health and metrics, now; a server with metrics turned off gives health alone."""
        health = self.health()
        try:
            samples = self.samples()
        except NotFound:
            samples = Samples([])  # metrics.enabled: false on the server
        return Scrape(health, samples, time.monotonic())


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "ConnectError" in text:
        return "connection refused (is `robutler serve` running there?)"
    return text.splitlines()[0]
