"""The LRU cache the demo skills use, whose statistics the metrics report."""

from __future__ import annotations

import pytest

from robutler_monitoring.demo.cache import LRUCache


def test_counts_hits_and_misses() -> None:
    cache = LRUCache("c", maxsize=4)
    assert cache.get("a") is None
    cache.put("a", 1)
    assert cache.get("a") == 1
    assert cache.get("a") == 1
    assert (cache.hits, cache.misses, cache.size) == (2, 1, 1)


def test_evicts_the_least_recently_used_entry() -> None:
    cache = LRUCache("c", maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")  # "b" is now the least recently used
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1
    assert cache.get("c") == 3
    assert cache.stats() == {
        "name": "c",
        "hits": 3,
        "misses": 1,
        "evictions": 1,
        "size": 2,
        "maxsize": 2,
    }


def test_rejects_a_useless_size() -> None:
    with pytest.raises(ValueError, match="maxsize must be >= 1, got 0"):
        LRUCache("c", maxsize=0)
