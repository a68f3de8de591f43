"""The public metrics API, re-exported by ``robutler_monitoring``."""

from __future__ import annotations

from ..health.checks import register_health_check
from .caches import CacheStats, cache_stats, register_cache
from .custom import Metrics, MetricsError
from .decorators import performance_monitor, track_skill_performance

#: The custom metrics facade: ``metrics.increment(...)``, ``with metrics.timer(...)``.
metrics = Metrics()

__all__ = [
    "CacheStats",
    "Metrics",
    "MetricsError",
    "cache_stats",
    "metrics",
    "performance_monitor",
    "register_cache",
    "register_health_check",
    "track_skill_performance",
]
