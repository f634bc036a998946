"""The rate-limit governor: keeps each model's calls within the budget its API headers announce.

Every HTTP attempt's response (the SDK's retries included) passes through `Governor` as SDK client
middleware, which reads `anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining}`
and `retry-after` into the model's `Budgets` (`_state/budgets.py`: the arithmetic, in this process
or in Redis). Before a call the caller asks `reserve(model, ...)`: zero to go now, otherwise the
seconds until the budget allows it. The profile's `on_rate_limit` policy then queues (bounded by
`queue_timeout`), moves to a fallback model, or fails fast with `RateLimited` (a 429 to the browser).

Which call an HTTP attempt belongs to travels with the request itself: `Attempts.tag()` adds a
header to the call's arguments, and the middleware maps it to that call's `Attempts` (held by
`tracking()` until the call returns) and strips it before the request is sent, so it never reaches
the API. Only clients with this governor as middleware may be handed tagged arguments.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from anthropic import APIRequest, APIResponse, AsyncAPIResponse, AsyncCallNext, CallNext, Middleware

from .._errors import FirstTokenError
from .._state.budgets import Admission, Budgets, MemoryBudgets

__all__ = ["CALL_HEADER", "Attempts", "Governor", "RateLimited", "estimate_input_tokens", "without_header"]

# Read and removed by the middleware; named so that one leaking through a foreign client says whose it is.
CALL_HEADER = "x-firsttoken-call"
# Call ids: unique within the process, which is all a header that never leaves it needs.
_ids = itertools.count(1)


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
    call_id: str = field(default_factory=lambda: str(next(_ids)))

    def tag(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """`params` for the SDK call, with the header that tells the middleware this call is running."""
        extra = params.get("extra_headers") or {}
        return {**params, "extra_headers": {**extra, CALL_HEADER: self.call_id}}


class Governor(Middleware):
    def __init__(
        self,
        budgets: Budgets | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_overload: Callable[[str], None] | None = None,
    ) -> None:
        # `clock` only times the default in-process budgets; shared ones bring their own.
        self.budgets: Budgets = budgets if budgets is not None else MemoryBudgets(clock=clock)
        self.clock = self.budgets.clock
        # Told of every 529 as it arrives, before the SDK's backoff, so a cooldown starts at once.
        self.on_overload = on_overload
        # The calls running now by call id; one dict operation each, atomic under the GIL.
        self._calls: dict[str, Attempts] = {}

    # -- before a call ---------------------------------------------------------------------------

    def reserve(self, model: str, input_tokens: int) -> Admission:
        """Charge one call if the budget allows it now (`wait == 0`), else say how long to wait."""
        return self.budgets.reserve(model, input_tokens)

    def force(self, model: str) -> int:
        """Admit a call without a budget check (a cold model whose probe never reported back)."""
        return self.budgets.force(model)

    def snapshot(self) -> dict[str, Any]:
        return self.budgets.snapshot()

    @contextmanager
    def tracking(self, seq: int, attempts: Attempts) -> Iterator[None]:
        """Around one SDK call made with `attempts.tag(params)`: its HTTP attempts count in `attempts`."""
        attempts.seq = seq or None
        self._calls[attempts.call_id] = attempts
        try:
            yield
        finally:
            self._calls.pop(attempts.call_id, None)

    # -- every HTTP attempt ----------------------------------------------------------------------

    def _claim(self, request: APIRequest) -> tuple[APIRequest, Attempts | None]:
        """The request without our header, and the call it belongs to (None for an untagged one)."""
        headers = request.headers
        call_id = headers.get(CALL_HEADER)
        if call_id is None:
            return request, None
        stripped = {name: value for name, value in headers.items() if name != CALL_HEADER}
        return without_header(request, stripped), self._calls.get(str(call_id))

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

    def handle(self, request: APIRequest, call_next: CallNext) -> APIResponse[Any]:
        request, attempts = self._claim(request)
        try:
            response = call_next(request)
        except Exception:
            self._seen(request, attempts, 0, {})
            raise
        self._seen(request, attempts, response.status_code, response.headers)
        return response

    async def handle_async(self, request: APIRequest, call_next: AsyncCallNext) -> AsyncAPIResponse[Any]:
        request, attempts = self._claim(request)
        try:
            response = await call_next(request)
        except Exception:
            self._seen(request, attempts, 0, {})
            raise
        self._seen(request, attempts, response.status_code, response.headers)
        return response


def without_header(request: APIRequest, headers: Mapping[str, Any]) -> APIRequest:
    """`request.copy(headers=headers)` without its deep copy of the body.

    The SDK's `copy()` deep-copies the JSON body so that a middleware that edits the copy cannot
    touch the original: 13 µs for a one-message call, 200 µs for a 40-turn conversation (against 3
    and 6 µs here), on every call's way to its first token (`benchmarks/per_token.py`). Only the
    headers change here and nothing edits the body, so the options are copied shallowly and given
    the new headers; the request is otherwise the one `copy()` gives
    (tests/core/test_resilience_governor.py).
    """
    options = copy.copy(request.options)  # pydantic's shallow copy, in v1 and v2 alike
    options.headers = dict(headers)
    return APIRequest(
        options=options,
        cast_to=request.cast_to,
        stream=request.stream,
        stream_cls=request.stream_cls,
        retries_taken=request.retries_taken,
    )


def estimate_input_tokens(params: Mapping[str, Any]) -> int:
    """A rough count (4 characters a token) for charging the input budget before the call."""
    size = (
        len(str(params.get("messages", "")))
        + len(str(params.get("system", "")))
        + len(str(params.get("tools", "")))
    )
    return size // 4 + 1
