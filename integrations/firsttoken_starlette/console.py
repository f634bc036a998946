"""`console()`: firsttoken's chat page and dashboard as an ASGI app to mount in one line.

app = Starlette(routes=[..., Mount("/firsttoken", app=console())], middleware=[...], debug=True)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, Router

from firsttoken.console import HEADERS, OWNER_COOKIE, PAGES, REFUSAL, asset, content_type, new_owner

from .handle import firsttoken_of

__all__ = ["Allow", "console"]

# The app's access check: the request in, whether it may see the console (a coroutine or not).
Allow = Callable[[Request], bool | Awaitable[bool]]


def console(*, allow: Allow | None = None, api: bool = True) -> Router:
    """The chat page at the mount's root, the dashboard at `dashboard`, their files at `static/`,
    and (`api=True`) the chat API they call at `api/...` and the Prometheus scrape at `metrics`.

    Served when the app is in development (`Starlette(debug=True)`) or `allow(request)` says so;
    anyone else gets a 403 (`allow` is how an app opens it in production: its own login, staff
    only). `api=False` when the app serves the chat API itself at `api/...` beside the pages.
    The API needs `FirstTokenMiddleware` on the app, as any view does.

    A `Router`: mount it (`Mount("/firsttoken", app=console())`), or, at the root beside the app's
    own routes, add its `.routes` to them, so a wrong method on one of the app's routes is still
    its 405 (a mount at `/` would take every path it does not know).
    """
    gate = _Gate(allow)
    routes = [
        Route("/", gate(_index)),
        Route("/dashboard", gate(_dashboard)),
        Route("/static/{name:path}", gate(_static)),
    ]
    if api:
        routes += [
            Route("/api/chat", gate(_chat), methods=["POST"]),
            Route("/api/chat/{response_id}/stream", gate(_resume), methods=["GET"]),
            Route("/api/chat/{response_id}/stop", gate(_stop), methods=["POST"]),
            Route("/api/chat/{chat_id}/messages", gate(_messages), methods=["GET"]),
            Route("/api/warm", gate(_warm), methods=["POST"]),
            Route("/api/metrics", gate(_metrics), methods=["GET"]),
            Route("/metrics", gate(_prometheus), methods=["GET"]),
        ]
    return Router(routes)


Endpoint = Callable[[Request], Awaitable[Response]]


class _Gate:
    """Wraps each of the console's endpoints: the request is checked before the endpoint runs."""

    def __init__(self, allow: Allow | None) -> None:
        self.allow = allow

    def __call__(self, endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def gated(request: Request) -> Response:
            if not await self._allowed(request):
                return JSONResponse(REFUSAL, status_code=403, headers=HEADERS)
            return await endpoint(request)

        return gated

    async def _allowed(self, request: Request) -> bool:
        # The app the console is mounted in (Starlette puts itself in the scope): its debug flag.
        if getattr(request.scope.get("app"), "debug", False):
            return True
        if self.allow is None:
            return False
        allowed = self.allow(request)
        if inspect.isawaitable(allowed):
            allowed = await allowed
        return bool(allowed)


async def _index(request: Request) -> Response:
    return _page(request, PAGES[""])


async def _dashboard(request: Request) -> Response:
    return _page(request, PAGES["dashboard"])


def _page(request: Request, name: str) -> Response:
    path = asset(name)
    assert path is not None, name  # the package's own pages
    response = FileResponse(
        path, media_type=content_type(path), headers={**HEADERS, "Cache-Control": "no-cache"}
    )
    if OWNER_COOKIE not in request.cookies:
        response.set_cookie(OWNER_COOKIE, new_owner(), httponly=True, samesite="lax")
    return response


async def _static(request: Request) -> Response:
    path = asset(request.path_params["name"])
    if path is None:
        return JSONResponse({"error": "no such file"}, status_code=404, headers=HEADERS)
    return FileResponse(path, media_type=content_type(path), headers={**HEADERS, "Cache-Control": "no-cache"})


async def _chat(request: Request) -> Response:
    return await firsttoken_of(request).chat(owner=request.cookies.get(OWNER_COOKIE))


async def _resume(request: Request) -> Response:
    owner = request.cookies.get(OWNER_COOKIE)
    return await firsttoken_of(request).resume(request.path_params["response_id"], owner=owner)


async def _stop(request: Request) -> Response:
    owner = request.cookies.get(OWNER_COOKIE)
    return await firsttoken_of(request).stop(request.path_params["response_id"], owner=owner)


async def _messages(request: Request) -> Response:
    owner = request.cookies.get(OWNER_COOKIE)
    return await firsttoken_of(request).messages(request.path_params["chat_id"], owner=owner)


async def _warm(request: Request) -> Response:
    return await firsttoken_of(request).warm()


async def _metrics(request: Request) -> Response:
    return JSONResponse(firsttoken_of(request).metrics_snapshot(), headers={"Cache-Control": "no-store"})


async def _prometheus(request: Request) -> Response:
    return firsttoken_of(request).metrics_response()
