"""Paused agent turns: what a turn waiting for the user's approval needs to go on, by approval id.

A turn that called a tool needing approval (`firsttoken.tool(needs_approval=True)`) ends its
response and keeps its conversation here; the browser's next request answers the approval and the
turn goes on from it, in this process or, with Redis, on any worker. Each entry is taken once: a
second answer to the same approval finds nothing, so an approved tool never runs twice.
`MemoryApprovals` holds them for one process; `RedisApprovals` is a `SET EX` per approval id and a
`GETDEL` to take one, falling back to its memory twin while Redis is away.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .guard import Guard
from .keys import Keys

__all__ = ["Approvals", "MemoryApprovals", "RedisApprovals"]

# Paused turns remembered per process; past it the oldest go first.
MAX_PAUSED = 10_000


class Approvals(Protocol):
    def keep(self, ids: Sequence[str], value: bytes, ttl: float) -> None:
        """Keep `value` under each of `ids` for `ttl` seconds."""

    def take(self, id: str) -> bytes | None:
        """The value kept under `id`, removed; None when there is none (unknown, taken, expired)."""

    async def akeep(self, ids: Sequence[str], value: bytes, ttl: float) -> None: ...

    async def atake(self, id: str) -> bytes | None: ...


class MemoryApprovals:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, size: int = MAX_PAUSED) -> None:
        self.clock = clock
        self.size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def keep(self, ids: Sequence[str], value: bytes, ttl: float) -> None:
        until = self.clock() + ttl
        with self._lock:
            for id in ids:
                self._kept[id] = (until, value)
                self._kept.move_to_end(id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def take(self, id: str) -> bytes | None:
        with self._lock:
            kept = self._kept.pop(id, None)
        if kept is None or kept[0] <= self.clock():
            return None
        return kept[1]

    async def akeep(self, ids: Sequence[str], value: bytes, ttl: float) -> None:
        self.keep(ids, value, ttl)

    async def atake(self, id: str) -> bytes | None:
        return self.take(id)


def _seconds(ttl: float) -> int:
    return max(1, int(ttl))


class RedisApprovals:
    def __init__(self, client: Any, async_client: Callable[[], Any], keys: Keys, guard: Guard) -> None:
        self._client = client
        self._async_client = async_client
        self._keys = keys
        self._guard = guard
        self.local = MemoryApprovals()

    def _key(self, id: str) -> str:
        return self._keys.key("approval", id)

    def keep(self, ids: Sequence[str], value: bytes, ttl: float) -> None:
        def remote() -> Any:
            with self._client.pipeline(transaction=False) as pipe:
                for id in ids:
                    pipe.set(self._key(id), value, ex=_seconds(ttl))
                return pipe.execute()

        self._guard.run(remote, lambda: self.local.keep(ids, value, ttl))

    def take(self, id: str) -> bytes | None:
        found = self._guard.run(lambda: self._client.getdel(self._key(id)), lambda: self.local.take(id))
        return None if found is None else bytes(found)

    async def akeep(self, ids: Sequence[str], value: bytes, ttl: float) -> None:
        async def remote() -> Any:
            async with self._async_client().pipeline(transaction=False) as pipe:
                for id in ids:
                    pipe.set(self._key(id), value, ex=_seconds(ttl))
                return await pipe.execute()

        await self._guard.arun(remote, lambda: self.local.keep(ids, value, ttl))

    async def atake(self, id: str) -> bytes | None:
        async def remote() -> Any:
            return await self._async_client().getdel(self._key(id))

        found = await self._guard.arun(remote, lambda: self.local.take(id))
        return None if found is None else bytes(found)
