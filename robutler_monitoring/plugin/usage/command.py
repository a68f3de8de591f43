"""``robutler monitor usage``: requests, tokens and cost from a file, a spool or a running server."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

from .summary import GROUPS, Group, Row, parse_duration, summarize, summarize_totals
from .totals import read_totals

__all__ = ["usage_command", "usage_rows"]

USAGE_EXIT = 2
WORKER_ONLY = (
    "(the records of the one worker that answered: the server has no monitoring.usage.spool_dir, "
    "where the totals of all workers are kept)"
)


def usage_rows(
    *,
    file: Path | None = None,
    spool: Path | None = None,
    url: str | None = None,
    token: str | None = None,
    by: Group = "agent",
    since_s: float | None = None,
) -> tuple[list[Row], str | None]:
    """Rows from a JSON-lines file (and its rotated siblings), a spool's totals or a server; and a note.

    A spool and a server with a spool answer from the hourly totals (every worker's usage;
    ``since_s`` counts whole hours); a file from its records, each ``id`` once.
    """
    if file is not None:
        return summarize(_read_jsonl(file), by=by, since_s=since_s), None
    if spool is not None:
        from .spool import DB_NAME

        if not (spool / DB_NAME).exists():
            raise ValueError(f"--spool {spool}: no usage spool there (no {DB_NAME})")
        return summarize_totals(read_totals(str(spool), since_s), by=by), None
    assert url is not None
    body = _get_usage(
        url, token, {"records": "0"} | ({} if since_s is None else {"since": f"{since_s:.3f}s"})
    )
    if "totals" in body:
        return summarize_totals(body["totals"], by=by), None
    body = _get_usage(url, token, {})  # a server without a spool: its worker's records, then
    return summarize(body.get("records", []), by=by, since_s=since_s), WORKER_ONLY


def _get_usage(url: str, token: str | None, params: dict[str, str]) -> dict[str, Any]:
    import httpx

    headers = {"authorization": f"Bearer {token}"} if token else {}
    # a server's base URL asks the default endpoint; a URL with a path asks that path
    target = url.rstrip("/") + "/usage" if urlsplit(url).path in ("", "/") else url
    try:
        response = httpx.get(target, headers=headers, params=params, timeout=10, trust_env=False)
    except httpx.HTTPError as exc:
        raise ValueError(f"--url {url}: {exc}") from None
    if response.status_code != 200:
        hint = " (set ROBUTLER_MONITORING_TOKEN)" if response.status_code == 401 else ""
        raise ValueError(f"--url {url}: GET {target} answered {response.status_code}{hint}")
    body: dict[str, Any] = response.json()
    return body


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise ValueError(f"--file {path}: no such file")
    paths = [path]
    i = 1
    while Path(f"{path}.{i}").exists():
        paths.append(Path(f"{path}.{i}"))
        i += 1
    records: list[dict[str, Any]] = []
    for p in reversed(paths):  # oldest first
        for n, line in enumerate(p.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise ValueError(f"--file {p}:{n}: not a JSON line") from None
            if isinstance(record, dict):
                records.append(record)
    return records


def _table(rows: list[Row], by: str) -> Table:
    table = Table(title="Usage", show_footer=len(rows) > 1)
    total = Row("total")
    for row in rows:
        for field in (
            "llm_calls",
            "tool_calls",
            "input_tokens",
            "output_tokens",
            "unpriced_calls",
            "unpriced_tokens",
        ):
            setattr(total, field, getattr(total, field) + getattr(row, field))
        total.cost_usd += row.cost_usd
    columns: list[tuple[str, Callable[[Row], str]]] = [
        (by, lambda r: r.key),
        ("LLM calls", lambda r: f"{r.llm_calls:,}"),
        ("tool calls", lambda r: f"{r.tool_calls:,}"),
        ("input tokens", lambda r: f"{r.input_tokens:,}"),
        ("output tokens", lambda r: f"{r.output_tokens:,}"),
        ("cost (USD)", lambda r: f"{r.cost_usd:.6f}"),
        ("unpriced calls", lambda r: f"{r.unpriced_calls:,}" if r.unpriced_calls else "-"),
        ("unpriced tokens", lambda r: f"{r.unpriced_tokens:,}" if r.unpriced_tokens else "-"),
    ]
    for i, (name, cell) in enumerate(columns):
        table.add_column(name, footer=cell(total), justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(cell(row) for _, cell in columns))
    return table


def usage_command(
    file: Annotated[
        Path | None, typer.Option("--file", metavar="PATH", help="A JSON-lines export file.")
    ] = None,
    spool: Annotated[
        Path | None, typer.Option("--spool", metavar="DIR", help="A usage spool directory.")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", metavar="SERVER", help="A running server, e.g. http://127.0.0.1:8000."),
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Group by agent, model or day.")] = "agent",
    since: Annotated[
        str | None, typer.Option("--since", metavar="DURATION", help="Only the last DURATION, e.g. 24h, 7d.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Requests, tokens and cost by agent, model or day; unpriced usage shown apart."""
    sources = [s for s in (file, spool, url) if s is not None]
    if len(sources) != 1:
        typer.echo("Error: give exactly one of --file PATH, --spool DIR, --url SERVER", err=True)
        raise typer.Exit(USAGE_EXIT)
    if by not in GROUPS:
        typer.echo(f"Error: --by {by!r}: expected one of {', '.join(GROUPS)}", err=True)
        raise typer.Exit(USAGE_EXIT)
    try:
        since_s = parse_duration(since) if since is not None else None
    except ValueError as exc:
        typer.echo(f"Error: --since: {exc}", err=True)
        raise typer.Exit(USAGE_EXIT) from None
    try:
        token = os.environ.get("ROBUTLER_MONITORING_TOKEN")
        rows, note = usage_rows(file=file, spool=spool, url=url, token=token, by=by, since_s=since_s)
    except ValueError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(USAGE_EXIT) from None
    if as_json:
        out: dict[str, Any] = {"by": by, "rows": [r.as_dict() for r in rows]}
        if note is not None:
            out["note"] = note
        typer.echo(json.dumps(out, indent=2))
        return
    console = Console(highlight=False)
    if not rows:
        console.print("No usage recorded." + ("" if note is None else f" {note}"))
        return
    console.print(_table(rows, by))
    if note is not None:
        console.print(note)
    unpriced = sum(r.unpriced_calls for r in rows)
    if unpriced:
        console.print(
            f"{unpriced:,} LLM call(s) used a model with no known price: their cost is unknown, not 0 "
            "(set monitoring.usage.prices)."
        )
