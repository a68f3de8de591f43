"""``robutler monitor alerts ...``: test the channels, list rules, silence them, export them.

``test`` and ``export`` read the configuration; ``list``, ``silence`` and ``unsilence`` talk
to a running server (``GET /alerts``, ``POST/DELETE /alerts/silences``) found as
``robutler monitor status`` finds it: ``--url``/``--token``, else ``monitoring.server_url`` and
``monitoring.auth_token`` (env ``ROBUTLER_MONITORING_URL``, ``ROBUTLER_MONITORING_TOKEN``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.table import Table

from ...host import current_host_info
from ..commands.options import ConfigOption, TokenOption, UrlOption
from ..commands.remote import RemoteError, resolve_target
from ..config.errors import ConfigError
from ..config.loader import ResolvedConfig, load_config, resolve_config_path
from ..config.schema import MonitoringConfig, parse_duration
from ..secrets import mask_url
from .engine import Notification
from .export import prometheus_rule, rule_groups, to_yaml
from .payloads import AlertContext
from .rules import AlertPlan, alerted_budgets, build_plan
from .senders import make_sender
from .service import channel_problem, monitoring_paths

alerts_app = typer.Typer(
    help="Alerts: test channels, list and silence rules, export them.", no_args_is_help=True
)

USAGE_EXIT = 2
FAILED_EXIT = 1
DEFAULT_URL = "http://127.0.0.1:8000"
#: The server is found as `robutler monitor status` finds it (commands/remote.py, options.py).


class ExportFormat(StrEnum):
    """What ``export`` writes."""

    rules = "rules"
    prometheusrule = "prometheusrule"


def _fail(message: str, code: int = USAGE_EXIT) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def _load(explicit: str | None) -> ResolvedConfig:
    try:
        path = resolve_config_path(explicit, os.environ, Path.cwd(), explicit_origin="flag --config")
        sections = current_host_info().config_sections  # worked out once by the host
        return load_config(path, env=os.environ, known_sections=sections)
    except ConfigError as err:
        _fail(err.report())


def _plan(cfg: MonitoringConfig) -> tuple[AlertPlan, AlertContext]:
    if cfg.alerts.external_url:
        base = cfg.alerts.external_url.rstrip("/")
        instance = httpx.URL(base).netloc.decode()
    else:
        instance, base = socket.gethostname(), DEFAULT_URL
    plan = build_plan(
        cfg.alerts, instance=instance, service=cfg.tracing.service_name, budgets=alerted_budgets(cfg)
    )
    ctx = AlertContext(
        cfg.tracing.service_name, instance, base, cfg.health_checks.detailed_endpoint, cfg.alerts.endpoint
    )
    return plan, ctx


@alerts_app.command("test")
def test(
    config: ConfigOption = None,
    channel: Annotated[
        str | None,
        typer.Option("--channel", metavar="NAME", help="Only this channel (see the table's names)."),
    ] = None,
) -> None:
    """Send a clearly marked test notification through every channel; exit 1 if any failed."""
    cfg = _load(config).config
    plan, ctx = _plan(cfg)
    channels = list(plan.channels)
    if not channels:
        _fail("no alert channels are configured (monitoring.alerts.webhooks, .email, .alertmanager)")
    if channel is not None:
        channels = [c for c in channels if c.name == channel]
        if not channels:
            names = ", ".join(c.name for c in plan.channels)
            _fail(f"--channel {channel!r}: no such channel; channels: {names}")
    now = time.time()

    def one(ch: Any) -> tuple[str, str | None]:
        problem = channel_problem(ch.config)
        if problem:
            return ch.name, problem
        rule = next((plan.rule(s.rule) for s in ch.subscriptions), None) or plan.rules[0]
        note = Notification(rule, ch.name, "firing", rule.threshold, now, None, now)
        try:
            sender = make_sender(ch, ctx)
        except ValueError as exc:
            return ch.name, str(exc)
        try:
            return ch.name, sender.send(note, test=True)
        finally:
            sender.close()

    with ThreadPoolExecutor(max_workers=max(1, len(channels))) as pool:
        results = dict(pool.map(one, channels))
    table = Table("channel", "kind", "address", "result", "reason")
    for ch in channels:
        reason = results[ch.name]
        table.add_row(ch.name, ch.kind, ch.shown, "delivered" if reason is None else "failed", reason or "")
    Console(highlight=False, width=200).print(table)
    if any(r is not None for r in results.values()):
        raise typer.Exit(FAILED_EXIT)


def _server(url: str | None, token: str | None, config: str | None) -> tuple[str, str | None]:
    """The server's URL and bearer token, resolved like `robutler monitor status` does."""
    try:
        target = resolve_target(url, token, config)
    except RemoteError as err:
        _fail(str(err))
    return target.url, target.token


def _request(method: str, url: str, token: str | None, path: str, **kwargs: Any) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    target = url.rstrip("/") + path
    try:
        response = httpx.request(method, target, headers=headers, timeout=10, trust_env=False, **kwargs)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach {mask_url(target)}: {type(exc).__name__}", USAGE_EXIT)  # as `monitor status`
    if response.status_code == 401:
        _fail(f"{mask_url(target)} wants a bearer token: pass --token or set ROBUTLER_MONITORING_TOKEN")
    try:
        doc = response.json()
    except ValueError:
        _fail(
            f"{mask_url(target)} answered HTTP {response.status_code}, not JSON: is it a robutler server?",
            FAILED_EXIT,
        )
    if response.status_code >= 400:
        _fail(
            str(doc.get("error") if isinstance(doc, dict) else doc),
            USAGE_EXIT if response.status_code < 500 else FAILED_EXIT,
        )
    return doc


@alerts_app.command("list")
def list_(
    url: UrlOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the server's JSON.")] = False,
) -> None:
    """Rules and their state (inactive, pending, firing since, silenced) from a running server."""
    doc = _request("GET", *_server(url, token, config), "/alerts")
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    table = Table("rule", "severity", "state", "since", "value", "threshold", "window", "silenced until")
    for rule in doc.get("rules", []):
        state = rule["state"]
        since = rule.get("firing_since") if state == "firing" else rule.get("pending_since")
        table.add_row(
            rule["name"],
            rule["severity"],
            state,
            since or "",
            rule.get("value_text") or "",
            rule.get("threshold_text") or "",
            rule.get("window") or "",
            rule.get("silenced_until") or "",
        )
    console = Console(highlight=False, width=200)
    console.print(table)
    channels = Table("channel", "kind", "address", "last delivery", "delivered", "failed")
    for ch in doc.get("channels", []):
        last = "ok" if ch.get("ok") else f"failed: {ch.get('last_error')}"
        channels.add_row(ch["name"], ch["kind"], ch["address"], last, str(ch["delivered"]), str(ch["failed"]))
    console.print(channels)


@alerts_app.command("silence")
def silence(
    rule: Annotated[str, typer.Argument(help="Rule name (see `alerts list`).")],
    duration: Annotated[
        str, typer.Option("--for", metavar="DURATION", help="How long: '30m', '2h', or seconds.")
    ],
    comment: Annotated[str, typer.Option("--comment", help="Why (shown in `alerts list`).")] = "",
    url: UrlOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """Hold back a rule's notifications for a while (it still changes state and shows in `list`)."""
    try:
        seconds = float(parse_duration(duration))
        if not seconds > 0:
            raise ValueError
    except (TypeError, ValueError):
        _fail(f"--for {duration!r}: expected a duration such as '30m', '2h' or seconds")
    doc = _request(
        "POST",
        *_server(url, token, config),
        "/alerts/silences",
        json={"rule": rule, "for": seconds, "comment": comment},
    )
    typer.echo(f"{rule} silenced until {doc['silenced_until']}")


@alerts_app.command("unsilence")
def unsilence(
    rule: Annotated[str, typer.Argument(help="Rule name.")],
    url: UrlOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
) -> None:
    """Lift a rule's silence."""
    _request("DELETE", *_server(url, token, config), "/alerts/silences", params={"rule": rule})
    typer.echo(f"{rule} is no longer silenced")


@alerts_app.command("export")
def export(
    config: ConfigOption = None,
    output_format: Annotated[
        ExportFormat,
        typer.Option(
            "--format", "-f", help="rules (a Prometheus rules file) or prometheusrule (Kubernetes)."
        ),
    ] = ExportFormat.rules,
) -> None:
    """Write Prometheus alerting rules equivalent to the configured rules."""
    cfg = _load(config).config
    plan, _ = _plan(cfg)
    if not plan.rules:
        _fail("no alert rules: configure a channel under monitoring.alerts first")
    skip = monitoring_paths(cfg)
    doc = (
        prometheus_rule(plan, skip)
        if output_format is ExportFormat.prometheusrule
        else rule_groups(plan, skip)
    )
    typer.echo(to_yaml(doc), nl=False)
