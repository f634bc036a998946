"""Errors that firsttoken raises itself; upstream failures keep the SDK's own exception classes."""

from __future__ import annotations

__all__ = ["BadRequest", "EngineClosedError", "FirstTokenError", "SettingsError", "UpstreamFailure"]


class FirstTokenError(Exception):
    """Base class of every error firsttoken raises itself."""


class SettingsError(FirstTokenError, ValueError):
    """A setting has a wrong value; `key` names it as the user wrote it (for example `FIRSTTOKEN_TIMEOUT`)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class EngineClosedError(FirstTokenError, RuntimeError):
    """The engine was closed and cannot make calls any more."""


class BadRequest(FirstTokenError, ValueError):
    """A browser-facing request body is malformed; the message is safe to show to the client."""


class UpstreamFailure(FirstTokenError):
    """An error event that the Messages API sent inside a stream that had already started.

    Errors before the stream starts are raised as the SDK's own `APIStatusError` subclasses; this
    one carries the same `type`/`message` pair the API put in its `event: error`.
    """

    def __init__(self, type: str, message: str) -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message
