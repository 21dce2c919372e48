"""LruCache: the bounded cache behind the transports' name caches."""

from __future__ import annotations

import pytest

from tomodachi.transport._lru import LruCache


def test_keeps_the_most_recently_used_entries() -> None:
    cache: LruCache[str, int] = LruCache(3)
    for n in range(10):
        cache[f"k{n}"] = n
    assert list(cache) == ["k7", "k8", "k9"]
    assert cache.get("k7") == 7  # used: now the most recent
    cache["k10"] = 10
    assert list(cache) == ["k9", "k7", "k10"]
    assert cache.get("k8") is None and cache.get("k8", -1) == -1
    cache["k9"] = 90  # stored again: refreshed, not duplicated
    assert list(cache.items()) == [("k7", 7), ("k10", 10), ("k9", 90)]
    assert cache.pop("k7") == 7 and len(cache) == 2


def test_needs_room_for_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        LruCache(0)
