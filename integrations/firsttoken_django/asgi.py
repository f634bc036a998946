"""`get_asgi_application()`: Django's, plus on Django 4.2 the disconnect handling that 5.0 added,
and the ASGI lifespan, where firsttoken warms up on the server's own event loop.

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

from .state import awarm_up

__all__ = ["DisconnectGuard", "WarmUpLifespan", "get_asgi_application"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def get_asgi_application(*, guard_disconnects: bool | None = None) -> ASGIApp:
    """Django's ASGI application; wrapped in `DisconnectGuard` where Django does not cancel on
    disconnect, and in `WarmUpLifespan`, which answers the server's lifespan messages."""
    app = cast(ASGIApp, django_asgi_application())
    guard = django.VERSION < (5, 0) if guard_disconnects is None else guard_disconnects
    return WarmUpLifespan(DisconnectGuard(app) if guard else app)


class WarmUpLifespan:
    """Django answers no lifespan; this does, and warms firsttoken up at startup.

    The server's loop is the one every async view's upstream call runs on: its async client's
    connection is the one to open before the first request (`docs/warming.md`). Bounded by
    `WARM_UP_TIMEOUT`, and never fails the startup.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await awarm_up()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


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
