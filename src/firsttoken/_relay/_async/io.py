"""The relay's I/O, written once: this async source is the only one.

`../_sync/io.py` is generated from it (`make unasync`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import anthropic

from ..._chat import RelayStart, upstream_error
from ..._errors import UpstreamFailure
from ..._heartbeat import abeating
from ..._upstream.governor import RateLimited
from ..core import RelayCore, _AsyncStream

__all__ = ["AsyncRelay"]


class AsyncRelay(RelayCore):
    async def aopen(self) -> RelayStart:
        """Open the upstream stream: a 200 with the stream's headers, or the refusal as an HTTP error."""
        stream: _AsyncStream = self.engine.astream(**self._call)
        self._async = stream
        try:
            await stream.open()
        except (anthropic.APIError, RateLimited) as exc:
            self.closed = True
            return upstream_error(exc)
        return RelayStart(200, self._headers(stream))

    def abody(self) -> AsyncIterator[bytes]:
        """The response body for a server that iterates it: the stream, with idle heartbeats."""
        if self._async is None:
            raise RuntimeError("open the relay (await relay.aopen()) before iterating it")
        return abeating(self.__aiter__(), self.heartbeat())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        stream = self._async
        if stream is None:
            raise RuntimeError("open the relay (await relay.aopen()) before iterating it")
        fmt = self.format
        self._reader = threading.get_ident()
        try:
            first = fmt.start()
            if first:
                yield first
            window = self.window
            if window is None:
                async for name, data in stream.events():
                    chunk = self._encode(stream, name, data)
                    if chunk:
                        yield chunk
            else:
                # One write per batch of events that arrived together; with a window, the next
                # read waits out the window after each write, and what arrives meanwhile shares
                # the next write. The first token is never held: the wait comes after a write.
                async for batch in stream.batches():
                    chunk = self._encode_batch(stream, batch)
                    if chunk:
                        yield chunk
                        if window and self.spoke and not stream.finished:
                            await asyncio.sleep(window)
        except UpstreamFailure as exc:
            yield fmt.error(exc.type, exc.message)
            return
        finally:
            self._reader = None
            await self.aclose()
        yield fmt.done(self.summary())

    async def aclose(self) -> None:
        """Close the upstream stream (idempotent); a body read in another thread closes it itself."""
        self.closed = True
        reader = self._reader
        if self._async is not None and reader in (None, threading.get_ident()):
            await self._async.aclose()
