"""`request.state.firsttoken`: the app's engine and the one call a handler needs to stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firsttoken import EngineHandle, Relay

from .responses import RelayResponse, error_response

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection
    from starlette.responses import Response

    from firsttoken import ChatRequest, Engine

__all__ = ["FirstToken", "firsttoken_of"]

STATE_KEY = "firsttoken"


class FirstToken(EngineHandle):
    """A thin handle on an app's engine, with the same members as Flask's and Django's `FirstToken`."""

    __slots__ = ("_engine",)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __repr__(self) -> str:
        return f"<FirstToken {self._engine!r}>"

    @property
    def engine(self) -> Engine:
        return self._engine

    async def stream_response(self, *, format: str = "sse", **call: Any) -> Response:
        """Open the upstream stream and answer with it.

        Async because the status depends on the upstream: a refusal before the first token
        (overload, rate limit) becomes its HTTP error; otherwise a 200 stream in `format`.
        `call` is `messages=`, `profile=`, profile overrides and any Messages API argument.
        """
        relay = Relay(self.engine, format=format, **call)
        start = await relay.aopen()
        if start.body is not None:
            return error_response(start)
        return RelayResponse(relay, start)

    async def chat_response(self, chat: ChatRequest, **call: Any) -> Response:
        """`stream_response` for a body parsed by `firsttoken.parse_chat_request`; `call` overrides it."""
        return await self.stream_response(format=chat.format, **chat.call_kwargs(**call))

    # Every view is async here: the a-forms are the same coroutines, so a view written for
    # Django's or Flask's async views moves over with its calls unchanged.
    astream_response = stream_response
    achat_response = chat_response


def firsttoken_of(conn: HTTPConnection) -> FirstToken:
    """The handle `FirstTokenMiddleware` put on this request, or an error saying how to add it."""
    handle = conn.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(handle, FirstToken):
        raise RuntimeError(
            "no firsttoken engine on this request: add "
            "Middleware(FirstTokenMiddleware, settings={...}) to the app's middleware list"
        )
    return handle
