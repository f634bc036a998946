"""Fallback chains: when a model stays overloaded or times out, the call moves to the next model.

The SDK retries first, with its own policy (`Settings.max_retries`); only what it gives up on
reaches a `Chain`. A stream is "committed" once content reached the caller: before that, an
`overloaded_error` event mid-stream is invisible (the attempt is closed, its events dropped, and
the next model answers); after it, the answer restarts on the next model when that model refuses
an assistant prefill (Claude 4.6 and newer): the caller gets a `Reset` event, then the new answer.
On an older next model the caller gets the error, unless the profile sets `continue_on_fallback`,
which resends the text so far as an assistant prefill to the next model.

A plain call is a chain of one model: every call, streamed or not, runs over a `Chain`, which the
request loops of `_upstream/_async/calls.py` drive as their `AttemptPlan`.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from time import perf_counter
from typing import Any, TypeVar

import anthropic
import httpx2

from ._accumulator import MessageAccumulator
from ._call import Call
from ._errors import UpstreamFailure
from ._profiles import Profile, refuses_prefill
from ._settings import Settings
from ._state import BreakerStore
from ._state.budgets import Budgets
from ._timings import Timings
from ._upstream.breaker import Breaker
from ._upstream.governor import Attempts, Governor, RateLimited
from ._upstream.hedging import Hedging, TtftPercentile
from ._upstream.stream import Event, lost

__all__ = ["Chain", "Resilience", "error_type"]

logger = logging.getLogger("firsttoken.resilience")

# Error types after which another model is worth a try: the Anthropic Performance Tuning guide's "529
# overloaded" and a model too slow to answer. Anything else (a bad request, our key) would fail on every
# model alike.
SWITCH_ON = frozenset({"overloaded_error", "timeout_error"})
_Client = TypeVar("_Client", anthropic.Anthropic, anthropic.AsyncAnthropic)


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
    """The engine's breaker and governor, and the chains that use them; one per engine."""

    def __init__(
        self,
        settings: Settings,
        *,
        breaker_store: BreakerStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        budgets: Budgets | None = None,
        ttft: TtftPercentile | None = None,
    ) -> None:
        self.breaker = Breaker(
            failures=settings.breaker_failures,
            window=settings.breaker_window,
            cooldown=settings.breaker_cooldown,
            store=breaker_store,
            clock=clock,
        )
        # The budgets live where the engine's state does: this process, or Redis for a deployment.
        self.governor = Governor(
            budgets, clock=clock, on_overload=self.breaker.failed, on_pushback=self._pushback
        )
        # `ttft` reads the metrics windows (a hedge after a percentile of the model's recent TTFT);
        # a 429 or 529 pauses hedges for as long as the breaker counts a failure.
        self.hedging = Hedging(
            governor=self.governor,
            breaker=self.breaker,
            ttft=ttft,
            pause=settings.breaker_window,
            clock=time.monotonic,
        )
        self._twins: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def _pushback(self, model: str) -> None:
        self.hedging.pushback(model)

    def client(self, base: _Client, *, traced: bool = True) -> _Client:
        """`base` for a call made now; the governor reads every attempt through the pool's httpx
        hooks (`governor.py`), so the client itself needs nothing added.

        `traced=False` (`Telemetry.sdk_spans()` said the SDK's span of this call could neither
        record nor carry anything) gives its twin with the SDK's tracing off, sharing its
        connections: the SDK builds a span's attributes before it learns the span records
        nothing, about 45 µs of every call's way out. A client whose own option names a tracer
        provider, or turns tracing off already, has no twin.
        """
        if traced:
            return base
        twin: _Client | None = self._twins.get(base)
        if twin is None:
            option = base.open_telemetry
            twin = base
            if option["traces"]["enabled"] and option.get("tracer_provider") is None:
                twin = base.with_options(open_telemetry={**option, "traces": False})
            self._twins[base] = twin
        return twin

    def chain(self, call: Call, params: dict[str, Any], input_tokens: int) -> Chain:
        """`call` as a chain of its model and fallbacks; `params` are what it sends (breakpoints
        placed), `input_tokens` their estimate, charged to the rate-limit budget per attempt."""
        return Chain(self, call, params, input_tokens, Timings(route=call.route))

    def plan(self, options: Profile, model: str) -> tuple[list[str], int]:
        """The models to try and how many were skipped because they are cooling down.

        When every model is cooling down the whole chain is tried anyway: the breaker exists to
        save time, never to refuse a call outright.
        """
        chain = [model, *(m for m in options.fallbacks if m != model)]
        ready = [m for m in chain if not self.breaker.cooling_down(m)]
        if not ready:
            return chain, 0
        return ready, len(chain) - len(ready)


def _switchable(exc: BaseException, options: Profile) -> bool:
    kind = error_type(exc)
    return kind in SWITCH_ON or (kind == "rate_limit_error" and options.on_rate_limit == "fallback")


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


class Chain:
    """One call's models and its bookkeeping: admission, retries, switches, held-back events.

    Everything here is decision and arithmetic; the request loops that do the I/O ask it what to
    do next (`_upstream.stream.AttemptPlan`).
    """

    def __init__(
        self, resilience: Resilience, call: Call, params: dict[str, Any], input_tokens: int, timings: Timings
    ) -> None:
        self.resilience = resilience
        self.call = call
        self.profile = call.profile
        self.model = str(params["model"])
        self.params = params
        self.input_tokens = input_tokens
        # The call's resilience fields: fallbacks, continue_on_fallback, on_rate_limit, queue_timeout.
        self.options = options = call.options
        self.timings = timings
        self.models, timings.fallbacks = resilience.plan(options, self.model)
        self.current: str | None = None
        self._deadline: float | None = None
        # Text already handed to the caller (a continuation's prefill).
        self.sent: list[str] = []
        self.prefix: str | None = None
        # Whether the caller has seen this answer begin (see `release`); with no model left to
        # fall back to, there is nothing to hold events back for.
        self.committed = False
        self.held: list[Event] = []
        # Set when a committed answer broke off and starts again on the next model (`restart()`).
        self._restarting = False

    error_type = staticmethod(error_type)

    def next_attempt(self) -> tuple[str, dict[str, Any]]:
        model = self.models.pop(0)
        self._deadline = None
        if self.committed and self.sent:
            self.prefix = "".join(self.sent)
            return model, _continuation(self.params, model, self.prefix, len(self.sent))
        return model, {**self.params, "model": model}

    def admission(self, model: str) -> float | None:
        governor = self.resilience.governor
        if self._deadline is None:
            self._deadline = governor.clock() + self.options.queue_timeout
        wait, seq, probing = governor.reserve(model, self._attempt_tokens())
        if wait <= 0:
            return seq
        remaining = self._deadline - governor.clock()
        if probing:
            # Waiting for a cold model's first response is not a spent budget; past the queue
            # timeout the call goes ahead rather than failing on what is only caution.
            return -wait if remaining > 0 else governor.force(model)
        if self.options.on_rate_limit == "fallback" and self.models:
            return None
        if self.options.on_rate_limit == "fail" or wait > remaining:
            raise RateLimited(model, wait)
        return -min(wait, remaining)

    def _attempt_tokens(self) -> int:
        # A continuation sends what was streamed so far as a prefill on top of the prompt.
        return self.input_tokens + (math.ceil(len(self.prefix) / 4) if self.prefix else 0)

    def tracking(self, seq: int, attempts: Attempts) -> AbstractContextManager[Any]:
        return self.resilience.governor.tracking(seq, attempts)

    def _switch(self, model: str, kind: str) -> None:
        self.timings.fallbacks += 1
        logger.warning("firsttoken: %s failed with %s; falling back to %s", model, kind, self.models[0])

    def not_admitted(self, model: str) -> None:
        self._switch(model, "rate_limit_error")

    def _settle(self, attempts: Attempts) -> None:
        # Each 529 already went to the breaker as it arrived; the SDK's retries are counted here.
        self.timings.retries += max(0, attempts.count - 1)

    def refused(self, model: str, exc: anthropic.APIError, attempts: Attempts) -> bool:
        self._settle(attempts)
        if not self.models or not _switchable(exc, self.options):
            return False
        self._switch(model, error_type(exc))
        return True

    def accepted(self, model: str, attempts: Attempts) -> None:
        self._settle(attempts)
        timings = self.timings
        self.current, timings.served_by = model, model
        if timings.upstream is None:
            timings.upstream = perf_counter() - timings.started
        self.committed = self.committed or not self.models

    def succeeded(self, model: str) -> None:
        self.resilience.breaker.succeeded(model)

    def release(
        self, acc: MessageAccumulator, name: str, data: Any, text: str | None
    ) -> Iterable[Event] | None:
        """The events to hand on now, None for this one alone (`text`: the answer's text this one
        adds). Until the model has shown it is answering (its first delta, or the end), only pings
        pass and the rest is held, so a failure before then can still move to the next model
        without the caller seeing anything of the failed attempt."""
        if self.prefix is not None:
            self._prefill_block(acc, name, data)
        if self.committed or name == "ping":
            if text is not None:
                self.sent.append(text)
            return None
        self.held.append((name, data))
        if name != "content_block_delta" and name != "message_stop":
            return ()
        self.committed = True
        self.succeeded(str(self.current))
        released, self.held = self.held, []
        for event in released:
            self._note_text(*event)
        return released

    def hedge_delay(self) -> float | None:
        # The delay counts from the call's start, as the TTFT its percentile comes from does.
        delay = self.resilience.hedging.delay(self.profile, self.options, str(self.current))
        return None if delay is None else max(0.0, delay - (perf_counter() - self.timings.started))

    def hedge_admission(self) -> int | None:
        return self.resilience.hedging.admit(self.profile, str(self.current), self._attempt_tokens())

    def broke_off(self, exc: httpx2.TransportError | UpstreamFailure) -> UpstreamFailure | None:
        failure = lost(exc) if isinstance(exc, httpx2.TransportError) else exc
        if failure.type == "overloaded_error" and self.current is not None:
            self.resilience.hedging.pushback(self.current)
        if not self.models or failure.type not in SWITCH_ON:
            return failure
        restart = self.committed and refuses_prefill(self.models[0])
        if self.committed and not restart and not self.options.continue_on_fallback:
            return failure
        failed = str(self.current)
        if failure.type == "overloaded_error":
            self.resilience.breaker.failed(failed)
        self._switch(failed, failure.type)
        self.held.clear()
        if restart:
            # The caller drops what it showed; the next model answers from the start, held back
            # again while another model is left to take over before its first token.
            self._restarting = True
            self.sent.clear()
            self.committed = False
        return None

    def restart(self) -> str | None:
        """Once per restart, after the next model accepted: the model the answer starts again on."""
        if not self._restarting:
            return None
        self._restarting = False
        return self.current

    def _note_text(self, name: str, data: Any) -> None:
        if name == "content_block_delta" and data["delta"]["type"] == "text_delta":
            self.sent.append(data["delta"]["text"])

    def _prefill_block(self, acc: MessageAccumulator, name: str, data: Any) -> None:
        """A continuation's first text block starts with the text sent before: `stream.message` is whole."""
        if self.prefix is None or name != "content_block_start" or data["content_block"]["type"] != "text":
            return
        message = acc.message
        if message is not None:
            message["content"][data["index"]]["text"] = self.prefix
        self.prefix = None
