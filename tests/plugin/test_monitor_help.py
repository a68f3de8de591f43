"""`robutler monitor --help` advertises only the commands that exist."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from robutler_monitoring.plugin.commands import monitor_app


def test_monitor_help_names_only_existing_commands() -> None:
    app = typer.Typer()
    app.add_typer(monitor_app, name="monitor")
    result = CliRunner().invoke(app, ["monitor", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    names = {g.name for g in monitor_app.registered_groups}
    names |= {c.name for c in monitor_app.registered_commands}
    words = set(re.findall(r"[a-z]+", result.output.lower()))
    for command in ("status", "metrics", "alerts"):
        assert command not in words or command in names, f"help mentions {command!r}: {result.output}"
    assert "config" in names and "config" in words
