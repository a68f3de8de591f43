"""``robutler monitor config show|validate``: the resolved configuration and its check."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from ...host import current_host_info
from ..config.errors import ConfigError
from ..config.loader import ResolvedConfig, file_label, load_config, resolve_config_path
from ..config.show import render_json, render_table, render_yaml
from .options import ConfigOption

config_app = typer.Typer(help="Show and check the monitoring configuration.", no_args_is_help=True)

USAGE_EXIT = 2


class OutputFormat(StrEnum):
    """How ``config show`` prints."""

    table = "table"
    yaml = "yaml"
    json = "json"


@config_app.command("show")
def show(
    config: ConfigOption = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, yaml (a config file) or json.")
    ] = OutputFormat.table,
) -> None:
    """Print the resolved configuration and where each value came from (secrets masked)."""
    resolved = _resolve_or_exit(config)
    if output is OutputFormat.json:
        typer.echo(render_json(resolved))
    elif output is OutputFormat.yaml:
        typer.echo(render_yaml(resolved), nl=False)
    else:
        Console(highlight=False).print(render_table(resolved))


@config_app.command("validate")
def validate(
    path: Annotated[
        str | None,
        typer.Argument(
            metavar="[PATH]",
            help="Config file to check (default: $ROBUTLER_CONFIG, else ./robutler.yaml).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check the config file and the ROBUTLER_* environment; exit 2 listing every problem."""
    resolved = _resolve_or_exit(path, origin="argument PATH")
    if resolved.path is None:
        typer.echo(
            "OK: no config file found ($ROBUTLER_CONFIG is unset and there is no ./robutler.yaml); "
            "the defaults and environment are valid"
        )
    else:
        typer.echo(f"OK: {file_label(resolved.path)} is valid")


def _resolve_or_exit(explicit: str | None, origin: str = "flag --config") -> ResolvedConfig:
    try:
        path = resolve_config_path(explicit, os.environ, Path.cwd(), explicit_origin=origin)
        sections = current_host_info().config_sections  # worked out once by the host
        return load_config(path, env=os.environ, known_sections=sections)
    except ConfigError as err:
        _fail(err)


def _fail(err: ConfigError) -> NoReturn:
    typer.echo(f"Error: {err.report()}", err=True)
    raise typer.Exit(USAGE_EXIT)
