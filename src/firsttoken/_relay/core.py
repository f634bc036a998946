"""What the relay does with no I/O: the protocols it reads, its headers, the summary, the encoding.

The I/O shells are `_async/io.py` (the source) and `_sync/io.py` (generated from it).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import anthropic

from .._events import EventReader
from .._heartbeat import Heartbeat
from .._wire import WireFormat, get_format
from .ids import new_response_id
from .resume import RESUMABLE_FORMATS

if TYPE_CHECKING:
    from .._caching.ahead_core import AheadResult
    from .._settings import Settings
    from .._timings import Timings
    from .._uploads import Uploads
    from .resume import ResumeHub

__all__ = ["EngineParts", "RelayCore"]

Messages = Sequence[Mapping[str, Any]]


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

    @property
    def stop_details(self) -> dict[str, Any] | None: ...

    @property
    def reader(self) -> EventReader: ...

    # Model calls the answer took (an agent turn's steps), and whether it stopped at its limit.
    @property
    def steps(self) -> int: ...

    @property
    def max_steps_reached(self) -> bool: ...

    def interrupt(self) -> None: ...


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

    @property
    def resume(self) -> ResumeHub | None:
        """The resumable answers' hub, when `resumable` is on (Redis set)."""

    def metrics_snapshot(self) -> dict[str, Any]: ...

    def warm_for(
        self, messages: Messages, *, profile: str | None = None, client: str | None = None, system: Any = None
    ) -> AheadResult: ...

    def stream(self, **call: Any) -> _SyncStream: ...

    def astream(self, **call: Any) -> _AsyncStream: ...


class RelayCore:
    """One browser response apart from its I/O: the state both shells share, the headers, the
    summary and the encoding of each event (`Relay` adds the sync and async I/O)."""

    def __init__(
        self,
        engine: EngineParts,
        *,
        format: str | WireFormat = "sse",
        owner: str | None = None,
        chat_id: str | None = None,
        **call: Any,
    ) -> None:
        self.engine = engine
        self.format = get_format(format) if isinstance(format, str) else format
        self._call = call
        # Named in the `start` event and the `X-Response-Id` header; the key of a resumable answer.
        self.response_id = new_response_id()
        # Who may resume or stop this answer (a session, a user id); the chat it answers (AI SDK).
        self.owner = owner
        self.chat_id = chat_id
        # getattr: an engine-like object without resumable answers (a test double) has none.
        hub = getattr(engine, "resume", None)
        self._hub = hub if hub is not None and self.format.name in RESUMABLE_FORMATS else None
        # Attached files sent by id once uploaded (_uploads.py), when the engine has that on.
        uploads = getattr(engine, "uploads", None)
        self._uploads: Uploads | None = uploads if uploads is not None and uploads.enabled else None
        # Set once a resumable answer is handed to its producer (`open`/`aopen`).
        self._producer: Any = None
        self._sync: _SyncStream | None = None
        self._async: _AsyncStream | None = None
        # The thread iterating the sync stream, while one is: only it may close the stream.
        self._reader: int | None = None
        self.closed = False
        # `Settings.coalesce_window`: None writes one event per upstream delta.
        self.window = engine.settings.coalesce_window

    def _headers(self, stream: _Stream) -> list[tuple[str, str]]:
        upstream = stream.timings.upstream or 0.0
        return [
            ("Content-Type", self.format.media_type),
            *self.format.headers,
            ("Server-Timing", f'upstream;dur={upstream * 1000:.1f};desc="{stream.requested_model}"'),
            ("X-Response-Id", self.response_id),
        ]

    @property
    def stream(self) -> _Stream | None:
        return self._sync or self._async

    def _left(self) -> None:
        """The server closed the body (the client left, or the answer ended). A stream read in
        another thread (a WSGI body's reader) is told at once, so that an agent turn stops waiting
        for its tools; a plain call's reader closes it at its next event."""
        stream = self.stream
        if stream is not None:
            stream.interrupt()

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
            **({"stop_details": stream.stop_details} if stream.stop_details else {}),
            "steps": stream.steps,
            **({"max_steps_reached": True} if stream.max_steps_reached else {}),
        }

    def _done(self) -> bytes:
        return self.format.done(self.summary())

    def _encode(self, stream: _Stream, name: str, data: Any) -> bytes:
        """The bytes one upstream event becomes on the wire. Text goes straight to the format (the
        hot path: no typed event is built for it); the rest is typed by the stream's reader."""
        if name == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                return self.format.token(delta["text"])
        elif name == "ping":
            return self.format.heartbeat()
        event = stream.reader.feed(name, data)
        return b"" if event is None else self.format.event(event)
