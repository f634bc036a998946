"""The relay: one browser response from one engine stream, in a wire format, heartbeats included.

Adapters read the body, call `parse_chat_request` (`_chat.py`), and move a `Relay`'s `body()` (sync
servers) or `abody()` (async ones) into their framework's streaming response. Everything written to
the client, idle heartbeats included, is chosen here, so the three frameworks answer byte for byte
the same and a fix lands in all of them at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import anthropic

from ._chat import RelayStart, upstream_error
from ._errors import UpstreamFailure
from ._heartbeat import Heartbeat, abeating, beating
from ._upstream.governor import RateLimited
from ._wire import WireFormat, get_format

if TYPE_CHECKING:
    from ._settings import Settings
    from ._timings import Timings

__all__ = ["EngineHandle", "Relay"]


class _Stream(Protocol):
    """What the relay reads of the engine's sync or async stream."""

    @property
    def profile(self) -> str | None: ...

    @property
    def requested_model(self) -> str: ...

    @property
    def timings(self) -> Timings: ...

    @property
    def model(self) -> str: ...

    @property
    def usage(self) -> Mapping[str, Any]: ...

    @property
    def stop_reason(self) -> str | None: ...


class _SyncStream(_Stream, Protocol):
    def open(self) -> Any: ...

    def events(self) -> Iterator[tuple[str, Any]]: ...

    def close(self) -> None: ...


class _AsyncStream(_Stream, Protocol):
    async def open(self) -> Any: ...

    def events(self) -> AsyncIterator[tuple[str, Any]]: ...

    async def aclose(self) -> None: ...


class EngineParts(Protocol):
    """What the relay and the handles use of `firsttoken.Engine`, named here so the relay, which
    sits above the engine, never imports it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def client(self) -> anthropic.Anthropic: ...

    @property
    def async_client(self) -> anthropic.AsyncAnthropic: ...

    def metrics_snapshot(self) -> dict[str, Any]: ...

    def stream(self, **call: Any) -> _SyncStream: ...

    def astream(self, **call: Any) -> _AsyncStream: ...


class Relay:
    """One browser response: opens the upstream stream, then yields the wire format's bytes.

    Sync servers: `start = relay.open()`, then iterate `relay.body()` and `close()` the relay.
    Async servers: `start = await relay.aopen()`, then iterate `relay.abody()` and `await aclose()`.
    The bodies add idle heartbeats (`Settings.heartbeat_interval`); iterating the relay itself gives
    the same bytes without them. `open` answers the upstream's refusal (overload, rate limit) as an
    HTTP error before any byte of the stream is sent; once streaming, failures become the format's
    error event.
    """

    def __init__(self, engine: EngineParts, *, format: str | WireFormat = "sse", **call: Any) -> None:
        self.engine = engine
        self.format = get_format(format) if isinstance(format, str) else format
        self._call = call
        self._sync: _SyncStream | None = None
        self._async: _AsyncStream | None = None
        # The thread iterating the sync stream, while one is: only it may close the stream.
        self._reader: int | None = None
        self.closed = False

    def _headers(self, stream: _Stream) -> list[tuple[str, str]]:
        upstream = stream.timings.upstream or 0.0
        return [
            ("Content-Type", self.format.media_type),
            *self.format.headers,
            ("Server-Timing", f'upstream;dur={upstream * 1000:.1f};desc="{stream.requested_model}"'),
        ]

    @property
    def stream(self) -> _Stream | None:
        return self._sync or self._async

    def heartbeat(self, *, clock: Callable[[], float] = time.monotonic) -> Heartbeat:
        """The idle-heartbeat timer of this response (for servers that write beats themselves)."""
        return Heartbeat(self.format.heartbeat(), self.engine.settings.heartbeat_interval, clock=clock)

    def summary(self) -> dict[str, Any]:
        stream = self.stream
        if stream is None:
            return {}
        usage = stream.usage
        timings = stream.timings
        tps = timings.tps
        return {
            "model": stream.model,
            "stop_reason": stream.stop_reason,
            "usage": {
                "input_tokens": int(usage.get("input_tokens") or 0),
                "output_tokens": int(usage.get("output_tokens") or 0),
                "cache_read_input_tokens": int(usage.get("cache_read_input_tokens") or 0),
                "cache_creation_input_tokens": int(usage.get("cache_creation_input_tokens") or 0),
            },
            "ttft_ms": None if timings.ttft is None else round(timings.ttft * 1000, 1),
            "tps": None if tps is None else round(tps, 1),
            "profile": stream.profile,
            "retries": timings.retries,
            "served_by": timings.served_by or stream.model,
            "fallbacks": timings.fallbacks,
            **({"route": timings.route, "classify_ms": timings.classify_ms} if timings.route else {}),
        }

    def _encode(self, name: str, data: Any) -> bytes:
        """The bytes one upstream event becomes on the wire: text and heartbeats; the rest, none."""
        if name == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                return self.format.token(delta["text"])
        elif name == "ping":
            return self.format.heartbeat()
        return b""

    # -- sync --------------------------------------------------------------------------------

    def open(self) -> RelayStart:
        stream: _SyncStream = self.engine.stream(**self._call)
        self._sync = stream
        try:
            stream.open()
        except (anthropic.APIError, RateLimited) as exc:
            self.closed = True
            return upstream_error(exc)
        return RelayStart(200, self._headers(stream))

    def body(self) -> Iterator[bytes]:
        """The response body for a sync server: the stream, with idle heartbeats."""
        if self._sync is None:
            raise RuntimeError("call relay.open() before iterating it")
        return beating(iter(self), self.heartbeat())

    def __iter__(self) -> Iterator[bytes]:
        stream = self._sync
        if stream is None:
            raise RuntimeError("call relay.open() before iterating it")
        fmt = self.format
        self._reader = threading.get_ident()
        try:
            first = fmt.start()
            if first:
                yield first
            for name, data in stream.events():
                chunk = self._encode(name, data)
                if chunk:
                    yield chunk
        except UpstreamFailure as exc:
            yield fmt.error(exc.type, exc.message)
            return
        finally:
            self._reader = None
            self.close()
        yield fmt.done(self.summary())

    def close(self) -> None:
        """Close the upstream stream (idempotent); a body read in another thread closes it itself."""
        self.closed = True
        reader = self._reader
        if self._sync is not None and reader in (None, threading.get_ident()):
            self._sync.close()

    # -- async -------------------------------------------------------------------------------

    async def aopen(self) -> RelayStart:
        stream: _AsyncStream = self.engine.astream(**self._call)
        self._async = stream
        try:
            await stream.open()
        except (anthropic.APIError, RateLimited) as exc:
            self.closed = True
            return upstream_error(exc)
        return RelayStart(200, self._headers(stream))

    def abody(self) -> AsyncIterator[bytes]:
        """The response body for an async server that iterates it: the stream, with idle heartbeats."""
        if self._async is None:
            raise RuntimeError("await relay.aopen() before iterating it")
        return abeating(self.__aiter__(), self.heartbeat())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        stream = self._async
        if stream is None:
            raise RuntimeError("await relay.aopen() before iterating it")
        fmt = self.format
        try:
            first = fmt.start()
            if first:
                yield first
            async for name, data in stream.events():
                chunk = self._encode(name, data)
                if chunk:
                    yield chunk
        except UpstreamFailure as exc:
            yield fmt.error(exc.type, exc.message)
            return
        finally:
            await self.aclose()
        yield fmt.done(self.summary())

    async def aclose(self) -> None:
        self.closed = True
        if self._async is not None:
            await self._async.aclose()


# -- the adapters' handle ------------------------------------------------------------------------


class EngineHandle:
    """The base of every adapter's `FirstToken` handle: each finds its `engine` its framework's way.

    The response methods (`stream_response`, `chat_response` and the a-forms) are the adapters'
    own, since each returns its framework's response class; they build a `Relay(handle.engine, ...)`.
    """

    __slots__ = ()

    @property
    def engine(self) -> EngineParts:
        raise NotImplementedError

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @property
    def client(self) -> anthropic.Anthropic:
        """The process's shared sync `anthropic.Anthropic`."""
        return self.engine.client

    @property
    def async_client(self) -> anthropic.AsyncAnthropic:
        """The shared `anthropic.AsyncAnthropic` of the running event loop."""
        return self.engine.async_client

    def metrics_snapshot(self) -> dict[str, Any]:
        return self.engine.metrics_snapshot()
