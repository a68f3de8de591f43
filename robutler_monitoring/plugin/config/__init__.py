"""The monitoring configuration: schema, loading (file, environment, flags) and errors."""

from .errors import ConfigError, Problem
from .loader import ResolvedConfig, load_config, resolve_config_path
from .schema import MonitoringConfig

__all__ = [
    "ConfigError",
    "MonitoringConfig",
    "Problem",
    "ResolvedConfig",
    "load_config",
    "resolve_config_path",
]
