"""``robutler.monitoring``: the product documentation's imports, verbatim.

    from robutler.monitoring import metrics, performance_monitor, track_skill_performance
    from robutler.monitoring import enable_tracing

Each name is robutler-monitoring's (``robutler_monitoring``), loaded on first use. This
module sits in the Robutler SDK's ``robutler`` namespace the way ``robutler/__main__.py``
does (see there): a direct child, no ``__init__.py`` of ours, no SDK import here.
"""

from __future__ import annotations

from typing import Any

import robutler_monitoring

#: the names the product docs import from ``robutler.monitoring``, and the rest of the public API
_NAMES = (
    "MetricsError",
    "TracingNotInstalledError",
    "enable_tracing",
    "get_logger",
    "instrument",
    "instrument_agent",
    "metrics",
    "performance_monitor",
    "record_llm_call",
    "record_tool_call",
    "register_cache",
    "register_health_check",
    "track_skill_performance",
)
__all__ = list(_NAMES)  # each loaded on first use by __getattr__


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(robutler_monitoring, name)
    raise AttributeError(f"module 'robutler.monitoring' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_NAMES])
