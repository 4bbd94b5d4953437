"""A least-recently-used cache bounded by the bytes of what it holds, not by a count.

Why: worlds differ in size by a factor of thousands (200 items and 10,000 users, or 20,000 items and a million
users), so a cache of 16 held anything from a few megabytes to 4.3 GB. The newest entry always stays, whatever its
size: the environments built from it in a row share its arrays instead of building it again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ByteBoundedCache(Generic[K, V]):
    """``build(key)`` cached while the entries' ``size`` adds up to at most ``budget()`` bytes (read at each
    insertion, so a changed limit takes effect at once). Thread-safe; two threads may build one key at once."""

    def __init__(self, build: Callable[[K], V], size: Callable[[V], int], budget: Callable[[], int]) -> None:
        self._build, self._size, self._budget = build, size, budget
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, key: K) -> V:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
        value = self._build(key)  # outside the lock: a slow build holds up no reader of other entries
        with self._lock:
            self._entries[key] = (value, self._size(value))
            self._entries.move_to_end(key)
            budget = self._budget()
            while len(self._entries) > 1 and self.nbytes > budget:
                self._entries.popitem(last=False)
        return value

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return sum(size for _, size in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
