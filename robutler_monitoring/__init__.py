"""robutler-monitoring: production monitoring for Robutler agent servers.

The names the product documentation imports from ``robutler.monitoring`` and
``robutler.utils.logging`` are exported here (the ``robutler`` namespace
belongs to the Robutler SDK). They are loaded on first use, so that
``import robutler_monitoring`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time the names load on first use
    from .plugin.logging.api import get_logger as get_logger
    from .plugin.metrics.api import CacheStats as CacheStats
    from .plugin.metrics.api import Metrics as Metrics
    from .plugin.metrics.api import MetricsError as MetricsError
    from .plugin.metrics.api import cache_stats as cache_stats
    from .plugin.metrics.api import metrics as metrics
    from .plugin.metrics.api import performance_monitor as performance_monitor
    from .plugin.metrics.api import register_cache as register_cache
    from .plugin.metrics.api import register_health_check as register_health_check
    from .plugin.metrics.api import track_skill_performance as track_skill_performance
    from .plugin.tracing.api import TracingNotInstalledError as TracingNotInstalledError
    from .plugin.tracing.api import enable_tracing as enable_tracing

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "get_logger": "robutler_monitoring.plugin.logging.api",
    "metrics": "robutler_monitoring.plugin.metrics.api",
    "Metrics": "robutler_monitoring.plugin.metrics.api",
    "MetricsError": "robutler_monitoring.plugin.metrics.api",
    "performance_monitor": "robutler_monitoring.plugin.metrics.api",
    "track_skill_performance": "robutler_monitoring.plugin.metrics.api",
    "register_cache": "robutler_monitoring.plugin.metrics.api",
    "cache_stats": "robutler_monitoring.plugin.metrics.api",
    "CacheStats": "robutler_monitoring.plugin.metrics.api",
    "register_health_check": "robutler_monitoring.plugin.metrics.api",
    "enable_tracing": "robutler_monitoring.plugin.tracing.api",
    "TracingNotInstalledError": "robutler_monitoring.plugin.tracing.api",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'robutler_monitoring' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
