"""What a stream of the Messages API is, apart from its I/O: decoding, folding, timing, the record.

The request loops that do the I/O are written once, async, in `_async/calls.py`; `_sync/calls.py`
is generated from it (`scripts/unasync.py`). Both drive an `AttemptPlan`: the models to try and
what to do when one refuses or breaks off. A plain call is a plan of one model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from time import perf_counter
from typing import Any, Protocol

import anthropic
import httpx2
from anthropic.types import Message

from .._accumulator import MessageAccumulator
from .._errors import UpstreamFailure
from .._events import EventReader
from .._metrics import CallRecord
from .._sse import SSEDecoder
from .._structured import Output
from .._timings import Timings
from .governor import Attempts
from .hedging import HedgeOutcome

__all__ = ["AttemptPlan", "Event", "Finish", "StreamCore", "lost", "server_tool_counts", "text_of"]

Event = tuple[str, Any]
Finish = Callable[[CallRecord], None]


class AttemptPlan(Protocol):
    """One call's attempts: which model next, whether it may go now, and what a failure means.

    `_fallback.Chain` is the one implementation: a fallback chain, of length one for a plain call.
    """

    timings: Timings
    # The profile's name and the model the call asked for (before any fallback).
    profile: str
    model: str

    def next_attempt(self) -> tuple[str, dict[str, Any]]: ...

    def admission(self, model: str) -> float | None:
        """The admission's seq (>= 1) to go now, None to pass the model over, or minus seconds to wait."""

    def not_admitted(self, model: str) -> None: ...

    def tracking(self, seq: int, attempts: Attempts) -> AbstractContextManager[Any]:
        """Around the SDK call: lets the rate-limit governor read each HTTP attempt of this call."""

    def refused(self, model: str, exc: anthropic.APIError, attempts: Attempts) -> bool:
        """After a model refused the call: True to try the next model, False to raise."""

    def accepted(self, model: str, attempts: Attempts) -> None: ...

    def succeeded(self, model: str) -> None: ...

    def release(
        self, acc: MessageAccumulator, name: str, data: Any, text: str | None
    ) -> Iterable[Event] | None:
        """The events to hand on now, or None for this one alone (most events: no tuple to build
        and walk per event); `text` is what this one adds to the answer's text."""

    def broke_off(self, exc: httpx2.TransportError | UpstreamFailure) -> UpstreamFailure | None:
        """After an attempt failed mid-stream: the failure to raise, or None to open the next model."""

    def restart(self) -> str | None:
        """After the next model accepted: its name when the answer starts again on it (the caller
        drops what it showed), None when it continues or nothing had been shown."""

    def error_type(self, exc: BaseException) -> str: ...

    def hedge_delay(self) -> float | None:
        """Seconds from now until the current attempt is hedged if it has no token by then (the
        delay counts from the call's start); None: no hedge."""

    def hedge_admission(self) -> int | None:
        """The governor's admission of a hedge of the current attempt now, or None if none may go."""


class StreamCore:
    """What the sync and async streams share: decoding, accumulating, timing, the final record."""

    def __init__(self, plan: AttemptPlan, on_finish: Finish, output: Output | None = None) -> None:
        self.profile = plan.profile
        # The call's structured output (`output=`), read by `partial_objects()` and `parsed`.
        self.output = output
        self.requested_model = plan.model
        self.timings = plan.timings
        self._plan = plan
        self._decoder = SSEDecoder()
        self._acc = MessageAccumulator()
        # Types the events of the current attempt (`typed_events()`, and the relay's non-text ones).
        self.reader = EventReader()
        self._on_finish = on_finish
        self._recorded = False
        self.error: str | None = None
        # A hedged call's bytes read while its requests raced, replayed by `events()`, and the
        # error its kept request's read raised, if any.
        self._pending: list[bytes] = []
        self._pending_error: BaseException | None = None
        # Set once a hedge went out: whether it answered, and what the request that lost cost.
        self.hedge: HedgeOutcome | None = None

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
    def stop_details(self) -> dict[str, Any] | None:
        """A refusal's `stop_details` (its category and explanation), when the API sent any."""
        message = self._acc.message
        return message.get("stop_details") if message else None

    @property
    def blocks(self) -> list[dict[str, Any]]:
        """The answer's content blocks as the API streamed them (plain dicts, signatures kept)."""
        message = self._acc.message
        return list(message["content"]) if message else []

    @property
    def message_id(self) -> str | None:
        """The answer's id (`msg_...`), once its `message_start` arrived: what a thread continues from."""
        message = self._acc.message
        return message.get("id") if message else None

    @property
    def answer(self) -> list[dict[str, Any]]:
        """The answer as the conversation's next assistant turn, sent back as the API takes it."""
        return [answer_turn(self.blocks)]

    # A plain call is one step of one model call; an agent turn (`_agent/`) counts its calls.
    steps = 1
    max_steps_reached = False
    awaiting_approval: tuple[str, ...] = ()

    def interrupt(self) -> None:
        """Thread-safe, from a thread that does not read the stream: nothing to do for one call
        (its reader closes it at the next chunk); an agent turn stops its tools' wait."""

    @property
    def message(self) -> Message:
        """The SDK's `Message` (tool_use blocks included); complete once the stream is exhausted."""
        return self._acc.build()

    @property
    def finished(self) -> bool:
        return self._acc.done

    def _attempt_opened(self) -> None:
        # Each model answers from a clean slate: nothing of a failed attempt reaches the message.
        self._decoder, self._acc, self.reader = SSEDecoder(), MessageAccumulator(), EventReader()

    def _hedge_finished(self, outcome: HedgeOutcome) -> None:
        self.hedge = outcome
        self.timings.hedge = outcome.label

    def _released(self, chunk: bytes) -> Iterator[Event]:
        """The events of one chunk of bytes that the plan lets through now."""
        acc, plan, timings = self._acc, self._plan, self.timings
        for name, data in self._decoder.feed(chunk):
            text = acc.feed(name, data)
            if text is not None and timings.ttft is None:
                timings.ttft = perf_counter() - timings.started
            released = plan.release(acc, name, data, text)
            if released is None:
                yield name, data
            else:
                yield from released

    def _check_complete(self) -> None:
        if not self._acc.done:
            raise UpstreamFailure("api_error", "the upstream stream ended before message_stop")

    def _refused(self, exc: BaseException) -> None:
        """Record a call no model accepted."""
        self._end(
            self._plan.error_type(exc) if not isinstance(exc, anthropic.APIError) else type(exc).__name__
        )

    def _failed(self, failure: UpstreamFailure) -> UpstreamFailure:
        """Record a stream that ended in an error; returns the error to raise."""
        self._end(failure.type)
        return failure

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
                server_tool_use=server_tool_counts(usage.get("server_tool_use")),
                **(_hedge_fields(self.hedge) if self.hedge is not None else {}),
            )
        )


def _hedge_fields(hedge: HedgeOutcome) -> dict[str, Any]:
    usage = hedge.usage
    return {
        "hedge": hedge.label,
        "hedge_input_tokens": int(usage.get("input_tokens") or 0),
        "hedge_output_tokens": int(usage.get("output_tokens") or 0),
        "hedge_cache_read_input_tokens": int(usage.get("cache_read_input_tokens") or 0),
        "hedge_cache_creation_input_tokens": int(usage.get("cache_creation_input_tokens") or 0),
    }


def _already_finished(record: CallRecord) -> None:
    return None


def sent_block(block: Mapping[str, Any]) -> dict[str, Any]:
    """A streamed block as the next request sends it back: without the fields the API does not
    take back (`citations: null` on a plain text block)."""
    out = {k: v for k, v in block.items() if v is not None}
    if out.get("type") == "text" and not out.get("citations"):
        out.pop("citations", None)
    return out


def server_tool_counts(counts: Any) -> tuple[tuple[str, int], ...]:
    """`usage.server_tool_use` (a dict, or the SDK's model) as the record's (field, count) pairs."""
    if counts is None:
        return ()
    if not isinstance(counts, Mapping):
        counts = counts.model_dump()
    return tuple((str(k), int(v)) for k, v in counts.items() if isinstance(v, int) and v)


def answer_turn(blocks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """An answer as the next request's assistant turn: plain text stays a string, as a page sends
    it back (so a conversation held by the server and one a page holds make the same prompt, and
    the same prompt-cache prefix); any other block (thinking, tool use, compaction) goes back whole."""
    sent = [sent_block(b) for b in blocks]
    if all(b.get("type") == "text" and set(b) == {"type", "text"} for b in sent):
        return {"role": "assistant", "content": "".join(b["text"] for b in sent)}
    return {"role": "assistant", "content": sent}


def text_of(name: str, data: Any) -> str | None:
    if name == "content_block_delta":
        delta = data["delta"]
        if delta["type"] == "text_delta":
            return str(delta["text"])
    return None


def lost(exc: httpx2.TransportError) -> UpstreamFailure:
    if isinstance(exc, httpx2.TimeoutException):
        return UpstreamFailure("timeout_error", "the upstream stream stalled past the read timeout")
    return UpstreamFailure(
        "api_connection_error", f"the upstream connection was lost mid-stream ({type(exc).__name__})"
    )
