"""Errors that firsttoken raises itself; upstream failures keep the SDK's own exception classes."""

from __future__ import annotations

from ._redact import scrub

__all__ = [
    "BadRequest",
    "EngineClosedError",
    "FirstTokenError",
    "PayloadTooLarge",
    "Refused",
    "SettingsError",
    "TooManyRequests",
    "UnsupportedMediaType",
    "UpstreamFailure",
]


class FirstTokenError(Exception):
    """Base class of every error firsttoken raises itself."""


class SettingsError(FirstTokenError, ValueError):
    """A setting has a wrong value; `key` names it as the user wrote it (for example `FIRSTTOKEN_TIMEOUT`)."""

    def __init__(self, key: str, message: str) -> None:
        # Whatever quoted a value on its way here, a value that looks like a secret is not shown.
        message = scrub(message)
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class EngineClosedError(FirstTokenError, RuntimeError):
    """The engine was closed and cannot make calls any more."""


class Refused(FirstTokenError):
    """A browser's request turned away before anything went upstream; `status` is its HTTP status.

    The message is safe to show to the client (it never quotes a secret); `headers` are the ones
    the answer needs (`Retry-After` for a 429).
    """

    status = 400

    def __init__(self, message: str, *, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = list(headers or [])


class BadRequest(Refused, ValueError):
    """A browser-facing request body is malformed; the message is safe to show to the client."""


class PayloadTooLarge(Refused):
    """The body, its message count or its estimated input tokens are over the app's limit."""

    status = 413


class UnsupportedMediaType(Refused):
    """A POST whose content type is not `application/json` (this also stops cross-site form posts)."""

    status = 415


class TooManyRequests(Refused):
    """The client is over its per-minute budget; `retry_after` is when it may try again (seconds)."""

    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers=[("Retry-After", str(retry_after))])
        self.retry_after = retry_after


class UpstreamFailure(FirstTokenError):
    """A stream that had already started failed: an error event, a lost connection or a stall.

    Errors before the stream starts are raised as the SDK's own `APIStatusError` subclasses. This
    one carries the `type`/`message` pair the API put in its `event: error`, or `type`
    `api_connection_error` for a connection lost mid-stream and `timeout_error` for a stream
    stalled past the read timeout, with the transport's error as `__cause__`, on every SDK version.
    """

    def __init__(self, type: str, message: str) -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message
