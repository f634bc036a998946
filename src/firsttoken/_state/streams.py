"""Resumable answers in Redis: one Redis Stream of encoded events per response, and its small keys.

Per response id (`{rid}` is the Redis Cluster hash tag, so one pipeline touches one slot):

- `resume:{rid}` the stream: entry `0-<n>` holds event `n`'s bytes (`b`), exactly as sent, its
  `id: n` line included; a last entry with `e` marks the end. Explicit ids: the producer numbers
  its events itself, so it can write the first one to its own client before Redis has answered.
- `resume:{rid}:meta` the owner's digest and the wire format;
- `resume:{rid}:lease` set while a live producer renews it: gone without an end entry means the
  producer's worker died;
- `resume:{rid}:stop` set by a stop from any worker, polled by the producer's process;
- `resume:{rid}:reader` set while some resumer is attached (the grace period counts from when
  neither it nor the original connection is there).
- `resume-chat:{digest(owner, chat id)}` the response id of a chat's newest answer (the AI SDK
  resumes by chat id).

Every key carries a TTL (`resume_ttl`; the lease its own few seconds) under the deployment prefix.
Blocking reads use clients of their own, whose socket timeout outlasts the block.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from .._loops import close_with_loop
from .connect import aclose_client, async_client, close_client, sync_client
from .keys import Keys, digest

__all__ = ["BLOCK_SECONDS", "LEASE_SECONDS", "Begin", "Entry", "RedisStreams"]

# A producer renews its lease every third of this; a resumer learns of a dead producer within it.
LEASE_SECONDS = 3.0
# How long one blocking read waits for new events before the resumer checks the lease again.
BLOCK_SECONDS = 1.0

# (sequence number, bytes); None as bytes is the end marker.
Entry = tuple[int, bytes | None]
# What the first write records: the owner's digest, the wire format, the chat key (or None).
Begin = tuple[str, str, str | None]


def _entries(reply: Any) -> list[Entry]:
    found: list[Entry] = []
    for _key, items in reply or ():
        for entry_id, fields in items:
            raw = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            seq = int(raw.partition("-")[2])
            found.append((seq, None if b"e" in fields else fields[b"b"]))
    return found


class RedisStreams:
    """The Redis side of resumable answers; every method is one pipelined round trip or one read."""

    def __init__(self, *, url: str, prefix: str, timeout: float, ttl: float) -> None:
        self.keys = Keys(prefix)
        self.ttl_ms = max(1, int(ttl * 1000))
        self.lease_seconds = LEASE_SECONDS
        self.lease_ms = int(LEASE_SECONDS * 1000)
        self.block_seconds = BLOCK_SECONDS
        self._url = url
        # Short steps (appends, flags) get the deployment's `redis_timeout`, at least a few round
        # trips on a loaded machine; blocking reads a timeout that outlasts their block.
        self._timeout = max(timeout, 0.25)
        self.client = sync_client(url, self._timeout)
        self.blocking = sync_client(url, BLOCK_SECONDS + 2.0)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any, Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self.closed = False

    # -- keys ------------------------------------------------------------------------------------

    def stream_key(self, rid: str) -> str:
        return self.keys.key("resume", rid)

    def part(self, rid: str, part: str) -> str:
        return self.keys.key("resume", rid, part)

    def chat_key(self, owner: str, chat_id: str) -> str:
        return self.keys.key("resume-chat", digest(f"{owner}\0{chat_id}"))

    def async_clients(self) -> tuple[Any, Any]:
        """The running loop's (short, blocking) clients: redis.asyncio connections belong to a loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._async.get(loop)
            if entry is None:
                short = async_client(self._url, self._timeout)
                blocking = async_client(self._url, BLOCK_SECONDS + 2.0)

                async def close() -> None:
                    await aclose_client(short)
                    await aclose_client(blocking)

                # The hook lives with the clients: only the loop's shutdown ends it.
                entry = self._async[loop] = (short, blocking, close_with_loop(loop, close))
            return entry[0], entry[1]

    # -- the producer's side ---------------------------------------------------------------------

    def _begin(self, pipe: Any, rid: str, owner: str, fmt: str, chat: str | None) -> None:
        meta = self.part(rid, "meta")
        pipe.hset(meta, mapping={"owner": owner, "format": fmt})
        pipe.pexpire(meta, self.ttl_ms)
        pipe.set(self.part(rid, "lease"), b"1", px=self.lease_ms)
        if chat is not None:
            pipe.set(chat, rid, px=self.ttl_ms)

    def _append(self, pipe: Any, rid: str, entries: Sequence[Entry], begin: Begin | None) -> None:
        # The first write also creates the answer's keys: one round trip, after the first event
        # already went to the producer's own client.
        if begin is not None:
            self._begin(pipe, rid, *begin)
        key = self.stream_key(rid)
        for seq, data in entries:
            pipe.xadd(key, {"e": b"1"} if data is None else {"b": data}, id=f"0-{seq}")
        pipe.pexpire(key, self.ttl_ms)
        pipe.pexpire(self.part(rid, "meta"), self.ttl_ms)

    def append(self, rid: str, entries: Sequence[Entry], begin: Begin | None = None) -> None:
        pipe = self.client.pipeline(transaction=False)
        self._append(pipe, rid, entries, begin)
        pipe.execute()

    async def aappend(self, rid: str, entries: Sequence[Entry], begin: Begin | None = None) -> None:
        pipe = self.async_clients()[0].pipeline(transaction=False)
        self._append(pipe, rid, entries, begin)
        await pipe.execute()

    def finish(self, rid: str) -> None:
        self.client.delete(self.part(rid, "lease"))

    async def afinish(self, rid: str) -> None:
        await self.async_clients()[0].delete(self.part(rid, "lease"))

    def poll(
        self, renew: Sequence[str], check: Sequence[str], watch: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        """One round trip for the process's producers: renew the leases of `renew`, and say which
        of `check` were asked to stop and which of `watch` have a resumer attached."""
        pipe = self.client.pipeline(transaction=False)
        for rid in renew:
            pipe.pexpire(self.part(rid, "lease"), self.lease_ms)
        for rid in check:
            pipe.exists(self.part(rid, "stop"))
        for rid in watch:
            pipe.exists(self.part(rid, "reader"))
        replies = pipe.execute()[len(renew) :]
        stopped = {rid for rid, found in zip(check, replies[: len(check)], strict=True) if found}
        attended = {rid for rid, found in zip(watch, replies[len(check) :], strict=True) if found}
        return stopped, attended

    # -- anyone's side ---------------------------------------------------------------------------

    def stop(self, rid: str, owner: str) -> bool:
        """Ask the producer of `rid` to stop, if `owner` owns it; False when there is no such answer."""
        if not self._owned(self.client.hget(self.part(rid, "meta"), "owner"), owner):
            return False
        self.client.set(self.part(rid, "stop"), b"1", px=self.ttl_ms)
        return True

    async def astop(self, rid: str, owner: str) -> bool:
        client = self.async_clients()[0]
        if not self._owned(await client.hget(self.part(rid, "meta"), "owner"), owner):
            return False
        await client.set(self.part(rid, "stop"), b"1", px=self.ttl_ms)
        return True

    @staticmethod
    def _owned(found: Any, owner: str) -> bool:
        import hmac

        return found is not None and hmac.compare_digest(found, owner.encode())

    # -- the resumer's side ----------------------------------------------------------------------

    def _find(self, pipe: Any, rid: str) -> None:
        pipe.hgetall(self.part(rid, "meta"))
        pipe.xrevrange(self.stream_key(rid), count=1)

    @staticmethod
    def _found(replies: list[Any], owner: str) -> tuple[str, int | None] | None:
        meta, last = replies
        if not meta or not RedisStreams._owned(meta.get(b"owner"), owner):
            return None
        ended = None
        if last:
            entry_id, fields = last[0]
            if b"e" in fields:
                ended = int(entry_id.decode().partition("-")[2])
        return meta[b"format"].decode(), ended

    def find(self, rid: str, owner: str) -> tuple[str, int | None] | None:
        """`rid`'s wire format and the number of its end entry (None while it goes on), or None when
        there is nothing of `owner`'s under that id."""
        pipe = self.client.pipeline(transaction=False)
        self._find(pipe, rid)
        return self._found(pipe.execute(), owner)

    async def afind(self, rid: str, owner: str) -> tuple[str, int | None] | None:
        pipe = self.async_clients()[0].pipeline(transaction=False)
        self._find(pipe, rid)
        return self._found(await pipe.execute(), owner)

    def chat(self, owner: str, chat_id: str) -> str | None:
        found = self.client.get(self.chat_key(owner, chat_id))
        return None if found is None else found.decode()

    async def achat(self, owner: str, chat_id: str) -> str | None:
        found = await self.async_clients()[0].get(self.chat_key(owner, chat_id))
        return None if found is None else found.decode()

    def read(self, rid: str, after: int, block: float | None) -> list[Entry]:
        """Entries after number `after`, waiting up to `block` seconds for one (None: not at all)."""
        ms = None if block is None else max(1, int(block * 1000))
        return _entries(self.blocking.xread({self.stream_key(rid): f"0-{after}"}, count=512, block=ms))

    async def aread(self, rid: str, after: int, block: float | None) -> list[Entry]:
        ms = None if block is None else max(1, int(block * 1000))
        reply = await self.async_clients()[1].xread({self.stream_key(rid): f"0-{after}"}, count=512, block=ms)
        return _entries(reply)

    def attend(self, rid: str, grace_ms: int) -> bool:
        """Say a resumer is attached (for `grace_ms`), and whether the producer's lease still holds."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.part(rid, "reader"), b"1", px=grace_ms)
        pipe.exists(self.part(rid, "lease"))
        return bool(pipe.execute()[1])

    async def aattend(self, rid: str, grace_ms: int) -> bool:
        pipe = self.async_clients()[0].pipeline(transaction=False)
        pipe.set(self.part(rid, "reader"), b"1", px=grace_ms)
        pipe.exists(self.part(rid, "lease"))
        return bool((await pipe.execute())[1])

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        close_client(self.client)
        close_client(self.blocking)
