"""The configuration of one ``robutler serve`` run, resolved once per process for the hooks."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from ...host.errors import UsageError
from ...host.settings import ServeSettings
from .errors import ConfigError
from .keys import ROOT
from .loader import ResolvedConfig, load_config, resolve_config_path
from .schema import MonitoringConfig

#: ``robutler serve`` options of this plugin (``settings.plugin_options`` names) -> (key, flag).
FLAG_KEYS: dict[str, tuple[str, str]] = {
    "log_format": ("logging.format", "--log-format"),
    "log_output": ("logging.output", "--log-output"),
    "access_log": ("logging.access_log", "--access-log/--no-access-log"),
}

STATE_CONFIG = "monitoring.config"
STATE_RESOLVED = "monitoring.resolved"


def get_config(settings: ServeSettings) -> MonitoringConfig:
    """The frozen monitoring configuration for this run; a bad one is a ``UsageError`` (exit 2)."""
    cached = settings.state.get(STATE_CONFIG)
    if isinstance(cached, MonitoringConfig):
        return cached
    try:
        resolved = resolve(settings, env=os.environ, cwd=Path.cwd())
    except ConfigError as err:
        raise UsageError(err.report()) from None
    settings.state[STATE_RESOLVED] = resolved
    settings.state[STATE_CONFIG] = resolved.config
    return resolved.config


def get_resolved(settings: ServeSettings) -> ResolvedConfig:
    """The resolved configuration of this run, with the source of every value."""
    get_config(settings)
    resolved = settings.state[STATE_RESOLVED]
    assert isinstance(resolved, ResolvedConfig)
    return resolved


def resolve(settings: ServeSettings, *, env: Mapping[str, str], cwd: Path) -> ResolvedConfig:
    """Resolve the configuration for ``settings`` (raises :class:`ConfigError`)."""
    path = resolve_config_path(settings.config_path, env, cwd)
    return load_config(
        path,
        env=env,
        overrides=flag_overrides(settings),
        known_sections=known_sections(settings.disabled_plugins),
    )


def flag_overrides(settings: ServeSettings) -> dict[str, tuple[Any, str]]:
    """The command-line flags that set monitoring keys, as ``load_config`` overrides."""
    overrides: dict[str, tuple[Any, str]] = {"logging.level": (settings.log_level, "flag --log-level")}
    for option, (key, flag) in FLAG_KEYS.items():
        value = settings.plugin_options.get(option)
        overrides[key] = (value, f"flag {_flag_spelling(flag, value)}")
    return overrides


def known_sections(disabled: Collection[str] = ()) -> tuple[str, ...]:
    """Top-level config sections named by the enabled plugins, plus disabled plugins' names.

    A disabled plugin is never imported (that is what disabling is for), so its section
    cannot be asked for; a section named like the plugin is accepted instead, since a
    disabled plugin's settings are not a typo.
    """
    names = {ROOT}
    try:
        from ...host.plugins import ALL, entry_point_names, get_plugin_manager

        pm = get_plugin_manager(disabled, warn=lambda message: None)
        results = pm.hook.robutler_config_sections()
        names.update(n for n in entry_point_names() if n in disabled or ALL in disabled)
    except Exception:  # the section list is a nicety; never let it break loading
        return (ROOT,)
    for result in results:
        if isinstance(result, list | tuple):
            names.update(str(name) for name in result)
    return tuple(sorted(names))


def _flag_spelling(flag: str, value: Any) -> str:
    # `--access-log/--no-access-log`: name the spelling the user typed
    if "/" in flag and isinstance(value, bool):
        on, _, off = flag.partition("/")
        return on if value else off
    return flag
