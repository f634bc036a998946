"""The chat example's views: the page, `POST /api/chat`, `GET /api/metrics`, `GET /healthz`.

Every view is a few lines: parsing, wire formats, error statuses and metrics are firsttoken's.
These are the sync views, for a WSGI server (gunicorn, `runserver`); the endpoints that wait on
the network have async twins in `aviews.py` for an ASGI server, and `urls.py` picks by server.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase, HttpResponseNotAllowed, JsonResponse

from example_projects.loopback import is_loopback
from firsttoken.console import OWNER_COOKIE
from firsttoken_django import FirstToken

# Who may resume or stop an answer: a random id the packaged page sets in OWNER_COOKIE (an app
# would use its session).
__all__ = ["OWNER_COOKIE", "from_this_machine"]


def from_this_machine(request: HttpRequest) -> bool:
    # The console's access check (example_projects/loopback.py): the example runs without DEBUG.
    return is_loopback(request.META.get("REMOTE_ADDR"))


def not_allowed(request: HttpRequest, *allowed: str) -> HttpResponseBase | None:
    """A 405 unless the request's method is one of `allowed` (HEAD goes with GET). Checked in the
    view rather than with @require_POST, which wraps async views as sync on Django 4.2."""
    method = "GET" if request.method == "HEAD" else request.method
    if method in allowed:
        return None
    return HttpResponseNotAllowed([*allowed, "HEAD"] if "GET" in allowed else allowed)


def chat(request: HttpRequest) -> HttpResponseBase:
    if refused := not_allowed(request, "POST"):
        return refused
    # Limits, the profiles a browser may name and the client's budget (its IP here) are firsttoken's.
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return firsttoken.chat(owner=request.COOKIES.get(OWNER_COOKIE))


def resume(request: HttpRequest, response_id: str) -> HttpResponseBase:
    if refused := not_allowed(request, "GET"):
        return refused
    # With Redis set: the answer after Last-Event-ID, from any worker; 204 when there is none.
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return firsttoken.resume(response_id, owner=request.COOKIES.get(OWNER_COOKIE))


def stop(request: HttpRequest, response_id: str) -> HttpResponseBase:
    if refused := not_allowed(request, "POST"):
        return refused
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return firsttoken.stop(response_id, owner=request.COOKIES.get(OWNER_COOKIE))


def held(request: HttpRequest, chat_id: str) -> HttpResponseBase:
    if refused := not_allowed(request, "GET"):
        return refused
    # A chat that named a `chat_id`: what the server holds of it, for a page reload.
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return firsttoken.messages(chat_id, owner=request.COOKIES.get(OWNER_COOKIE))


def warm(request: HttpRequest) -> HttpResponseBase:
    if refused := not_allowed(request, "POST"):
        return refused
    # While the user types: the conversation so far pre-warmed in the prompt cache.
    firsttoken: FirstToken = request.firsttoken  # type: ignore[attr-defined]
    return firsttoken.warm()


def metrics(request: HttpRequest) -> HttpResponseBase:
    if refused := not_allowed(request, "GET"):
        return refused
    return JsonResponse(request.firsttoken.metrics_snapshot())  # type: ignore[attr-defined]


def prometheus(request: HttpRequest) -> HttpResponseBase:
    return request.firsttoken.metrics_response()  # type: ignore[attr-defined,no-any-return]


def healthz(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse({"ok": True})
