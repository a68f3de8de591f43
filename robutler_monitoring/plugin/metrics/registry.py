"""Where metrics live: the default registry, one instrument set per registry, multiprocess mode.

Nothing here creates a metric at import time. Components take a registry; the public
API (``metrics``, the decorators, caches) falls back to prometheus_client's default
``REGISTRY``, which is also what ``/metrics`` serves in a single-process server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar
from weakref import WeakKeyDictionary

from prometheus_client import REGISTRY, CollectorRegistry

T = TypeVar("T")

#: The variable prometheus_client reads (at import) to switch to multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_lock = threading.RLock()  # factories nest (HttpMetrics needs ErrorMetrics)
_instances: WeakKeyDictionary[CollectorRegistry, dict[object, object]] = WeakKeyDictionary()


def default_registry() -> CollectorRegistry:
    """The registry the public API records into and ``/metrics`` serves."""
    return REGISTRY


def multiprocess_dir() -> str | None:
    """The multiprocess directory when this process runs in multiprocess mode, else None."""
    return os.environ.get(MULTIPROC_ENV) or None


def instruments_for(registry: CollectorRegistry, factory: Callable[[CollectorRegistry], T]) -> T:
    """The one ``factory(registry)`` instance for this registry (metrics registered once)."""
    per_registry = _instances.get(registry)
    if per_registry is not None:
        found = per_registry.get(factory)
        if found is not None:
            return found  # type: ignore[return-value]
    with _lock:
        per_registry = _instances.setdefault(registry, {})
        if factory not in per_registry:
            per_registry[factory] = factory(registry)
        return per_registry[factory]  # type: ignore[return-value]
