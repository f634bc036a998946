"""Claims: "this key is mine for `ttl` seconds", taken by one worker at most.

Warming while the user types (`_caching/ahead.py`) claims a conversation prefix before warming it,
so that a second warm of the same prefix, from this process or any worker sharing the Redis, is
skipped, and a conversation has at most one warm in flight. `MemoryClaims` holds them for one
process; `RedisClaims` is one `SET NX PX` a claim, falling back to its memory twin while Redis is
away (two workers may then both warm once: a duplicate warm is a cache read, not an error).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from .guard import Guard
from .keys import Keys

__all__ = ["Claims", "MemoryClaims", "RedisClaims"]

# Claims remembered per process; past it the oldest go first (they are the likeliest expired).
MAX_CLAIMS = 10_000


class Claims(Protocol):
    def claim(self, key: str, ttl: float) -> bool:
        """True if `key` was free (now ours for `ttl` seconds), False if someone holds it."""

    def release(self, key: str) -> None: ...

    async def aclaim(self, key: str, ttl: float) -> bool: ...

    async def arelease(self, key: str) -> None: ...


class MemoryClaims:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, size: int = MAX_CLAIMS) -> None:
        self.clock = clock
        self.size = size
        self._lock = threading.Lock()
        self._until: OrderedDict[str, float] = OrderedDict()

    def claim(self, key: str, ttl: float) -> bool:
        now = self.clock()
        with self._lock:
            until = self._until.get(key)
            if until is not None and until > now:
                return False
            self._until[key] = now + ttl
            self._until.move_to_end(key)
            while len(self._until) > self.size:
                self._until.popitem(last=False)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._until.pop(key, None)

    async def aclaim(self, key: str, ttl: float) -> bool:
        return self.claim(key, ttl)

    async def arelease(self, key: str) -> None:
        self.release(key)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisClaims:
    def __init__(self, client: Any, async_client: Callable[[], Any], keys: Keys, guard: Guard) -> None:
        self._client = client
        self._async_client = async_client
        self._keys = keys
        self._guard = guard
        self.local = MemoryClaims()

    def _key(self, key: str) -> str:
        return self._keys.key("claim", key)

    def claim(self, key: str, ttl: float) -> bool:
        return bool(
            self._guard.run(
                lambda: self._client.set(self._key(key), b"1", nx=True, px=_ms(ttl)),
                lambda: self.local.claim(key, ttl),
            )
        )

    def release(self, key: str) -> None:
        self.local.release(key)
        self._guard.run(lambda: self._client.delete(self._key(key)), lambda: 0)

    async def aclaim(self, key: str, ttl: float) -> bool:
        async def remote() -> Any:
            return await self._async_client().set(self._key(key), b"1", nx=True, px=_ms(ttl))

        return bool(await self._guard.arun(remote, lambda: self.local.claim(key, ttl)))

    async def arelease(self, key: str) -> None:
        self.local.release(key)

        async def remote() -> Any:
            return await self._async_client().delete(self._key(key))

        await self._guard.arun(remote, lambda: 0)
