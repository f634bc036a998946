"""The request loops of a call, written once: this async source is the only one.

`../_sync/calls.py` is generated from it by `scripts/unasync.py` (`make unasync`; `make test`
checks that it is current), so a fix lands in both by editing this file alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, TypeVar, cast

import anthropic
import httpx2
from anthropic.types import Message

from ..._errors import UpstreamFailure
from ..._events import TYPED, Reset, StreamEvent
from ..._structured import Output
from ..governor import Attempts, RateLimited
from ..hedging import Contender, HedgeOutcome
from ..race import AsyncRace
from ..stream import AttemptPlan, Event, Finish, StreamCore
from .text import TextIteration

__all__ = ["AsyncTextStream", "acreate"]

logger = logging.getLogger("firsttoken.hedging")

_R = TypeVar("_R")
_Response = AbstractAsyncContextManager[anthropic.AsyncAPIResponse[Any]]


async def _admitted(plan: AttemptPlan, model: str) -> int | None:
    """Wait until the rate-limit governor admits the call: its seq, or None to pass the model over."""
    while True:
        step = plan.admission(model)
        if step is None or step >= 0:
            return None if step is None else int(step)
        await asyncio.sleep(-step)


async def _first_accepted(
    plan: AttemptPlan, send: Callable[[dict[str, Any]], Awaitable[_R]]
) -> tuple[str, _R]:
    """Send to `plan`'s models in turn until one accepts: that model and what `send` returned.

    Raises the last refusal when the plan has no model left to try.
    """
    while True:
        model, params = plan.next_attempt()
        seq = await _admitted(plan, model)
        if seq is None:
            plan.not_admitted(model)
            continue
        attempts = Attempts(model)
        try:
            with plan.tracking(seq, attempts):
                sent = await send(params)
        except anthropic.APIError as exc:
            if plan.refused(model, exc, attempts):
                continue
            raise
        plan.accepted(model, attempts)
        return model, sent


async def acreate(client: anthropic.AsyncAnthropic, plan: AttemptPlan) -> Message:
    """A non-streaming call over `plan`'s models; raises the last model's error if none answers."""
    model, raw = await _first_accepted(
        plan, lambda params: client.messages.with_raw_response.create(**params)
    )
    plan.succeeded(model)
    return cast(Message, await raw.parse())


async def _until_first_token(contender: Contender) -> None:
    """Read a hedged call's request until its first token (or its end, or its failure)."""
    try:
        async for chunk in contender.chunks:
            if contender.feed(chunk):
                return
    except Exception as exc:
        # The read's failure is this request's: raised by the stream only if it is the one kept.
        contender.ended(exc)
        return
    contender.ended(None)


class AsyncTextStream(StreamCore, TextIteration):
    """`async with engine.astream(...) as s: async for text in s: ...`.

    Then `s.usage`, `s.timings`, `s.message`. Closing a stream early closes the HTTP response at
    once, so the model stops generating.
    """

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        plan: AttemptPlan,
        on_finish: Finish,
        output: Output | None = None,
        hedge_client: Callable[[], anthropic.AsyncAnthropic] | None = None,
    ) -> None:
        super().__init__(plan, on_finish, output)
        self._client = client
        # Where a hedge goes: the pool's client at that moment (another shard when this one's are
        # busy); this stream's own client when none is given.
        self._hedge_client = hedge_client
        self._cm: _Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        # The arguments of the current attempt (a hedge sends them again).
        self._params: dict[str, Any] = {}

    async def open(self) -> AsyncTextStream:
        """Send the request; raises the SDK's errors (after its retries and fallbacks) if it is refused."""
        if self._cm is not None:
            return self
        try:
            await self._open_next()
        except (anthropic.APIError, RateLimited) as exc:
            self._refused(exc)
            raise
        return self

    async def _open_next(self) -> None:
        _, (cm, response) = await _first_accepted(self._plan, self._send)
        self._cm = cm
        self._attempt_opened()
        self._chunks = response.http_response.aiter_bytes()
        delay = self._plan.hedge_delay()
        if delay is not None:
            await self._hedged(Contender(cm, response, self._chunks, hedge=False), delay)

    async def _send(self, params: dict[str, Any]) -> tuple[_Response, anthropic.AsyncAPIResponse[Any]]:
        self._params = params
        return await self._request(self._client, params)

    async def _request(
        self, client: anthropic.AsyncAnthropic, params: dict[str, Any]
    ) -> tuple[_Response, anthropic.AsyncAPIResponse[Any]]:
        cm = client.messages.with_streaming_response.create(stream=True, **params)
        return cm, await cm.__aenter__()

    async def _hedged(self, first: Contender, delay: float) -> None:
        """Read `first` up to its first token; past `delay` without one, the race sends a hedge (the
        same request) and reads it elsewhere (`_hedge`). Whichever shows a token first is kept, its
        bytes so far replayed by `events()`; the other is closed at once, its events never reaching
        the caller. `first` is read here, not in a task or thread, so a call that needs no hedge
        gets its token as soon as an unhedged call would."""
        race = AsyncRace(first)
        race.after(delay, lambda: self._hedge(race))
        try:
            await _until_first_token(first)
            if not (first.outcome == "token" and race.claim(first)):
                # No token here, or the hedge's came first and cut this read short: the hedge decides.
                await race.hedge_ended()
        finally:
            await race.stop()
        hedge = race.hedge
        kept = hedge if hedge is not None and race.winner is hedge else first
        if kept is not first:
            self._cm, self._chunks = kept.cm, kept.chunks
            await race.discard(first)
        self._pending, self._pending_error = kept.read, kept.error
        if race.sent:
            # The loser's usage as its message_start said; a hedge closed before that was sent the
            # same prompt, so the kept request's usage stands for it.
            loser = first if kept is hedge else hedge
            usage = loser.usage if loser is not None and loser.usage else kept.usage
            self._hedge_finished(HedgeOutcome(kept is hedge, usage))

    async def _hedge(self, race: AsyncRace) -> None:
        """At the delay: the hedge, if the plan admits one now, read up to its first token; if that
        comes first, the first request's read is cut short. A refused hedge changes nothing."""
        plan, params = self._plan, self._params
        seq = plan.hedge_admission()
        if seq is None or not race.sending():
            return
        try:
            client = self._client if self._hedge_client is None else self._hedge_client()
            with plan.tracking(seq, Attempts(str(params["model"]))):
                cm, response = await self._request(client, params)
        except Exception:
            # Whatever stopped the hedge (the API's refusal, a closed engine), the first request
            # still answers: nothing to raise, and no one to raise it to from a timer.
            logger.debug("firsttoken: a hedge did not go out", exc_info=True)
            return
        hedge = Contender(cm, response, response.http_response.aiter_bytes(), hedge=True)
        try:
            if race.entered(hedge):
                await _until_first_token(hedge)
                if hedge.outcome == "token" and race.claim(hedge):
                    race.interrupt(race.first)
        finally:
            if race.winner is not hedge:
                await cm.__aexit__(None, None, None)

    async def _drop_attempt(self) -> None:
        cm, self._chunks = self._cm, None
        if cm is not None:
            # Forgotten only once closed: a close cancelled halfway (a task group tearing down)
            # must leave the next aclose() something to close.
            await cm.__aexit__(None, None, None)
            self._cm = None

    async def events(self) -> AsyncIterator[Event]:
        """Every stream event as a `(type, data)` pair of plain JSON, pings included."""
        await self.open()
        while True:
            assert self._chunks is not None
            try:
                if self._pending or self._pending_error is not None:
                    # A hedged call's bytes read while its two requests raced, then the rest.
                    pending, error, self._pending, self._pending_error = (
                        self._pending,
                        self._pending_error,
                        [],
                        None,
                    )
                    for chunk in pending:
                        for event in self._released(chunk):
                            yield event
                    if error is not None:
                        raise error
                async for chunk in self._chunks:
                    for event in self._released(chunk):
                        yield event
                self._check_complete()
            except (httpx2.TransportError, UpstreamFailure) as exc:
                failure = self._plan.broke_off(exc)
                if failure is not None:
                    raise self._failed(failure) from (exc if exc is not failure else None)
                await self._drop_attempt()
                try:
                    await self._open_next()
                except (anthropic.APIError, RateLimited) as exc2:
                    raise self._failed(UpstreamFailure(self._plan.error_type(exc2), str(exc2))) from exc2
                restarted = self._plan.restart()
                if restarted is not None:
                    yield TYPED, Reset(restarted, "fallback")
                continue
            break
        self._end(None)

    async def typed_events(self) -> AsyncIterator[StreamEvent]:
        """Every content block kind as a typed event (`firsttoken.TextDelta`, `ThinkingDelta`,
        `ToolInputDelta`, `ToolCall`, `Citation`, `Finished`...), in the order the API sent them."""
        async for name, data in self.events():
            event = self.reader.feed(name, data)
            if event is not None:
                yield event

    async def aclose(self) -> None:
        """Idempotent; closing before the end closes the HTTP response, so generation stops."""
        cm = self._cm
        self._chunks = None
        if cm is not None:
            self._end(None)
            await self._drop_attempt()

    async def __aenter__(self) -> AsyncTextStream:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
