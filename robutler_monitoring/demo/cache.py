"""A small LRU cache with hit/miss counters, used by the demo skills."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class LRUCache:
    """A least-recently-used cache that counts its hits and misses.

    >>> cache = LRUCache("weather", maxsize=2)
    >>> cache.get("paris") is None
    True
    >>> cache.put("paris", {"temperature_c": 18})
    >>> cache.get("paris")
    {'temperature_c': 18}
    >>> (cache.hits, cache.misses, cache.size)
    (1, 1, 1)
    """

    def __init__(self, name: str, maxsize: int = 128) -> None:
        if maxsize < 1:
            raise ValueError(f"LRUCache maxsize must be >= 1, got {maxsize!r}")
        self.name = name
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._data: OrderedDict[str, Any] = OrderedDict()

    @property
    def size(self) -> int:
        """How many entries the cache holds now."""
        return len(self._data)

    def get(self, key: str) -> Any | None:
        """The cached value for ``key`` (counted as a hit), or None (counted as a miss)."""
        if key not in self._data:
            self.misses += 1
            return None
        self.hits += 1
        self._data.move_to_end(key)
        return self._data[key]

    def put(self, key: str, value: Any) -> None:
        """Store ``value``, evicting the least recently used entry when full."""
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)
            self.evictions += 1

    def stats(self) -> dict[str, Any]:
        """Hits, misses, evictions, size and maxsize, for reporting."""
        return {
            "name": self.name,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
            "size": self.size,
            "maxsize": self.maxsize,
        }
