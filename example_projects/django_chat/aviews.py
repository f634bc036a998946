"""The async twins of the views that wait on the network (the upstream, Redis), for ASGI: there
a stream costs no thread. The rest are `views.py`'s, which Django runs in a thread under ASGI."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase

from firsttoken_django import FirstToken

from .views import OWNER_COOKIE, not_allowed


async def chat(request: HttpRequest) -> HttpResponseBase:
    if refused := not_allowed(request, "POST"):
        return refused
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return await firsttoken.achat(owner=request.COOKIES.get(OWNER_COOKIE))


async def resume(request: HttpRequest, response_id: str) -> HttpResponseBase:
    if refused := not_allowed(request, "GET"):
        return refused
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return await firsttoken.aresume(response_id, owner=request.COOKIES.get(OWNER_COOKIE))


async def stop(request: HttpRequest, response_id: str) -> HttpResponseBase:
    if refused := not_allowed(request, "POST"):
        return refused
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return await firsttoken.astop(response_id, owner=request.COOKIES.get(OWNER_COOKIE))


async def held(request: HttpRequest, chat_id: str) -> HttpResponseBase:
    if refused := not_allowed(request, "GET"):
        return refused
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return await firsttoken.amessages(chat_id, owner=request.COOKIES.get(OWNER_COOKIE))


async def warm(request: HttpRequest) -> HttpResponseBase:
    if refused := not_allowed(request, "POST"):
        return refused
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return await firsttoken.awarm()
