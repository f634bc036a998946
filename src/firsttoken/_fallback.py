"""Fallback chains: when a model stays overloaded or times out, the call moves to the next model.

The SDK retries first, with its own policy (`Settings.max_retries`); only what it gives up on
reaches this loop. A stream is "committed" once content reached the caller: before that, an
`overloaded_error` event mid-stream is invisible (the attempt is closed, its events dropped, and
the next model answers); after it, the caller gets the error, unless the profile sets
`continue_on_fallback`, which resends the text so far as an assistant prefill to the next model.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, cast

import anthropic
import httpx2
from anthropic.types import Message

from ._accumulator import MessageAccumulator
from ._errors import UpstreamFailure
from ._metrics import CallRecord
from ._profiles import Profile
from ._settings import Settings
from ._sse import SSEDecoder
from ._upstream.breaker import Breaker, BreakerStore
from ._upstream.governor import Attempts, Governor, RateLimited, estimate_input_tokens, tracking
from ._upstream.stream import AsyncTextStream, Event, Finish, TextStream, _lost

__all__ = ["Outcome", "Policy", "Resilience", "ResilientAsyncTextStream", "ResilientTextStream"]

logger = logging.getLogger("firsttoken.resilience")

POLICY_FIELDS = ("fallbacks", "continue_on_fallback", "on_rate_limit", "queue_timeout")
# Error types after which another model is worth a try: the guide's "529 overloaded" and a model
# too slow to answer. Anything else (a bad request, our key) would fail on every model alike.
SWITCH_ON = frozenset({"overloaded_error", "timeout_error"})


@dataclass(frozen=True, slots=True)
class Policy:
    fallbacks: tuple[str, ...]
    continue_on_fallback: bool
    on_rate_limit: str
    queue_timeout: float

    def chain(self, model: str) -> list[str]:
        return [model, *(m for m in self.fallbacks if m != model)]


@dataclass(slots=True)
class Outcome:
    """What a call took beyond the first model's first attempt."""

    retries: int = 0
    fallbacks: int = 0
    served_by: str | None = None
    tried: list[tuple[str, str]] = field(default_factory=list)

    def stamp(self, record: CallRecord) -> CallRecord:
        return dataclasses.replace(record, retries=self.retries, fallbacks=self.fallbacks)


def error_type(exc: BaseException) -> str:
    """The API's error type for an SDK exception or an in-stream failure."""
    if isinstance(exc, UpstreamFailure):
        return exc.type
    if isinstance(exc, RateLimited):
        return "rate_limit_error"
    if isinstance(exc, anthropic.APITimeoutError):
        return "timeout_error"
    if isinstance(exc, anthropic.APIStatusError):
        if exc.status_code == 529:
            return "overloaded_error"
        if exc.status_code == 429:
            return "rate_limit_error"
    return type(exc).__name__


class Resilience:
    """The engine's breaker, governor and fallback loop; one per engine."""

    def __init__(
        self,
        settings: Settings,
        *,
        breaker_store: BreakerStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        governor: Callable[..., Governor] = Governor,
    ) -> None:
        self.breaker = Breaker(
            failures=settings.breaker_failures,
            window=settings.breaker_window,
            cooldown=settings.breaker_cooldown,
            store=breaker_store,
            clock=clock,
        )
        # `governor` builds it: a shared state backend passes one whose budgets live in Redis.
        self.governor = governor(clock=clock, on_overload=self.breaker.failed)
        self._sync: weakref.WeakKeyDictionary[anthropic.Anthropic, anthropic.Anthropic] = (
            weakref.WeakKeyDictionary()
        )
        self._async: weakref.WeakKeyDictionary[anthropic.AsyncAnthropic, anthropic.AsyncAnthropic] = (
            weakref.WeakKeyDictionary()
        )

    # -- building blocks -------------------------------------------------------------------------

    @staticmethod
    def policy(profile: Profile, kwargs: dict[str, Any]) -> Policy:
        """The profile's resilience fields with per-call overrides popped from `kwargs` (validated)."""
        overrides = {k: kwargs.pop(k) for k in POLICY_FIELDS if k in kwargs}
        if "fallbacks" in overrides and not isinstance(overrides["fallbacks"], str):
            overrides["fallbacks"] = tuple(overrides["fallbacks"])
        if overrides:
            profile = profile.replace(**overrides)
        return Policy(
            profile.fallbacks, profile.continue_on_fallback, profile.on_rate_limit, profile.queue_timeout
        )

    def client(self, base: anthropic.Anthropic) -> anthropic.Anthropic:
        """`base` with the governor as middleware, so it sees every attempt's rate-limit headers."""
        derived = self._sync.get(base)
        if derived is None:
            derived = self._sync[base] = base.with_options(middleware=[*base.middleware, self.governor])
        return derived

    def async_client(self, base: anthropic.AsyncAnthropic) -> anthropic.AsyncAnthropic:
        derived = self._async.get(base)
        if derived is None:
            derived = self._async[base] = base.with_options(middleware=[*base.middleware, self.governor])
        return derived

    def plan(self, policy: Policy, model: str) -> tuple[list[str], int]:
        """The models to try and how many were skipped because they are cooling down.

        When every model is cooling down the whole chain is tried anyway: the breaker exists to
        save time, never to refuse a call outright.
        """
        chain = policy.chain(model)
        ready = [m for m in chain if not self.breaker.cooling_down(m)]
        if not ready:
            return chain, 0
        return ready, len(chain) - len(ready)

    def _admit_step(
        self, model: str, params: Mapping[str, Any], policy: Policy, last: bool, deadline: float
    ) -> float | None:
        """The admission's seq (>= 1), None to move on to the next model, or minus the seconds to sleep."""
        wait, seq, probing = self.governor.reserve(model, estimate_input_tokens(params))
        if wait <= 0:
            return seq
        remaining = deadline - self.governor.clock()
        if probing:
            # Waiting for a cold model's first response is not a spent budget; past the queue
            # timeout the call goes ahead rather than failing on what is only caution.
            return -wait if remaining > 0 else self.governor.force(model)
        if policy.on_rate_limit == "fallback" and not last:
            return None
        if policy.on_rate_limit == "fail" or wait > remaining:
            raise RateLimited(model, wait)
        return -min(wait, remaining)

    def admit(self, model: str, params: Mapping[str, Any], policy: Policy, *, last: bool) -> int | None:
        deadline = self.governor.clock() + policy.queue_timeout
        while True:
            step = self._admit_step(model, params, policy, last, deadline)
            if step is None or step >= 0:
                return None if step is None else int(step)
            time.sleep(-step)

    async def aadmit(
        self, model: str, params: Mapping[str, Any], policy: Policy, *, last: bool
    ) -> int | None:
        deadline = self.governor.clock() + policy.queue_timeout
        while True:
            step = self._admit_step(model, params, policy, last, deadline)
            if step is None or step >= 0:
                return None if step is None else int(step)
            await asyncio.sleep(-step)

    def settle(self, model: str, counter: Attempts, outcome: Outcome) -> None:
        """Count one model's SDK retries (each 529 already went to the breaker as it arrived)."""
        outcome.retries += max(0, counter.count - 1)

    def switch(self, model: str, kind: str, outcome: Outcome, following: str) -> None:
        outcome.fallbacks += 1
        outcome.tried.append((model, kind))
        logger.warning("firsttoken: %s failed with %s; falling back to %s", model, kind, following)

    # -- one-shot calls --------------------------------------------------------------------------

    def create(
        self, client: anthropic.Anthropic, params: dict[str, Any], policy: Policy, outcome: Outcome
    ) -> Message:
        client = self.client(client)
        models, outcome.fallbacks = self.plan(policy, str(params["model"]))
        for i, model in enumerate(models):
            last = i == len(models) - 1
            seq = self.admit(model, params, policy, last=last)
            if seq is None:
                self.switch(model, "rate_limit_error", outcome, models[i + 1])
                continue
            counter = Attempts()
            try:
                with tracking(seq, counter):
                    raw = client.messages.with_raw_response.create(**{**params, "model": model})
            except anthropic.APIError as exc:
                self.settle(model, counter, outcome)
                if last or not _switchable(exc, policy):
                    raise
                self.switch(model, error_type(exc), outcome, models[i + 1])
                continue
            self.settle(model, counter, outcome)
            self.breaker.succeeded(model)
            outcome.served_by = model
            return cast(Message, raw.parse())
        raise AssertionError("a fallback chain always has a model")

    async def acreate(
        self, client: anthropic.AsyncAnthropic, params: dict[str, Any], policy: Policy, outcome: Outcome
    ) -> Message:
        client = self.async_client(client)
        models, outcome.fallbacks = self.plan(policy, str(params["model"]))
        for i, model in enumerate(models):
            last = i == len(models) - 1
            seq = await self.aadmit(model, params, policy, last=last)
            if seq is None:
                self.switch(model, "rate_limit_error", outcome, models[i + 1])
                continue
            counter = Attempts()
            try:
                with tracking(seq, counter):
                    raw = await client.messages.with_raw_response.create(**{**params, "model": model})
            except anthropic.APIError as exc:
                self.settle(model, counter, outcome)
                if last or not _switchable(exc, policy):
                    raise
                self.switch(model, error_type(exc), outcome, models[i + 1])
                continue
            self.settle(model, counter, outcome)
            self.breaker.succeeded(model)
            outcome.served_by = model
            return cast(Message, await raw.parse())
        raise AssertionError("a fallback chain always has a model")

    # -- streams ---------------------------------------------------------------------------------

    def stream(
        self,
        client: anthropic.Anthropic,
        profile: str,
        params: dict[str, Any],
        policy: Policy,
        on_finish: Finish,
    ) -> ResilientTextStream:
        return ResilientTextStream(self, self.client(client), profile, params, policy, on_finish)

    def astream(
        self,
        client: anthropic.AsyncAnthropic,
        profile: str,
        params: dict[str, Any],
        policy: Policy,
        on_finish: Finish,
    ) -> ResilientAsyncTextStream:
        return ResilientAsyncTextStream(self, self.async_client(client), profile, params, policy, on_finish)


def _switchable(exc: BaseException, policy: Policy) -> bool:
    kind = error_type(exc)
    return kind in SWITCH_ON or (kind == "rate_limit_error" and policy.on_rate_limit == "fallback")


def _continuation(params: Mapping[str, Any], model: str, sent: str, generated: int) -> dict[str, Any]:
    """The call that continues an answer on another model: what was sent becomes an assistant prefill."""
    messages = list(params["messages"])
    # The API refuses a final assistant turn that ends in whitespace; the next token brings its own.
    prefix = sent.rstrip()
    last = messages[-1] if messages else None
    if last is not None and last.get("role") == "assistant" and isinstance(last.get("content"), str):
        messages[-1] = {**last, "content": last["content"] + prefix}
    else:
        messages.append({"role": "assistant", "content": prefix})
    budget = max(1, int(params["max_tokens"]) - generated)
    return {**params, "model": model, "messages": messages, "max_tokens": budget}


class _Run:
    """The per-stream bookkeeping the sync and async resilient streams share."""

    def __init__(self, resilience: Resilience, params: dict[str, Any], policy: Policy, timings: Any) -> None:
        self.resilience = resilience
        self.params = params
        self.policy = policy
        self.outcome = Outcome()
        self.models, self.outcome.fallbacks = resilience.plan(policy, str(params["model"]))
        timings.fallbacks = self.outcome.fallbacks
        self.current: str | None = None
        # Text already handed to the caller (a continuation's prefill).
        self.sent: list[str] = []
        self.prefix: str | None = None
        # Whether the caller has seen this answer begin (see `release`).
        self.committed = False
        self.held: list[Event] = []

    @property
    def more(self) -> bool:
        return bool(self.models)

    def can_switch(self, failure: UpstreamFailure, committed: bool) -> bool:
        if not self.models or failure.type not in SWITCH_ON:
            return False
        return not committed or self.policy.continue_on_fallback

    def next_params(self, model: str, committed: bool, generated: int) -> dict[str, Any]:
        if committed and self.sent:
            self.prefix = "".join(self.sent)
            return _continuation(self.params, model, self.prefix, generated)
        return {**self.params, "model": model}

    # What both resilient streams do around their one blocking or awaited line.

    def next_attempt(self) -> tuple[str, dict[str, Any]]:
        model = self.models.pop(0)
        return model, self.next_params(model, self.committed, len(self.sent))

    def not_admitted(self, model: str, timings: Any) -> None:
        self.resilience.switch(model, "rate_limit_error", self.outcome, self.models[0])
        timings.fallbacks += 1

    def refused(self, model: str, exc: anthropic.APIError, counter: Attempts, timings: Any) -> bool:
        """After a model refused the call: True to try the next model, False to raise."""
        self.resilience.settle(model, counter, self.outcome)
        timings.retries = self.outcome.retries
        if not self.models or not _switchable(exc, self.policy):
            return False
        self.resilience.switch(model, error_type(exc), self.outcome, self.models[0])
        timings.fallbacks += 1
        return True

    def accepted(self, model: str, counter: Attempts, timings: Any) -> None:
        self.resilience.settle(model, counter, self.outcome)
        timings.retries = self.outcome.retries
        self.current, timings.served_by = model, model
        if timings.upstream is None:
            timings.upstream = perf_counter() - timings.started
        # With no model left to fall back to, there is nothing to hold events back for.
        self.committed = self.committed or not self.models

    def release(self, acc: MessageAccumulator, name: str, data: Any) -> tuple[Event, ...] | list[Event]:
        """The events to hand on now. Until the model has shown it is answering (its first delta,
        or the end), only pings pass and the rest is held, so a failure before then can still move
        to the next model without the caller seeing anything of the failed attempt."""
        _prefill_block(self, acc, name, data)
        if self.committed or name == "ping":
            _note_text(self, name, data)
            return ((name, data),)
        self.held.append((name, data))
        if name != "content_block_delta" and name != "message_stop":
            return ()
        self.committed = True
        self.resilience.breaker.succeeded(str(self.current))
        released, self.held = self.held, []
        for event in released:
            _note_text(self, *event)
        return released

    def broke_off(self, exc: httpx2.TransportError | UpstreamFailure, timings: Any) -> UpstreamFailure | None:
        """After an attempt failed mid-stream: the failure to raise, or None to open the next model."""
        failure = _lost(exc) if isinstance(exc, httpx2.TransportError) else exc
        if not self.can_switch(failure, self.committed):
            return failure
        failed = str(self.current)
        if failure.type == "overloaded_error":
            self.resilience.breaker.failed(failed)
        self.resilience.switch(failed, failure.type, self.outcome, self.models[0])
        timings.fallbacks += 1
        self.held.clear()
        return None


class ResilientTextStream(TextStream):
    """A `TextStream` over a fallback chain; `timings.served_by` names the model that answered."""

    def __init__(
        self,
        resilience: Resilience,
        client: anthropic.Anthropic,
        profile: str,
        params: dict[str, Any],
        policy: Policy,
        on_finish: Finish,
    ) -> None:
        super().__init__(
            self._unused_opener, profile=profile, model=str(params["model"]), on_finish=on_finish
        )
        self._client = client
        self._run = _Run(resilience, params, policy, self.timings)

    @staticmethod
    def _unused_opener() -> AbstractContextManager[anthropic.APIResponse[Any]]:
        raise RuntimeError("a resilient stream opens its models itself")

    def open(self) -> ResilientTextStream:
        if self._cm is not None:
            return self
        try:
            self._open_next()
        except (anthropic.APIError, RateLimited) as exc:
            # The SDK's class name, as a plain TextStream records a refused request.
            self._end(type(exc).__name__ if isinstance(exc, anthropic.APIError) else "rate_limit_error")
            raise
        return self

    def _open_next(self) -> None:
        run, timings = self._run, self.timings
        while run.models:
            model, params = run.next_attempt()
            seq = run.resilience.admit(model, params, run.policy, last=not run.models)
            if seq is None:
                run.not_admitted(model, timings)
                continue
            counter = Attempts()
            cm = self._client.messages.with_streaming_response.create(stream=True, **params)
            try:
                with tracking(seq, counter):
                    response = cm.__enter__()
            except anthropic.APIError as exc:
                if run.refused(model, exc, counter, timings):
                    continue
                raise
            run.accepted(model, counter, timings)
            self._cm = cm
            self._decoder, self._acc = SSEDecoder(), MessageAccumulator()
            self._chunks = response.http_response.iter_bytes()
            return
        raise AssertionError("a fallback chain always has a model")

    def _drop_attempt(self) -> None:
        cm, self._cm, self._chunks = self._cm, None, None
        if cm is not None:
            cm.__exit__(None, None, None)

    def events(self) -> Iterator[Event]:
        self.open()
        run = self._run
        while True:
            assert self._chunks is not None
            try:
                for chunk in self._chunks:
                    for name, data in self._events(chunk):
                        yield from run.release(self._acc, name, data)
                if not self._acc.done:
                    raise self._incomplete()
            except (httpx2.TransportError, UpstreamFailure) as exc:
                failure = run.broke_off(exc, self.timings)
                if failure is not None:
                    raise self._broke_off(failure) from (exc if exc is not failure else None)
                self._drop_attempt()
                try:
                    self._open_next()
                except (anthropic.APIError, RateLimited) as exc2:
                    raise self._broke_off(UpstreamFailure(error_type(exc2), str(exc2))) from exc2
                continue
            break
        self._end(None)


class ResilientAsyncTextStream(AsyncTextStream):
    """The async twin of `ResilientTextStream`."""

    def __init__(
        self,
        resilience: Resilience,
        client: anthropic.AsyncAnthropic,
        profile: str,
        params: dict[str, Any],
        policy: Policy,
        on_finish: Finish,
    ) -> None:
        super().__init__(
            self._unused_opener, profile=profile, model=str(params["model"]), on_finish=on_finish
        )
        self._client = client
        self._run = _Run(resilience, params, policy, self.timings)

    @staticmethod
    def _unused_opener() -> AbstractAsyncContextManager[anthropic.AsyncAPIResponse[Any]]:
        raise RuntimeError("a resilient stream opens its models itself")

    async def open(self) -> ResilientAsyncTextStream:
        if self._cm is not None:
            return self
        try:
            await self._open_next()
        except (anthropic.APIError, RateLimited) as exc:
            # The SDK's class name, as a plain TextStream records a refused request.
            self._end(type(exc).__name__ if isinstance(exc, anthropic.APIError) else "rate_limit_error")
            raise
        return self

    async def _open_next(self) -> None:
        run, timings = self._run, self.timings
        while run.models:
            model, params = run.next_attempt()
            seq = await run.resilience.aadmit(model, params, run.policy, last=not run.models)
            if seq is None:
                run.not_admitted(model, timings)
                continue
            counter = Attempts()
            cm = self._client.messages.with_streaming_response.create(stream=True, **params)
            try:
                with tracking(seq, counter):
                    response = await cm.__aenter__()
            except anthropic.APIError as exc:
                if run.refused(model, exc, counter, timings):
                    continue
                raise
            run.accepted(model, counter, timings)
            self._cm = cm
            self._decoder, self._acc = SSEDecoder(), MessageAccumulator()
            self._chunks = response.http_response.aiter_bytes()
            return
        raise AssertionError("a fallback chain always has a model")

    async def _drop_attempt(self) -> None:
        cm, self._chunks = self._cm, None
        if cm is not None:
            # Forgotten only once closed, as AsyncTextStream.aclose() does: a cancelled close must
            # leave the stream's own aclose() something to close.
            await cm.__aexit__(None, None, None)
            self._cm = None

    async def events(self) -> AsyncIterator[Event]:
        await self.open()
        run = self._run
        while True:
            assert self._chunks is not None
            try:
                async for chunk in self._chunks:
                    for name, data in self._events(chunk):
                        for event in run.release(self._acc, name, data):
                            yield event
                if not self._acc.done:
                    raise self._incomplete()
            except (httpx2.TransportError, UpstreamFailure) as exc:
                failure = run.broke_off(exc, self.timings)
                if failure is not None:
                    raise self._broke_off(failure) from (exc if exc is not failure else None)
                await self._drop_attempt()
                try:
                    await self._open_next()
                except (anthropic.APIError, RateLimited) as exc2:
                    raise self._broke_off(UpstreamFailure(error_type(exc2), str(exc2))) from exc2
                continue
            break
        self._end(None)


def _note_text(run: _Run, name: str, data: Any) -> None:
    if name == "content_block_delta" and data["delta"]["type"] == "text_delta":
        run.sent.append(data["delta"]["text"])


def _prefill_block(run: _Run, acc: MessageAccumulator, name: str, data: Any) -> None:
    """A continuation's first text block starts with the text sent before, so `stream.message` is whole."""
    if run.prefix is None or name != "content_block_start" or data["content_block"]["type"] != "text":
        return
    message = acc.message
    if message is not None:
        message["content"][data["index"]]["text"] = run.prefix
    run.prefix = None
