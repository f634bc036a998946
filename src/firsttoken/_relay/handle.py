"""The base of every adapter's `FirstToken` handle."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anthropic

from .._chat import RelayStart, error_response
from .core import EngineParts
from .resume import ResumedStream, parse_last_event_id

if TYPE_CHECKING:
    from .._settings import Settings

__all__ = ["EngineHandle"]

logger = logging.getLogger("firsttoken.resume")

# Nothing to resume: no such answer (for this owner), one that ended, or no Redis at all.
NOTHING = RelayStart(204, [("Cache-Control", "no-store")])
STOPPED = RelayStart(
    200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], b'{"stopped": true}'
)
NOT_FOUND = "no answer to stop under that id"
UNAVAILABLE = "resuming is unavailable right now"


class EngineHandle:
    """The base of every adapter's `FirstToken` handle: each finds its `engine` its framework's way.

    The response methods (`stream_response`, `chat_response` and the a-forms) are the adapters'
    own, since each returns its framework's response class; they build a `Relay(handle.engine, ...)`.
    """

    __slots__ = ()

    @property
    def engine(self) -> EngineParts:
        raise NotImplementedError

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @property
    def client(self) -> anthropic.Anthropic:
        """The process's shared sync `anthropic.Anthropic`."""
        return self.engine.client

    @property
    def async_client(self) -> anthropic.AsyncAnthropic:
        """The shared `anthropic.AsyncAnthropic` of the running event loop."""
        return self.engine.async_client

    def metrics_snapshot(self) -> dict[str, Any]:
        return self.engine.metrics_snapshot()

    # -- resumable answers: the framework-free halves of each adapter's `resume` and `stop` -----

    def _resume_args(
        self, last_event_id: str | None, protocols: Sequence[str]
    ) -> tuple[int, bool] | RelayStart:
        protocol = protocols[-1] if protocols else ""
        if protocol not in ("", "sse", "ai-sdk"):
            return error_response(400, f"unknown protocol {protocol[:40]!r}; use 'ai-sdk' or leave it out")
        try:
            after = parse_last_event_id(last_event_id)
        except ValueError as exc:
            return error_response(400, str(exc))
        return after, protocol == "ai-sdk"

    def follow(
        self,
        response_id: str,
        *,
        owner: str | None = None,
        last_event_id: str | None = None,
        protocols: Sequence[str] = (),
    ) -> ResumedStream | RelayStart:
        """`GET /api/chat/{response_id}/stream`: the answer after `Last-Event-ID`, to follow live,
        or what to answer instead (204 with nothing to resume, 400 for a bad header).

        With `?protocol=ai-sdk` the id is the AI SDK's chat id. `owner` is what the app scopes
        answers by (a session, a user id), as it was given to `chat`.
        """
        args = self._resume_args(last_event_id, protocols)
        hub = self.engine.resume
        if isinstance(args, RelayStart):
            return args
        if hub is None:
            return NOTHING
        try:
            found = hub.follow(response_id, owner=owner, last_event_id=args[0], chat=args[1])
        except Exception as exc:  # Redis away: say so rather than a 500
            logger.warning("firsttoken: cannot resume: %s", type(exc).__name__)
            return error_response(503, UNAVAILABLE)
        return NOTHING if found is None else found

    async def afollow(
        self,
        response_id: str,
        *,
        owner: str | None = None,
        last_event_id: str | None = None,
        protocols: Sequence[str] = (),
    ) -> ResumedStream | RelayStart:
        args = self._resume_args(last_event_id, protocols)
        hub = self.engine.resume
        if isinstance(args, RelayStart):
            return args
        if hub is None:
            return NOTHING
        try:
            found = await hub.afollow(response_id, owner=owner, last_event_id=args[0], chat=args[1])
        except Exception as exc:
            logger.warning("firsttoken: cannot resume: %s", type(exc).__name__)
            return error_response(503, UNAVAILABLE)
        return NOTHING if found is None else found

    def stop_answer(self, response_id: str, *, owner: str | None = None) -> RelayStart:
        """`POST /api/chat/{response_id}/stop`: end the answer and its upstream call wherever it
        runs; 200 `{"stopped": true}`, or 404 when `owner` has no answer under that id."""
        hub = self.engine.resume
        try:
            found = hub is not None and hub.stop(response_id, owner)
        except Exception as exc:
            logger.warning("firsttoken: cannot stop: %s", type(exc).__name__)
            return error_response(503, UNAVAILABLE)
        return STOPPED if found else error_response(404, NOT_FOUND)

    async def astop_answer(self, response_id: str, *, owner: str | None = None) -> RelayStart:
        hub = self.engine.resume
        try:
            found = hub is not None and await hub.astop(response_id, owner)
        except Exception as exc:
            logger.warning("firsttoken: cannot stop: %s", type(exc).__name__)
            return error_response(503, UNAVAILABLE)
        return STOPPED if found else error_response(404, NOT_FOUND)
