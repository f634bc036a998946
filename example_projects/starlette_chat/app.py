"""The chat example on Starlette: the page, `POST /api/chat`, `GET /api/metrics`, `GET /healthz`.

Every handler is a few lines: parsing, wire formats, error statuses and metrics are firsttoken's.
In production:

    uvicorn example_projects.starlette_chat.app:app --http httptools

or on Granian: `granian --interface asgi example_projects.starlette_chat.app:app`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from example_projects.agent_tools import AGENT, CHAT
from example_projects.extract import EXTRACT
from example_projects.loopback import is_loopback
from firsttoken import Engine, Settings
from firsttoken.console import OWNER_COOKIE
from firsttoken_starlette import FirstToken, FirstTokenMiddleware, console

# Who may resume or stop an answer: a random id the packaged page sets in this cookie (an app
# would use its session).
__all__ = ["OWNER_COOKIE", "app", "create_app", "from_this_machine"]


def from_this_machine(request: Request) -> bool:
    # The console's access check (example_projects/loopback.py): the example runs without debug.
    return is_loopback(request.client.host if request.client else None)


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


async def held(request: Request) -> Response:
    # A chat that named a `chat_id`: what the server holds of it, for a page reload.
    firsttoken: FirstToken = request.state.firsttoken
    owner = request.cookies.get(OWNER_COOKIE)
    return await firsttoken.messages(request.path_params["chat_id"], owner=owner)


async def warm(request: Request) -> Response:
    # While the user types: the conversation so far pre-warmed in the prompt cache (docs/warming.md).
    firsttoken: FirstToken = request.state.firsttoken
    return await firsttoken.warm()


async def metrics(request: Request) -> Response:
    return JSONResponse(request.state.firsttoken.metrics_snapshot())


async def prometheus(request: Request) -> Response:
    return request.state.firsttoken.metrics_response()  # type: ignore[no-any-return]


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


def create_app(
    *, settings: Mapping[str, Any] | Settings | None = None, engine: Engine | None = None
) -> Starlette:
    if settings is None and engine is None:
        # Read now, at import: a bad variable (a typo in FIRSTTOKEN_*) stops the server here, where
        # an error inside Starlette's lazy middleware build would leave it serving 500s.
        settings = Settings.from_env(profiles={"agent": AGENT, "chat": CHAT, "extract": EXTRACT})
    routes = [
        Route("/api/chat", chat, methods=["POST"]),
        Route("/api/chat/{response_id}/stream", resume, methods=["GET"]),
        Route("/api/chat/{response_id}/stop", stop, methods=["POST"]),
        Route("/api/chat/{chat_id}/messages", held, methods=["GET"]),
        Route("/api/warm", warm, methods=["POST"]),
        Route("/api/metrics", metrics, methods=["GET"]),
        Route("/metrics", prometheus),
        Route("/healthz", healthz),
        # The packaged page at `/`, the dashboard at `/dashboard`, their files at `/static/`; the
        # chat API they call is the routes above (api=False). Its routes beside ours, not a mount
        # at `/`, which would answer 404 where ours answer 405.
        *console(api=False, allow=from_this_machine).routes,
    ]
    return Starlette(
        routes=routes, middleware=[Middleware(FirstTokenMiddleware, settings=settings, engine=engine)]
    )


app = create_app()
