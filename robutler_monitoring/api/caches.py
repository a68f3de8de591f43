"""Cache statistics: hits, misses and size of named caches, sampled every ``collect_interval``.

A cache reports itself once (``register_cache``); the sampler reads it periodically, so
the hot path of the cache never touches a metric.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


class CacheLike(Protocol):
    """Anything with ``hits``, ``misses`` and ``size`` attributes (numbers)."""

    @property
    def hits(self) -> int: ...
    @property
    def misses(self) -> int: ...
    @property
    def size(self) -> int: ...


@dataclass(frozen=True, slots=True)
class CacheStats:
    """One reading of a cache."""

    hits: int
    misses: int
    size: int

    @property
    def hit_ratio(self) -> float | None:
        """hits / (hits + misses), None before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else None


StatsSource = CacheLike | Callable[[], Mapping[str, int] | CacheStats]


def _read(name: str, source: Any) -> CacheStats:
    if callable(source) and not hasattr(source, "hits"):
        value = source()
        if not isinstance(value, CacheStats):
            value = CacheStats(int(value["hits"]), int(value["misses"]), int(value["size"]))
    else:
        value = CacheStats(int(source.hits), int(source.misses), int(source.size))
    for field in ("hits", "misses", "size"):
        if getattr(value, field) < 0:
            raise ValueError(f"cache {name!r}: {field} is {getattr(value, field)}; expected a count >= 0")
    return value


class CacheRegistry:
    """Named caches whose statistics become ``robutler_cache_*`` metrics.

    >>> caches = CacheRegistry()
    >>> class C: hits, misses, size = 3, 1, 2
    >>> caches.register("answers", C())
    >>> caches.read()["answers"].hit_ratio
    0.75
    """

    def __init__(self) -> None:
        self._sources: dict[str, Any] = {}
        self._lock = threading.Lock()

    def register(self, name: str, source: StatsSource) -> None:
        """Report the cache ``name``; ``source`` has hits/misses/size or returns them when called."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"cache name {name!r} is invalid: expected 1-64 letters, digits, '_', '.', ':' or '-'"
            )
        if not (callable(source) or all(hasattr(source, a) for a in ("hits", "misses", "size"))):
            raise TypeError(
                f"cache {name!r}: expected an object with hits, misses and size, or a callable "
                f"returning them; got {type(source).__name__}"
            )
        with self._lock:
            self._sources[name] = source

    def read(self, on_error: Callable[[BaseException], None] | None = None) -> dict[str, CacheStats]:
        """A reading of every cache; a cache whose source fails (``on_error`` hears why) is left out."""
        with self._lock:
            sources = dict(self._sources)
        out: dict[str, CacheStats] = {}
        for name, source in sources.items():
            try:
                out[name] = _read(name, source)
            except Exception as exc:
                if on_error is not None:
                    on_error(exc)
        return out


# An empty dict and a lock (no metric): nothing to defer, so no lazy creation and no second lock.
_default = CacheRegistry()


def default_caches() -> CacheRegistry:
    """The process-wide cache registry behind ``register_cache``."""
    return _default


def register_cache(name: str, source: StatsSource) -> None:
    """Report a named cache's hits, misses and size on ``/metrics``."""
    default_caches().register(name, source)


def cache_stats() -> dict[str, CacheStats]:
    """The current statistics of every registered cache."""
    return default_caches().read()
