"""Cooldowns: a model that keeps answering "overloaded" is skipped for a while (a circuit breaker).

The Anthropic Performance Tuning guide's error table says "529 overloaded: SDK auto-retries; add fallback
model". Retrying an overloaded model costs its TTFT and the SDK's backoff on every call; once a model has
failed `failures` times within `window` seconds, the breaker opens and calls go straight to the fallback for
`cooldown` seconds. After the cooldown the model is tried again (half-open); the next failure counts afresh,
so a model that is still overloaded trips again after `failures` more overloads.

The state lives in a `BreakerStore` (`_state/breaker.py`) so that several workers can share it
through Redis. pybreaker and purgatory were considered: both count consecutive failures rather than
failures within a window, wrap a function call rather than report an outcome after a stream's first
events, read the wall clock (no injected clock for tests), and keep one breaker object per guarded
service; purgatory is asyncio-only. The policy here is a few lines, and the store is the part that
has to be pluggable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .._state.breaker import BreakerStore, MemoryBreakerStore

__all__ = ["Breaker"]

logger = logging.getLogger("firsttoken.resilience")

Clock = Callable[[], float]


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
