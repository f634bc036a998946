"""Following a resumed answer's Redis Stream, written once: this async source is the only one.

`../_sync/follow.py` is generated from it (`make unasync`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import cast

from ...._heartbeat import Heartbeat
from ..core import ResumedCore

__all__ = ["AsyncFollow"]

logger = logging.getLogger("firsttoken.resume")


class AsyncFollow(ResumedCore):
    async def _alost(self) -> bytes:
        """The error for a producer that died, written to the stream too: the producer is gone,
        so nothing else writes there."""
        out, entries = self._lost_entries()
        try:
            await self.store.aappend(self.response_id, entries)
        except Exception:  # another resumer wrote it first: the bytes are the same
            logger.debug("firsttoken: the end of %s was written by another resumer", self.response_id)
        return out

    async def _afollow(self, timer: Heartbeat | None) -> AsyncIterator[bytes | None]:
        """The stream's bytes after `after`; with a `timer`, None when a wait ended with nothing
        (a beat may be due), each wait no longer than the next beat."""
        store, rid, grace_ms = self.store, self.response_id, self.grace_ms
        attended = 0.0
        while not self.closed:
            now = time.monotonic()
            if now - attended > self.grace / 3:
                await store.aattend(rid, grace_ms)
                attended = now
            most = store.block_seconds
            block = most if timer is None else max(0.01, min(most, timer.due_in()))
            entries = await store.aread(rid, self.after, block)
            if not entries:
                alive, attended = await store.aattend(rid, grace_ms), time.monotonic()
                if not alive and not await store.aread(rid, self.after, None):
                    yield await self._alost()
                    return
                if timer is not None:
                    yield None
                continue
            chunk, ended = self._joined(entries)
            if chunk or not ended:
                yield chunk
            if ended:
                return

    def __aiter__(self) -> AsyncIterator[bytes]:
        # With no timer, only bytes.
        return cast("AsyncIterator[bytes]", self._afollow(None))

    async def aclose(self) -> None:
        self.closed = True
