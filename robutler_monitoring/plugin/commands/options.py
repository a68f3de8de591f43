"""The options every command that talks to a running server (or reads the config) shares."""

from __future__ import annotations

from typing import Annotated

import typer

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        metavar="URL",
        help="Server address (default: monitoring.server_url, env ROBUTLER_MONITORING_URL, "
        "else http://127.0.0.1:8000).",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        help="Bearer token for one run (default: monitoring.auth_token, env ROBUTLER_MONITORING_TOKEN, "
        "which keeps it out of `ps`).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        metavar="PATH",
        help="Config file (default: $ROBUTLER_CONFIG, else ./robutler.yaml if present).",
        show_default=False,
    ),
]
