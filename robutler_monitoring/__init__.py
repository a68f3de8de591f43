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
    from .api import CacheStats as CacheStats
    from .api import Metrics as Metrics
    from .api import MetricsError as MetricsError
    from .api import cache_stats as cache_stats
    from .api import get_logger as get_logger
    from .api import metrics as metrics
    from .api import performance_monitor as performance_monitor
    from .api import record_llm_call as record_llm_call
    from .api import record_tool_call as record_tool_call
    from .api import register_cache as register_cache
    from .api import register_health_check as register_health_check
    from .api import track_skill_performance as track_skill_performance
    from .instrumenting import instrument as instrument
    from .integrations.robutler_sdk.instrument import instrument_agent as instrument_agent
    from .plugin.tracing.api import TracingNotInstalledError as TracingNotInstalledError
    from .plugin.tracing.api import enable_tracing as enable_tracing

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "get_logger": "robutler_monitoring.api",
    "metrics": "robutler_monitoring.api",
    "Metrics": "robutler_monitoring.api",
    "MetricsError": "robutler_monitoring.api",
    "performance_monitor": "robutler_monitoring.api",
    "track_skill_performance": "robutler_monitoring.api",
    "register_cache": "robutler_monitoring.api",
    "cache_stats": "robutler_monitoring.api",
    "CacheStats": "robutler_monitoring.api",
    "register_health_check": "robutler_monitoring.api",
    "record_llm_call": "robutler_monitoring.api",
    "record_tool_call": "robutler_monitoring.api",
    "instrument_agent": "robutler_monitoring.integrations.robutler_sdk.instrument",
    "instrument": "robutler_monitoring.instrumenting",
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
