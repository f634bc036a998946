"""Streams of text deltas (guide step 1) over the SDK's raw streaming response.

The SDK makes the request, retries it and raises its typed errors; the bytes it hands back are
decoded by `sse.py` and folded by `accumulator.py`, which costs a fraction of its pydantic helper.
Closing a stream early closes the HTTP response at once, so the model stops generating.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from time import perf_counter
from types import TracebackType
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message

from .._accumulator import MessageAccumulator
from .._errors import UpstreamFailure
from .._metrics import CallRecord
from .._sse import SSEDecoder
from .._timings import Timings

__all__ = ["AsyncTextStream", "TextStream"]

Event = tuple[str, Any]
Finish = Callable[[CallRecord], None]


class _StreamState:
    """What the sync and async streams share: decoding, accumulating, timing, the final record."""

    def __init__(self, *, profile: str, model: str, on_finish: Finish) -> None:
        self.profile = profile
        self.requested_model = model
        self.timings = Timings()
        self._decoder = SSEDecoder()
        self._acc = MessageAccumulator()
        self._on_finish = on_finish
        self._recorded = False
        self.error: str | None = None

    @property
    def model(self) -> str:
        message = self._acc.message
        return str(message["model"]) if message else self.requested_model

    @property
    def usage(self) -> dict[str, Any]:
        return self._acc.usage

    @property
    def stop_reason(self) -> str | None:
        message = self._acc.message
        return message.get("stop_reason") if message else None

    @property
    def message(self) -> Message:
        """The SDK's `Message` (tool_use blocks included); complete once the stream is exhausted."""
        return self._acc.build()

    @property
    def finished(self) -> bool:
        return self._acc.done

    def _events(self, chunk: bytes) -> Iterator[Event]:
        acc = self._acc
        for name, data in self._decoder.feed(chunk):
            text = acc.feed(name, data)
            if text is not None and self.timings.ttft is None:
                self.timings.ttft = perf_counter() - self.timings.started
            yield name, data

    def _end(self, error: str | None) -> None:
        if self._recorded:
            return
        self._recorded = True
        timings = self.timings
        timings.total = perf_counter() - timings.started
        usage = self._acc.usage
        timings.output_tokens = int(usage.get("output_tokens") or 0)
        if error is None and not self._acc.done:
            error = "cancelled"
        self.error = error
        # Dropped once called: the engine's callback refers back to this stream, and a cycle would
        # leave every finished stream to the garbage collector instead of freeing it at once.
        on_finish, self._on_finish = self._on_finish, _already_finished
        on_finish(
            CallRecord(
                profile=self.profile,
                model=self.model,
                streamed=True,
                total=timings.total,
                ttft=timings.ttft,
                tps=timings.tps,
                input_tokens=int(usage.get("input_tokens") or 0),
                output_tokens=timings.output_tokens,
                cache_read_input_tokens=int(usage.get("cache_read_input_tokens") or 0),
                cache_creation_input_tokens=int(usage.get("cache_creation_input_tokens") or 0),
                retries=timings.retries,
                fallbacks=timings.fallbacks,
                route=timings.route,
                error=error,
            )
        )

    def _opened(self, retries: int) -> None:
        self.timings.upstream = perf_counter() - self.timings.started
        self.timings.retries = retries

    def _broke_off(self, failure: UpstreamFailure) -> UpstreamFailure:
        """Record a stream that ended in an error; returns the error to raise."""
        self._end(failure.type)
        return failure

    def _incomplete(self) -> UpstreamFailure:
        return UpstreamFailure("api_error", "the upstream stream ended before message_stop")

    def _exhausted(self) -> None:
        if not self._acc.done:
            raise self._broke_off(self._incomplete())
        self._end(None)


def _already_finished(record: CallRecord) -> None:
    return None


def _text_of(name: str, data: Any) -> str | None:
    if name == "content_block_delta":
        delta = data["delta"]
        if delta["type"] == "text_delta":
            return str(delta["text"])
    return None


def _lost(exc: httpx2.TransportError) -> UpstreamFailure:
    if isinstance(exc, httpx2.TimeoutException):
        return UpstreamFailure("timeout_error", "the upstream stream stalled past the read timeout")
    return UpstreamFailure(
        "api_connection_error", f"the upstream connection was lost mid-stream ({type(exc).__name__})"
    )


class TextStream(_StreamState):
    """`with engine.stream(...) as s: for text in s: ...`; then `s.usage`, `s.timings`, `s.message`."""

    def __init__(
        self,
        opener: Callable[[], AbstractContextManager[anthropic.APIResponse[Any]]],
        *,
        profile: str,
        model: str,
        on_finish: Finish,
    ) -> None:
        super().__init__(profile=profile, model=model, on_finish=on_finish)
        self._opener = opener
        self._cm: AbstractContextManager[anthropic.APIResponse[Any]] | None = None
        self._chunks: Iterator[bytes] | None = None

    def open(self) -> TextStream:
        """Send the request; raises the SDK's errors (after its retries) if the API refuses it."""
        if self._cm is not None:
            return self
        cm = self._opener()
        try:
            response = cm.__enter__()
        except anthropic.APIError as exc:
            self._end(type(exc).__name__)
            raise
        self._cm = cm
        self._opened(response.retries_taken)
        self._chunks = response.http_response.iter_bytes()
        return self

    def events(self) -> Iterator[Event]:
        """Every stream event as a `(type, data)` pair of plain JSON, pings included."""
        self.open()
        assert self._chunks is not None
        try:
            for chunk in self._chunks:
                yield from self._events(chunk)
        except httpx2.TransportError as exc:
            raise self._broke_off(_lost(exc)) from exc
        except UpstreamFailure as exc:
            raise self._broke_off(exc) from None
        self._exhausted()

    def __iter__(self) -> Iterator[str]:
        for name, data in self.events():
            text = _text_of(name, data)
            if text is not None:
                yield text

    def text(self) -> str:
        return "".join(self)

    def close(self) -> None:
        """Idempotent; closing before the end closes the HTTP response, so generation stops."""
        cm = self._cm
        self._chunks = None
        if cm is not None:
            self._end(None)
            cm.__exit__(None, None, None)
            self._cm = None

    def __enter__(self) -> TextStream:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncTextStream(_StreamState):
    """`async with engine.astream(...) as s: async for text in s: ...`."""

    def __init__(
        self,
        opener: Callable[[], AbstractAsyncContextManager[anthropic.AsyncAPIResponse[Any]]],
        *,
        profile: str,
        model: str,
        on_finish: Finish,
    ) -> None:
        super().__init__(profile=profile, model=model, on_finish=on_finish)
        self._opener = opener
        self._cm: AbstractAsyncContextManager[anthropic.AsyncAPIResponse[Any]] | None = None
        self._chunks: AsyncIterator[bytes] | None = None

    async def open(self) -> AsyncTextStream:
        if self._cm is not None:
            return self
        cm = self._opener()
        try:
            response = await cm.__aenter__()
        except anthropic.APIError as exc:
            self._end(type(exc).__name__)
            raise
        self._cm = cm
        self._opened(response.retries_taken)
        self._chunks = response.http_response.aiter_bytes()
        return self

    async def events(self) -> AsyncIterator[Event]:
        await self.open()
        assert self._chunks is not None
        try:
            async for chunk in self._chunks:
                for event in self._events(chunk):
                    yield event
        except httpx2.TransportError as exc:
            raise self._broke_off(_lost(exc)) from exc
        except UpstreamFailure as exc:
            raise self._broke_off(exc) from None
        self._exhausted()

    async def __aiter__(self) -> AsyncIterator[str]:
        async for name, data in self.events():
            text = _text_of(name, data)
            if text is not None:
                yield text

    async def text(self) -> str:
        return "".join([t async for t in self])

    async def aclose(self) -> None:
        cm = self._cm
        self._chunks = None
        if cm is not None:
            self._end(None)
            # Forgotten only once closed: a close cancelled halfway (a task group tearing down)
            # must leave the next aclose() something to close.
            await cm.__aexit__(None, None, None)
            self._cm = None

    async def __aenter__(self) -> AsyncTextStream:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
