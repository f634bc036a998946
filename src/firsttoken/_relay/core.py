"""What the relay does with no I/O: the protocols it reads, its headers, the summary, the encoding.

The I/O shells are `_async/io.py` (the source) and `_sync/io.py` (generated from it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import anthropic

from .._conversation import ChatTurn, Conversation, Recorded, load_messages
from .._errors import Refused
from .._events import EventReader
from .._heartbeat import Heartbeat
from .._pricing import CostModel
from .._state.chats import chat_entity
from .._statuses import RelayStart, refusal
from .._structured import OutputInvalid, PartialObject
from .._wire import WireFormat, get_format
from .ids import new_response_id
from .resume import RESUMABLE_FORMATS
from .resume.protocol import owner_digest

if TYPE_CHECKING:
    from .._caching.ahead_core import AheadResult
    from .._limits import Limits
    from .._settings import Settings
    from .._state.chats import ChatStore
    from .._timings import Timings
    from .._uploads import Uploads
    from .resume import ResumeHub

__all__ = ["EngineParts", "RelayCore"]

logger = logging.getLogger("firsttoken.chats")

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

    # The answer's id (what a thread continues from) and its part of the conversation, once ended.
    @property
    def message_id(self) -> str | None: ...

    @property
    def answer(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def finished(self) -> bool: ...
    # The ids of the tool calls an agent turn paused for, waiting for the user's approval.
    @property
    def awaiting_approval(self) -> tuple[str, ...]: ...

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

    @property
    def chats(self) -> ChatStore:
        """Held conversations of chats that name a `chat_id` (memory, or Redis)."""

    @property
    def limits(self) -> Limits: ...

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
        hold: bool = False,
        message_id: str | None = None,
        **call: Any,
    ) -> None:
        self.engine = engine
        # `message_id`: the AI SDK message a resumed turn continues (its client's last assistant one).
        aisdk = engine.settings.aisdk_protocol
        self.format = (
            get_format(format, aisdk=aisdk, message_id=message_id) if isinstance(format, str) else format
        )
        self._call = call
        # Named in the `start` event and the `X-Response-Id` header; the key of a resumable answer.
        self.response_id = new_response_id()
        # Who may resume or stop this answer (a session, a user id); the chat it answers (AI SDK).
        self.owner = owner
        self.chat_id = chat_id
        # `hold`: the server holds chat `chat_id`'s conversation and `messages` are only the new
        # ones (`_conversation.py`); its store's name for it, and this turn once begun.
        self._chat = chat_entity(owner_digest(owner), chat_id) if hold and chat_id else None
        self._turn: ChatTurn | None = None
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
        # With `output=`: the object as it fills (`object` events), then the checked one (`done`).
        self._objects: PartialObject | None = None
        self._object: dict[str, Any] = {}

    # -- a held chat's turn (`hold`) --------------------------------------------------------------

    def _begin_turn(self, head: bytes | None) -> ChatTurn:
        """The held chat's turn over its stored head (none: a new conversation)."""
        profile: str | None = self._call.get("profile")
        settings = self.engine.settings
        threads = settings.profile(profile or settings.default_profile).threads
        turn = self._turn = ChatTurn(Conversation.loads(head), self._call["messages"], threads=threads)
        return turn

    def _history(self, turn: ChatTurn, raw: list[bytes]) -> RelayStart | None:
        """Give the turn its stored messages; the refusal of a turn whose whole conversation is
        over the profile's input tokens (what is actually sent is counted)."""
        turn.load(load_messages(raw))
        try:
            self.engine.limits.check_tokens(
                turn.counted_messages(), self._call.get("profile"), system=self._call.get("system")
            )
        except Refused as exc:
            self.closed = True
            return refusal(exc)
        return None

    def _turn_call(self) -> dict[str, Any]:
        """The engine call of this attempt: the view's, with the held chat's messages and thread."""
        turn = self._turn
        return self._call if turn is None else {**self._call, **turn.arguments()}

    def _recorded(self, stream: _Stream) -> Recorded | None:
        """What to store of the held chat once the answer ended; None for no held chat."""
        turn = self._turn
        # A turn paused for approvals is held by the approvals store until the user answers; the
        # chat records the answer that resumes it, so the resuming body (the same new message with
        # `approvals`) meets the conversation exactly as the paused call sent it.
        if turn is None or not stream.finished or stream.awaiting_approval:
            return None
        fallback = bool(stream.timings.fallbacks)
        return turn.recorded(
            stream.answer, message_id=stream.message_id, stop_reason=stream.stop_reason, fallback=fallback
        )

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
            **self._object,
            **({"chat_id": self.chat_id, "threaded": self._turn.threads} if self._turn is not None else {}),
            **_server_tool_use(usage),
            "cost_usd": self._cost(stream.model, stream.profile, usage),
            **({"awaiting_approval": list(stream.awaiting_approval)} if stream.awaiting_approval else {}),
            **({"hedge": timings.hedge} if timings.hedge else {}),
        }

    def _watch_objects(self, stream: _Stream) -> None:
        # getattr: a stream without structured outputs (a test double) has no `output`.
        if getattr(stream, "output", None) is not None and self.format.shows_objects:
            self._objects = PartialObject()

    def _checked_object(self) -> tuple[str, str] | None:
        """At the end of a structured answer: the checked object for `done`, or the error to send
        instead, naming why the answer is not one."""
        stream = self.stream
        output = getattr(stream, "output", None)
        if output is None:
            return None
        try:
            self._object = {"object": output.as_json(stream.parsed)}  # type: ignore[union-attr]
        except OutputInvalid as exc:
            return "invalid_output", str(exc)
        return None

    def _cost(self, model: str, profile: str | None, usage: Mapping[str, Any]) -> float:
        """The answer's estimated dollars (`_pricing.CostModel.answer_cost`), at the settings' prices."""
        settings = self.engine.settings
        costs = CostModel.build(prices=settings.pricing, min_tokens=settings.cache_min_tokens)
        chosen = settings.profiles.get(profile) if profile is not None else None
        ttl = chosen.cache_ttl if chosen is not None else "5m"
        return round(costs.answer_cost(model, usage, ttl=ttl), 6)

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


def _server_tool_use(usage: Mapping[str, Any]) -> dict[str, Any]:
    """`done`'s `server_tool_use`: the API's counts of the server tools it ran, when it ran any."""
    counts = usage.get("server_tool_use")
    if not isinstance(counts, Mapping) or not any(counts.values()):
        return {}
    return {"server_tool_use": {k: int(v or 0) for k, v in counts.items()}}
