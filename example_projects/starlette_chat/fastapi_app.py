"""The same chat example on FastAPI, with typed request models for the chat body.

FastAPI answers a body that fails validation with 422 and its own shape; the contract says 400
`{"error": ...}` naming the problem, so a handler turns pydantic's first error into that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from starlette.middleware import Middleware

from firsttoken import BadRequest, Engine, Settings, parse_chat_request
from firsttoken_starlette import FirstToken, FirstTokenMiddleware
from firsttoken_starlette.fastapi import get_firsttoken

from .paths import INDEX, PAGE_DIR


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: Annotated[str, Field(min_length=1, pattern=r"\S")]


class ChatBody(BaseModel):
    """The contract's body: `{"messages": [{"role", "content"}], "profile"}`."""

    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    profile: str | None = None


class UIPart(BaseModel):
    # The AI SDK sends tool, file and reasoning parts too; only text parts reach the model.
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class UIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["user", "assistant", "system"]
    parts: list[UIPart]


class UIChatBody(BaseModel):
    """The Vercel AI SDK's `useChat` body (`?protocol=ai-sdk`): `UIMessage`s with `parts`."""

    model_config = ConfigDict(extra="allow")

    messages: Annotated[list[UIMessage], Field(min_length=1)]
    profile: str | None = None


def _shape(data: Any) -> str:
    # Which model to validate with: the AI SDK's messages carry `parts`, the contract's `content`.
    messages = data.get("messages") if isinstance(data, dict) else None
    if isinstance(messages, list) and any(isinstance(m, dict) and "parts" in m for m in messages):
        return "ui"
    return "plain"


AnyChatBody = Annotated[
    Annotated[ChatBody, Tag("plain")] | Annotated[UIChatBody, Tag("ui")], Discriminator(_shape)
]


def _first_problem(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request body"
    error = errors[0]
    if error.get("type") == "json_invalid":
        return "body is not valid JSON"
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "plain", "ui"))
    return f"{where or 'body'}: {error.get('msg', 'is invalid')}"


async def validation_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"error": _first_problem(exc)}, status_code=400)


def create_app(
    *, settings: Mapping[str, Any] | Settings | None = None, engine: Engine | None = None
) -> FastAPI:
    app = FastAPI(
        title="firsttoken chat",
        middleware=[Middleware(FirstTokenMiddleware, settings=settings, engine=engine)],
        exception_handlers={RequestValidationError: validation_failed},
    )

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(INDEX)

    @app.post("/api/chat")
    async def chat(
        body: AnyChatBody,
        firsttoken: Annotated[FirstToken, Depends(get_firsttoken)],
        protocol: str | None = None,
    ) -> Response:
        # Pydantic checked the shape; the core still checks what only it knows (profile names,
        # the first turn being the user's, the protocol) so all three examples answer alike.
        try:
            parsed = parse_chat_request(
                json.dumps(body.model_dump(exclude_none=True)),
                protocol=protocol,
                profiles=firsttoken.settings.profiles,
            )
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return await firsttoken.chat_response(parsed)

    @app.get("/api/metrics")
    async def metrics(firsttoken: Annotated[FirstToken, Depends(get_firsttoken)]) -> dict[str, Any]:
        return firsttoken.metrics_snapshot()

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    app.mount("/static", StaticFiles(directory=PAGE_DIR), name="static")
    return app


app = create_app()
