"""`request.firsttoken`: the engine and the response helpers, as views see them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.http import JsonResponse

from firsttoken import ChatRequest, Engine, EngineHandle, Refused, RelayStart, accept_chat, refusal

from .responses import astream_response, is_asgi, start_response, stream_response, streaming
from .state import get_engine

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

__all__ = ["FirstToken"]


class FirstToken(EngineHandle["HttpResponseBase"]):
    """The request's handle, attached as `request.firsttoken` by `FirstTokenMiddleware`; the same
    members as Flask's and Starlette's.

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

    def metrics_response(self, accept: str | None = None) -> HttpResponseBase:
        """`GET /metrics`: the Prometheus scrape (the deployment's with Redis) in the format `accept`
        asks for (None: the request's `Accept` header)."""
        from django.http import HttpResponse

        body, content_type = get_engine().prometheus(accept or self.request.headers.get("Accept"))
        response = HttpResponse(body, content_type=content_type)
        response["Cache-Control"] = "no-store"
        return response

    def _accept(self, system: Any) -> tuple[ChatRequest, int]:
        request = self.request
        limits = get_engine().limits
        limits.check_length(request.META.get("CONTENT_LENGTH"))
        # request.read(), not request.body: no more than the limit is read, and Django's own cap
        # (DATA_UPLOAD_MAX_MEMORY_SIZE) would answer an HTML page instead of the contract's JSON.
        body = request.read(limits.max_body_bytes + 1)
        return accept_chat(
            limits,
            body,
            content_type=request.META.get("CONTENT_TYPE"),
            protocols=request.GET.getlist("protocol"),
            system=system,
        )

    def read_chat(self, *, client: str | None = None, system: Any = None) -> ChatRequest:
        """The browser's chat body, checked against every limit before anything goes upstream;
        raises `firsttoken.Refused` (415, 413, 400, 429). No more than `max_body_bytes` is read.

        `client` identifies the caller for the per-minute budget (a user id); None is REMOTE_ADDR.
        `system` is the app's own system prompt, counted in the token estimate.
        """
        chat, tokens = self._accept(system)
        get_engine().limits.admit(self._client(client), tokens)
        return chat

    async def aread_chat(self, *, client: str | None = None, system: Any = None) -> ChatRequest:
        chat, tokens = self._accept(system)
        await get_engine().limits.aadmit(self._client(client), tokens)
        return chat

    def _client(self, client: str | None) -> str | None:
        return client if client is not None else self.request.META.get("REMOTE_ADDR")

    def _refusal_response(self, exc: Refused) -> HttpResponseBase:
        return start_response(refusal(exc))

    def _json_response(self, payload: dict[str, Any]) -> HttpResponseBase:
        response = JsonResponse(payload)
        response["Cache-Control"] = "no-store"
        return response

    async def awarm(self, *, client: str | None = None, **call: Any) -> HttpResponseBase:
        """`warm` for async views."""
        try:
            chat, _ = self._accept(call.get("system"))
        except Refused as exc:
            return self._refusal_response(exc)
        engine, who, system = get_engine(), self._client(client), call.get("system")
        if is_asgi(self.request):
            result = await engine.awarm_for(chat.messages, profile=chat.profile, client=who, system=system)
        else:
            # Under WSGI this loop ends with the view: its async client's connection would be
            # opened for one warm and dropped. The sync client's stays in the pool for the chat.
            result = await sync_to_async(engine.warm_for)(
                chat.messages, profile=chat.profile, client=who, system=system
            )
        return self._json_response(result.as_json())

    def chat_response(self, chat: ChatRequest, **call: Any) -> HttpResponseBase:
        """`stream_response` for a body parsed by `firsttoken.parse_chat_request`; `call` overrides it."""
        return self.stream_response(
            format=chat.format, chat_id=chat.chat_id, hold=chat.held, **chat.call_kwargs(**call)
        )

    async def achat_response(self, chat: ChatRequest, **call: Any) -> HttpResponseBase:
        return await self.astream_response(
            format=chat.format, chat_id=chat.chat_id, hold=chat.held, **chat.call_kwargs(**call)
        )

    def _resume_headers(self) -> dict[str, Any]:
        request = self.request
        return {
            "last_event_id": request.headers.get("Last-Event-ID"),
            "protocols": request.GET.getlist("protocol"),
        }

    def resume(self, response_id: str, *, owner: str | None = None) -> HttpResponseBase:
        """`GET /api/chat/{response_id}/stream` from a sync view: the answer after the
        `Last-Event-ID` header, then live (`?protocol=ai-sdk`: `response_id` is the AI SDK's chat
        id); 204 with nothing to resume. `owner` is what the app gave `chat` (a session, a user id)."""
        found = self.follow(response_id, owner=owner, **self._resume_headers())
        if isinstance(found, RelayStart):
            return start_response(found)
        return streaming(self.request, found.start, found, asynchronous=False)

    async def aresume(self, response_id: str, *, owner: str | None = None) -> HttpResponseBase:
        """`resume` for async views; under WSGI the body is still read in the server's thread."""
        if not is_asgi(self.request):
            return await sync_to_async(self.resume)(response_id, owner=owner)
        found = await self.afollow(response_id, owner=owner, **self._resume_headers())
        if isinstance(found, RelayStart):
            return start_response(found)
        return streaming(self.request, found.start, found, asynchronous=True)

    def stop(self, response_id: str, *, owner: str | None = None) -> HttpResponseBase:
        """`POST /api/chat/{response_id}/stop`: the answer and its upstream call end, on any worker."""
        return start_response(self.stop_answer(response_id, owner=owner))

    async def astop(self, response_id: str, *, owner: str | None = None) -> HttpResponseBase:
        if not is_asgi(self.request):
            return await sync_to_async(self.stop)(response_id, owner=owner)
        return start_response(await self.astop_answer(response_id, owner=owner))

    def messages(self, chat_id: str, *, owner: str | None = None) -> HttpResponseBase:
        """`GET /api/chat/{chat_id}/messages`: the conversation the server holds for the chat (a
        body that named `chat_id`), as the contract's `messages` list; 404 for another `owner`."""
        return start_response(self.held_messages(chat_id, owner=owner))

    async def amessages(self, chat_id: str, *, owner: str | None = None) -> HttpResponseBase:
        if not is_asgi(self.request):
            return await sync_to_async(self.messages)(chat_id, owner=owner)
        return start_response(await self.aheld_messages(chat_id, owner=owner))
