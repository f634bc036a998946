"""`request.state.firsttoken`: the request's handle on the app's engine, and `get_engine()`."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from firsttoken import EngineHandle, Refused, Relay, RelayStart, accept_chat, refusal

from .responses import RelayResponse, start_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response
    from starlette.types import Receive, Scope

    from firsttoken import ChatRequest, Engine

__all__ = ["FirstToken", "firsttoken_of", "get_engine"]

STATE_KEY = "firsttoken"

# The engine of the app whose request or lifespan is running: Starlette keeps no current app, so
# `FirstTokenMiddleware` holds this around each call it passes on, as Flask holds `current_app`.
# A getter, not the engine: an app's engine is built on its first use.
current_engine: ContextVar[Callable[[], Engine]] = ContextVar("firsttoken_starlette.engine")


def get_engine() -> Engine:
    """The engine of the app this code runs in: inside a request, a background task of one or the
    app's lifespan (`FirstTokenMiddleware` sets it). Also a FastAPI dependency: `Depends(get_engine)`."""
    getter = current_engine.get(None)
    if getter is None:
        raise RuntimeError(
            "no firsttoken engine here: get_engine() works inside a request or the lifespan of an app "
            "with FirstTokenMiddleware; elsewhere build an Engine and pass it as "
            "Middleware(FirstTokenMiddleware, engine=engine)"
        )
    return getter()


class FirstToken(EngineHandle["Response"]):
    """The request's handle, put on `request.state` by `FirstTokenMiddleware`; the same members
    as Flask's and Django's `FirstToken`. Every view is async here, so the plain and a-forms are
    the same coroutines: a view written for Django's or Flask's async views moves over unchanged."""

    __slots__ = ("_engine", "_receive", "_request", "_scope")

    def __init__(self, engine: Engine, scope: Scope, receive: Receive) -> None:
        self._engine = engine
        self._scope = scope
        self._receive = receive
        self._request: Request | None = None

    def __repr__(self) -> str:
        return f"<FirstToken {self._scope.get('method')} {self._scope.get('path')}>"

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def request(self) -> Request:
        """The request this handle serves (built on first use: most requests never read it)."""
        if self._request is None:
            from starlette.requests import Request

            self._request = Request(self._scope, self._receive)
        return self._request

    async def stream_response(self, *, format: str = "sse", **call: Any) -> Response:
        """Open the upstream stream and answer with it.

        Async because the status depends on the upstream: a refusal before the first token
        (overload, rate limit) becomes its HTTP error; otherwise a 200 stream in `format`.
        `call` is `messages=`, `profile=`, profile overrides and any Messages API argument.
        """
        relay = Relay(self.engine, format=format, **call)
        start = await relay.aopen()
        if start.body is not None:
            return start_response(start)
        return RelayResponse(relay, start)

    async def chat_response(self, chat: ChatRequest, **call: Any) -> Response:
        """`stream_response` for a body parsed by `firsttoken.parse_chat_request`; `call` overrides it."""
        return await self.stream_response(
            format=chat.format, chat_id=chat.chat_id, hold=chat.held, **chat.call_kwargs(**call)
        )

    def metrics_response(self, accept: str | None = None) -> Response:
        """`GET /metrics`: the Prometheus scrape (the deployment's with Redis) in the format `accept`
        asks for (None: the request's `Accept` header)."""
        from starlette.responses import Response

        body, content_type = self.engine.prometheus(accept or self.request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    async def read_chat(self, *, client: str | None = None, system: Any = None) -> ChatRequest:
        """The browser's chat body, checked against every limit before anything goes upstream.

        415 unless JSON, 413 over `max_body_bytes` (no more than that is read), 400 for a malformed
        body or a profile the browser may not name, 413 over the message or token limits, 429 over
        the client's budget: each raised as `firsttoken.Refused`. `client` is what identifies the
        caller for the budget (a user id); None is the peer's IP address. `system` is the app's
        own system prompt, counted in the token estimate.
        """
        chat, tokens = await self._accept(system)
        await self.engine.limits.aadmit(self._client(client), tokens)
        return chat

    async def _accept(self, system: Any) -> tuple[ChatRequest, int]:
        request, limits = self.request, self.engine.limits
        limits.check_length(request.headers.get("content-length"))
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            limits.check_size(size)
            chunks.append(chunk)
        return accept_chat(
            limits,
            b"".join(chunks),
            content_type=request.headers.get("content-type"),
            protocols=request.query_params.getlist("protocol"),
            system=system,
        )

    def _refusal_response(self, exc: Refused) -> Response:
        return start_response(refusal(exc))

    def _json_response(self, payload: dict[str, Any]) -> Response:
        from starlette.responses import JSONResponse

        return JSONResponse(payload, headers={"Cache-Control": "no-store"})

    def _client(self, client: str | None) -> str | None:
        if client is not None:
            return client
        peer = self._scope.get("client")
        return peer[0] if peer else None

    # The base's `warm` is the sync views' (Django's, Flask's); here every view is async.
    async def warm(self, *, client: str | None = None, **call: Any) -> Response:  # type: ignore[override]
        """`POST /api/warm`: the conversation so far pre-warmed in the prompt cache while the user
        types; `{"warmed": true}` or `{"warmed": false, "reason": ...}`. The body is checked as
        `read_chat` checks it (415, 413, 400); the client's warm budget, not its chat budget, is spent.
        """
        try:
            chat, _ = await self._accept(call.get("system"))
        except Refused as exc:
            return self._refusal_response(exc)
        result = await self.engine.awarm_for(
            chat.messages, profile=chat.profile, client=self._client(client), system=call.get("system")
        )
        return self._json_response(result.as_json())

    async def resume(self, response_id: str, *, owner: str | None = None) -> Response:
        """`GET /api/chat/{response_id}/stream`: the answer after the `Last-Event-ID` header, then
        live (`?protocol=ai-sdk`: `response_id` is the AI SDK's chat id); 204 with nothing to resume.
        `owner` is what the app gave `chat` (a session, a user id)."""
        request = self.request
        found = await self.afollow(
            response_id,
            owner=owner,
            last_event_id=request.headers.get("last-event-id"),
            protocols=request.query_params.getlist("protocol"),
        )
        if isinstance(found, RelayStart):
            return start_response(found)
        return RelayResponse(found, found.start)

    async def stop(self, response_id: str, *, owner: str | None = None) -> Response:
        """`POST /api/chat/{response_id}/stop`: the answer and its upstream call end, on any worker."""
        return start_response(await self.astop_answer(response_id, owner=owner))

    async def messages(self, chat_id: str, *, owner: str | None = None) -> Response:
        """`GET /api/chat/{chat_id}/messages`: the conversation the server holds for the chat (a
        body that named `chat_id`), as the contract's `messages` list; 404 for another `owner`."""
        return start_response(await self.aheld_messages(chat_id, owner=owner))

    astream_response = stream_response
    achat_response = chat_response
    aread_chat = read_chat
    # `achat` is the base's, over the a-forms above; with no sync views here `chat` is it too (the
    # base's `chat` is the sync views', of another type: hence the ignore).
    chat = EngineHandle.achat  # type: ignore[assignment]
    aresume = resume
    astop = stop
    amessages = messages
    awarm = warm


def firsttoken_of(conn: HTTPConnection) -> FirstToken:
    """The handle `FirstTokenMiddleware` put on this request, or an error saying how to add it."""
    handle = conn.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(handle, FirstToken):
        raise RuntimeError(
            "no firsttoken engine on this request: add "
            "Middleware(FirstTokenMiddleware, settings={...}) to the app's middleware list"
        )
    return handle
