"""The options `robutler serve` gains from the monitoring plugin, and the config key each sets.

One table: each option's declaration carries its key (``Key``), and :data:`FLAG_KEYS`
is read from the declarations, so a flag and its key cannot drift apart.
"""

from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass
from typing import Annotated, get_args, get_type_hints

import typer


class LogFormat(enum.StrEnum):
    """Values of ``--log-format``."""

    json = "json"
    console = "console"


_PANEL = "Monitoring"


@dataclass(frozen=True)
class Key:
    """Annotation metadata: the monitoring config key an option of ``serve`` sets."""

    dotted: str


def serve_options(
    log_format: Annotated[
        LogFormat | None,
        Key("logging.format"),
        typer.Option(
            help="Log line format: JSON lines or readable text (default: from config, else json).",
            rich_help_panel=_PANEL,
        ),
    ] = None,
    log_output: Annotated[
        str | None,
        Key("logging.output"),
        typer.Option(
            help="Where logs go: stdout, stderr or a file path (default: from config, else stdout).",
            rich_help_panel=_PANEL,
        ),
    ] = None,
    access_log: Annotated[
        bool | None,
        Key("logging.access_log"),
        typer.Option(
            "--access-log/--no-access-log",
            help="Write one access record per request (default: from config, else on).",
            rich_help_panel=_PANEL,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Options that `robutler serve` gains from this plugin (flags > env > file > defaults)."""


def _flag_keys() -> dict[str, tuple[str, str]]:
    """``serve_options`` parameter -> (config key, flag as typed), from the declarations."""
    out: dict[str, tuple[str, str]] = {}
    hints = get_type_hints(serve_options, include_extras=True)
    for name in inspect.signature(serve_options).parameters:
        meta = get_args(hints[name])[1:]
        key = next(m.dotted for m in meta if isinstance(m, Key))
        option = next(m for m in meta if isinstance(m, typer.models.OptionInfo))
        decls = [
            d
            for d in (option.default, *(option.param_decls or ()))
            if isinstance(d, str) and d.startswith("-")
        ]
        out[name] = (key, decls[0] if decls else "--" + name.replace("_", "-"))
    return out


#: ``robutler serve`` options of this plugin (``settings.plugin_options`` names) -> (key, flag).
FLAG_KEYS: dict[str, tuple[str, str]] = _flag_keys()
