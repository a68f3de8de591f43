"""``robutler monitor status``: ask a running server how it is, as a table, JSON or an exit code.

Exit codes: 0 pass or warn, 1 fail, 2 unreachable, unauthorized or a bad argument (one
line on stderr, never a traceback). ``--quiet`` only asks for the detailed health, so it is
cheap enough for a Docker ``HEALTHCHECK``; this module never imports the Robutler SDK.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from . import report
from .options import ConfigOption, TokenOption, UrlOption
from .remote import USAGE_EXIT, Client, RemoteError, Scrape, resolve_target

FAIL_EXIT = 1


class ArgumentError(RemoteError):
    """A bad argument: reported even with ``--quiet``."""


DEFAULT_WATCH = 2.0
_SPARKS = "▁▂▃▄▅▆▇█"
_STATUS_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}


def status_command(
    seconds: Annotated[
        float | None,
        typer.Argument(
            metavar="SECONDS",
            help=f"Refresh interval of --watch (default {DEFAULT_WATCH:g}).",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead of tables.")] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Refresh in place every SECONDS (default 2), with sparklines of rate and p95; Ctrl-C stops.",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print nothing; only the exit code (for HEALTHCHECK).")
    ] = False,
    window: Annotated[
        float,
        typer.Option(
            "--window",
            metavar="SECONDS",
            help="Rates and percentiles from two scrapes this far apart; 0: since the server started.",
        ),
    ] = 1.0,
) -> None:
    """A running server's health, traffic, latency, agents and tools (exit 0 pass/warn, 1 fail, 2 error)."""
    code = _run(seconds, url, token, config, as_json, watch, quiet, window)
    raise typer.Exit(code)


def _run(
    seconds: float | None,
    url: str | None,
    token: str | None,
    config: str | None,
    as_json: bool,
    watch: bool,
    quiet: bool,
    window: float,
) -> int:
    try:
        if seconds is not None and not watch:
            raise ArgumentError(f"SECONDS ({seconds:g}) is the refresh interval of --watch; add --watch")
        interval = DEFAULT_WATCH if seconds is None else seconds
        if interval < 0.1 or interval > 3600:
            raise ArgumentError(f"--watch {interval:g}: expected between 0.1 and 3600 seconds")
        if window < 0 or window > 60:
            raise ArgumentError(f"--window {window:g}: expected between 0 and 60 seconds")
        if sum((as_json, watch, quiet)) > 1:
            raise ArgumentError("--json, --watch and --quiet exclude each other; pick one")
        target = resolve_target(url, token, config)
        with Client(target) as client:
            if quiet:
                return _exit_code(client.health().status)
            if watch:
                return _watch(client, interval)
            sections = _sample(client, window)
            if as_json:
                typer.echo(json.dumps(report.as_document(target.url, sections), indent=2))
            else:
                Console(highlight=False).print(render(target.url, sections))
            return _exit_code(_overall(sections))
    except RemoteError as err:
        if not quiet or isinstance(err, ArgumentError):  # a typo is never silent
            typer.echo(f"Error: {err}", err=True)
        return USAGE_EXIT


def _sample(client: Client, window: float) -> list[report.Section]:
    before = client.scrape() if window > 0 else None
    if before is not None:
        time.sleep(window)
    now = client.scrape()
    return report.build(report.Window(now, before, client.target.monitoring_paths))


def _overall(sections: list[report.Section]) -> str:
    for section in sections:
        if section.key == "server" and isinstance(section.data, dict):
            return str(section.data.get("status") or "fail")
    return "fail"


def _exit_code(status: str) -> int:
    return FAIL_EXIT if status == "fail" else 0


# --- rendering ----------------------------------------------------------------------------


def render(url: str, sections: list[report.Section], trends: dict[str, list[float]] | None = None) -> Group:
    """The report as Rich tables: fields as a two-column table, rows as a table each."""
    parts: list[Any] = []
    for section in sections:
        if isinstance(section.data, dict):
            title = f"{section.title}  {url}" if section.key == "server" else section.title
            grid = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
            grid.add_column(style="bold")
            grid.add_column()
            for key, value in section.data.items():
                line = format_value(key, value)
                if trends and key in trends:
                    line.append("  " + sparkline(trends[key]), style="cyan")
                grid.add_row(_label(key), line)
            parts.append(grid)
        elif section.data:
            table = Table(title=section.title, title_justify="left")
            columns = list(section.data[0])
            for column in columns:
                table.add_column(
                    _label(column), justify="right" if column not in ("check", "output") else "left"
                )
            for row in section.data:
                table.add_row(*(format_value(c, row.get(c)) for c in columns))
            parts.append(table)
    return Group(*parts)


def _label(key: str) -> str:
    if key.endswith("_usd"):
        return key[: -len("_usd")].replace("_", " ") + " (USD)"
    for suffix in ("_seconds", "_bytes", "_ratio", "_per_second"):
        if key.endswith(suffix) and key != suffix[1:]:
            key = key[: -len(suffix)]
    return key.replace("_", " ")


def format_value(key: str, value: Any) -> Text:
    """A value for people, by the unit its key names."""
    if value is None:
        return Text("-", style="dim")
    if key == "status":
        return Text(str(value), style=_STATUS_STYLE.get(str(value), ""))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Text(str(value))
    if key.endswith("_seconds"):
        return Text(duration(float(value)))
    if key.endswith("_bytes"):
        return Text(f"{value / 1024 / 1024:.1f} MiB")
    if key.endswith("_ratio"):
        return Text(f"{value * 100:.2f} %")
    if key.endswith("_per_second"):
        return Text(f"{value:.2f}/s")
    if key.endswith("_usd"):
        return Text(f"${value:,.6f}")
    if key == "unpriced_tokens":  # shown apart from the cost, never as a cost of 0
        return Text(f"+ {value:,}", style="yellow") if value else Text("-", style="dim")
    return Text(f"{value:g}" if isinstance(value, float) else str(value))


def duration(seconds: float) -> str:
    """``0.0123`` -> ``12.3 ms``; ``3725`` -> ``1h 02m 05s``."""
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def sparkline(values: list[float]) -> str:
    """Small bars scaled between the smallest and largest value."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    if span <= 0:
        return _SPARKS[0] * len(values)
    return "".join(_SPARKS[round((v - low) / span * (len(_SPARKS) - 1))] for v in values)


# --- watch --------------------------------------------------------------------------------


def _watch(client: Client, interval: float, sleep: Callable[[float], None] = time.sleep) -> int:
    history: dict[str, deque[float]] = {
        "request_rate_per_second": deque(maxlen=30),
        "latency_p95_seconds": deque(maxlen=30),
    }
    before: Scrape | None = None
    code = 0
    console = Console(highlight=False)
    with Live(Text("connecting..."), console=console, auto_refresh=False, transient=False) as live:
        try:
            while True:
                try:
                    now = client.scrape()
                except RemoteError as err:
                    live.update(Text(f"Error: {err}", style="bold red"), refresh=True)
                    code, before = USAGE_EXIT, None
                else:
                    sections = report.build(report.Window(now, before, client.target.monitoring_paths))
                    server = sections[0].data if sections and isinstance(sections[0].data, dict) else {}
                    for key, values in history.items():
                        if before is not None:  # the first look has no window yet
                            values.append(float(server.get(key) or 0.0))
                    trends = {k: list(v) for k, v in history.items()}
                    live.update(render(client.target.url, sections, trends), refresh=True)
                    code, before = _exit_code(_overall(sections)), now
                sleep(interval)
        except KeyboardInterrupt:
            pass
    return code
