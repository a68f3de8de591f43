"""The configuration of one ``robutler serve`` run, resolved once per process for the hooks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...host.errors import UsageError
from ...host.settings import ServeSettings, Slot
from ..options import FLAG_KEYS
from .errors import ConfigError
from .loader import ResolvedConfig, load_config, resolve_config_path
from .schema import MonitoringConfig

#: the configuration resolved for a run, once per process
RESOLVED: Slot[ResolvedConfig] = Slot("monitoring.config")


def get_config(settings: ServeSettings) -> MonitoringConfig:
    """The frozen monitoring configuration for this run; a bad one is a ``UsageError`` (exit 2)."""
    cached = RESOLVED.get(settings)
    if cached is not None:
        return cached.config
    try:
        resolved = resolve(settings, env=os.environ, cwd=Path.cwd())
    except ConfigError as err:
        raise UsageError(err.report()) from None
    return RESOLVED.set(settings, resolved).config


def get_resolved(settings: ServeSettings) -> ResolvedConfig:
    """The resolved configuration of this run, with the source of every value."""
    get_config(settings)
    resolved = RESOLVED.get(settings)
    assert resolved is not None  # get_config kept it or raised
    return resolved


def resolve(settings: ServeSettings, *, env: Mapping[str, str], cwd: Path) -> ResolvedConfig:
    """Resolve the configuration for ``settings`` (raises :class:`ConfigError`)."""
    path = resolve_config_path(settings.config_path, env, cwd)
    return load_config(
        path,
        env=env,
        overrides=flag_overrides(settings),
        known_sections=settings.config_sections,
    )


def flag_overrides(settings: ServeSettings) -> dict[str, tuple[Any, str]]:
    """The command-line flags that set monitoring keys, as ``load_config`` overrides."""
    overrides: dict[str, tuple[Any, str]] = {
        "logging.level": (settings.log_level, "flag --log-level"),
        "server.max_header_bytes": (settings.max_header_bytes, "flag --max-header-bytes"),
    }
    for option, (key, flag) in FLAG_KEYS.items():
        value = settings.plugin_options.get(option)
        overrides[key] = (value, f"flag {_flag_spelling(flag, value)}")
    return overrides


def _flag_spelling(flag: str, value: Any) -> str:
    # `--access-log/--no-access-log`: name the spelling the user typed
    if "/" in flag and isinstance(value, bool):
        on, _, off = flag.partition("/")
        return on if value else off
    return flag
