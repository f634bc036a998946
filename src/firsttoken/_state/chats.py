"""Held conversations (threaded chats): per owner and chat id, a small head and a list of messages.

The keys are `<prefix>chat:{<entity>}` (the head: where the API's thread stands) and
`<prefix>chat:{<entity>}:messages` (a list, one JSON message per item), where the entity is a
digest of the owner and the chat id: a chat id sent by anyone else names other (empty) keys, and
neither the chat id nor the owner reaches Redis. The hash tag puts both keys on one Cluster slot,
so each turn's write is one atomic pipeline. A turn appends its messages rather than rewriting the
conversation: a thread's turn costs the same at turn 50 as at turn 2. Each write renews both TTLs
(`chat_ttl`): a conversation lives that long after its last turn.
Two turns of one chat racing on two workers both append, in the order they end.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .._loops import close_with_loop
from .connect import aclose_client, async_client, close_client, sync_client
from .keys import Keys, digest

__all__ = ["ChatStore", "MemoryChats", "RedisChats", "chat_entity"]

# A turn's messages to store, each one message's JSON.
Messages = Sequence[bytes]
# Conversations one process keeps in memory: the oldest untouched go first past it.
MEMORY_CHATS = 4096


def chat_entity(owner: str, chat_id: str) -> str:
    """The store's name for `owner`'s chat `chat_id` (`owner` is already a digest)."""
    return digest(f"firsttoken-chat\0{owner}\0{chat_id}")


class ChatStore(Protocol):
    """Where held conversations live: this process's memory, or Redis for a deployment."""

    kind: str

    def load_head(self, entity: str) -> bytes | None: ...
    def load_messages(self, entity: str) -> list[bytes]: ...
    def save(self, entity: str, head: bytes, append: Messages, *, replace: bool = False) -> None: ...
    async def aload_head(self, entity: str) -> bytes | None: ...
    async def aload_messages(self, entity: str) -> list[bytes]: ...
    async def asave(
        self, entity: str, head: bytes, append: Sequence[bytes], *, replace: bool = False
    ) -> None: ...
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
        self._items: OrderedDict[str, tuple[float, bytes, list[bytes]]] = OrderedDict()

    def _live(self, entity: str) -> tuple[float, bytes, list[bytes]] | None:
        item = self._items.get(entity)
        if item is not None and self.clock() >= item[0]:
            del self._items[entity]
            return None
        return item

    def load_head(self, entity: str) -> bytes | None:
        with self._lock:
            item = self._live(entity)
            return None if item is None else item[1]

    def load_messages(self, entity: str) -> list[bytes]:
        with self._lock:
            item = self._live(entity)
            return [] if item is None else list(item[2])

    def save(self, entity: str, head: bytes, append: Messages, *, replace: bool = False) -> None:
        with self._lock:
            item = self._live(entity)
            messages = [] if item is None or replace else item[2]
            messages.extend(append)
            self._items[entity] = (self.clock() + self.ttl, head, messages)
            self._items.move_to_end(entity)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    async def aload_head(self, entity: str) -> bytes | None:
        return self.load_head(entity)

    async def aload_messages(self, entity: str) -> list[bytes]:
        return self.load_messages(entity)

    async def asave(
        self, entity: str, head: bytes, append: Sequence[bytes], *, replace: bool = False
    ) -> None:
        self.save(entity, head, append, replace=replace)

    def close(self) -> None:
        """Nothing to release."""


class RedisChats:
    """Conversations in Redis: a string and a list per chat; the async side uses the running
    loop's client."""

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

    def key(self, entity: str, part: str | None = None) -> str:
        return self.keys.key("chat", entity, part)

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

    def _save(self, pipe: Any, entity: str, head: bytes, append: Sequence[bytes], replace: bool) -> None:
        listed = self.key(entity, "messages")
        pipe.set(self.key(entity), head, px=self.ttl_ms)
        if replace:
            pipe.delete(listed)
        if append:
            pipe.rpush(listed, *append)
        pipe.pexpire(listed, self.ttl_ms)

    def load_head(self, entity: str) -> bytes | None:
        found = self.client.get(self.key(entity))
        return None if found is None else bytes(found)

    def load_messages(self, entity: str) -> list[bytes]:
        return [bytes(m) for m in self.client.lrange(self.key(entity, "messages"), 0, -1)]

    def save(self, entity: str, head: bytes, append: Messages, *, replace: bool = False) -> None:
        pipe = self.client.pipeline(transaction=True)
        self._save(pipe, entity, head, append, replace)
        pipe.execute()

    async def aload_head(self, entity: str) -> bytes | None:
        found = await self._async_client().get(self.key(entity))
        return None if found is None else bytes(found)

    async def aload_messages(self, entity: str) -> list[bytes]:
        found = await self._async_client().lrange(self.key(entity, "messages"), 0, -1)
        return [bytes(m) for m in found]

    async def asave(
        self, entity: str, head: bytes, append: Sequence[bytes], *, replace: bool = False
    ) -> None:
        pipe = self._async_client().pipeline(transaction=True)
        self._save(pipe, entity, head, append, replace)
        await pipe.execute()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        close_client(self.client)
