"""``robutler monitor ...``: the monitoring plugin's commands, one module per command group.

Each module exposes a Typer app (a group) or a function (a single command); adding a
group is one ``add_typer`` line below.
"""

from __future__ import annotations

import typer

from .config import config_app
from .metrics import metrics_app
from .status import status_command

monitor_app = typer.Typer(help="Monitoring: configuration, status, metrics.", no_args_is_help=True)
monitor_app.add_typer(config_app, name="config")
monitor_app.command("status")(status_command)
monitor_app.add_typer(metrics_app, name="metrics")

__all__ = ["monitor_app"]
