"""Where `engine.classify()` remembers its answers: the protocol and the in-process LRU."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

__all__ = ["ClassifyCache", "MemoryClassifyCache"]


class ClassifyCache(Protocol):
    """Where classifications are remembered; keys are digests, so no user text is stored as a key."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, label: str, ttl: float) -> None: ...


class MemoryClassifyCache:
    """A small LRU with a time-to-live per entry, for one process."""

    def __init__(self, *, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, label = item
            if self.clock() >= expires:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return label

    def set(self, key: str, label: str, ttl: float) -> None:
        if self.size <= 0 or ttl <= 0:
            return
        with self._lock:
            self._items[key] = (self.clock() + ttl, label)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
