"""Hedged first tokens, apart from their I/O: when a call is hedged, whether a hedge may go, and what
each of a hedged call's two requests showed before its first token.

A profile's `hedge_after` (milliseconds, or a percentile of the model's recent TTFT) is how long a
call waits for its first token before the same request goes out again; whichever of the two
produces a token first answers, and the other is closed at once (`_async/calls.py` does the I/O,
`race.py` runs the two reads side by side). A hedge goes only when all of these hold:

- the profile's budget has one: each call earns `hedge_share` of a hedge, a hedge spends one, and
  the savings are capped, so hedges stay within that share of calls;
- the API is not pushing back on the model: no 429 or 529 seen for it within the breaker's window
  (the governor reports each as it arrives), its circuit is closed, and the rate-limit governor
  admits the hedge now (a hedge never queues);
- for a percentile, the model's TTFT window has enough calls to tell one.

So a hedge never adds load to an API that is already saying it has too much.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import anthropic

from .._profiles import Profile, hedge_percentile
from .._sse import SSEDecoder
from .breaker import Breaker
from .governor import Governor

__all__ = ["Contender", "HedgeOutcome", "Hedging", "TtftPercentile"]

# The model's TTFT percentile `q` (0 to 100) over its recent calls, in seconds; None while too few.
TtftPercentile = Callable[[str, float], float | None]
# A profile's saved-up hedges are capped at this many calls' worth, so a quiet hour cannot fund a burst.
BURST_CALLS = 50
# A share added up call after call drifts below a whole hedge in floating point (ten additions of
# 0.1 make 0.9999999999999999): a budget this close to one has one.
WHOLE = 1.0 - 1e-9


class Hedging:
    """One engine's hedging state: each profile's budget and each model's pause after pushback."""

    def __init__(
        self,
        *,
        governor: Governor,
        breaker: Breaker,
        ttft: TtftPercentile | None,
        pause: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.governor, self.breaker, self._ttft = governor, breaker, ttft
        self.pause, self.clock = pause, clock
        self._lock = threading.Lock()
        self._budgets: dict[str, float] = {}
        self._quiet_until: dict[str, float] = {}

    def pushback(self, model: str) -> None:
        """The API answered a call of `model` with a 429 or a 529: no hedges for it for a while."""
        self._quiet_until[model] = self.clock() + self.pause

    def delay(self, profile: str, options: Profile, model: str) -> float | None:
        """Seconds from a call's start until its hedge, if it has no token by then (a TTFT, as the
        percentile is); None when it is not hedged.

        Every call of a hedging profile earns its share of a hedge here, once.
        """
        after = options.hedge_after
        if after is None:
            return None
        share = options.hedge_share
        with self._lock:
            saved = self._budgets.get(profile, 0.0) + share
            self._budgets[profile] = min(saved, max(1.0, share * BURST_CALLS))
        q = hedge_percentile(after)
        if q is None:
            return float(after) / 1000.0
        return None if self._ttft is None else self._ttft(model, q)

    def admit(self, profile: str, model: str, input_tokens: int) -> int | None:
        """The governor's admission (its seq) for a hedge of `profile`'s call to `model`, or None
        when none may go now; an admitted hedge spends one of the profile's budget."""
        if self.clock() < self._quiet_until.get(model, -math.inf) or self.breaker.cooling_down(model):
            return None
        with self._lock:
            if self._budgets.get(profile, 0.0) < WHOLE:
                return None
            wait, seq, probing = self.governor.reserve(model, input_tokens)
            if wait > 0 or probing:
                return None
            self._budgets[profile] -= 1.0
        return seq


class HedgeOutcome:
    """What a hedged call's record says: whether the hedge's answer was served, and the usage of
    the request that lost (the extra a hedge cost)."""

    __slots__ = ("usage", "won")

    def __init__(self, won: bool, usage: Mapping[str, Any]) -> None:
        self.won = won
        self.usage = usage

    @property
    def label(self) -> str:
        return "won" if self.won else "lost"


class Contender:
    """One request of a hedged call, up to its first token: its response, the bytes read so far
    (replayed by the stream if it wins), and the usage its `message_start` announced."""

    __slots__ = ("_decoder", "chunks", "cm", "error", "hedge", "outcome", "read", "response", "usage")

    def __init__(
        self,
        cm: Any,
        response: anthropic.AsyncAPIResponse[Any] | anthropic.APIResponse[Any],
        chunks: Any,
        *,
        hedge: bool,
    ) -> None:
        self.cm, self.response, self.chunks, self.hedge = cm, response, chunks, hedge
        self.read: list[bytes] = []
        self.usage: dict[str, Any] = {}
        # "token" once it answers (a delta, or the end), "failed" once it cannot; None while waiting.
        self.outcome: str | None = None
        self.error: BaseException | None = None
        self._decoder = SSEDecoder()

    def feed(self, chunk: bytes) -> bool:
        """Keep `chunk`; True once it brought the answer's first token, its end or an error."""
        self.read.append(chunk)
        for name, data in self._decoder.feed(chunk):
            if name == "message_start":
                self.usage = dict(data["message"].get("usage") or {})
            elif name in ("content_block_delta", "message_delta", "message_stop"):
                self.outcome = "token"
            elif name == "error":
                self.outcome = "failed"
            if self.outcome is not None:
                return True
        return False

    def ended(self, error: BaseException | None) -> None:
        """Its bytes ran out (or the read raised `error`) before a token."""
        if self.outcome is None:
            self.outcome, self.error = "failed", error
