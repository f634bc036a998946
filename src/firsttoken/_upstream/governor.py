"""The rate-limit governor: keeps each model's calls within the budget its API headers announce.

Every HTTP attempt's response (the SDK's retries included) passes through `Governor` as SDK client
middleware, which reads `anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining}`
and `retry-after`. Before a call the engine asks `wait(model, ...)`: zero to go now, otherwise the
seconds until the budget allows it. The profile's `on_rate_limit` policy then queues (bounded by
`queue_timeout`), moves to a fallback model, or fails fast with `RateLimited` (a 429 to the browser).

Why estimate locally rather than only react to 429s: concurrent calls all see the same
"remaining" header, so a burst would overshoot it; each admitted call is charged against the
estimate until a newer response re-bases it. Budgets refill continuously at limit/60 per second,
as the API's token buckets do. A model never seen goes one call at a time until its first
response tells us the budget, so a cold start cannot flood it either.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from anthropic._middleware import AsyncCallNext, CallNext, Middleware

from .._errors import FirstTokenError

if TYPE_CHECKING:
    from anthropic import APIResponse, AsyncAPIResponse
    from anthropic._request import APIRequest

__all__ = [
    "Admission",
    "Attempts",
    "Governor",
    "RateLimited",
    "attempts",
    "estimate_input_tokens",
    "tracking",
]

Clock = Callable[[], float]
KINDS = ("requests", "input-tokens", "output-tokens")
# A cold model's probe that never reports back (a hung connection) stops holding others after this.
PROBE_PATIENCE = 5.0
# How often a call waiting on a cold model's probe looks again.
PROBE_POLL = 0.02


class RateLimited(FirstTokenError):
    """The governor refused a call because the model's rate-limit budget is spent (a 429 to the browser)."""

    def __init__(self, model: str, retry_after: float) -> None:
        super().__init__(f"{model}: rate limit budget spent; retry in {retry_after:.1f}s")
        self.model = model
        self.retry_after = retry_after


@dataclass
class Attempts:
    """HTTP attempts of one firsttoken call, counted by the middleware (SDK retries included)."""

    count: int = 0
    statuses: list[int] = field(default_factory=list)


attempts: ContextVar[Attempts | None] = ContextVar("firsttoken_attempts", default=None)


@dataclass
class _Budget:
    limit: float
    level: float
    stamp: float
    # The admission sequence number of the response the level came from; older responses arriving
    # late (streams finish out of order) must not overwrite a newer reading.
    seq: int


@dataclass
class _Model:
    budgets: dict[str, _Budget] = field(default_factory=dict)
    blocked_until: float = 0.0
    admitted: int = 0
    # Whether any response of this model was seen; until then one call at a time probes the budget.
    known: bool = False
    probe_since: float | None = None


class Admission(NamedTuple):
    # Seconds to wait before asking again; 0.0 means admitted.
    wait: float
    # The admission's sequence number (for `tracking()`); 0 when not admitted.
    seq: int
    # The wait is for a cold model's first response, not a spent budget: always worth queueing.
    probing: bool = False


class Governor(Middleware):
    def __init__(
        self, *, clock: Clock = time.monotonic, on_overload: Callable[[str], None] | None = None
    ) -> None:
        self.clock = clock
        # Told of every 529 as it arrives, before the SDK's backoff, so a cooldown starts at once.
        self.on_overload = on_overload
        self._lock = threading.Lock()
        self._models: dict[str, _Model] = {}

    # -- before a call ---------------------------------------------------------------------------

    def reserve(self, model: str, input_tokens: int) -> Admission:
        """Charge one call if the budget allows it now (`wait == 0`), else say how long to wait.

        The admission's `seq` goes to `tracking()` around the call, so its responses are read in
        admission order.
        """
        with self._lock:
            now = self.clock()
            state = self._models.setdefault(model, _Model())
            if now < state.blocked_until:
                return Admission(state.blocked_until - now, 0)
            if not state.known:
                if state.probe_since is not None and now - state.probe_since < PROBE_PATIENCE:
                    return Admission(PROBE_POLL, 0, probing=True)
                state.probe_since = now
                state.admitted += 1
                return Admission(0.0, state.admitted)
            needs = {"requests": 1.0, "input-tokens": float(input_tokens), "output-tokens": 1.0}
            wait = 0.0
            for kind, budget in state.budgets.items():
                _refill(budget, now)
                need = min(needs[kind], budget.limit)
                if budget.level < need:
                    wait = max(wait, (need - budget.level) * 60.0 / budget.limit)
            if wait > 0:
                return Admission(wait, 0)
            for kind, budget in state.budgets.items():
                # Output tokens are only known once the answer ends; the API charges them then.
                if kind != "output-tokens":
                    budget.level -= needs[kind]
            state.admitted += 1
            return Admission(0.0, state.admitted)

    def force(self, model: str) -> int:
        """Admit a call without a budget check (a cold model whose probe never reported back)."""
        with self._lock:
            state = self._models.setdefault(model, _Model())
            state.admitted += 1
            return state.admitted

    def snapshot(self) -> dict[str, Any]:
        """JSON-able remaining budgets per model (for a metrics endpoint); never any credential."""
        with self._lock:
            now = self.clock()
            out: dict[str, Any] = {}
            for model, state in self._models.items():
                for budget in state.budgets.values():
                    _refill(budget, now)
                out[model] = {
                    "remaining": {k: int(b.level) for k, b in state.budgets.items()},
                    "limit": {k: int(b.limit) for k, b in state.budgets.items()},
                    "blocked_for": round(max(0.0, state.blocked_until - now), 3),
                }
            return out

    # -- after every HTTP attempt ----------------------------------------------------------------

    def observe(self, model: str, status: int, headers: Mapping[str, str], seq: int | None = None) -> None:
        with self._lock:
            now = self.clock()
            state = self._models.setdefault(model, _Model())
            state.probe_since = None
            state.known = True
            if status == 429:
                delay = _retry_after(headers)
                state.blocked_until = max(state.blocked_until, now + (delay if delay is not None else 1.0))
            since = state.admitted if seq is None else seq
            for kind in KINDS:
                limit = _number(headers.get(f"anthropic-ratelimit-{kind}-limit"))
                remaining = _number(headers.get(f"anthropic-ratelimit-{kind}-remaining"))
                if limit is None or remaining is None or limit <= 0:
                    continue
                budget = state.budgets.get(kind)
                if budget is not None and budget.seq > since:
                    continue
                # Calls admitted after this response's call are not in its figure yet.
                later = state.admitted - since if kind == "requests" else 0
                state.budgets[kind] = _Budget(limit=limit, level=remaining - later, stamp=now, seq=since)

    def _seen(self, request: APIRequest, status: int, headers: Mapping[str, str]) -> None:
        counter = attempts.get()
        if counter is not None:
            counter.count += 1
            counter.statuses.append(status)
        body = request.options.json_data
        model = body.get("model") if isinstance(body, Mapping) else None
        if isinstance(model, str):
            self.observe(model, status, headers, _SEQ.get())
            if status == 529 and self.on_overload is not None:
                self.on_overload(model)

    def handle(self, request: APIRequest, call_next: CallNext) -> APIResponse[Any]:
        try:
            response = call_next(request)
        except Exception:
            self._seen(request, 0, {})
            raise
        self._seen(request, response.status_code, response.headers)
        return response

    async def handle_async(self, request: APIRequest, call_next: AsyncCallNext) -> AsyncAPIResponse[Any]:
        try:
            response = await call_next(request)
        except Exception:
            self._seen(request, 0, {})
            raise
        self._seen(request, response.status_code, response.headers)
        return response


# The admission sequence number of the call running in this context (see `_Budget.seq`).
_SEQ: ContextVar[int | None] = ContextVar("firsttoken_governor_seq", default=None)


@contextmanager
def tracking(seq: int, counter: Attempts) -> Iterator[None]:
    """Around one SDK call: its HTTP attempts are counted in `counter` and read as admission `seq`."""
    seq_token = _SEQ.set(seq or None)
    counter_token = attempts.set(counter)
    try:
        yield
    finally:
        attempts.reset(counter_token)
        _SEQ.reset(seq_token)


def estimate_input_tokens(params: Mapping[str, Any]) -> int:
    """A rough count (4 characters a token) for charging the input budget before the call."""
    size = (
        len(str(params.get("messages", "")))
        + len(str(params.get("system", "")))
        + len(str(params.get("tools", "")))
    )
    return size // 4 + 1


def _refill(budget: _Budget, now: float) -> None:
    budget.level = min(budget.limit, budget.level + (now - budget.stamp) * budget.limit / 60.0)
    budget.stamp = now


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` (what the SDK itself prefers), else `retry-after` in seconds or as an HTTP date."""
    ms = _number(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
