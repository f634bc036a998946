"""The breaker, classification and response stores on Redis, each falling back to its memory twin.

Writes go to the local twin too, so that when Redis goes away this process still knows what it
saw itself; reads ask Redis while it answers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from .breaker import MemoryBreakerStore
from .classify import MemoryClassifyCache
from .guard import Guard
from .keys import Keys
from .memory import MemoryResponseStore

__all__ = ["RedisBreakerStore", "RedisClassifyCache", "RedisResponseStore"]

# Keys outlive what they hold by this much, so a slow clock on one machine never reads a key
# that vanished a moment early; expiry is for cleaning up, not for timing.
SLACK_MS = 60_000

_ADD_FAILURE = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(ARGV[1]) - tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('ZCARD', KEYS[1])
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisBreakerStore:
    """Failures as a sorted set by time, the cooldown as a key holding its end (wall-clock seconds)."""

    def __init__(self, client: Any, keys: Keys, guard: Guard) -> None:
        self._client = client
        self._keys = keys
        self._guard = guard
        self.local = MemoryBreakerStore()
        self._add = client.register_script(_ADD_FAILURE)

    def _failures(self, model: str) -> str:
        return self._keys.key("breaker", model, "failures")

    def _open(self, model: str) -> str:
        return self._keys.key("breaker", model, "open")

    def add_failure(self, key: str, at: float, window: float) -> int:
        local = self.local.add_failure(key, at, window)
        # A unique member: two workers failing in the same microsecond are two failures.
        member = f"{at!r}:{uuid.uuid4().hex[:12]}"
        return int(
            self._guard.run(
                lambda: self._add(
                    keys=[self._failures(key)], args=[repr(at), repr(window), member, _ms(window) + SLACK_MS]
                ),
                lambda: local,
            )
        )

    def open_until(self, key: str) -> float | None:
        def remote() -> float | None:
            raw = self._client.get(self._open(key))
            return None if raw is None else float(raw)

        return self._guard.run(remote, lambda: self.local.open_until(key))

    def trip(self, key: str, until: float) -> None:
        self.local.trip(key, until)

        def remote() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.set(self._open(key), repr(until), px=_ms(max(0.0, until - time.time())) + SLACK_MS)
            pipe.delete(self._failures(key))
            pipe.execute()

        self._guard.run(remote, lambda: None)

    def clear(self, key: str) -> None:
        self.local.clear(key)
        self._guard.run(lambda: self._client.delete(self._open(key), self._failures(key)), lambda: 0)


class RedisClassifyCache:
    """Labels by digest; this process's own answers are read from memory first (no round trip)."""

    def __init__(self, client: Any, keys: Keys, guard: Guard, *, size: int) -> None:
        self._client = client
        self._keys = keys
        self._guard = guard
        self.local = MemoryClassifyCache(size=size)

    def _key(self, key: str) -> str:
        # Router keys are "firsttoken:classify:<sha256>"; only the digest is ours to namespace.
        return self._keys.key("classify", key.rpartition(":")[2])

    def get(self, key: str) -> str | None:
        hit = self.local.get(key)
        if hit is not None:
            return hit

        def remote() -> str | None:
            raw = self._client.get(self._key(key))
            return None if raw is None else bytes(raw).decode()

        return self._guard.run(remote, lambda: None)

    def set(self, key: str, label: str, ttl: float) -> None:
        if ttl <= 0:
            return
        self.local.set(key, label, ttl)
        self._guard.run(lambda: self._client.set(self._key(key), label, px=_ms(ttl)), lambda: None)


class RedisResponseStore:
    """Serialised answers by request digest; the async path uses the event loop's own client."""

    def __init__(self, client: Any, async_client: Callable[[], Any], keys: Keys, guard: Guard) -> None:
        self._client = client
        self._async_client = async_client
        self._keys = keys
        self._guard = guard
        # Used only while Redis is away: answers stay fast, shared again once it is back.
        self.local = MemoryResponseStore()

    def _key(self, key: str) -> str:
        return self._keys.key("response", key)

    def get(self, key: str) -> bytes | None:
        def remote() -> bytes | None:
            raw = self._client.get(self._key(key))
            return None if raw is None else bytes(raw)

        return self._guard.run(remote, lambda: self.local.get(key))

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self._guard.run(
            lambda: self._client.set(self._key(key), value, px=_ms(ttl)),
            lambda: self.local.set(key, value, ttl),
        )

    async def aget(self, key: str) -> bytes | None:
        async def remote() -> bytes | None:
            raw = await self._async_client().get(self._key(key))
            return None if raw is None else bytes(raw)

        return await self._guard.arun(remote, lambda: self.local.get(key))

    async def aset(self, key: str, value: bytes, ttl: float) -> None:
        async def remote() -> None:
            await self._async_client().set(self._key(key), value, px=_ms(ttl))

        await self._guard.arun(remote, lambda: self.local.set(key, value, ttl))
