"""The public API, re-exported by ``robutler_monitoring``: usable with the monitoring plugin disabled.

Nothing here imports prometheus_client or the plugin: while the plugin serves, what is
recorded here reaches ``/metrics``, the logs and the other concerns through the event
bus and the metrics backend it installs; without it, the calls are cheap and harmless.
"""

from __future__ import annotations

from ..events import record_llm_call, record_tool_call
from .caches import CacheStats, cache_stats, register_cache
from .decorators import performance_monitor, track_skill_performance
from .health import register_health_check
from .logging import get_logger
from .metrics import Metrics, MetricsError

#: The custom metrics facade: ``metrics.increment(...)``, ``with metrics.timer(...)``.
metrics = Metrics()

__all__ = [
    "CacheStats",
    "Metrics",
    "MetricsError",
    "cache_stats",
    "get_logger",
    "metrics",
    "performance_monitor",
    "record_llm_call",
    "record_tool_call",
    "register_cache",
    "register_health_check",
    "track_skill_performance",
]
