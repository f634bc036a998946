"""The chat example on Starlette: the page, `POST /api/chat`, `GET /api/metrics`, `GET /healthz`.

Every handler is a few lines: parsing, wire formats, error statuses and metrics are firsttoken's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from firsttoken import BadRequest, Engine, Settings, parse_chat_request
from firsttoken_starlette import FirstToken, FirstTokenMiddleware

from .paths import INDEX, PAGE_DIR


async def page(request: Request) -> Response:
    return FileResponse(INDEX)


async def chat(request: Request) -> Response:
    firsttoken: FirstToken = request.state.firsttoken
    try:
        body = parse_chat_request(
            await request.body(),
            protocol=request.query_params.get("protocol"),
            profiles=firsttoken.settings.profiles,
        )
    except BadRequest as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return await firsttoken.chat_response(body)


async def metrics(request: Request) -> Response:
    return JSONResponse(request.state.firsttoken.metrics_snapshot())


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


def create_app(
    *, settings: Mapping[str, Any] | Settings | None = None, engine: Engine | None = None
) -> Starlette:
    routes = [
        Route("/", page),
        Route("/api/chat", chat, methods=["POST"]),
        Route("/api/metrics", metrics),
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=PAGE_DIR), name="static"),
    ]
    return Starlette(
        routes=routes, middleware=[Middleware(FirstTokenMiddleware, settings=settings, engine=engine)]
    )


app = create_app()
