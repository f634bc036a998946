"""The same chat example on FastAPI.

The chat body is read by firsttoken (`Depends(chat_body)`), not by a pydantic body parameter:
FastAPI would read a body of any size before validating it, and the limits must come first.
`exception_handlers()` answers FastAPI's own errors in the contract's `{"error": ...}` shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.middleware import Middleware

from example_projects.agent_tools import AGENT, CHAT
from example_projects.extract import EXTRACT
from firsttoken import ChatRequest, Engine, Settings
from firsttoken_starlette import FirstToken, FirstTokenMiddleware, console
from firsttoken_starlette.fastapi import chat_body, exception_handlers, get_firsttoken

from .app import OWNER_COOKIE, from_this_machine


def create_app(
    *, settings: Mapping[str, Any] | Settings | None = None, engine: Engine | None = None
) -> FastAPI:
    if settings is None and engine is None:
        # Read now, at import: a bad variable (a typo in FIRSTTOKEN_*) stops the server here, where
        # an error inside Starlette's lazy middleware build would leave it serving 500s.
        settings = Settings.from_env(profiles={"agent": AGENT, "chat": CHAT, "extract": EXTRACT})
    app = FastAPI(
        title="firsttoken chat",
        middleware=[Middleware(FirstTokenMiddleware, settings=settings, engine=engine)],
        exception_handlers=exception_handlers(),
    )

    @app.post("/api/chat")
    async def chat(
        request: Request,
        body: Annotated[ChatRequest, Depends(chat_body)],
        firsttoken: Annotated[FirstToken, Depends(get_firsttoken)],
    ) -> Response:
        return await firsttoken.chat_response(body, owner=request.cookies.get(OWNER_COOKIE))

    @app.get("/api/chat/{response_id}/stream")
    async def resume(
        request: Request, response_id: str, firsttoken: Annotated[FirstToken, Depends(get_firsttoken)]
    ) -> Response:
        return await firsttoken.resume(response_id, owner=request.cookies.get(OWNER_COOKIE))

    @app.post("/api/chat/{response_id}/stop")
    async def stop(
        request: Request, response_id: str, firsttoken: Annotated[FirstToken, Depends(get_firsttoken)]
    ) -> Response:
        return await firsttoken.stop(response_id, owner=request.cookies.get(OWNER_COOKIE))

    @app.get("/api/chat/{chat_id}/messages")
    async def held(
        request: Request, chat_id: str, firsttoken: Annotated[FirstToken, Depends(get_firsttoken)]
    ) -> Response:
        return await firsttoken.messages(chat_id, owner=request.cookies.get(OWNER_COOKIE))

    @app.post("/api/warm")
    async def warm(firsttoken: Annotated[FirstToken, Depends(get_firsttoken)]) -> Response:
        # While the user types: the conversation so far pre-warmed in the prompt cache.
        return await firsttoken.warm()

    @app.get("/api/metrics")
    async def metrics(firsttoken: Annotated[FirstToken, Depends(get_firsttoken)]) -> dict[str, Any]:
        return firsttoken.metrics_snapshot()

    @app.get("/metrics")
    async def prometheus(firsttoken: Annotated[FirstToken, Depends(get_firsttoken)]) -> Response:
        return firsttoken.metrics_response()

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    # The packaged page at `/`, the dashboard at `/dashboard`; the chat API is the routes above.
    # Its routes beside ours, not a mount at `/`, which would answer 404 where ours answer 405.
    app.router.routes.extend(console(api=False, allow=from_this_machine).routes)
    return app


app = create_app()
