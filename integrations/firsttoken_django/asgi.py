"""`get_asgi_application()`: Django's, plus on Django 4.2 the disconnect handling that 5.0 added.

Django 5 listens for `http.disconnect` while a response streams and cancels it, which closes
the upstream stream so the model stops generating. Django 4.2 does not listen, and ASGI servers
drop writes to a gone client silently, so a stream would run to its end for nobody; the guard
below does what 5.0 does, from outside Django.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

import django
from django.core.asgi import get_asgi_application as django_asgi_application

__all__ = ["DisconnectGuard", "get_asgi_application"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def get_asgi_application(*, guard_disconnects: bool | None = None) -> ASGIApp:
    """Django's ASGI application; wrapped in `DisconnectGuard` where Django does not cancel on disconnect."""
    app = cast(ASGIApp, django_asgi_application())
    guard = django.VERSION < (5, 0) if guard_disconnects is None else guard_disconnects
    return DisconnectGuard(app) if guard else app


class DisconnectGuard:
    """Cancels the request's handling when the client disconnects after sending its body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_read = asyncio.Event()

        async def tracked_receive() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read.set()
            return message

        handler = asyncio.ensure_future(self.app(scope, tracked_receive, send))

        async def watch() -> None:
            await body_read.wait()
            while (await receive())["type"] != "http.disconnect":
                pass
            handler.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await handler
        except asyncio.CancelledError:
            if not watcher.done():
                raise  # our own cancellation, not the client's disconnect
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
