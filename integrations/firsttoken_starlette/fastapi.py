"""FastAPI dependencies: `Depends(get_firsttoken)` for the request's handle, `Depends(get_engine)`
for the app's engine, `Depends(chat_body)` for a browser's chat body checked against every limit;
and `exception_handlers()`, which answer FastAPI's own 400/422s and 404s in the contract's
`{"error": ...}` shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from firsttoken import ChatRequest, Engine, FrameworkNotInstalled, Refused, refusal

try:
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse, Response
except ImportError as exc:  # pragma: no cover - exercised by the no-framework import test
    raise FrameworkNotInstalled("firsttoken_starlette", "fastapi") from exc

from .handle import FirstToken, firsttoken_of
from .responses import start_response

__all__ = ["chat_body", "exception_handlers", "get_engine", "get_firsttoken"]


# Coroutines, though they never await: FastAPI runs a plain `def` dependency on its thread pool,
# a thread hop per request for an attribute lookup.
async def get_firsttoken(request: Request) -> FirstToken:
    """The request's handle (`request.state.firsttoken`): `await .chat()`, `.engine`, ..."""
    return firsttoken_of(request)


async def get_engine(request: Request) -> Engine:
    """The app's engine (one per app, built by `FirstTokenMiddleware`)."""
    return firsttoken_of(request).engine


async def chat_body(request: Request) -> ChatRequest:
    """The chat body, read by firsttoken rather than by FastAPI, so that no more than the body
    limit is read and every refusal (415, 413, 400, 429) comes before anything goes upstream;
    `exception_handlers()` answers the `Refused` it raises. The client is the peer's IP address;
    a dependency of your own can call `await firsttoken_of(request).read_chat(client=user.id)`."""
    return await firsttoken_of(request).read_chat()


def _first_problem(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    error = errors[0]
    if error.get("type") == "json_invalid":
        return "body is not valid JSON"
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where or 'body'}: {error.get('msg', 'is invalid')}"


async def _validation_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"error": _first_problem(exc)}, status_code=400)


async def _http_error(request: Request, exc: Exception) -> Response:
    # FastAPI's own refusals (a body it cannot parse, 404, 405) carry `{"detail"}`; the contract's
    # shape is `{"error"}`, with the headers (Allow, say) kept.
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return start_response(refusal(exc))


def exception_handlers() -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    """`FastAPI(exception_handlers=exception_handlers())`: validation errors as 400, HTTP errors
    and firsttoken's refusals, each as `{"error": ...}` with its status."""
    return {RequestValidationError: _validation_failed, HTTPException: _http_error, Refused: _refused}
