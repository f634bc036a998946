"""`request.firsttoken`: the engine and the response helpers, as views see them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firsttoken import ChatRequest, Engine, Settings

from .responses import astream_response, stream_response
from .state import get_engine

if TYPE_CHECKING:
    import anthropic
    from django.http import HttpRequest, HttpResponseBase

__all__ = ["FirstToken"]


class FirstToken:
    """Attached to each request by `FirstTokenMiddleware`.

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

    @property
    def settings(self) -> Settings:
        return get_engine().settings

    @property
    def client(self) -> anthropic.Anthropic:
        return get_engine().client

    @property
    def async_client(self) -> anthropic.AsyncAnthropic:
        return get_engine().async_client

    def metrics_snapshot(self) -> dict[str, Any]:
        return get_engine().metrics_snapshot()

    def stream_response(self, *, format: str = "sse", **call: Any) -> HttpResponseBase:
        """A streaming response from a sync view (`messages=`, `profile=`, any Messages API argument).

        Upstream refusals before the first token come back as their HTTP status (503, 429, ...).
        Raises `RuntimeError` inside an event loop: async views use `astream_response`.
        """
        return stream_response(self.request, format=format, engine=get_engine(), **call)

    async def astream_response(self, *, format: str = "sse", **call: Any) -> HttpResponseBase:
        """`stream_response` for async views."""
        return await astream_response(self.request, format=format, engine=get_engine(), **call)

    def chat_response(self, chat: ChatRequest) -> HttpResponseBase:
        """The response to a parsed browser chat body (`parse_chat_request`), in the format it asked for."""
        return self.stream_response(format=chat.format, **chat.call_kwargs())

    async def achat_response(self, chat: ChatRequest) -> HttpResponseBase:
        return await self.astream_response(format=chat.format, **chat.call_kwargs())
