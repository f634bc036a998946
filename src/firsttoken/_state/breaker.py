"""Where the circuit breaker keeps failure times and cooldowns (the policy is `_upstream/breaker.py`)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Protocol

__all__ = ["BreakerStore", "MemoryBreakerStore"]


class BreakerStore(Protocol):
    """Where failure times and cooldowns are kept; each method is one atomic step for a shared store.

    Keys are model ids. Times are the breaker's clock (seconds); a shared store needs a clock all
    workers agree on (wall time), which is why the clock is the breaker's and not the store's.
    """

    def add_failure(self, key: str, at: float, window: float) -> int:
        """Record a failure at `at`, forget those older than `window`, return how many remain."""
        ...

    def open_until(self, key: str) -> float | None:
        """The time until which `key` is cooling down, or None."""
        ...

    def trip(self, key: str, until: float) -> None:
        """Start a cooldown until `until` and forget the failures that caused it."""
        ...

    def clear(self, key: str) -> None:
        """Forget everything about `key` (a success after the cooldown)."""
        ...


class MemoryBreakerStore:
    """The process-local store: enough for one worker, or when workers need not agree."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        self._open: dict[str, float] = {}

    def add_failure(self, key: str, at: float, window: float) -> int:
        with self._lock:
            seen = self._failures.setdefault(key, deque())
            seen.append(at)
            while seen and at - seen[0] > window:
                seen.popleft()
            return len(seen)

    def open_until(self, key: str) -> float | None:
        with self._lock:
            return self._open.get(key)

    def trip(self, key: str, until: float) -> None:
        with self._lock:
            self._open[key] = until
            self._failures.pop(key, None)

    def clear(self, key: str) -> None:
        with self._lock:
            self._open.pop(key, None)
            self._failures.pop(key, None)
