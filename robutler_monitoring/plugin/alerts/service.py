"""Alerting in one serving process: the evaluator, ``GET /alerts``, silences, channel health.

Built once per worker from the frozen config; the concern (or the plugin's hooks) calls
:meth:`AlertsService.start` and :meth:`AlertsService.stop` from the ASGI lifespan.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loguru import logger
from prometheus_client import CollectorRegistry

from ...api.health import HealthCheck
from ...host.settings import ServeSettings
from ...host.types import ASGIApp, Receive, Scope, Send
from ..config.schema import EmailConfig, MonitoringConfig, format_duration, parse_duration
from .engine import Silence
from .evaluator import Evaluator, HealthSource
from .metrics import AlertMetrics
from .payloads import AlertContext, iso, value_text
from .rules import AlertPlan, alerted_budgets, build_plan
from .state import StatePaths, read_json, read_silences, set_silence

_JSON = b"application/json"
_MAX_BODY = 64 * 1024


def instance_of(cfg: MonitoringConfig, settings: ServeSettings) -> tuple[str, str]:
    """(instance label, external URL): from ``alerts.external_url``, else the served address."""
    if cfg.alerts.external_url:
        url = cfg.alerts.external_url.rstrip("/")
        return urlsplit(url).netloc, url
    base = settings.base_url.rstrip("/")
    if settings.host in ("0.0.0.0", "::", ""):
        return f"{socket.gethostname()}:{settings.port}", base
    return urlsplit(base).netloc, base


def monitoring_paths(cfg: MonitoringConfig) -> tuple[str, ...]:
    """The monitoring endpoints: their requests are not the service's traffic."""
    hc = cfg.health_checks
    ep = cfg.alerts.endpoint
    return (
        cfg.metrics.endpoint,
        hc.endpoint,
        hc.detailed_endpoint,
        hc.readiness_endpoint,
        ep,
        f"{ep}/silences",
    )


class AlertsService:
    """The alerting of one worker (every worker has one; only the lock holder evaluates)."""

    def __init__(
        self,
        cfg: MonitoringConfig,
        settings: ServeSettings,
        *,
        registry: CollectorRegistry,
        registry_source: Callable[[], CollectorRegistry],
        health: HealthSource | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from ..metrics.registry import instruments_for

        instance, external = instance_of(cfg, settings)
        service = cfg.tracing.service_name
        self.cfg = cfg.alerts
        self.plan: AlertPlan = build_plan(
            cfg.alerts, instance=instance, service=service, budgets=alerted_budgets(cfg)
        )
        self.ctx = AlertContext(
            service, instance, external, cfg.health_checks.detailed_endpoint, cfg.alerts.endpoint
        )
        self.paths = StatePaths(cfg.alerts.state_dir, instance)
        self.clock = clock
        self.evaluator = Evaluator(
            self.plan,
            self.ctx,
            self.paths,
            registry_source=registry_source,
            metrics=instruments_for(registry, AlertMetrics),
            health=health,
            skip_routes=monitoring_paths(cfg),
            queue_size=cfg.alerts.queue_size,
            shutdown_timeout=cfg.alerts.shutdown_timeout,
            clock=clock,
        )
        for channel in self.plan.channels:
            problem = channel_problem(channel.config)
            if problem:
                logger.warning("alerts: channel {} cannot send: {}", channel.name, problem)

    async def start(self) -> None:
        """Start this worker's evaluation loop."""
        if self.plan.rules:
            await self.evaluator.start()

    async def stop(self) -> None:
        """Flush queued notifications (bounded) and release the evaluation lock."""
        await self.evaluator.stop()

    # --- what any worker can answer, from the state file ---------------------------------------

    def report(self) -> dict[str, Any]:
        """Rules, their state and silences, channels and their last delivery (``GET /alerts``)."""
        now = self.clock()
        data = read_json(self.paths.state)
        states = data.get("rules") or {}
        silences = read_silences(self.paths)
        rules = []
        for rule in self.plan.rules:
            st = states.get(rule.name) or {}
            silence = silences.get(rule.name)
            active_silence = silence if silence and silence.until > now else None
            value = st.get("value")
            rules.append(
                {
                    "name": rule.name,
                    "event": rule.event,
                    "severity": rule.severity,
                    "state": st.get("state", "inactive"),
                    "summary": rule.describe(value) if st.get("state") == "firing" else None,
                    "value": value,
                    "value_text": value_text(rule, value),
                    "threshold": rule.threshold,
                    "threshold_text": rule.threshold_text(),
                    "window": format_duration(rule.window) if rule.window else None,
                    "for": format_duration(rule.for_) if rule.for_ else "0s",
                    "pending_since": iso(st.get("active_since")) if st.get("state") == "pending" else None,
                    "firing_since": iso(st.get("firing_since")),
                    "last_evaluated": iso(st.get("last_eval")),
                    "silenced_until": iso(active_silence.until) if active_silence else None,
                    "silence_comment": active_silence.comment if active_silence else None,
                    "labels": {"alertname": rule.name, "severity": rule.severity, **dict(rule.labels)},
                    "channels": [
                        c.name
                        for c in self.plan.channels
                        if any(s.rule == rule.name for s in c.subscriptions)
                    ],
                }
            )
        deliveries = data.get("channels") or {}
        channels = [
            {"name": c.name, "kind": c.kind, "address": c.shown, **_delivery_view(deliveries.get(c.name))}
            for c in self.plan.channels
        ]
        return {
            "service": self.ctx.service,
            "instance": self.ctx.instance,
            "evaluated_at": iso(data.get("saved_at")),
            "rules": rules,
            "channels": channels,
        }

    def health_checks(self) -> list[HealthCheck]:
        """One ``alerts:<channel>`` component per channel: warn after a failed delivery."""
        return [
            HealthCheck(f"alerts:{_check_name(c.name)}", self._channel_check(c.name), "alert-channel")
            for c in self.plan.channels
        ]

    def _channel_check(self, name: str) -> Callable[[], dict[str, Any]]:
        def check() -> dict[str, Any]:
            raw = (read_json(self.paths.state).get("channels") or {}).get(name)
            view = _delivery_view(raw)
            if view["last_error"] and not view["ok"]:
                return {"status": "warn", "output": f"last delivery failed: {view['last_error']}"}
            return {"status": "pass", "observedValue": view["delivered"]}

        return check

    def silence(self, rule: str, seconds: float, comment: str) -> Silence:
        """Hold back ``rule``'s notifications for ``seconds``."""
        now = self.clock()
        found = Silence(until=now + seconds, comment=comment, created_at=now)
        set_silence(self.paths, rule, found)
        logger.info("alerts: {} silenced until {} ({})", rule, iso(found.until), comment or "no comment")
        return found

    def unsilence(self, rule: str) -> None:
        """Lift ``rule``'s silence."""
        set_silence(self.paths, rule, None)
        logger.info("alerts: {} unsilenced", rule)

    # --- the endpoints ---------------------------------------------------------------------------

    def endpoints(self) -> dict[str, ASGIApp]:
        """``GET {endpoint}`` and ``POST/DELETE {endpoint}/silences``."""
        return {self.cfg.endpoint: self._list_app, f"{self.cfg.endpoint}/silences": self._silences_app}

    async def _list_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, {"error": "method not allowed"}, [(b"allow", b"GET, HEAD")])
            return
        await _respond(send, 200, self.report())

    async def _silences_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("POST", "DELETE"):
            await _respond(send, 405, {"error": "method not allowed"}, [(b"allow", b"POST, DELETE")])
            return
        body = await _read_body(receive)
        try:
            doc = json.loads(body or b"{}")
            if not isinstance(doc, dict):
                raise ValueError
        except ValueError:
            await _respond(send, 400, {"error": "expected a JSON object"})
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        rule = doc.get("rule") or (query.get("rule") or [None])[0]
        if self.plan.rule(str(rule)) is None:
            known = ", ".join(r.name for r in self.plan.rules) or "none"
            await _respond(send, 404, {"error": f"no rule {rule!r}; rules: {known}"})
            return
        if method == "DELETE":
            self.unsilence(str(rule))
            await _respond(send, 200, {"rule": rule, "silenced_until": None})
            return
        try:
            seconds = float(parse_duration(doc.get("for")))
            if not seconds > 0:
                raise ValueError
        except (TypeError, ValueError):
            await _respond(
                send,
                400,
                {"error": f"'for' must be a duration such as '30m' or '2h', got {doc.get('for')!r}"},
            )
            return
        found = self.silence(str(rule), seconds, str(doc.get("comment") or "")[:500])
        await _respond(
            send, 200, {"rule": rule, "silenced_until": iso(found.until), "comment": found.comment}
        )


def channel_problem(conf: object) -> str | None:
    """Why a channel cannot send at all (an e-mail channel without recipients or sender)."""
    if isinstance(conf, EmailConfig):
        if not conf.recipients:
            return "no recipients (set alerts.email.recipients)"
        if not conf.from_address:
            return "no From address (set alerts.email.sender, or a username that is an address)"
    return None


def _check_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "channel"


def _delivery_view(raw: Any) -> dict[str, Any]:
    raw = raw if isinstance(raw, dict) else {}
    success, error_at = raw.get("last_success"), raw.get("last_error_at")
    ok = error_at is None or (success or 0) > error_at
    return {
        "ok": ok,
        "last_success": iso(success),
        "last_error": raw.get("last_error"),
        "last_error_at": iso(error_at),
        "delivered": raw.get("delivered", 0),
        "failed": raw.get("failed", 0),
        "dropped": raw.get("dropped", 0),
    }


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_BODY:
            break
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _respond(send: Send, status: int, doc: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(doc).encode()
    headers = [
        (b"content-type", _JSON),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or ()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
