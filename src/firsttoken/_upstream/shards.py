"""One event loop's async clients, so that starting a request never walks hundreds of open streams.

httpcore's connection pool walks every connection it holds each time a request starts and each time a response
closes: about 1.6 µs a connection, 0.4 ms a walk with 256 answers streaming, so every new request's time to
first token grew with the number already open (BENCHMARKS.md, Starlette). A loop's clients are therefore
shards: a request goes to the first shard with fewer than `SHARD_STREAMS` responses open. Under light load
that is always the first one (one client, one warm connection, as the Anthropic Performance Tuning guide's
step 4, "one shared client", asks); under heavy load each walk stays short. A shard opens a connection only
when all of its own are busy, which one pool would have had to do as well: an HTTP/1.1 connection carries one
response at a time.
"""

from __future__ import annotations

import math
import socket
from collections.abc import AsyncIterator, Callable

import anthropic
import httpx2

__all__ = ["SHARD_STREAMS", "CountingTransport", "LoopClients"]

SHARD_STREAMS = 32


def keepalive_options() -> list[tuple[int, int, int]]:
    """The TCP keepalive the SDK's `DefaultAsyncHttpxClient` sets on its own transport.

    The shards build their transport themselves (to count responses), so they set the same.
    """
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPINTVL", 60), ("TCP_KEEPCNT", 5), ("TCP_KEEPIDLE", 60)):
        option = getattr(socket, name, None)
        if option is not None:
            options.append((socket.IPPROTO_TCP, option, value))
    return options


class CountingTransport(httpx2.AsyncBaseTransport):
    """A transport (httpx's own, or the SDK's aiohttp one) that knows how many of its responses
    are still open; `counter`, another one whose count its responses add to (a shard's proxy
    mounts count with the shard's own transport)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, counter: CountingTransport | None = None) -> None:
        self._inner = inner
        self.open_responses = 0
        self._counter = self if counter is None else counter

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        counter = self._counter
        counter.open_responses += 1
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            counter.open_responses -= 1
            raise
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        response.stream = _Counted(response.stream, counter)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Counted(httpx2.AsyncByteStream):
    __slots__ = ("_stream", "_transport")

    def __init__(self, stream: httpx2.AsyncByteStream, transport: CountingTransport) -> None:
        self._stream = stream
        self._transport: CountingTransport | None = transport

    def __aiter__(self) -> AsyncIterator[bytes]:
        # The inner stream's own iterator: no extra generator step per chunk.
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.open_responses -= 1
        await self._stream.aclose()


Shard = tuple[anthropic.AsyncAnthropic, CountingTransport]


class LoopClients:
    """The shards of one event loop, filled in order."""

    def __init__(self, make: Callable[[], Shard], *, max_connections: int) -> None:
        self._make = make
        # Enough shards for the pool's connection limit; past it the least busy shard queues.
        self._max_shards = max(1, math.ceil(max_connections / SHARD_STREAMS))
        self.shards: list[Shard] = []

    def pick(self) -> anthropic.AsyncAnthropic:
        least: Shard | None = None
        for shard in self.shards:
            if shard[1].open_responses < SHARD_STREAMS:
                return shard[0]
            if least is None or shard[1].open_responses < least[1].open_responses:
                least = shard
        if least is None or len(self.shards) < self._max_shards:
            shard = self._make()
            self.shards.append(shard)
            return shard[0]
        return least[0]

    async def aclose(self) -> None:
        shards, self.shards = self.shards, []
        for client, _ in shards:
            await client.close()
