"""Cooldowns: a model that keeps answering "overloaded" is skipped for a while (a circuit breaker).

The guide's error table says "529 overloaded: SDK auto-retries; add fallback model". Retrying an
overloaded model costs its TTFT and the SDK's backoff on every call; once a model has failed
`failures` times within `window` seconds, the breaker opens and calls go straight to the fallback
for `cooldown` seconds. After the cooldown the model is tried again (half-open); the next failure
counts afresh, so a model that is still overloaded trips again after `failures` more overloads.

The state lives in a `BreakerStore` so that several workers can share it (a later issue puts it in
Redis). pybreaker and purgatory were considered: both count consecutive failures rather than
failures within a window, wrap a function call rather than report an outcome after a stream's first
events, read the wall clock (no injected clock for tests), and keep one breaker object per guarded
service; purgatory is asyncio-only. The policy here is a few lines, and the store is the part that
has to be pluggable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["Breaker", "BreakerStore", "MemoryBreakerStore"]

logger = logging.getLogger("firsttoken.resilience")

Clock = Callable[[], float]


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


class Breaker:
    def __init__(
        self,
        *,
        failures: int,
        window: float,
        cooldown: float,
        store: BreakerStore | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.failures = failures
        self.window = window
        self.cooldown = cooldown
        self.store: BreakerStore = store if store is not None else MemoryBreakerStore()
        self.clock = clock

    def cooling_down(self, model: str) -> bool:
        until = self.store.open_until(model)
        return until is not None and self.clock() < until

    def failed(self, model: str) -> None:
        now = self.clock()
        count = self.store.add_failure(model, now, self.window)
        if count >= self.failures:
            self.store.trip(model, now + self.cooldown)
            logger.warning(
                "firsttoken: %s overloaded %d times within %gs; skipping it for %gs",
                model,
                count,
                self.window,
                self.cooldown,
            )

    def succeeded(self, model: str) -> None:
        # Only a success after the cooldown (the model answering again) clears it: a call that was
        # already in flight when the breaker tripped says nothing about the model's state now.
        # Skipping the store write otherwise keeps the happy path free of a (possibly remote) write.
        until = self.store.open_until(model)
        if until is not None and self.clock() >= until:
            self.store.clear(model)
