"""The rate-limit governor: keeps each model's calls within the budget its API headers announce.

Every HTTP attempt's response (the SDK's retries included) passes through `Governor` as SDK client
middleware, which reads `anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining}`
and `retry-after` into the model's `Budgets` (`_state/budgets.py`: the arithmetic, in this process
or in Redis). Before a call the caller asks `reserve(model, ...)`: zero to go now, otherwise the
seconds until the budget allows it. The profile's `on_rate_limit` policy then queues (bounded by
`queue_timeout`), moves to a fallback model, or fails fast with `RateLimited` (a 429 to the browser).

Which call an HTTP attempt belongs to is the context it runs in: `tracking()` puts the call's
`Attempts` in a context variable for the length of the SDK call, and the middleware, which the
SDK runs in the caller's thread or task, reads it there. Concurrent async calls are told apart
because each task has its own context; nothing of ours is added to the request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from anthropic import APIRequest, APIResponse, AsyncAPIResponse, AsyncCallNext, CallNext, Middleware

from .._errors import FirstTokenError
from .._state.budgets import Admission, Budgets, MemoryBudgets

__all__ = ["Attempts", "Governor", "RateLimited"]

# The call whose SDK request runs in this context, while `Governor.tracking()` holds it.
_current: ContextVar[Attempts | None] = ContextVar("firsttoken_call", default=None)


class RateLimited(FirstTokenError):
    """The governor refused a call because the model's rate-limit budget is spent (a 429 to the browser)."""

    def __init__(self, model: str, retry_after: float) -> None:
        super().__init__(f"{model}: rate limit budget spent; retry in {retry_after:.1f}s")
        self.model = model
        self.retry_after = retry_after


@dataclass(eq=False)
class Attempts:
    """HTTP attempts of one firsttoken call, counted by the middleware (SDK retries included)."""

    count: int = 0
    statuses: list[int] = field(default_factory=list)
    # The call's admission (`Admission.seq`), so its responses are read in admission order.
    seq: int | None = None


class _Tracking:
    """`Governor.tracking()`: a class, not a generator, since it is on every call's way out."""

    __slots__ = ("_attempts", "_token")

    def __init__(self, attempts: Attempts) -> None:
        self._attempts = attempts
        self._token: Token[Attempts | None] | None = None

    def __enter__(self) -> None:
        self._token = _current.set(self._attempts)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None


class Governor(Middleware):
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
        """Around one SDK call: its HTTP attempts (the SDK's retries included) count in `attempts`."""
        attempts.seq = seq or None
        return _Tracking(attempts)

    # -- every HTTP attempt ----------------------------------------------------------------------

    def _seen(
        self, request: APIRequest, attempts: Attempts | None, status: int, headers: Mapping[str, str]
    ) -> None:
        if attempts is not None:
            attempts.count += 1
            attempts.statuses.append(status)
        body = request.options.json_data
        model = body.get("model") if isinstance(body, Mapping) else None
        if isinstance(model, str):
            self.budgets.observe(model, status, headers, None if attempts is None else attempts.seq)
            if status == 529 and self.on_overload is not None:
                self.on_overload(model)
            if (status == 429 or status == 529) and self.on_pushback is not None:
                self.on_pushback(model)

    def handle(self, request: APIRequest, call_next: CallNext) -> APIResponse[Any]:
        attempts = _current.get()
        try:
            response = call_next(request)
        except Exception:
            self._seen(request, attempts, 0, {})
            raise
        self._seen(request, attempts, response.status_code, response.headers)
        return response

    async def handle_async(self, request: APIRequest, call_next: AsyncCallNext) -> AsyncAPIResponse[Any]:
        attempts = _current.get()
        try:
            response = await call_next(request)
        except Exception:
            self._seen(request, attempts, 0, {})
            raise
        self._seen(request, attempts, response.status_code, response.headers)
        return response
