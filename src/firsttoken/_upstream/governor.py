"""The rate-limit governor: keeps each model's calls within the budget its API headers announce.

Every HTTP attempt's response (the SDK's retries included) is read by the shared clients' httpx
event hooks (`HOOKS`, `ASYNC_HOOKS`), which pass `anthropic-ratelimit-{requests,input-tokens,
output-tokens}-{limit,remaining}` and `retry-after` to the model's `Budgets` (`_state/budgets.py`:
the arithmetic, in this process or in Redis). Before a call the caller asks `reserve(model, ...)`:
zero to go now, otherwise the seconds until the budget allows it. The profile's `on_rate_limit`
policy then queues (bounded by `queue_timeout`), moves to a fallback model, or fails fast with
`RateLimited` (a 429 to the browser).

Which call an HTTP attempt belongs to is the context it runs in: `tracking()` puts the call's
`Attempts` in a context variable for the length of the SDK call, and the hooks, which httpx runs in
the caller's thread or task, read it there. Concurrent async calls are told apart because each
task has its own context; nothing of ours is added to the request. The hooks are not SDK
middleware: the SDK's middleware path copies the request options and builds the headers again
for every attempt, about 55 µs of every call's way out (`benchmarks/sdk_call_path.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx2

from .._errors import FirstTokenError
from .._state.budgets import Admission, Budgets, MemoryBudgets

__all__ = ["ASYNC_HOOKS", "HOOKS", "Attempts", "Governor", "RateLimited"]

# The call whose SDK request runs in this context, while `Governor.tracking()` holds it.
_current: ContextVar[_Tracking | None] = ContextVar("firsttoken_call", default=None)


class RateLimited(FirstTokenError):
    """The governor refused a call because the model's rate-limit budget is spent (a 429 to the browser)."""

    def __init__(self, model: str, retry_after: float) -> None:
        super().__init__(f"{model}: rate limit budget spent; retry in {retry_after:.1f}s")
        self.model = model
        self.retry_after = retry_after


@dataclass(eq=False)
class Attempts:
    """HTTP attempts of one firsttoken call to `model`, counted by the hooks (SDK retries included);
    an attempt that got no response (the connection failed) has status 0."""

    model: str | None = None
    count: int = 0
    statuses: list[int] = field(default_factory=list)
    # The call's admission (`Admission.seq`), so its responses are read in admission order.
    seq: int | None = None


class _Tracking:
    """`Governor.tracking()`: a class, not a generator, since it is on every call's way out."""

    __slots__ = ("_token", "attempts", "governor")

    def __init__(self, governor: Governor, attempts: Attempts) -> None:
        self.governor = governor
        self.attempts = attempts
        self._token: Token[_Tracking | None] | None = None

    def __enter__(self) -> None:
        self._token = _current.set(self)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        self.unanswered()

    def sending(self) -> None:
        """An HTTP attempt starts: the one before it, if any, got no response."""
        self.unanswered()
        self.attempts.count += 1

    def unanswered(self) -> None:
        if self.attempts.count > len(self.attempts.statuses):
            self.answered(0, {})

    def answered(self, status: int, headers: Mapping[str, str]) -> None:
        attempts = self.attempts
        attempts.statuses.append(status)
        if attempts.model is not None:
            self.governor.observe(attempts.model, status, headers, attempts.seq)


class Governor:
    def __init__(
        self,
        budgets: Budgets | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_overload: Callable[[str], None] | None = None,
        on_pushback: Callable[[str], None] | None = None,
    ) -> None:
        # `clock` only times the default in-process budgets; shared ones bring their own.
        self.budgets: Budgets = budgets if budgets is not None else MemoryBudgets(clock=clock)
        self.clock = self.budgets.clock
        # Told of every 529 as it arrives, before the SDK's backoff, so a cooldown starts at once.
        self.on_overload = on_overload
        # Told of every 429 and 529 as it arrives (hedging stops while the API pushes back).
        self.on_pushback = on_pushback

    # -- before a call ---------------------------------------------------------------------------

    def reserve(self, model: str, input_tokens: int) -> Admission:
        """Charge one call if the budget allows it now (`wait == 0`), else say how long to wait."""
        return self.budgets.reserve(model, input_tokens)

    def force(self, model: str) -> int:
        """Admit a call without a budget check (a cold model whose probe never reported back)."""
        return self.budgets.force(model)

    def snapshot(self) -> dict[str, Any]:
        return self.budgets.snapshot()

    def tracking(self, seq: int, attempts: Attempts) -> _Tracking:
        """Around one SDK call: its HTTP attempts (the SDK's retries included) count in `attempts`,
        and each response's headers re-base `attempts.model`'s budget."""
        attempts.seq = seq or None
        return _Tracking(self, attempts)

    # -- every HTTP attempt ----------------------------------------------------------------------

    def observe(self, model: str, status: int, headers: Mapping[str, str], seq: int | None) -> None:
        """One HTTP attempt's answer (status 0: none came) for a call admitted as `seq`."""
        self.budgets.observe(model, status, headers, seq)
        if status == 529 and self.on_overload is not None:
            self.on_overload(model)
        if (status == 429 or status == 529) and self.on_pushback is not None:
            self.on_pushback(model)


# -- the clients' httpx event hooks: every HTTP attempt, in the caller's context ---------------------


def _sending(request: httpx2.Request) -> None:
    tracking = _current.get()
    if tracking is not None:
        tracking.sending()


def _answered(response: httpx2.Response) -> None:
    tracking = _current.get()
    if tracking is not None:
        tracking.answered(response.status_code, response.headers)


# An async client awaits its hooks; these are the sync ones, awaitable.
async def _asending(request: httpx2.Request) -> None:
    _sending(request)


async def _aanswered(response: httpx2.Response) -> None:
    _answered(response)


# `event_hooks=` of the pool's httpx clients (`clients.py`): an async client awaits its hooks.
HOOKS: dict[str, list[Callable[..., Any]]] = {"request": [_sending], "response": [_answered]}
ASYNC_HOOKS: dict[str, list[Callable[..., Any]]] = {"request": [_asending], "response": [_aanswered]}
