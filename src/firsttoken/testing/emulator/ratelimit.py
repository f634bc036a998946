"""Per-model request and token budgets with Anthropic's rate-limit headers.

Each configured limit is a token bucket holding one minute's allowance that refills continuously,
as the real API does. A request is admitted if every bucket it draws on is positive; the request
bucket is charged 1 and the input bucket the request's input tokens up front, the output bucket
the tokens actually generated when the answer ends. Unlimited budgets still answer the headers,
with `UNLIMITED` as limit and remaining, so clients that read them always find them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from .config import RateLimit

__all__ = ["UNLIMITED", "RateLimiter"]

UNLIMITED = 1_000_000_000
_KINDS = ("requests", "input-tokens", "output-tokens")


class _Bucket:
    def __init__(self, per_minute: int, now: float) -> None:
        self.capacity = float(per_minute)
        self.level = float(per_minute)
        self.stamp = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.capacity / 60.0)
        self.stamp = now

    def seconds_until(self, amount: float) -> float:
        missing = amount - self.level
        return 0.0 if missing <= 0 else missing * 60.0 / self.capacity


class RateLimiter:
    def __init__(self, limits: Sequence[RateLimit], clock: Callable[[], float]) -> None:
        self._limits = tuple(limits)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()

    def _limit_for(self, model: str) -> RateLimit | None:
        return next((lim for lim in self._limits if lim.matches(model)), None)

    def _bucket(self, model: str, kind: str, now: float) -> _Bucket | None:
        limit = self._limit_for(model)
        if limit is None:
            return None
        per_minute = {
            "requests": limit.requests_per_minute,
            "input-tokens": limit.input_tokens_per_minute,
            "output-tokens": limit.output_tokens_per_minute,
        }[kind]
        if per_minute is None:
            return None
        key = (limit.model, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(per_minute, now)
        bucket.refill(now)
        return bucket

    def admit(self, model: str, input_tokens: int) -> tuple[float | None, str]:
        """Charge a request. Returns (retry_after_seconds or None if admitted, exhausted kind)."""
        with self._lock:
            now = self._clock()
            waits: list[tuple[float, str]] = []
            for kind, need in (
                ("requests", 1.0),
                ("input-tokens", float(input_tokens)),
                ("output-tokens", 1.0),
            ):
                bucket = self._bucket(model, kind, now)
                if bucket is None:
                    continue
                # A request larger than a whole minute's budget can never fit; wait for a full bucket.
                wait = bucket.seconds_until(min(need, bucket.capacity))
                if wait > 0:
                    waits.append((wait, kind))
            if waits:
                wait, kind = max(waits)
                return wait, kind
            for kind, amount in (("requests", 1.0), ("input-tokens", float(input_tokens))):
                bucket = self._bucket(model, kind, now)
                if bucket is not None:
                    bucket.level -= amount
            return None, ""

    def charge_output(self, model: str, tokens: int) -> None:
        with self._lock:
            bucket = self._bucket(model, "output-tokens", self._clock())
            if bucket is not None:
                bucket.level -= tokens

    def headers(self, model: str) -> list[tuple[bytes, bytes]]:
        with self._lock:
            now = self._clock()
            wall = datetime.now(UTC)
            levels: dict[str, tuple[int, int, float]] = {}
            for kind in _KINDS:
                bucket = self._bucket(model, kind, now) if model else None
                if bucket is None:
                    levels[kind] = (UNLIMITED, UNLIMITED, 0.0)
                else:
                    until_full = (bucket.capacity - bucket.level) * 60.0 / bucket.capacity
                    levels[kind] = (int(bucket.capacity), max(0, math.floor(bucket.level)), until_full)
        tok_limit = min(levels["input-tokens"][0] + levels["output-tokens"][0], UNLIMITED)
        tok_remaining = min(levels["input-tokens"][1] + levels["output-tokens"][1], UNLIMITED)
        tok_reset = max(levels["input-tokens"][2], levels["output-tokens"][2])
        rows = [*((k, *levels[k]) for k in _KINDS), ("tokens", tok_limit, tok_remaining, tok_reset)]
        out: list[tuple[bytes, bytes]] = []
        for kind, limit, remaining, reset_in in rows:
            reset = (wall + timedelta(seconds=reset_in)).strftime("%Y-%m-%dT%H:%M:%SZ")
            prefix = f"anthropic-ratelimit-{kind}-"
            out.append(((prefix + "limit").encode(), str(limit).encode()))
            out.append(((prefix + "remaining").encode(), str(remaining).encode()))
            out.append(((prefix + "reset").encode(), reset.encode()))
        return out
