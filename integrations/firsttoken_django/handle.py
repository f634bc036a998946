"""`request.firsttoken`: the engine and the response helpers, as views see them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firsttoken import ChatRequest, Engine, EngineHandle

from .responses import astream_response, stream_response
from .state import get_engine

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

__all__ = ["FirstToken"]


class FirstToken(EngineHandle):
    """Attached to each request by `FirstTokenMiddleware`; the same members as Flask's and Starlette's.

    The engine is looked up on use, not at attach time, so `override_settings(FIRSTTOKEN=...)`
    inside a test reaches requests made after it.
    """

    __slots__ = ("request",)

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    def __repr__(self) -> str:
        return f"<FirstToken {self.request.method} {self.request.path}>"

    @property
    def engine(self) -> Engine:
        return get_engine()

    def stream_response(self, *, format: str = "sse", **call: Any) -> HttpResponseBase:
        """A streaming response from a sync view (`messages=`, `profile=`, any Messages API argument).

        Upstream refusals before the first token come back as their HTTP status (503, 429, ...).
        Raises `RuntimeError` inside an event loop: async views use `astream_response`.
        """
        return stream_response(self.request, format=format, engine=get_engine(), **call)

    async def astream_response(self, *, format: str = "sse", **call: Any) -> HttpResponseBase:
        """`stream_response` for async views."""
        return await astream_response(self.request, format=format, engine=get_engine(), **call)

    def chat_response(self, chat: ChatRequest, **call: Any) -> HttpResponseBase:
        """`stream_response` for a body parsed by `firsttoken.parse_chat_request`; `call` overrides it."""
        return self.stream_response(format=chat.format, **chat.call_kwargs(**call))

    async def achat_response(self, chat: ChatRequest, **call: Any) -> HttpResponseBase:
        return await self.astream_response(format=chat.format, **chat.call_kwargs(**call))
