"""Held conversations (threaded chats): one serialised conversation per owner and chat id.

The key is `<prefix>chat:{digest(owner digest, chat id)}`: the owner is part of the digest, so a
chat id sent by anyone else names another (empty) key, and neither the chat id nor the owner
reaches Redis. Each write renews the key's TTL (`resume_ttl`, the resumable answers' own): a
conversation lives that long after its last turn. The value is the conversation's JSON, written
whole at the end of each turn (`_conversation.Conversation.dumps`); two turns of one chat racing
on two workers keep the one that ended last.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from .._loops import close_with_loop
from .connect import aclose_client, async_client, close_client, sync_client
from .keys import Keys, digest

__all__ = ["ChatStore", "MemoryChats", "RedisChats", "chat_entity"]

# Conversations one process keeps in memory: the oldest untouched go first past it.
MEMORY_CHATS = 4096


def chat_entity(owner: str, chat_id: str) -> str:
    """The store's name for `owner`'s chat `chat_id` (`owner` is already a digest)."""
    return digest(f"firsttoken-chat\0{owner}\0{chat_id}")


class ChatStore(Protocol):
    """Where held conversations live: this process's memory, or Redis for a deployment."""

    kind: str

    def load(self, entity: str) -> bytes | None: ...
    def save(self, entity: str, value: bytes) -> None: ...
    async def aload(self, entity: str) -> bytes | None: ...
    async def asave(self, entity: str, value: bytes) -> None: ...
    def close(self) -> None: ...


class MemoryChats:
    """An LRU of conversations, each expiring `ttl` seconds after its last write."""

    kind = "memory"

    def __init__(
        self, *, ttl: float, size: int = MEMORY_CHATS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def load(self, entity: str) -> bytes | None:
        with self._lock:
            item = self._items.get(entity)
            if item is None:
                return None
            if self.clock() >= item[0]:
                del self._items[entity]
                return None
            self._items.move_to_end(entity)
            return item[1]

    def save(self, entity: str, value: bytes) -> None:
        with self._lock:
            self._items[entity] = (self.clock() + self.ttl, value)
            self._items.move_to_end(entity)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    async def aload(self, entity: str) -> bytes | None:
        return self.load(entity)

    async def asave(self, entity: str, value: bytes) -> None:
        self.save(entity, value)

    def close(self) -> None:
        """Nothing to release."""


class RedisChats:
    """Conversations in Redis, one string key each; the async side uses the running loop's client."""

    kind = "redis"

    def __init__(self, *, url: str, prefix: str, timeout: float, ttl: float) -> None:
        self.keys = Keys(prefix)
        self.ttl_ms = max(1, int(ttl * 1000))
        self._url = url
        self._timeout = max(timeout, 0.25)
        self.client = sync_client(url, self._timeout)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self.closed = False

    def key(self, entity: str) -> str:
        return self.keys.key("chat", entity)

    def _async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._async.get(loop)
            if entry is None:
                client = async_client(self._url, self._timeout)

                async def close() -> None:
                    await aclose_client(client)

                entry = self._async[loop] = (client, close_with_loop(loop, close))
            return entry[0]

    def load(self, entity: str) -> bytes | None:
        found = self.client.get(self.key(entity))
        return None if found is None else bytes(found)

    def save(self, entity: str, value: bytes) -> None:
        self.client.set(self.key(entity), value, px=self.ttl_ms)

    async def aload(self, entity: str) -> bytes | None:
        found = await self._async_client().get(self.key(entity))
        return None if found is None else bytes(found)

    async def asave(self, entity: str, value: bytes) -> None:
        await self._async_client().set(self.key(entity), value, px=self.ttl_ms)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        close_client(self.client)
