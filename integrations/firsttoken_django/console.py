"""`console()`: firsttoken's chat page and dashboard as URL patterns to include in one line.

path("firsttoken/", include("firsttoken_django.urls"))     # console() with its defaults
path("firsttoken/", include(console(allow=my_check)))      # another access check
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import path
from django.views.decorators.csrf import ensure_csrf_cookie

from firsttoken.console import HEADERS, OWNER_COOKIE, PAGES, REFUSAL, asset, content_type, new_owner

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase
    from django.urls import URLPattern

    from .handle import FirstToken

__all__ = ["Allow", "console", "staff_only"]

# The app's access check: the request in, whether it may see the console.
Allow = Callable[["HttpRequest"], bool]
View = Callable[..., "HttpResponseBase"]


def staff_only(request: HttpRequest) -> bool:
    """Active staff users (`django.contrib.auth`'s `is_staff`, as the admin asks); no one where the
    project has no authentication middleware."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def console(*, allow: Allow | None = None, api: bool = True) -> list[URLPattern]:
    """The chat page at the include's root, the dashboard at `dashboard`, their files at `static/`,
    and (`api=True`) the chat API they call at `api/...` and the Prometheus scrape at `metrics`.

    Served when `DEBUG` is on or `allow(request)` says so (None: `staff_only`, active staff
    users); anyone else gets a 403. `api=False` when the project serves the chat API itself at
    `api/...` beside the pages. The API needs `FirstTokenMiddleware`, as any view does; the page
    sends the CSRF token back (it sets the `csrftoken` cookie).
    """
    check = staff_only if allow is None else allow

    def gated(view: View, *methods: str) -> View:
        @functools.wraps(view)
        def gate(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not (settings.DEBUG or check(request)):
                return _with_headers(
                    HttpResponse(json.dumps(REFUSAL), status=403, content_type="application/json")
                )
            method = "GET" if request.method == "HEAD" else request.method
            if method not in methods:
                return HttpResponseNotAllowed(methods)
            return view(request, *args, **kwargs)

        return gate

    patterns = [
        path("", gated(_index, "GET"), name="firsttoken-console"),
        path("dashboard", gated(_dashboard, "GET"), name="firsttoken-dashboard"),
        path("static/<path:name>", gated(_static, "GET")),
    ]
    if api:
        patterns += [
            path("api/chat", gated(_chat, "POST")),
            path("api/chat/<str:response_id>/stream", gated(_resume, "GET")),
            path("api/chat/<str:response_id>/stop", gated(_stop, "POST")),
            path("api/chat/<str:chat_id>/messages", gated(_messages, "GET")),
            path("api/warm", gated(_warm, "POST")),
            path("api/metrics", gated(_metrics, "GET")),
            path("metrics", gated(_prometheus, "GET")),
        ]
    return patterns


def _with_headers(response: HttpResponseBase) -> HttpResponseBase:
    for name, value in HEADERS.items():
        response[name] = value
    return response


def _file(name: str) -> HttpResponseBase:
    found = asset(name)
    if found is None:
        return _with_headers(JsonResponse({"error": "no such file"}, status=404))
    # Read whole (the largest, uPlot, is 51 kB): no file handle outlives the request.
    response = HttpResponse(found.read_bytes(), content_type=content_type(found))
    response["Cache-Control"] = "no-cache"
    return _with_headers(response)


# The csrftoken cookie for the page's POSTs (chat.js sends it back in X-CSRFToken).
@ensure_csrf_cookie
def _index(request: HttpRequest) -> HttpResponseBase:
    response = _file(PAGES[""])
    if OWNER_COOKIE not in request.COOKIES:
        response.set_cookie(OWNER_COOKIE, new_owner(), httponly=True, samesite="Lax")
    return response


def _dashboard(request: HttpRequest) -> HttpResponseBase:
    return _file(PAGES["dashboard"])


def _static(request: HttpRequest, name: str) -> HttpResponseBase:
    return _file(name)


def _handle(request: HttpRequest) -> FirstToken:
    handle: FirstToken | None = getattr(request, "firsttoken", None)
    if handle is None:
        raise RuntimeError(
            "the firsttoken console's API needs "
            "'firsttoken_django.middleware.FirstTokenMiddleware' in MIDDLEWARE"
        )
    return handle


def _chat(request: HttpRequest) -> HttpResponseBase:
    return _handle(request).chat(owner=request.COOKIES.get(OWNER_COOKIE))


def _resume(request: HttpRequest, response_id: str) -> HttpResponseBase:
    return _handle(request).resume(response_id, owner=request.COOKIES.get(OWNER_COOKIE))


def _stop(request: HttpRequest, response_id: str) -> HttpResponseBase:
    return _handle(request).stop(response_id, owner=request.COOKIES.get(OWNER_COOKIE))


def _messages(request: HttpRequest, chat_id: str) -> HttpResponseBase:
    return _handle(request).messages(chat_id, owner=request.COOKIES.get(OWNER_COOKIE))


def _warm(request: HttpRequest) -> HttpResponseBase:
    return _handle(request).warm()


def _metrics(request: HttpRequest) -> HttpResponseBase:
    return JsonResponse(_handle(request).metrics_snapshot(), headers={"Cache-Control": "no-store"})


def _prometheus(request: HttpRequest) -> HttpResponseBase:
    return _handle(request).metrics_response()
