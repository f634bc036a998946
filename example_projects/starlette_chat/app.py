"""The chat example on Starlette: the page, `POST /api/chat`, `GET /api/metrics`, `GET /healthz`.

Every handler is a few lines: parsing, wire formats, error statuses and metrics are firsttoken's.
In production:

    uvicorn example_projects.starlette_chat.app:app --http httptools

or on Granian: `granian --interface asgi example_projects.starlette_chat.app:app`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from example_projects.agent_tools import AGENT
from firsttoken import Engine, Settings
from firsttoken_starlette import FirstToken, FirstTokenMiddleware

from .paths import DASHBOARD, INDEX, PAGE_DIR

# Who may resume or stop an answer: a random cookie the page sets (an app would use its session).
OWNER_COOKIE = "chat_owner"


async def page(request: Request) -> Response:
    response = FileResponse(INDEX)
    if OWNER_COOKIE not in request.cookies:
        response.set_cookie(OWNER_COOKIE, secrets.token_urlsafe(18), httponly=True, samesite="lax")
    return response


async def chat(request: Request) -> Response:
    # Limits, the profiles a browser may name and the client's budget (its IP here) are firsttoken's.
    firsttoken: FirstToken = request.state.firsttoken
    return await firsttoken.chat(owner=request.cookies.get(OWNER_COOKIE))


async def resume(request: Request) -> Response:
    # With Redis set: the answer after Last-Event-ID, from any worker; 204 when there is none.
    firsttoken: FirstToken = request.state.firsttoken
    owner = request.cookies.get(OWNER_COOKIE)
    return await firsttoken.resume(request.path_params["response_id"], owner=owner)


async def stop(request: Request) -> Response:
    firsttoken: FirstToken = request.state.firsttoken
    owner = request.cookies.get(OWNER_COOKIE)
    return await firsttoken.stop(request.path_params["response_id"], owner=owner)


async def warm(request: Request) -> Response:
    # While the user types: the conversation so far pre-warmed in the prompt cache (docs/warming.md).
    firsttoken: FirstToken = request.state.firsttoken
    return await firsttoken.warm()


async def metrics(request: Request) -> Response:
    return JSONResponse(request.state.firsttoken.metrics_snapshot())


async def prometheus(request: Request) -> Response:
    return request.state.firsttoken.metrics_response()  # type: ignore[no-any-return]


async def dashboard(request: Request) -> Response:
    return FileResponse(DASHBOARD)


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


def create_app(
    *, settings: Mapping[str, Any] | Settings | None = None, engine: Engine | None = None
) -> Starlette:
    if settings is None and engine is None:
        # Read now, at import: a bad variable (a typo in FIRSTTOKEN_*) stops the server here, where
        # an error inside Starlette's lazy middleware build would leave it serving 500s.
        settings = Settings.from_env(profiles={"agent": AGENT})
    routes = [
        Route("/", page),
        Route("/api/chat", chat, methods=["POST"]),
        Route("/api/chat/{response_id}/stream", resume, methods=["GET"]),
        Route("/api/chat/{response_id}/stop", stop, methods=["POST"]),
        Route("/api/warm", warm, methods=["POST"]),
        Route("/api/metrics", metrics, methods=["GET"]),
        Route("/metrics", prometheus),
        Route("/dashboard", dashboard),
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=PAGE_DIR), name="static"),
    ]
    return Starlette(
        routes=routes, middleware=[Middleware(FirstTokenMiddleware, settings=settings, engine=engine)]
    )


app = create_app()
