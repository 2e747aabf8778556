"""A small thread-safe LRU with a cost budget, for fonts, character maps and pictures.

``functools.lru_cache`` counts entries, but a decoded 1200×1200 picture weighs 5.7 MB
and a font face almost nothing, so the caches here are bounded by an estimated cost
(bytes) instead. Keys are content-addressed (element ids, font file fingerprints), so an
entry can never go stale; the bound is only about memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._cost = 0
        self._lock = threading.Lock()

    def get_or_make(
        self, key: Hashable, make: Callable[[], V], cost: Callable[[V], int] = lambda _: 1
    ) -> V:
        """The cached value of ``key``, or ``make()`` stored under it.

        ``make`` runs outside the lock: two threads may both build a missing value (the
        second one wins); that costs time once but never blocks readers of other keys.
        """
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit[0]
        value = make()
        weight = max(1, cost(value))
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._cost -= old[1]
            self._items[key] = (value, weight)
            self._cost += weight
            # Evict the least recently used, but never the entry just made.
            while self._cost > self.max_cost and len(self._items) > 1:
                _, (_, w) = self._items.popitem(last=False)
                self._cost -= w
        return value

    def peek(self, key: Hashable) -> V | None:
        """The cached value of ``key`` (marked as recently used), or None."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: V, cost: int = 1) -> None:
        if self.peek(key) is None:
            self.get_or_make(key, lambda: value, lambda _: cost)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._cost = 0

    def __len__(self) -> int:
        return len(self._items)
