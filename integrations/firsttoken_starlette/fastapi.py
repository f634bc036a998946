"""FastAPI dependencies: `Depends(get_firsttoken)` for the handle, `Depends(get_engine)` for the engine."""

from __future__ import annotations

from firsttoken import Engine, FrameworkNotInstalled

try:
    from fastapi import Request
except ImportError as exc:  # pragma: no cover - exercised by the no-framework import test
    raise FrameworkNotInstalled("firsttoken_starlette", "fastapi") from exc

from .handle import FirstToken, firsttoken_of

__all__ = ["get_engine", "get_firsttoken"]


def get_firsttoken(request: Request) -> FirstToken:
    """The request's handle: `.engine`, `.async_client`, `await .stream_response(...)`."""
    return firsttoken_of(request)


def get_engine(request: Request) -> Engine:
    """The app's shared engine (one per app, built by `FirstTokenMiddleware`)."""
    return firsttoken_of(request).engine
