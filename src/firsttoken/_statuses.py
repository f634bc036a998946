"""What a browser gets back before any stream: a status and headers, or an error's status and JSON
body, for a refused request and for an upstream failure before the first token. No I/O: every
adapter answers through these, so all three frameworks answer byte for byte the same.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import anthropic

from ._errors import Refused, UpstreamFailure
from ._upstream.governor import RateLimited

__all__ = ["RelayStart", "error_response", "refusal", "upstream_error"]


@dataclass(frozen=True, slots=True)
class RelayStart:
    """What to answer with: a status, headers, and for an error the whole JSON body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.body is None


def refusal(exc: Refused) -> RelayStart:
    """A refused request as the contract's answer: its status and `{"error": ...}`."""
    return error_response(exc.status, exc.message, headers=exc.headers)


def error_response(
    status: int, message: str, type: str | None = None, *, headers: list[tuple[str, str]] | None = None
) -> RelayStart:
    payload: dict[str, str] = {"error": message}
    if type:
        payload["type"] = type
    return RelayStart(
        status,
        [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *(headers or [])],
        json.dumps(payload).encode(),
    )


def _upstream_message(exc: anthropic.APIStatusError) -> tuple[str, str]:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("type", "api_error")), str(error.get("message", ""))
    return "api_error", str(exc.message)


def upstream_error(exc: BaseException) -> RelayStart:
    """An upstream failure before the first token, as the status the browser should see.

    529 overloaded → 503 (and 429 → 429, with the API's `retry-after`): the client may retry.
    Anything the API rejected or failed at is a bad gateway from the browser's side (502);
    our key or request being wrong is not the browser's fault, so it never sees a 4xx for it.
    """
    if isinstance(exc, anthropic.APITimeoutError):
        return error_response(504, "the model did not answer in time", "timeout_error")
    if isinstance(exc, anthropic.APIConnectionError):
        return error_response(502, "could not reach the model's API", "api_connection_error")
    if isinstance(exc, anthropic.APIStatusError):
        kind, message = _upstream_message(exc)
        retry = exc.response.headers.get("retry-after")
        extra = [("Retry-After", retry)] if retry else []
        if exc.status_code == 529:
            return error_response(
                503, message or "the model is overloaded; try again shortly", kind, headers=extra
            )
        if exc.status_code == 429:
            return error_response(429, message or "rate limited; try again shortly", kind, headers=extra)
        if exc.status_code in (401, 403):
            return error_response(502, "the server's API credentials were refused", kind)
        return error_response(502, message or f"upstream error {exc.status_code}", kind)
    if isinstance(exc, UpstreamFailure):
        return error_response(503 if exc.type == "overloaded_error" else 502, exc.message, exc.type)
    if isinstance(exc, RateLimited):
        # The governor refused before any request: the browser may retry once the budget refills.
        wait = [("Retry-After", str(max(1, math.ceil(exc.retry_after))))]
        return error_response(429, "rate limited; try again shortly", "rate_limit_error", headers=wait)
    raise exc
