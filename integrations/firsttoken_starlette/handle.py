"""`request.state.firsttoken`: the app's engine and the one call a handler needs to stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .responses import RelayResponse, error_response

if TYPE_CHECKING:
    import anthropic
    from starlette.requests import HTTPConnection
    from starlette.responses import Response

    from firsttoken import ChatRequest, Engine, Settings

__all__ = ["FirstToken", "firsttoken_of"]

STATE_KEY = "firsttoken"


class FirstToken:
    """A thin handle on an app's engine; the Flask and Django adapters hand out the same one."""

    __slots__ = ("engine",)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __repr__(self) -> str:
        return f"<FirstToken {self.engine!r}>"

    @property
    def client(self) -> anthropic.Anthropic:
        return self.engine.client

    @property
    def async_client(self) -> anthropic.AsyncAnthropic:
        return self.engine.async_client

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    def metrics_snapshot(self) -> dict[str, Any]:
        return self.engine.metrics_snapshot()

    async def stream_response(self, *, format: str = "sse", **call: Any) -> Response:
        """Open the upstream stream and answer with it.

        Async because the status depends on the upstream: a refusal before the first token
        (overload, rate limit) becomes its HTTP error; otherwise a 200 stream in `format`.
        `call` is `messages=`, `profile=`, profile overrides and any Messages API argument.
        """
        relay = self.engine.relay(format=format, **call)
        start = await relay.aopen()
        if start.body is not None:
            return error_response(start)
        return RelayResponse(relay, start, heartbeat_interval=self.engine.settings.heartbeat_interval)

    async def chat_response(self, chat: ChatRequest, **call: Any) -> Response:
        """`stream_response` for a body parsed by `firsttoken.parse_chat_request`."""
        return await self.stream_response(format=chat.format, **chat.call_kwargs(), **call)


def firsttoken_of(conn: HTTPConnection) -> FirstToken:
    """The handle `FirstTokenMiddleware` put on this request, or an error saying how to add it."""
    handle = conn.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(handle, FirstToken):
        raise RuntimeError(
            "no firsttoken engine on this request: add "
            "Middleware(FirstTokenMiddleware, settings={...}) to the app's middleware list"
        )
    return handle
