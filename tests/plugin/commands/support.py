"""Run `robutler monitor ...` in process, with a clean ROBUTLER_* environment."""

from __future__ import annotations

import os

import httpx
import typer
from typer.testing import CliRunner

from robutler_monitoring.plugin.commands import monitor_app


def cli() -> typer.Typer:
    """A `robutler`-like app holding only the monitor group."""
    app = typer.Typer()
    app.add_typer(monitor_app, name="monitor")
    return app


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `robutler ARGS`; fails on an exception other than exit."""
    # CliRunner sets these for the run only; ROBUTLER_* of the developer's shell must not leak in
    clean = {name: None for name in os.environ if name.startswith("ROBUTLER_")}
    result = CliRunner().invoke(cli(), list(args), env={**clean, "COLUMNS": "200", **(env or {})})
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, result.stdout, result.stderr


def chat(base_url: str, text: str, agent: str = "assistant", count: int = 1) -> list[int]:
    """POST ``count`` chat completions with ``text``; their status codes."""
    body = {"model": agent, "messages": [{"role": "user", "content": text}]}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        return [client.post(f"/{agent}/chat/completions", json=body).status_code for _ in range(count)]
