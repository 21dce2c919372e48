"""A dict that keeps at most a fixed number of entries: the caches of names a transport resolves.

A cache keyed by something a caller chooses (a topic name, a queue name, an options object)
grows with every distinct key in a long-running process; this one forgets the least recently
used entry instead. A forgotten entry is only looked up (resolved) again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar, overload

__all__ = ["LruCache"]

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")


class LruCache(OrderedDict[K, V]):
    """At most *limit* entries; :meth:`get` and storing refresh an entry, the least recent goes."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"an LRU cache needs room for at least one entry (limit={limit})")
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)

    @overload
    def get(self, key: K, default: None = None) -> V | None: ...
    @overload
    def get(self, key: K, default: V | D) -> V | D: ...
    def get(self, key: K, default: object = None) -> object:
        if key in self:
            self.move_to_end(key)
            return super().__getitem__(key)
        return default
