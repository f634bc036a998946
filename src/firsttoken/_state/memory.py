"""The embedded default: everything in this process's memory, exactly as before shared state existed."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .._metrics import Metrics
from .approvals import MemoryApprovals
from .breaker import MemoryBreakerStore
from .budgets import MemoryBudgets
from .claims import MemoryClaims
from .classify import MemoryClassifyCache
from .client_budgets import MemoryClientBudgets
from .locks import LockFactory, file_locks

__all__ = ["MemoryResponseStore", "MemoryState"]

# Answers kept per process: a response cache is for repeated identical calls, not an archive.
RESPONSE_ENTRIES = 256


class MemoryResponseStore:
    """An LRU of serialised answers with a time-to-live each."""

    def __init__(self, *, size: int = RESPONSE_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if self.clock() >= item[0]:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def set(self, key: str, value: bytes, ttl: float) -> None:
        with self._lock:
            self._items[key] = (self.clock() + ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)

    async def aset(self, key: str, value: bytes, ttl: float) -> None:
        self.set(key, value, ttl)


class MemoryState:
    kind = "memory"

    def __init__(self, *, classify_cache_size: int) -> None:
        self.clock: Callable[[], float] = time.monotonic
        self.breaker = MemoryBreakerStore()
        self.classify_cache = MemoryClassifyCache(size=classify_cache_size)
        self.responses = MemoryResponseStore()
        self.budgets = MemoryBudgets(clock=self.clock)
        self.client_budgets = MemoryClientBudgets(clock=self.clock)
        self.claims = MemoryClaims(clock=self.clock)
        self.approvals = MemoryApprovals()

    def warm_locks(self, directory: str | None) -> LockFactory:
        return file_locks(directory)

    def watch(self, metrics: Metrics) -> None:
        # One process: its metrics are read where they are kept.
        return None

    def metrics_snapshot(self, metrics: Metrics) -> dict[str, Any]:
        return metrics.snapshot()

    def describe(self) -> dict[str, Any]:
        return {"backend": "memory"}

    def close(self) -> None:
        """Nothing to release: the stores are plain objects."""

    async def aclose(self) -> None:
        """Nothing to release: the stores are plain objects."""
