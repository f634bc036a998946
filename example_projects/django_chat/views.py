"""The chat example's views: the page, `POST /api/chat`, `GET /api/metrics`, `GET /healthz`.

Every view is a few lines: parsing, wire formats, error statuses and metrics are firsttoken's.
Async views: under ASGI a stream costs no thread; under WSGI they still work (Django runs them
in a loop per request, and firsttoken hands back a stream the WSGI server can iterate).
"""

from __future__ import annotations

import secrets

from django.contrib.staticfiles.views import serve
from django.http import HttpRequest, HttpResponseBase, HttpResponseNotAllowed, JsonResponse

from firsttoken_django import FirstToken

# Who may resume or stop an answer: a random cookie the page sets (an app would use its session).
OWNER_COOKIE = "chat_owner"


async def page(request: HttpRequest) -> HttpResponseBase:
    response = _static(request, "index.html")
    if OWNER_COOKIE not in request.COOKIES:
        response.set_cookie(OWNER_COOKIE, secrets.token_urlsafe(18), httponly=True, samesite="Lax")
    return response


async def static(request: HttpRequest, path: str) -> HttpResponseBase:
    return _static(request, path)


def _static(request: HttpRequest, path: str) -> HttpResponseBase:
    # Through the staticfiles finders (STATICFILES_DIRS), whatever DEBUG says: the example must
    # serve its page under gunicorn and uvicorn too, and adds no dependency to do it.
    return serve(request, path, insecure=True)


async def chat(request: HttpRequest) -> HttpResponseBase:
    # Checked here rather than with @require_POST, which wraps async views as sync on Django 4.2.
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    # Limits, the profiles a browser may name and the client's budget (its IP here) are firsttoken's.
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return await firsttoken.achat(owner=request.COOKIES.get(OWNER_COOKIE))


async def resume(request: HttpRequest, response_id: str) -> HttpResponseBase:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET"])
    # With Redis set: the answer after Last-Event-ID, from any worker; 204 when there is none.
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return await firsttoken.aresume(response_id, owner=request.COOKIES.get(OWNER_COOKIE))


async def stop(request: HttpRequest, response_id: str) -> HttpResponseBase:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return await firsttoken.astop(response_id, owner=request.COOKIES.get(OWNER_COOKIE))


async def warm(request: HttpRequest) -> HttpResponseBase:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    # While the user types: the conversation so far pre-warmed in the prompt cache.
    return await request.firsttoken.awarm()  # type: ignore[attr-defined,no-any-return]


async def metrics(request: HttpRequest) -> HttpResponseBase:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return JsonResponse(request.firsttoken.metrics_snapshot())  # type: ignore[attr-defined]


async def prometheus(request: HttpRequest) -> HttpResponseBase:
    return request.firsttoken.metrics_response(request.headers.get("Accept"))  # type: ignore[attr-defined,no-any-return]


async def dashboard(request: HttpRequest) -> HttpResponseBase:
    return _static(request, "dashboard.html")


async def healthz(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse({"ok": True})
